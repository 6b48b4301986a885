using System.CommandLine;
using System.Globalization;
using GpuAD.Kernels;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Cli;

/// <summary>Element type of a computation.</summary>
internal enum DType
{
    F32,
    F64,
}

/// <summary>Options several verbs share, and their parsing into library types.</summary>
internal static class CommonOptions
{
    public static Option<string?> Device() => new("--device")
    {
        Description = "Device: auto, cpu (the CPU accelerator), emulated-gpu (the GPU kernels on the CPU accelerator), cuda or cuda:N [default: GPUAD_DEVICE, else auto]",
        HelpName = "auto|cpu|emulated-gpu|cuda|cuda:N",
    };

    public static Option<string> DType() => new("--dtype")
    {
        Description = "Element type: f32 (float32) or f64 (float64)",
        HelpName = "f32|f64",
        DefaultValueFactory = _ => "f64",
    };

    public static Option<int> Seed() => new("--seed")
    {
        HelpName = "N",
        Description = "Seed of the random data",
        DefaultValueFactory = _ => 1,
    };

    /// <summary>True when the option was written on the command line (not only defaulted).</summary>
    public static bool Given(this ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    /// <summary>Parses --device; null leaves the choice to GPUAD_DEVICE.</summary>
    /// <exception cref="UsageException">Not one of <see cref="Devices.ChoiceNames"/>.</exception>
    public static (DeviceChoice? Choice, int CudaIndex) ParseDevice(string? value)
    {
        if (value is null) return (null, 0);
        try
        {
            var (choice, index) = Devices.Parse(value);
            return (choice, index);
        }
        catch (ArgumentException)
        {
            throw new UsageException($"--device '{value}' is not one of {Devices.ChoiceNames}.");
        }
    }

    /// <summary>Opens the device --device names (see <see cref="Devices"/> for the rules).</summary>
    /// <exception cref="ToolFailureException">GPUAD_TUNING names a file that is not a valid tuning table (a GPU-family device reads it).</exception>
    public static Device OpenDevice(string? value)
    {
        var (choice, index) = ParseDevice(value);
        try
        {
            return Devices.Open(choice, index, requestedBy: value is null ? null : $"--device {value}");
        }
        catch (FormatException e)
        {
            throw TuningError(e);
        }
    }

    /// <summary>The one-line error for a tuning table that cannot be read (its message names the file and the field).</summary>
    public static ToolFailureException TuningError(FormatException e) =>
        new($"{Report.OneLine(e.Message)} (fix the file, or unset {TuningTable.EnvironmentVariable} for the committed or default table)");

    /// <summary>Parses --dtype.</summary>
    /// <exception cref="UsageException">Not f32 or f64.</exception>
    public static DType ParseDType(string value) => value.Trim().ToLowerInvariant() switch
    {
        "f32" or "float32" or "float" => Cli.DType.F32,
        "f64" or "float64" or "double" => Cli.DType.F64,
        _ => throw new UsageException($"--dtype '{value}' is not f32 or f64."),
    };

    public static string Name(this DType dtype) => dtype == Cli.DType.F32 ? "f32" : "f64";

    /// <summary>Parses a comma-separated list of positive integers such as "64,128,256".</summary>
    /// <exception cref="UsageException">An entry is not a positive integer.</exception>
    public static int[] ParseSizes(string option, string value)
    {
        var parts = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (parts.Length == 0) throw new UsageException($"{option} is empty; give sizes such as 64,128,256.");
        return parts.Select(p => int.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : throw new UsageException($"{option}: '{p}' is not a positive integer.")).ToArray();
    }

    /// <summary>Throws a usage error unless <paramref name="value"/> lies in [min, max].</summary>
    public static int Positive(string option, int value, int min = 1, int max = int.MaxValue) =>
        value >= min && value <= max ? value : throw new UsageException($"{option} {value} is out of range [{min}, {max}].");

    /// <summary>
    /// A device's one-line description for headers, in the words of <c>gpuad devices</c>:
    /// "emulated-gpu (emulated GPU (CPU accelerator), GPU-tuned kernels)".
    /// </summary>
    public static string Describe(Device device) => Describe(device.ChoiceName, device.Name, device.Family);

    /// <summary>The description of a listed device, the same words as <see cref="Describe(Device)"/> once opened.</summary>
    public static string Describe(DeviceInfo device) => Describe(device.ChoiceName, device.Name, device.Family);

    private static string Describe(string choiceName, string name, KernelFamily family) =>
        $"{choiceName} ({name}, {GpuAD.Device.FamilyName(family)} kernels)";
}
