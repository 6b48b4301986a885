using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

[Collection("Potrf")]
public sealed class PotrfBackwardTests(DeviceFixture devices)
{
    /// <summary>
    /// (family, dtype, n, block size; 0 = automatic). The CPU family differentiates matrices up to
    /// 512 whole by default, one thread each; with blocks of 64, 65, 130 and 257 cross one to four
    /// block boundaries, and blocks of 7 or 16 make many ragged ones. The GPU family
    /// differentiates matrices up to 77 (fp64) whole in one group; it runs emulated (slow), so it
    /// gets small sizes and three blocked cases (blocks of 32, 8 and 16, the last one ragged; the
    /// slow tier adds 200 in blocks of 64, where the fused panel solves have two tail groups and up
    /// to three below).
    /// </summary>
    public static TheoryData<KernelFamily, string, int, int> Cases()
    {
        var data = new TheoryData<KernelFamily, string, int, int>();
        foreach (int n in new[] { 1, 7, 65, 130, 257 })
            data.Add(KernelFamily.CpuTuned, "f64", n, 0);
        foreach (int n in new[] { 65, 130, 257 })
            data.Add(KernelFamily.CpuTuned, "f64", n, 64);
        foreach (int n in new[] { 7, 130 })
            data.Add(KernelFamily.CpuTuned, "f32", n, 0);
        data.Add(KernelFamily.CpuTuned, "f32", 130, 64);
        data.Add(KernelFamily.CpuTuned, "f64", 33, 7);
        data.Add(KernelFamily.CpuTuned, "f64", 65, 16);
        foreach (int n in new[] { 1, 7, 33, 65 })
            data.Add(KernelFamily.GpuTuned, "f64", n, 0);
        data.Add(KernelFamily.GpuTuned, "f32", 33, 0);
        data.Add(KernelFamily.GpuTuned, "f64", 45, 32);
        data.Add(KernelFamily.GpuTuned, "f32", 20, 8);
        data.Add(KernelFamily.GpuTuned, "f64", 40, 16); // fused panel solves in blocks of 16, a ragged last block
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesTheComposedGradient(KernelFamily family, string dtype, int n, int blockSize)
    {
        if (dtype == "f64") Run<double>(family, n, blockSize, new[] { 1, 3 });
        else Run<float>(family, n, blockSize, new[] { 1, 3 });
    }

    /// <summary>The GPU family in blocks of 64 at 200: the fused panel solves with two tail groups and up to three below.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void MatchesTheComposedGradientInBlocksOf64() => Run<double>(KernelFamily.GpuTuned, 200, 64, new[] { 1, 3 });

    [Theory]
    [InlineData(KernelFamily.CpuTuned, "f64", 16, 0)]
    [InlineData(KernelFamily.CpuTuned, "f32", 16, 0)]
    [InlineData(KernelFamily.CpuTuned, "f64", 100, 0)]
    [InlineData(KernelFamily.CpuTuned, "f64", 100, 64)]
    [InlineData(KernelFamily.GpuTuned, "f64", 9, 0)]
    public void LargeBatchesOfSmallMatrices(KernelFamily family, string dtype, int n, int blockSize)
    {
        if (dtype == "f64") Run<double>(family, n, blockSize, new[] { 60 });
        else Run<float>(family, n, blockSize, new[] { 51 });
    }

    /// <summary>
    /// The GPU family's reverse with 2 and 4 threads per row: the blocked path's diagonal-block
    /// steps (potrfPanelLanes; ragged and whole blocks) and the whole-matrix kernel
    /// (potrfWholeLanes), both precisions, batches 1 and 3, against the float64 formula, NaN above
    /// the diagonals as always.
    /// </summary>
    [Theory]
    [InlineData(2, "f64", 40, 16)]
    [InlineData(4, "f32", 20, 8)]
    [InlineData(2, "f64", 33, 0)] // whole (potrfWholeLanes)
    [InlineData(4, "f32", 33, 0)]
    public void BlockReversesWithSeveralThreadsPerRowMatchTheFormula(int lanes, string dtype, int n, int blockSize) =>
        SeveralThreadsPerRow(lanes, dtype, n, blockSize);

    /// <summary>The same at larger orders: four blocks of 16 with a ragged last one, and a whole matrix of 65.</summary>
    [Theory]
    [InlineData(2, "f64", 45, 16)]
    [InlineData(4, "f64", 45, 16)]
    [InlineData(4, "f64", 65, 0)]
    [Trait("Tier", "Slow")]
    public void BlockReversesWithSeveralThreadsPerRowMatchTheFormulaAtLargerOrders(int lanes, string dtype, int n, int blockSize) =>
        SeveralThreadsPerRow(lanes, dtype, n, blockSize);

    /// <summary>Four threads per row in the default blocks of 32.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void BlockReversesWithFourThreadsPerRowInBlocksOf32MatchTheFormula() => SeveralThreadsPerRow(4, "f64", 70, 32);

    /// <summary>Two threads per row in blocks of 64.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void BlockReversesWithTwoThreadsPerRowInBlocksOf64MatchTheFormula() => SeveralThreadsPerRow(2, "f64", 150, 64);

    private void SeveralThreadsPerRow(int lanes, string dtype, int n, int blockSize)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            device.Tuning = original with { PotrfPanelLanes = lanes, PotrfWholeLanes = lanes };
            if (dtype == "f64") Run<double>(KernelFamily.GpuTuned, n, blockSize, new[] { 1, 3 });
            else Run<float>(KernelFamily.GpuTuned, n, blockSize, new[] { 1, 3 });
        }
        finally
        {
            device.Tuning = original;
        }
    }

    /// <summary>
    /// Σ̄ = ½(Ā + Āᵀ) from the kernel's Ā against the composed formula in float64, with NaN in the
    /// strict upper triangles of L and L̄ (never read); for the first batch size also Σ̄ as the
    /// kernels symmetrize it. On the CPU family in float64, also against the graph's composed
    /// backward on the device, the reference the blocked path replaces (the GPU family runs
    /// emulated: the float64 formula stands for it there).
    /// </summary>
    private void Run<T>(KernelFamily family, int n, int blockSize, int[] batches) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Get(family);
        foreach (int batch in batches)
        {
            var shape = new Shape(batch, n, n);
            var l = Reference.Cholesky(TestData.Spd(batch, n, seed: 3 * n + batch), batch, n);
            var lbar = TestData.Random(shape, seed: 7 * n + batch);
            var expected = Reference.CholeskyBackward(l, lbar, batch, n);

            using var dl = TestData.Upload<T>(device, TestData.WithNaNAbove(l, batch, n), shape);
            using var dbar = TestData.Upload<T>(device, TestData.WithNaNAbove(lbar, batch, n), shape);
            Blas.PotrfBackward(device, dl.Mat, dbar.Mat, blockSize);
            var got = SymmetrizeLower(TestData.ToDouble(dbar.ToArray()), batch, n);

            string what = $"{family} {typeof(T).Name} n={n} batch={batch} block={blockSize}";
            double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
            TestData.AssertClose(expected, got, tol, what + ": Σ̄ = ½(Ā + Āᵀ) against the float64 formula");

            if (batch == batches[0])
            {
                // The symmetric gradient written by the kernels, over L̄'s NaN upper triangle.
                dbar.CopyFrom(TestData.To<T>(TestData.WithNaNAbove(lbar, batch, n)));
                Blas.PotrfBackward(device, dl.Mat, dbar.Mat, blockSize, symmetrize: true);
                TestData.AssertClose(got, TestData.ToDouble(dbar.ToArray()), tol, what + ": symmetrized by the kernels");
            }

            if (typeof(T) != typeof(double) || family != KernelFamily.CpuTuned) continue;
            using var cl = TestData.Upload<T>(device, l, shape);
            using var cbar = TestData.Upload<T>(device, lbar, shape);
            using var composed = CholeskyNode<T>.ComposedBackward(device, cl, cbar);
            TestData.AssertClose(TestData.ToDouble(composed.ToArray()), got, tol, what + ": Σ̄ against the device's composed backward");
        }
    }

    /// <summary>½(Ā + Āᵀ) from Ā's lower triangle.</summary>
    private static double[] SymmetrizeLower(double[] a, int batch, int n)
    {
        var s = new double[a.Length];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            long o = (long)b * n * n;
            s[o + i * n + j] = i == j ? a[o + i * n + i] : a[o + Math.Max(i, j) * n + Math.Min(i, j)] / 2;
        }
        return s;
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void EmptyShapesDoNothing(KernelFamily family)
    {
        var device = devices.Get(family);
        using var l = device.Allocate<double>(new Shape(2, 0, 0));
        using var lbar = device.Allocate<double>(new Shape(2, 0, 0));
        Blas.PotrfBackward(device, l.Mat, lbar.Mat);
        using var none = device.Allocate<double>(new Shape(0, 5, 5));
        Blas.PotrfBackward(device, none.Mat, none.Mat);
    }

    [Fact]
    public void InvalidArgumentsThrowNamingThem()
    {
        var device = devices.Cpu;
        using var l = device.Zeros<double>(new Shape(3, 4, 4));
        using var wrong = device.Zeros<double>(new Shape(3, 5, 5));
        var e = Assert.Throws<ArgumentException>(() => Blas.PotrfBackward(device, l.Mat, wrong.Mat));
        Assert.Contains("PotrfBackward", e.Message);
        Assert.Contains("[3, 4, 4]", e.Message);
        Assert.Contains("[3, 5, 5]", e.Message);
        using var rect = device.Zeros<double>(new Shape(3, 4, 5));
        Assert.Throws<ArgumentException>(() => Blas.PotrfBackward(device, rect.Mat, rect.Mat));
        using var two = device.Zeros<double>(new Shape(2, 4, 4));
        e = Assert.Throws<ArgumentException>(() => Blas.PotrfBackward(device, l.Mat, two.Mat));
        Assert.Contains("[2, 4, 4]", e.Message);
        Assert.Throws<ArgumentException>(() => Blas.PotrfBackward(device, l.Mat, l.Mat with { BatchStride = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => Blas.PotrfBackward(device, l.Mat, l.Mat, blockSize: -1));

        // The GPU family's diagonal blocks live in one group's shared memory.
        var gpu = devices.GpuEmulated;
        int max = Blas.PotrfMaxWholeOrder<double>(gpu);
        using var big = gpu.Zeros<double>(new Shape(1, max + 1, max + 1));
        e = Assert.Throws<ArgumentOutOfRangeException>(() => Blas.PotrfBackward(gpu, big.Mat, big.Mat, blockSize: max + 1));
        Assert.Contains($"{max}", e.Message);
        using var info = gpu.Zeros<int>(new Shape(1, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Blas.Potrf(gpu, big.Mat, info, blockSize: max + 1));
    }

    [Fact]
    public void TheGpuFamilysWholeMatrixLimitIsWhatFitsSharedMemory()
    {
        // Two packed triangles of order n take n(n+1)·sizeof(T) bytes; a group gets 48 KiB.
        static int Largest(int size)
        {
            int n = 0;
            while ((n + 1) * (n + 2) * size <= 48 * 1024) n++;
            return n;
        }
        Assert.Equal(Largest(sizeof(double)), Blas.PotrfMaxWholeOrder<double>(devices.GpuEmulated));
        Assert.Equal(Largest(sizeof(float)), Blas.PotrfMaxWholeOrder<float>(devices.GpuEmulated));
        Assert.Equal(int.MaxValue, Blas.PotrfMaxWholeOrder<double>(devices.Cpu));
    }
}
