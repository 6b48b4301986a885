using GpuAD.Kernels;
using ILGPU;
using Device = GpuAD.Device;
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

    /// <summary>
    /// The emulated GPU: ILGPU's CPU accelerator simulating 32-wide warps and groups of 256
    /// threads, running the GPU-tuned kernels, the code that runs on a CUDA GPU. For testing that
    /// code on a machine without a GPU; slow (one OS thread per simulated thread).
    /// </summary>
    EmulatedGpu,
}

/// <summary>What ILGPU reports about one device, for listings.</summary>
/// <param name="ChoiceName">The name that chooses it (<c>GPUAD_DEVICE</c>, <c>--device</c>): cpu, emulated-gpu or cuda:N; the opened device's <see cref="Device.ChoiceName"/>.</param>
/// <param name="Index">Position among the devices of its kind.</param>
/// <param name="Kind">CPU or CUDA.</param>
/// <param name="Family">The kernel family it runs.</param>
/// <param name="Name">The device's name, as the opened device's <see cref="Device.Name"/>.</param>
/// <param name="MemoryBytes">Its memory in bytes.</param>
/// <param name="WarpSize">Threads per warp.</param>
/// <param name="MaxGroupSize">Largest thread group.</param>
/// <param name="ComputeCapability">CUDA compute capability (e.g. "9.0"), or null for the CPU.</param>
public sealed record DeviceInfo(string ChoiceName, int Index, DeviceKind Kind, KernelFamily Family, string Name, long MemoryBytes, int WarpSize, int MaxGroupSize, string? ComputeCapability);

/// <summary>The device <see cref="Devices.Open(DeviceChoice?, int)"/> would pick and why.</summary>
/// <param name="Choice">Cpu, EmulatedGpu or Cuda.</param>
/// <param name="CudaIndex">The CUDA device's index, when Cuda.</param>
/// <param name="Reason">Why, in words: what asked for it ("GPUAD_DEVICE=cpu", "asked for by --device cuda"), or why the default chose it.</param>
public sealed record DeviceSelection(DeviceChoice Choice, int CudaIndex, string Reason);

/// <summary>The requested device does not exist on this machine.</summary>
public sealed class DeviceUnavailableException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    public DeviceUnavailableException(string message, Exception? inner = null) : base(message, inner ?? new InvalidOperationException(message)) { }
}

/// <summary>
/// Opens GpuAD devices. The choice comes from, in order: the explicit argument, the
/// <c>GPUAD_DEVICE</c> environment variable (<c>cpu</c>, <c>emulated-gpu</c>, <c>cuda</c>,
/// <c>cuda:N</c> or <c>auto</c>), then <see cref="DeviceChoice.Auto"/>. Asking for CUDA where there is none throws
/// <see cref="DeviceUnavailableException"/>; it never falls back silently.
/// </summary>
public static class Devices
{
    /// <summary>The environment variable that chooses the device.</summary>
    public const string EnvironmentVariable = "GPUAD_DEVICE";

    /// <summary>The values <c>GPUAD_DEVICE</c> and <c>--device</c> accept, for messages.</summary>
    public const string ChoiceNames = "auto, cpu, emulated-gpu, cuda, cuda:N";

    /// <summary>
    /// The vendor BLAS a CUDA device would run its GEMM steps with, in one line: the cuBLAS library
    /// found (GPUAD_CUBLAS=FILE, the loader's path, the CUDA folders, a Python CUDA wheel) or why
    /// none is used; on a machine without a CUDA device, says so. The tuning table's
    /// <see cref="TuningTable.GemmCublas"/> chooses it per shape class; the ILGPU kernels run the rest.
    /// </summary>
    public static string BlasLibrary()
    {
        if (!List().Any(d => d.Kind == DeviceKind.Cuda)) return "cuBLAS not used: no CUDA device (the ILGPU kernels run every product)";
        return CublasLibrary.Load(Environment.GetEnvironmentVariable(CublasLibrary.EnvironmentVariable)).Status;
    }

    /// <summary>
    /// Every device ILGPU sees: CUDA GPUs first, then the CPU accelerator and the emulated GPU
    /// (the same CPU accelerator running the GPU-tuned kernels).
    /// </summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        var result = new List<DeviceInfo>();
        using var context = CreateCudaContext(out _);
        if (context is not null)
        {
            int i = 0;
            foreach (var d in context.GetCudaDevices())
            {
                result.Add(new DeviceInfo($"cuda:{i}", i++, DeviceKind.Cuda, KernelFamily.GpuTuned, d.Name, d.MemorySize, d.WarpSize,
                    d.MaxNumThreadsPerGroup, $"{d.Architecture?.Major}.{d.Architecture?.Minor}"));
            }
        }
        foreach (var (choiceName, family) in new[] { ("cpu", KernelFamily.CpuTuned), ("emulated-gpu", KernelFamily.GpuTuned) })
        {
            var cpu = Device.CpuConfiguration(family);
            result.Add(new DeviceInfo(choiceName, 0, DeviceKind.Cpu, family, Device.CpuName(family),
                GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, cpu.WarpSize, cpu.MaxNumThreadsPerGroup, null));
        }
        return result;
    }

    /// <summary>Resolves the choice without opening anything.</summary>
    /// <param name="choice">An explicit choice, overriding the environment; null to consult <c>GPUAD_DEVICE</c>.</param>
    /// <param name="cudaIndex">The CUDA device index for an explicit Cuda choice.</param>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and there is no such GPU.</exception>
    /// <exception cref="ArgumentException"><c>GPUAD_DEVICE</c> holds something else than the values of <see cref="ChoiceNames"/>.</exception>
    public static DeviceSelection Resolve(DeviceChoice? choice = null, int cudaIndex = 0) => Resolve(choice, cudaIndex, requestedBy: null);

    /// <summary>
    /// <see cref="Resolve(DeviceChoice?, int)"/>, with the words that asked for an explicit choice
    /// (e.g. "--device cuda", a prefix of "--device cpu"), so that an error advises the user in
    /// the terms they used.
    /// </summary>
    internal static DeviceSelection Resolve(DeviceChoice? choice, int cudaIndex, string? requestedBy)
    {
        string source;
        Func<string, string> advise; // how the user asks for another device
        if (choice is DeviceChoice explicitChoice)
        {
            source = requestedBy is null ? "asked for by the caller" : $"asked for by {requestedBy}";
            choice = explicitChoice;
            advise = requestedBy is null ? name => $"DeviceChoice.{ChoiceOf(name)}" : name => $"{OptionOf(requestedBy)} {name}";
        }
        else if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } env)
        {
            (choice, cudaIndex) = Parse(env);
            source = $"{EnvironmentVariable}={env}";
            advise = name => $"{EnvironmentVariable}={name}";
        }
        else
        {
            choice = DeviceChoice.Auto;
            source = "default";
            advise = name => $"{EnvironmentVariable}={name}";
        }

        switch (choice)
        {
            case DeviceChoice.Cpu:
                return new DeviceSelection(DeviceChoice.Cpu, 0, source);
            case DeviceChoice.EmulatedGpu:
                return new DeviceSelection(DeviceChoice.EmulatedGpu, 0, source);
            case DeviceChoice.Cuda:
            {
                int cudaCount = CountCuda(out string? cudaError);
                if (cudaIndex < 0 || cudaIndex >= cudaCount)
                {
                    throw new DeviceUnavailableException(cudaCount == 0
                        ? $"CUDA device requested ({source}) but ILGPU finds no CUDA GPU{(cudaError is null ? "" : $": {cudaError}")}. "
                          + $"Use {advise("cpu")} for the CPU accelerator, or {advise("emulated-gpu")} to run the GPU kernels on it."
                        : $"CUDA device cuda:{cudaIndex} requested ({source}) but ILGPU finds only {cudaCount} CUDA GPU(s), cuda:0 to cuda:{cudaCount - 1}.");
                }
                return new DeviceSelection(DeviceChoice.Cuda, cudaIndex, source);
            }
            default:
                return CountCuda(out _) > 0
                    ? new DeviceSelection(DeviceChoice.Cuda, 0, $"the first CUDA GPU ILGPU finds ({source})")
                    : new DeviceSelection(DeviceChoice.Cpu, 0, $"ILGPU finds no CUDA GPU ({source})");
        }
    }

    private static string ChoiceOf(string name) => name == "cpu" ? nameof(DeviceChoice.Cpu) : nameof(DeviceChoice.EmulatedGpu);

    private static string OptionOf(string requestedBy) => requestedBy.Split(' ', 2)[0];

    /// <summary>Opens the chosen device (see <see cref="Devices"/> for how the choice is made).</summary>
    /// <param name="choice">An explicit choice, overriding <c>GPUAD_DEVICE</c>; null to consult it.</param>
    /// <param name="cudaIndex">The CUDA device index for an explicit Cuda choice.</param>
    /// <exception cref="DeviceUnavailableException">CUDA was asked for and there is no such GPU, or it failed to start.</exception>
    /// <exception cref="FormatException">A GPU-family device was chosen and <c>GPUAD_TUNING</c> names a file that is not a valid <see cref="TuningTable"/>.</exception>
    public static Device Open(DeviceChoice? choice = null, int cudaIndex = 0) => Open(choice, cudaIndex, requestedBy: null);

    /// <summary><see cref="Open(DeviceChoice?, int)"/>, naming in errors the words that asked for the device.</summary>
    internal static Device Open(DeviceChoice? choice, int cudaIndex, string? requestedBy)
    {
        var selection = Resolve(choice, cudaIndex, requestedBy);
        if (selection.Choice == DeviceChoice.Cpu) return Device.CreateCpu(KernelFamily.CpuTuned);
        if (selection.Choice == DeviceChoice.EmulatedGpu) return Device.CreateCpu(KernelFamily.GpuTuned);
        var context = CreateCudaContext(out string? error)
            ?? throw new DeviceUnavailableException($"CUDA context could not be created: {error}");
        try
        {
            var cuda = context.GetCudaDevices()[selection.CudaIndex];
            var accelerator = cuda.CreateCudaAccelerator(context);
            return Device.FromAccelerator(accelerator, KernelFamily.GpuTuned, context);
        }
        catch (FormatException)
        {
            context.Dispose(); // GPUAD_TUNING's table is malformed: the GPU itself is fine
            throw;
        }
        catch (Exception e) when (e is not GpuADException)
        {
            context.Dispose();
            throw new DeviceUnavailableException($"CUDA GPU cuda:{selection.CudaIndex} could not be started: {e.Message}", e);
        }
    }

    /// <summary>Parses a <c>GPUAD_DEVICE</c> value: one of <see cref="ChoiceNames"/> (case-insensitive).</summary>
    /// <exception cref="ArgumentException">Not one of <see cref="ChoiceNames"/>.</exception>
    public static (DeviceChoice Choice, int CudaIndex) Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var v = value.Trim().ToLowerInvariant();
        if (v is "cpu") return (DeviceChoice.Cpu, 0);
        if (v is "emulated-gpu") return (DeviceChoice.EmulatedGpu, 0);
        if (v is "auto") return (DeviceChoice.Auto, 0);
        if (v is "cuda" or "gpu") return (DeviceChoice.Cuda, 0);
        if (v.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(v.AsSpan(5), out int index) && index >= 0)
            return (DeviceChoice.Cuda, index);
        throw new ArgumentException($"{EnvironmentVariable}='{value}' is not one of {ChoiceNames}.");
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
