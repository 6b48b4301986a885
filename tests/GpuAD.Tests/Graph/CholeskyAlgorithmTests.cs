using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// Op.Cholesky's algorithms give the same factor and gradient as the composed reference, and
/// Auto follows <see cref="CholeskyPolicy"/>.
/// </summary>
[Collection("Graph")]
public sealed class CholeskyAlgorithmTests(DeviceFixture devices)
{
    /// <summary>
    /// (family, n, batch): on the CPU family 70 is two blocks of 64 and one thread differentiates
    /// each matrix whole under Whole; on the emulated GPU 36 is two blocks of 32 and one
    /// group per matrix under Whole.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.CpuTuned, 70, 3)]
    [InlineData(KernelFamily.CpuTuned, 1, 2)]
    [InlineData(KernelFamily.GpuTuned, 36, 1)]
    public void EveryAlgorithmGivesTheComposedFactorAndGradient(KernelFamily family, int n, int batch)
    {
        var device = devices.Get(family);
        var shape = new Shape(batch, n, n);
        var sigma = TestData.Spd(batch, n, seed: 40 + n);
        var cotangent = TestData.Random(shape, seed: 41 + n);
        var (l0, g0) = FactorAndGradient(device, sigma, cotangent, shape, CholeskyAlgorithm.Composed);
        double tol = 1e-10 * Math.Max(1, n / 16.0);
        foreach (var algorithm in new[] { CholeskyAlgorithm.Blocked, CholeskyAlgorithm.Whole, CholeskyAlgorithm.Auto })
        {
            var (l, g) = FactorAndGradient(device, sigma, cotangent, shape, algorithm);
            TestData.AssertClose(l0, l, tol, $"{family} n={n} {algorithm}: L");
            TestData.AssertClose(g0, g, tol, $"{family} n={n} {algorithm}: Σ̄");
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
                Assert.True(g[(b * n + i) * n + j] == g[(b * n + j) * n + i], $"{family} n={n} {algorithm}: Σ̄ is not exactly symmetric at ({i}, {j})");
        }
    }

    private static (double[] L, double[] Grad) FactorAndGradient(Device device, double[] sigma, double[] cotangent, Shape shape, CholeskyAlgorithm algorithm)
    {
        using var tape = new Tape(device);
        var v = tape.Variable(sigma, shape);
        var l = Op.Cholesky(v, algorithm).Keep();
        var expected = algorithm == CholeskyAlgorithm.Auto ? CholeskyPolicy.Choose<double>(device, shape.Rows, shape.Batch) : algorithm;
        Assert.Equal(expected, Node(l).Algorithm);
        using var cot = device.Upload<double>(cotangent, shape);
        tape.Backward(l, cot);
        return (l.ToArray(), v.Grad!.ToArray());
    }

    private static CholeskyNode<double> Node(Var<double> l) => (CholeskyNode<double>)l.Producer!;

    [Fact]
    public void AutoPicksTheSmallPathUpToTheKernelsWholeMatrixOrder()
    {
        var cpu = devices.Cpu;
        int cpuSmall = CholeskyPlan.WholeUpTo<double>(cpu);
        Assert.Equal(CholeskyAlgorithm.Whole, CholeskyPolicy.Choose<double>(cpu, cpuSmall, 1));
        Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPolicy.Choose<double>(cpu, cpuSmall + 1, 1));
        var gpu = devices.GpuEmulated;
        foreach (var (max, choose) in new (int, Func<int, CholeskyAlgorithm>)[]
        {
            (Blas.PotrfMaxWholeOrder<double>(gpu), n => CholeskyPolicy.Choose<double>(gpu, n, 100)),
            (Blas.PotrfMaxWholeOrder<float>(gpu), n => CholeskyPolicy.Choose<float>(gpu, n, 100)),
        })
        {
            Assert.Equal(CholeskyAlgorithm.Whole, choose(max));
            Assert.Equal(CholeskyAlgorithm.Blocked, choose(max + 1));
        }
    }

    [Fact]
    public void WholeBeyondTheGpuSharedMemoryThrowsWhenRecorded()
    {
        var gpu = devices.GpuEmulated;
        int n = Blas.PotrfMaxWholeOrder<double>(gpu) + 1;
        using var tape = new Tape(gpu);
        var v = tape.Variable(new double[n * n], new Shape(1, n, n));
        var e = Assert.Throws<ArgumentException>(() => Op.Cholesky(v, CholeskyAlgorithm.Whole));
        Assert.Contains("Cholesky", e.Message);
        Assert.Contains($"[1, {n}, {n}]", e.Message);
        Assert.Equal(0, tape.NodeCount);
    }

    [Fact]
    public void RetainedGraphsDifferentiateTwiceThroughTheInPlaceBackward()
    {
        // The blocked VJP hands the cotangent's memory on as Σ's gradient: a second pass must get a fresh one.
        var device = devices.Cpu;
        var shape = new Shape(2, 70, 70);
        using var tape = new Tape(device);
        var v = tape.Variable(TestData.Spd(2, 70, seed: 11), shape);
        var y = Op.Sum(Op.Cholesky(v, CholeskyAlgorithm.Blocked));
        using var ones = device.Upload<double>(new[] { 1.0, 1.0 }, y.Shape);
        tape.Backward(y, ones, new BackwardOptions { RetainGraph = true });
        var once = v.Grad!.ToArray();
        tape.Backward(y, ones);
        var twice = v.Grad!.ToArray();
        TestData.AssertClose(once.Select(x => 2 * x).ToArray(), twice, 1e-14, "two passes accumulate");
    }
}

/// <summary>Settings that change every tape of the process; these tests run alone, after the parallel collections.</summary>
[CollectionDefinition("ProcessWideSettings", DisableParallelization = true)] public sealed class ProcessWideSettingsCollection : ICollectionFixture<DeviceFixture>;
