using GpuAD.Graph;
using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// Long-running tests that measure memory or use several threads: they run alone, so that no
/// other test's allocations or threads disturb what they measure.
/// </summary>
[CollectionDefinition("Soak", DisableParallelization = true)] public sealed class SoakCollection : ICollectionFixture<DeviceFixture>;

/// <summary>Settings of the long-running tests.</summary>
public static class Soak
{
    /// <summary>GPUAD_SOAK=1 runs the soak variants: ten times the iterations.</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable("GPUAD_SOAK") == "1";

    /// <summary>The iteration count: <paramref name="ci"/>, or ten times it under GPUAD_SOAK=1.</summary>
    public static int Iterations(int ci) => Enabled ? 10 * ci : ci;
}

/// <summary>A small Gaussian-process training step, the unit of work of the soak tests.</summary>
public sealed class GpStep : IDisposable
{
    private readonly Device device;
    private readonly Tensor<double> sigma, y, tangent, cotangent;
    private readonly bool forwardMode;

    /// <param name="device">Where to run.</param>
    /// <param name="seed">Seed of Σ, y, the tangent and the cotangent.</param>
    /// <param name="forwardMode">Also carry a tangent of Σ through the forward pass (the JVP).</param>
    /// <param name="n">Order of Σ.</param>
    /// <param name="batch">Batch size.</param>
    public GpStep(Device device, int seed = 1, bool forwardMode = true, int n = 8, int batch = 2)
    {
        this.device = device;
        this.forwardMode = forwardMode;
        var s = new Shape(batch, n, n);
        sigma = device.Upload<double>(TestData.Spd(batch, n, seed), s);
        tangent = device.Upload<double>(TestData.Spd(batch, n, seed + 1), s);
        y = device.Upload<double>(TestData.Random(new Shape(batch, n, 1), seed + 2), new Shape(batch, n, 1));
        cotangent = device.Upload<double>(TestData.Random(new Shape(batch, 1, 1), seed + 3), new Shape(batch, 1, 1));
    }

    /// <summary>NLL(Σ, y) forward (with a tangent on Σ in forward mode), then backward: returns the NLL, its tangent and both gradients.</summary>
    public double[] Run()
    {
        using var tape = new Tape(device);
        var s = tape.Variable(sigma, forwardMode ? tangent : null);
        var t = tape.Variable(y);
        var nll = GaussianProcess.NegativeLogMarginalLikelihood(s, t).Keep();
        tape.Backward(nll, cotangent);
        return [.. nll.ToArray(), .. nll.Tangent?.ToArray() ?? [], .. s.Grad!.ToArray(), .. t.Grad!.ToArray()];
    }

    public void Dispose()
    {
        sigma.Dispose();
        y.Dispose();
        tangent.Dispose();
        cotangent.Dispose();
    }
}

[Collection("Soak")]
public sealed class LeakTests(DeviceFixture devices)
{
    [Fact]
    public void TenThousandTrainingStepsKeepDeviceAndManagedMemoryFlat()
    {
        var device = devices.Cpu;
        using var step = new GpStep(device, forwardMode: false);
        var expected = OpTable.Bits(step.Run());
        const int warmUp = 100;
        for (int i = 0; i < warmUp; i++) step.Run();
        long bytes = device.Pool.BytesInUse, allocations = device.Pool.DeviceAllocations;
        int kernels = device.LoadedKernels;
        long managed = GC.GetTotalMemory(forceFullCollection: true);

        int iterations = Soak.Iterations(10_000);
        for (int i = 0; i < iterations; i++)
        {
            step.Run();
            if (device.Pool.BytesInUse != bytes)
                Assert.Fail($"iteration {i}: {device.Pool.BytesInUse - bytes} bytes still in use after the tape was disposed");
        }
        Assert.Equal(allocations, device.Pool.DeviceAllocations); // the pool serves every request from its cache
        Assert.Equal(kernels, device.LoadedKernels);
        long managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(managedAfter <= 2 * managed + (1 << 20), $"managed memory grew from {managed:N0} to {managedAfter:N0} bytes");
        Assert.Equal(expected, OpTable.Bits(step.Run()));
    }
}
