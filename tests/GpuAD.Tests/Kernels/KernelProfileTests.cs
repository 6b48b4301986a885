using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

/// <summary>The per-kernel profile (GpuAD.Bench run --profile): what it records while attached, and nothing after.</summary>
[Collection("Gemm")]
public sealed class KernelProfileTests(DeviceFixture devices)
{
    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void EveryLaunchIsCountedUnderItsKernelWhileAttached(KernelFamily family)
    {
        var device = devices.Get(family);
        var shape = new Shape(2, 20, 20);
        using var a = device.Upload<double>(TestData.Random(shape, 1), shape);
        using var c = device.Allocate<double>(shape);
        var profile = new KernelProfile();
        device.Profile = profile;
        profile.Start();
        long before = device.Launches;
        try
        {
            Blas.Gemm(device, a.Mat, false, a.Mat, true, c.Mat, 1.0, 0.0);
            Blas.Gemm(device, a.Mat, false, a.Mat, false, c.Mat, 1.0, 1.0);
            Elementwise.Map(device, new Maps.Exp<double>(1), c.Mat, c.Mat, YAccess.Same, c.Mat);
        }
        finally
        {
            profile.Stop();
            device.Profile = null;
        }
        long launches = device.Launches - before;
        var entries = profile.Entries;
        Assert.Equal(launches, entries.Sum(e => e.Count));
        Assert.Contains(entries, e => e.Kernel.StartsWith(family == KernelFamily.GpuTuned ? "GemmGpu.Kernel<f64," : "GemmCpu.", StringComparison.Ordinal) && e.Count >= 2);
        Assert.Contains(entries, e => e.Kernel.Contains("Exp<f64>", StringComparison.Ordinal) && e.Count == 1);
        Assert.All(entries, e => Assert.True(e.Seconds > 0, e.Kernel));
        Assert.True(profile.Wall >= entries.Sum(e => e.Seconds) && profile.Outside >= 0);
        for (int i = 1; i < entries.Count; i++) Assert.True(entries[i - 1].Seconds >= entries[i].Seconds); // by time, descending

        // Detached: launches are counted by the device but the profile records nothing more.
        int recorded = entries.Sum(e => e.Count);
        Blas.Gemm(device, a.Mat, false, a.Mat, false, c.Mat, 1.0, 0.0);
        Assert.Equal(recorded, profile.Entries.Sum(e => e.Count));
        Assert.Equal(launches + 1, device.Launches - before);
    }
}
