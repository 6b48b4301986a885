using System.CommandLine;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Spectre.Console;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary><c>gpuad devices</c>: what ILGPU sees, and which device GpuAD would choose and why.</summary>
internal static class DevicesCommand
{
    public static Command Create()
    {
        var device = CommonOptions.Device();
        var command = new Command("devices", """
            Lists every device ILGPU sees (CUDA GPUs, then the CPU accelerator, and the emulated GPU: the
            CPU accelerator running the GPU-tuned kernels) with the name that chooses it, its memory,
            warp size and compute capability, the tuning table each GPU-family device reads (GPUAD_TUNING,
            a committed table of its name, or the defaults; see 'gpuad tune'), the cuBLAS library a CUDA
            device would use for its GEMM steps (or why none), and says which device GpuAD would use and why. With --device, says whether that device is available.
            """) { device };
        command.SetAction(Report.Guard(parse =>
        {
            var (choice, index) = CommonOptions.ParseDevice(parse.GetValue(device));
            var listed = Devices.List();
            var sources = listed.Select(TuningSource).ToArray(); // a malformed GPUAD_TUNING fails before any output
            var table = Terminal.Table("Device", "Name", "Kernels", "Memory", "Warp size", "Max group", "Compute capability");
            foreach (var d in listed)
            {
                table.Row(d.ChoiceName, d.Name, Device.FamilyName(d.Family), Memory(d), d.WarpSize.ToString(), d.MaxGroupSize.ToString(),
                    d.ComputeCapability ?? "—");
            }
            AnsiConsole.Write(table);
            // Lines, not a column: a GPUAD_TUNING path would widen the table past a redirected output's width.
            Terminal.Line($"Tuning tables ({TuningTable.EnvironmentVariable}=FILE, else a committed table of the GPU's name, else the defaults; 'gpuad tune' measures one):");
            int width = listed.Max(d => d.ChoiceName.Length);
            for (int i = 0; i < listed.Count; i++) Terminal.Line($"  {listed[i].ChoiceName.PadRight(width)}  {sources[i]}");
            Terminal.Line($"GEMM provider: {Devices.BlasLibrary()}; the tuning table's gemmCublas gives it shape classes ({CublasLibraryVariable}=FILE names the library, =off turns it off).");
            string? given = parse.GetValue(device);
            var selection = Devices.Resolve(choice, index, requestedBy: given is null ? null : $"--device {given}");
            var chosen = listed.First(d => selection.Choice switch
            {
                DeviceChoice.Cuda => d.Kind == DeviceKind.Cuda && d.Index == selection.CudaIndex,
                DeviceChoice.EmulatedGpu => d.Kind == DeviceKind.Cpu && d.Family == KernelFamily.GpuTuned,
                _ => d.Kind == DeviceKind.Cpu && d.Family == KernelFamily.CpuTuned,
            });
            Terminal.Line($"GpuAD would use: {CommonOptions.Describe(chosen)}: {selection.Reason}.");
            Terminal.Line(chosen.Family == KernelFamily.GpuTuned
                ? "Kernels: GPU-tuned (shared-memory tiles); run 'gpuad check' to verify a device."
                : "Kernels: CPU-tuned (one thread per large block); run 'gpuad check' to verify a device.");
            Terminal.Line($"Choose with --device {Devices.ChoiceNames.Replace(", ", "|")} on any command, or {Devices.EnvironmentVariable}.");
            Terminal.Line("Without a GPU, emulated-gpu runs the kernels a GPU would run, on the CPU (slowly), to test them.");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>
    /// The tuning table a GPU-family device would use (<see cref="TuningTable.For(string)"/>):
    /// "defaults", "committed (FILE)" or "GPUAD_TUNING (FILE)"; for the CPU family, which reads none, a dash.
    /// </summary>
    /// <exception cref="ToolFailureException">GPUAD_TUNING names a file that is not a valid table.</exception>
    private const string CublasLibraryVariable = "GPUAD_CUBLAS";

    private static string TuningSource(DeviceInfo d)
    {
        if (d.Family != KernelFamily.GpuTuned) return "— (the CPU-tuned kernels read none)";
        try
        {
            return TuningTable.For(d.Name).Source;
        }
        catch (FormatException e)
        {
            throw CommonOptions.TuningError(e);
        }
    }

    private static string Memory(DeviceInfo d) =>
        $"{d.MemoryBytes / (1024.0 * 1024 * 1024):0.0} GiB{(d.Kind == DeviceKind.Cpu ? " (host)" : "")}";
}
