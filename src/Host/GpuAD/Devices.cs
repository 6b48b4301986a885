using GpuAD.Kernels;
using ILGPU;
using Device = GpuAD.Kernels.Device;
using ILGPU.Runtime.Cuda;

namespace GpuAD;

/// <summary>Which device to open.</summary>
public enum DeviceChoice
{
    /// <summary>A CUDA GPU if ILGPU finds one, else the CPU accelerator.</summary>
    Auto,

    /// <summary>ILGPU's CPU accelerator (CPU-tuned kernels).</summary>
    Cpu,

    /// <summary>A CUDA GPU; an error where there is none.</summary>
    Cuda,
}

/// <summary>What ILGPU reports about one device, for listings.</summary>
/// <param name="Index">Position among the devices of its kind.</param>
/// <param name="Kind">CPU or CUDA.</param>
/// <param name="Name">The device's name.</param>
/// <param name="MemoryBytes">Its memory in bytes.</param>
/// <param name="WarpSize">Threads per warp.</param>
/// <param name="MaxGroupSize">Largest thread group.</param>
/// <param name="ComputeCapability">CUDA compute capability (e.g. "9.0"), or null for the CPU.</param>
public sealed record DeviceInfo(int Index, DeviceKind Kind, string Name, long MemoryBytes, int WarpSize, int MaxGroupSize, string? ComputeCapability);

/// <summary>The device <see cref="Devices.Open(DeviceChoice?, int)"/> would pick and why.</summary>
/// <param name="Choice">Cpu or Cuda.</param>
/// <param name="CudaIndex">The CUDA device's index, when Cuda.</param>
/// <param name="Reason">Why, in words.</param>
public sealed record DeviceSelection(DeviceChoice Choice, int CudaIndex, string Reason);

/// <summary>The requested device does not exist on this machine.</summary>
public sealed class DeviceUnavailableException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    public DeviceUnavailableException(string message, Exception? inner = null) : base(message, inner ?? new InvalidOperationException(message)) { }
}

/// <summary>
/// Opens GpuAD devices. The choice comes from, in order: the explicit argument, the
/// <c>GPUAD_DEVICE</c> environment variable (<c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or
/// <c>auto</c>), then <see cref="DeviceChoice.Auto"/>. Asking for CUDA where there is none throws
/// <see cref="DeviceUnavailableException"/>; it never falls back silently.
/// </summary>
public static class Devices
{
    /// <summary>The environment variable that chooses the device.</summary>
    public const string EnvironmentVariable = "GPUAD_DEVICE";

    /// <summary>Every device ILGPU sees: CUDA GPUs first, then the CPU accelerator.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        var result = new List<DeviceInfo>();
        using var context = CreateCudaContext(out _);
        if (context is not null)
        {
            int i = 0;
            foreach (var d in context.GetCudaDevices())
            {
                result.Add(new DeviceInfo(i++, DeviceKind.Cuda, d.Name, d.MemorySize, d.WarpSize, d.MaxNumThreadsPerGroup,
                    $"{d.Architecture?.Major}.{d.Architecture?.Minor}"));
            }
        }
        result.Add(new DeviceInfo(0, DeviceKind.Cpu, $"CPU accelerator ({Environment.ProcessorCount} processors)",
            GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, 2, 2, null));
        return result;
    }

    /// <summary>Resolves the choice without opening anything.</summary>
    /// <param name="choice">An explicit choice, overriding the environment; null to consult <c>GPUAD_DEVICE</c>.</param>
    /// <param name="cudaIndex">The CUDA device index for an explicit Cuda choice.</param>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and there is no such GPU.</exception>
    /// <exception cref="ArgumentException"><c>GPUAD_DEVICE</c> holds something else than cpu, cuda, cuda:N or auto.</exception>
    public static DeviceSelection Resolve(DeviceChoice? choice = null, int cudaIndex = 0)
    {
        string source;
        if (choice is DeviceChoice explicitChoice)
        {
            source = "asked for by the caller";
            choice = explicitChoice;
        }
        else if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
        {
            (choice, cudaIndex) = Parse(env);
            source = $"{EnvironmentVariable}={env}";
        }
        else
        {
            choice = DeviceChoice.Auto;
            source = "default";
        }

        int cudaCount = CountCuda(out string? cudaError);
        switch (choice)
        {
            case DeviceChoice.Cpu:
                return new DeviceSelection(DeviceChoice.Cpu, 0, $"CPU accelerator ({source})");
            case DeviceChoice.Cuda:
                if (cudaIndex < 0 || cudaIndex >= cudaCount)
                {
                    throw new DeviceUnavailableException(cudaCount == 0
                        ? $"CUDA device requested ({source}) but ILGPU finds no CUDA GPU{(cudaError is null ? "" : $": {cudaError}")}. Use GPUAD_DEVICE=cpu for the CPU accelerator."
                        : $"CUDA device {cudaIndex} requested ({source}) but only {cudaCount} CUDA GPU(s) exist.");
                }
                return new DeviceSelection(DeviceChoice.Cuda, cudaIndex, $"CUDA GPU {cudaIndex} ({source})");
            default:
                return cudaCount > 0
                    ? new DeviceSelection(DeviceChoice.Cuda, 0, $"CUDA GPU 0: the first GPU ILGPU finds ({source})")
                    : new DeviceSelection(DeviceChoice.Cpu, 0, $"CPU accelerator: ILGPU finds no CUDA GPU ({source})");
        }
    }

    /// <summary>Opens the chosen device (see <see cref="Devices"/> for how the choice is made).</summary>
    /// <param name="choice">An explicit choice, overriding <c>GPUAD_DEVICE</c>; null to consult it.</param>
    /// <param name="cudaIndex">The CUDA device index for an explicit Cuda choice.</param>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and there is no such GPU, or it failed to start.</exception>
    public static Device Open(DeviceChoice? choice = null, int cudaIndex = 0)
    {
        var selection = Resolve(choice, cudaIndex);
        if (selection.Choice == DeviceChoice.Cpu) return Device.CreateCpu();
        var context = CreateCudaContext(out string? error)
            ?? throw new DeviceUnavailableException($"CUDA context could not be created: {error}");
        try
        {
            var cuda = context.GetCudaDevices()[selection.CudaIndex];
            var accelerator = cuda.CreateCudaAccelerator(context);
            return Device.FromAccelerator(accelerator, KernelFamily.GpuTuned, context);
        }
        catch (Exception e) when (e is not GpuADException)
        {
            context.Dispose();
            throw new DeviceUnavailableException($"CUDA GPU {selection.CudaIndex} could not be started: {e.Message}", e);
        }
    }

    /// <summary>Parses a <c>GPUAD_DEVICE</c> value.</summary>
    /// <exception cref="ArgumentException">Not cpu, cuda, cuda:N or auto.</exception>
    public static (DeviceChoice Choice, int CudaIndex) Parse(string value)
    {
        var v = value.Trim().ToLowerInvariant();
        if (v is "cpu") return (DeviceChoice.Cpu, 0);
        if (v is "auto") return (DeviceChoice.Auto, 0);
        if (v is "cuda" or "gpu") return (DeviceChoice.Cuda, 0);
        if (v.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(v.AsSpan(5), out int index) && index >= 0)
            return (DeviceChoice.Cuda, index);
        throw new ArgumentException($"{EnvironmentVariable}='{value}' is not one of cpu, cuda, cuda:N, auto.");
    }

    private static int CountCuda(out string? error)
    {
        using var context = CreateCudaContext(out error);
        return context?.GetCudaDevices().Count ?? 0;
    }

    private static Context? CreateCudaContext(out string? error)
    {
        error = null;
        try
        {
            return Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        }
        catch (Exception e)
        {
            error = e.Message;
            return null;
        }
    }
}
