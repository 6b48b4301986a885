using BenchmarkDotNet.Attributes;
using GpuAD.Kernels;

namespace GpuAD.Bench.Benchmarks;

/// <summary>
/// Base of the benchmarks: a CPU-accelerator device of the case's kernel family and the
/// workload, set up and run once (loading the kernels) before BenchmarkDotNet measures.
/// Each measured invocation synchronizes the device.
/// </summary>
public abstract class WorkloadBenchmark
{
    private Device? device;
    private Workload? workload;

    /// <summary>The case being measured.</summary>
    public abstract BenchCase Case { get; set; }

    /// <summary>Opens the device, uploads the inputs and runs once (kernel loading, pool warm-up).</summary>
    [GlobalSetup]
    public void Setup()
    {
        device = Devices.Open(Case.Family == KernelFamily.GpuTuned ? DeviceChoice.EmulatedGpu : DeviceChoice.Cpu);
        workload = CreateWorkload(device, Case.Problem);
        workload.Prepare();
        workload.Run(null);
        workload.Validate();
    }

    /// <summary>Creates the workload; a benchmark with its own parameters (an algorithm, say) overrides this.</summary>
    private protected virtual Workload CreateWorkload(Device device, Problem problem) => Workload.Create(device, problem);

    /// <summary>Frees the inputs and the device.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        workload?.Dispose();
        device?.Dispose();
    }

    /// <summary>Restores in-place inputs (called by the [IterationSetup] of in-place benchmarks).</summary>
    protected void Prepare() => workload!.Prepare();

    /// <summary>One run, synchronized.</summary>
    protected void RunOnce() => workload!.Run(null);
}
