using System.CommandLine;
using System.CommandLine.Help;
using GpuAD.Tool.Commands;

namespace GpuAD.Tool.Cli;

/// <summary>The root command: parses, runs one verb, maps failures to exit codes.</summary>
internal static class Entry
{
    private static readonly string Overview = $"""
        gpuad: gradients of batched matrix functions on a CUDA GPU or ILGPU's CPU accelerator.

        Arrays are batched matrices [batch, rows, cols], row-major; a 2-D .npy file is one matrix.
        The device comes from --device, else the GPUAD_DEVICE environment variable
        (auto, cpu, emulated-gpu, cuda, cuda:N), else auto: the first CUDA GPU ILGPU finds, else
        the CPU. emulated-gpu runs the GPU kernels on the CPU, to test them without a GPU.
        Start with 'gpuad devices' and 'gpuad check' on a new machine, GPU or driver.

        {ExitCodes.HelpText}
        """;

    public const string CommandName = "gpuad";

    public static int Run(string[] args)
    {
        Terminal.Configure();
        // A plain command named like the executable ('gpuad'), not RootCommand, which takes its name
        // from the assembly (GpuAD.Tool).
        var root = new Command(CommandName, Overview)
        {
            new HelpOption(),
            new VersionOption(),
            DevicesCommand.Create(),
            DemoCommand.Create(),
            CheckCommand.Create(),
            BenchCommand.Create(),
            TuneCommand.Create(),
            DerivativeCommand.Create(reverse: true),
            DerivativeCommand.Create(reverse: false),
            GpCommand.Create(),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            // The full path of the command that was parsed: 'gpuad gp fit', not 'gpuad fit'.
            var path = new List<string>();
            for (var result = parsed.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
                path.Insert(0, result.Command.Name);
            string verb = string.Join(' ', path);
            // "Required command was not provided" is the least telling: an unknown word beside it says more.
            var error = parsed.Errors.FirstOrDefault(e => e.Message != "Required command was not provided.") ?? parsed.Errors[0];
            Report.Error($"{FriendlyTypeNames(error.Message)} See '{verb} --help'.");
            return ExitCodes.Usage;
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception e)
        {
            var (code, message) = Report.Classify(e);
            Report.Error(message);
            return code;
        }
    }

    // System.CommandLine names .NET types in its conversion errors.
    private static string FriendlyTypeNames(string message) => message
        .Replace("'System.Nullable`1[System.Int32]'", "integer")
        .Replace("'System.Int32'", "integer")
        .Replace("'System.Nullable`1[System.Double]'", "number")
        .Replace("'System.Double'", "number")
        .Replace("'System.Boolean'", "true or false");
}
