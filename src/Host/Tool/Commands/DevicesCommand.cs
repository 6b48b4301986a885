using System.CommandLine;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Spectre.Console;

namespace GpuAD.Tool.Commands;

/// <summary><c>gpuad devices</c>: what ILGPU sees, and which device GpuAD would choose and why.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var device = CommonOptions.Device();
        var command = new Command("devices", """
            Lists every device ILGPU sees (CUDA GPUs, then the CPU accelerator) with its memory, warp
            size and compute capability, and says which one GpuAD would use and why. With --device,
            says whether that device is available.
            """) { device };
        command.SetAction(Report.Guard(parse =>
        {
            var (choice, index) = CommonOptions.ParseDevice(parse.GetValue(device));
            var table = Terminal.Table("Kind", "Index", "Name", "Memory", "Warp size", "Max group", "Compute capability");
            foreach (var d in Devices.List())
            {
                table.Row(d.Kind.ToString(), d.Index.ToString(), d.Name, Memory(d), d.WarpSize.ToString(), d.MaxGroupSize.ToString(),
                    d.ComputeCapability ?? "—");
            }
            AnsiConsole.Write(table);
            var selection = Devices.Resolve(choice, index);
            Terminal.Line($"GpuAD would use: {selection.Reason}.");
            Terminal.Line(selection.Choice == DeviceChoice.Cuda
                ? "Kernels: GPU-tuned (shared-memory tiles)."
                : "Kernels: CPU-tuned (one thread per large block); run 'gpuad check' to verify a device.");
            Terminal.Line($"Choose with --device auto|cpu|cuda|cuda:N on any command, or {Devices.EnvironmentVariable}.");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static string Memory(DeviceInfo d) =>
        $"{d.MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB{(d.Kind == DeviceKind.Cpu ? " (host)" : "")}";
}
