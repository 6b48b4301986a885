using GpuAD.Kernels;

namespace GpuAD.Tests;

/// <summary>
/// The devices one test collection runs on: the CPU accelerator with the CPU-tuned kernels, and
/// a CPU accelerator emulating a GPU (32-wide warps, 256-thread groups) running the GPU-tuned
/// kernels — the code that runs on CUDA. One pair per collection; disposed with it.
/// </summary>
public sealed class DeviceFixture : IDisposable
{
    private readonly Lazy<Device> cpu = new(() => Device.CreateCpu(KernelFamily.CpuTuned));
    private readonly Lazy<Device> gpuEmulated = new(() => Device.CreateCpu(KernelFamily.GpuTuned));

    /// <summary>The device running the given family.</summary>
    public Device Get(KernelFamily family) => family == KernelFamily.CpuTuned ? cpu.Value : gpuEmulated.Value;

    /// <summary>CPU accelerator, CPU-tuned kernels.</summary>
    public Device Cpu => cpu.Value;

    /// <summary>CPU accelerator emulating a GPU, GPU-tuned kernels.</summary>
    public Device GpuEmulated => gpuEmulated.Value;

    public void Dispose()
    {
        if (cpu.IsValueCreated) cpu.Value.Dispose();
        if (gpuEmulated.IsValueCreated) gpuEmulated.Value.Dispose();
    }
}

[CollectionDefinition("Gemm")] public sealed class GemmCollection : ICollectionFixture<DeviceFixture>;
[CollectionDefinition("Elementwise")] public sealed class ElementwiseCollection : ICollectionFixture<DeviceFixture>;
[CollectionDefinition("Lu")] public sealed class LuCollection : ICollectionFixture<DeviceFixture>;
[CollectionDefinition("Runtime")] public sealed class RuntimeCollection : ICollectionFixture<DeviceFixture>;
[CollectionDefinition("Graph")] public sealed class GraphCollection : ICollectionFixture<DeviceFixture>;
[CollectionDefinition("Trsm")] public sealed class TrsmCollection : ICollectionFixture<DeviceFixture>;
[CollectionDefinition("Potrf")] public sealed class PotrfCollection : ICollectionFixture<DeviceFixture>;
