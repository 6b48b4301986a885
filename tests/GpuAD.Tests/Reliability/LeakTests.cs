using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// Long-running tests that measure memory or use several threads: they run alone, so that no
/// other test's allocations or threads disturb what they measure.
/// </summary>
[CollectionDefinition("Soak", DisableParallelization = true)] public sealed class SoakCollection : ICollectionFixture<DeviceFixture>;

/// <summary>
/// Settings of the long-running tests: a short count in the fast tier, which still reaches every
/// code path (the pool's balance is checked after every step); the CI count in the slow tier;
/// ten times that under GPUAD_SOAK=1.
/// </summary>
public static class Soak
{
    /// <summary>GPUAD_SOAK=1 runs the soak variants.</summary>
    public static bool Enabled => Environment.GetEnvironmentVariable("GPUAD_SOAK") == "1";

    /// <summary>The iteration count: <paramref name="ci"/>, or ten times it under GPUAD_SOAK=1.</summary>
    public static int Iterations(int ci) => Enabled ? 10 * ci : ci;
}

/// <summary>A small Gaussian-process training step, the unit of work of the soak tests.</summary>
public sealed class GpStep : IDisposable
{
    private readonly Device device;
    private readonly DeviceTensor<double> sigma, y, tangent, cotangent;
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

/// <summary>
/// Many forward and backward passes keep the pool's bytes in use flat (checked after every
/// step), stop adding device allocations and loaded kernels after a warm-up, keep managed memory
/// bounded, and keep computing the same bits. GPUAD_SOAK=1 runs the soak variants: 100,000 small
/// steps and 30,000 Gaussian-process steps.
/// </summary>
[Collection("Soak")]
public sealed class LeakTests(DeviceFixture devices)
{
    private static void AssertFlat(Device device, Func<double[]> step, int iterations)
    {
        var expected = OpTable.Bits(step());
        const int warmUp = 50;
        for (int i = 0; i < warmUp; i++) step();
        long bytes = device.Pool.BytesInUse, allocations = device.Pool.DeviceAllocations;
        int kernels = device.LoadedKernels;
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < iterations; i++)
        {
            step();
            if (device.Pool.BytesInUse != bytes)
                Assert.Fail($"step {i}: {device.Pool.BytesInUse - bytes} bytes still in use after the tape was disposed");
        }
        Assert.Equal(allocations, device.Pool.DeviceAllocations); // the pool serves every request from its cache
        Assert.Equal(kernels, device.LoadedKernels);
        long managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(managedAfter <= 2 * managed + (1 << 20), $"managed memory grew from {managed:N0} to {managedAfter:N0} bytes");
        Assert.Equal(expected, OpTable.Bits(step()));
    }

    /// <summary>
    /// 10,000 small steps: Y = X·Xᵀ + b with b a batch-1 variable the tape uploads and owns,
    /// broadcast over the batch (its gradient a batch sum), and X used twice (its gradient
    /// accumulated). Seven launches a step: the CPU accelerator's launch cost, not the graph
    /// code, sets the time. The pool's exact balance is checked after every step, so a code
    /// path that leaks shows at its first use; the Gaussian-process steps below cover the
    /// factorizations.
    /// </summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void TenThousandSmallStepsKeepDeviceAndManagedMemoryFlat() => SmallSteps(Soak.Iterations(10_000));

    /// <summary>The small steps of <see cref="TenThousandSmallStepsKeepDeviceAndManagedMemoryFlat"/>, 500 of them.</summary>
    [Fact]
    public void SmallStepsKeepDeviceAndManagedMemoryFlat() => SmallSteps(500);

    private void SmallSteps(int iterations)
    {
        var device = devices.Cpu;
        var s = new Shape(2, 8, 8);
        using var x0 = device.Upload<double>(TestData.Random(s, 1), s);
        using var cotangent = device.Upload<double>(TestData.Random(s, 2), s);
        var bias = TestData.Random(new Shape(1, 8, 8), 3);
        double[] Step()
        {
            using var tape = new Tape(device);
            var x = tape.Variable(x0);
            var b = tape.Variable(bias, new Shape(1, 8, 8));
            var y = Op.Add(Op.MatMul(x, x, transposeB: true), b).Keep();
            tape.Backward(y, cotangent);
            return [.. y.ToArray(), .. x.Grad!.ToArray(), .. b.Grad!.ToArray()];
        }
        AssertFlat(device, Step, iterations);
    }

    /// <summary>Gaussian-process NLL steps with a tangent: Cholesky, solves, log, broadcast constant, info read back.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void GaussianProcessStepsKeepDeviceAndManagedMemoryFlat() => GaussianProcessSteps(Soak.Enabled ? 30_000 : 300);

    /// <summary>The Gaussian-process steps, 30 of them.</summary>
    [Fact]
    public void AFewGaussianProcessStepsKeepDeviceAndManagedMemoryFlat() => GaussianProcessSteps(30);

    private void GaussianProcessSteps(int iterations)
    {
        using var step = new GpStep(devices.Cpu);
        AssertFlat(devices.Cpu, step.Run, iterations);
    }
}
