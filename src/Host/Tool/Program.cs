using GpuAD.Tool.Cli;

return Entry.Run(args);
