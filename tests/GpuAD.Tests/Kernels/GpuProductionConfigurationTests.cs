using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

[CollectionDefinition("EmulatedGpu")] public sealed class EmulatedGpuCollection : ICollectionFixture<DeviceFixture>;

/// <summary>
/// The GPU family in the configurations its policy chooses for users, on the emulated GPU (the
/// GPU-tuned kernels on a CPU accelerator with 32-wide warps): Cholesky forward and backward
/// through <see cref="CholeskyPolicy"/> at the largest order factored whole in one thread group,
/// the first order past it (blocks of 32), orders that are not multiples of the block, and past
/// the order where blocks of 64 start; the backward kernel with one factor broadcast over the
/// batch; every triangular-solve flag and every GEMM op past the kernels' tiles; LU, its solves
/// and row interchanges past the panel width; the reductions over large matrices. The orders
/// come from the policy code, so the tests follow it when it changes. The emulated GPU runs one
/// OS thread per simulated thread, so these production sizes are the slow tier; the fast tier runs
/// the same policy branches at reduced sizes through <see cref="SmallBlocks"/>, a tuning table
/// whose thresholds are scaled down (whole matrices up to 12, blocks of 8, blocks of 16 past 24),
/// and the GEMM, LU and reductions just past their tiles, panels and groups.
/// </summary>
[Collection("EmulatedGpu")]
public sealed class GpuProductionConfigurationTests(DeviceFixture devices)
{
    private Device Gpu => devices.GpuEmulated;

    /// <summary>Which order a case runs at, named by the policy's threshold it probes.</summary>
    public enum Order
    {
        /// <summary>The largest order factored whole by one thread group (77 in float64, 110 in float32).</summary>
        LargestWhole,

        /// <summary>One past it: the first blocked order, with a ragged last block.</summary>
        FirstBlocked,

        /// <summary>130: blocked, not a multiple of any block or tile.</summary>
        N130,

        /// <summary>200: blocked, not a multiple of any block or tile.</summary>
        N200,
    }

    private int OrderOf<T>(Order order) where T : unmanaged, INumber<T> => order switch
    {
        Order.LargestWhole => Blas.PotrfMaxWholeOrder<T>(Gpu),
        Order.FirstBlocked => Blas.PotrfMaxWholeOrder<T>(Gpu) + 1,
        Order.N130 => 130,
        _ => 200,
    };

    /// <summary>The first order the policy factors with its largest blocks: 600 = 9·64 + 24 past the 512 threshold.</summary>
    private static int LargeBlockOrder => PotrfGpu.LargeFrom + 88;

    public static TheoryData<string, Order> CholeskyCases()
    {
        var data = new TheoryData<string, Order>();
        foreach (var dtype in new[] { "f64", "f32" })
        foreach (var order in Enum.GetValues<Order>())
            data.Add(dtype, order);
        return data;
    }

    /// <summary>
    /// Op.Cholesky with the automatic algorithm, forward and backward on a tape, against the
    /// float64 factor and Murray's reverse mode in managed code; the policy's choice (whole
    /// matrices or blocks, ragged) is asserted so that the case keeps testing what it names.
    /// </summary>
    [Theory]
    [MemberData(nameof(CholeskyCases))]
    [Trait("Tier", "Slow")]
    public void CholeskyForwardAndBackwardInThePolicysConfigurations(string dtype, Order order)
    {
        if (dtype == "f64") Cholesky<double>(OrderOf<double>(order), order == Order.LargestWhole ? 3 : 2, whole: order == Order.LargestWhole);
        else Cholesky<float>(OrderOf<float>(order), order == Order.LargestWhole ? 3 : 2, whole: order == Order.LargestWhole);
    }

    /// <summary>Blocks of 64, the configuration of every GPU Cholesky past n = 512.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void CholeskyForwardAndBackwardInBlocksOf64PastOrder512()
    {
        int n = LargeBlockOrder;
        Assert.True(CholeskyPlan.BlockedBlockSize(Gpu, n) > CholeskyPlan.BlockedBlockSize(Gpu, PotrfGpu.LargeFrom),
            "the policy takes larger blocks past LargeFrom");
        Cholesky<double>(n, batch: 1, whole: false);
    }

    /// <summary>
    /// The production table with its Cholesky thresholds scaled down, so that the fast tier reaches
    /// the policy's branches at small orders: whole matrices up to 12 (77 and 110 in production),
    /// blocks of 8 up to order 24 (32 up to 512), blocks of 16 beyond (64). Small blocks mean more
    /// launches: the orders stay within a few blocks, the emulated GPU's cost being per launch.
    /// </summary>
    internal static TuningTable SmallBlocks(TuningTable table) =>
        table with { PotrfWholeUpTo = 12, PotrfBlock = 8, PotrfLargeBlock = 16, PotrfLargeFrom = 24 };

    /// <summary>Runs <paramref name="test"/> with <see cref="SmallBlocks"/> in force on the emulated GPU.</summary>
    private void WithSmallBlocks(Action test)
    {
        var original = Gpu.Tuning;
        Gpu.Tuning = SmallBlocks(original);
        try
        {
            test();
        }
        finally
        {
            Gpu.Tuning = original;
        }
    }

    /// <summary>
    /// <see cref="CholeskyForwardAndBackwardInThePolicysConfigurations"/> and the blocks past the
    /// large-block threshold under <see cref="SmallBlocks"/>: the largest whole order (12), the first
    /// blocked one (13, a ragged block of 5), 21 (two blocks of 8 and one of 5) and 37, past 24,
    /// in blocks of 16 (two and one of 5).
    /// </summary>
    [Theory]
    [InlineData("f64", 12)]
    [InlineData("f32", 12)]
    [InlineData("f64", 13)]
    [InlineData("f32", 13)]
    [InlineData("f64", 21)]
    [InlineData("f32", 21)]
    [InlineData("f64", 37)]
    public void CholeskyForwardAndBackwardInThePolicysBranchesWithSmallBlocks(string dtype, int n) => WithSmallBlocks(() =>
    {
        bool whole = n <= 12;
        if (n > Gpu.Tuning.PotrfLargeFrom)
            Assert.True(CholeskyPlan.BlockedBlockSize(Gpu, n) > CholeskyPlan.BlockedBlockSize(Gpu, Gpu.Tuning.PotrfLargeFrom), "larger blocks past potrfLargeFrom");
        if (dtype == "f64") Cholesky<double>(n, whole ? 3 : 2, whole);
        else Cholesky<float>(n, whole ? 3 : 2, whole);
    });

    private void Cholesky<T>(int n, int batch, bool whole) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = new Shape(batch, n, n);
        int nb = CholeskyPlan.For<T>(Gpu, n, batch).BlockSize;
        var algorithm = CholeskyPolicy.Choose<T>(Gpu, n, batch);
        string what = $"{typeof(T).Name} n={n} batch={batch} {algorithm} block={nb}";
        if (whole)
        {
            Assert.True(nb >= n, what);
            Assert.Equal(CholeskyAlgorithm.Whole, algorithm);
        }
        else
        {
            Assert.True(nb < n && n % nb != 0, $"{what}: blocked with a ragged last block");
            Assert.Equal(CholeskyAlgorithm.Blocked, algorithm);
        }

        var sigma = TestData.Spd(batch, n, seed: n + batch);
        var lbar = LowerTriangle(TestData.Random(shape, seed: 2 * n + batch), batch, n);
        var l = Reference.Cholesky(sigma, batch, n);
        var sigmaBar = Reference.CholeskyBackward(l, lbar, batch, n); // the symmetric Σ̄

        using var tape = new Tape(Gpu);
        var s = tape.Variable(TestData.To<T>(sigma), shape);
        var factor = Op.Cholesky(s);
        double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
        TestData.AssertClose(l, factor.ToArray(), tol, what + ": L");
        using var cotangent = TestData.Upload<T>(Gpu, lbar, shape);
        tape.Backward(factor, cotangent);
        TestData.AssertClose(sigmaBar, s.Grad!.ToArray(), tol, what + ": Σ̄");
    }

    public static TheoryData<string, int, int> BroadcastFactorCases() => new()
    {
        { "f64", 40, 0 },   // whole: one group per matrix
        { "f64", 130, 0 },  // blocked by the policy (32), ragged
        { "f32", 130, 0 },
        { "f64", 70, 16 },  // explicit blocks of 16: many ragged steps
    };

    /// <summary>
    /// The documented broadcast of the backward kernel: one factor L (batch stride 0) against a
    /// batch of cotangents, each result equal to the unbroadcast one; also symmetrized.
    /// </summary>
    [Theory]
    [MemberData(nameof(BroadcastFactorCases))]
    [Trait("Tier", "Slow")]
    public void BackwardBroadcastsOneFactorOverTheBatch(string dtype, int n, int blockSize)
    {
        if (dtype == "f64") BroadcastBackward<double>(n, blockSize);
        else BroadcastBackward<float>(n, blockSize);
    }

    /// <summary>
    /// The broadcast under <see cref="SmallBlocks"/>: whole (10), blocked by the policy (21, blocks
    /// of 8, ragged) in both types, and explicit blocks of 8 past the large-block threshold (29:
    /// three and one of 5).
    /// </summary>
    [Theory]
    [InlineData("f64", 10, 0)]
    [InlineData("f64", 21, 0)]
    [InlineData("f32", 21, 0)]
    [InlineData("f64", 29, 8)]
    public void BackwardBroadcastsOneFactorOverTheBatchWithSmallBlocks(string dtype, int n, int blockSize) => WithSmallBlocks(() =>
    {
        Assert.Equal(n <= 12, CholeskyPlan.For<double>(Gpu, n, 1).Whole);
        if (dtype == "f64") BroadcastBackward<double>(n, blockSize);
        else BroadcastBackward<float>(n, blockSize);
    });

    private void BroadcastBackward<T>(int n, int blockSize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int batch = 3;
        var l = Reference.Cholesky(TestData.Spd(1, n, seed: 5 * n), 1, n);
        var lbar = TestData.Random(new Shape(batch, n, n), seed: 6 * n);
        var expected = new double[lbar.Length];
        for (int b = 0; b < batch; b++)
        {
            var one = Reference.CholeskyBackward(l, lbar.AsSpan(b * n * n, n * n).ToArray(), 1, n);
            one.CopyTo(expected, b * n * n);
        }
        var symmetric = expected; // Reference.CholeskyBackward gives the symmetric Σ̄ = ½(Ā + Āᵀ)
        double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
        using var dl = TestData.Upload<T>(Gpu, l, new Shape(1, n, n));
        var broadcast = dl.Mat with { BatchStride = 0, Batch = batch };
        foreach (bool symmetrize in new[] { false, true })
        {
            using var dbar = TestData.Upload<T>(Gpu, lbar, new Shape(batch, n, n));
            Blas.PotrfBackward(Gpu, broadcast, dbar.Mat, blockSize, symmetrize);
            var got = TestData.ToDouble(dbar.ToArray());
            TestData.AssertClose(symmetric, symmetrize ? got : SymmetrizeLower(got, batch, n), tol,
                $"{typeof(T).Name} n={n} block={blockSize} symmetrize={symmetrize}: broadcast L");
        }
    }

    public static TheoryData<string, int, int> TrsmCases() => new()
    {
        { "f64", 130, 37 }, // five diagonal blocks of 32, the last of 2; two groups of right-hand sides
        { "f32", 77, 33 },
        { "f64", 600, 5 },  // past 512: the default blocks follow the Cholesky's, 64 (nine and one of 24)
    };

    /// <summary>Every flag combination, batch 2 and a T broadcast over it, past the TRSM's diagonal block.</summary>
    [Theory]
    [MemberData(nameof(TrsmCases))]
    [Trait("Tier", "Slow")]
    public void TriangularSolvesWithEveryFlagPastTheBlock(string dtype, int n, int m)
    {
        int block = CholeskyPlan.BlockedBlockSize(Gpu, n);
        Assert.True(n > block && n % block != 0);
        if (dtype == "f64") Trsm<double>(n, m);
        else Trsm<float>(n, m);
    }

    /// <summary>
    /// Every flag under <see cref="SmallBlocks"/>, whose blocks the solves' diagonal blocks follow:
    /// 21 in blocks of 8 (two and one of 5) with 37 right-hand sides (two groups of them), 13 in
    /// float32, and 37 past the large-block threshold in blocks of 16.
    /// </summary>
    [Theory]
    [InlineData("f64", 21, 37)]
    [InlineData("f32", 13, 33)]
    [InlineData("f64", 37, 5)]
    public void TriangularSolvesWithEveryFlagPastTheBlockWithSmallBlocks(string dtype, int n, int m) => WithSmallBlocks(() =>
    {
        int block = CholeskyPlan.BlockedBlockSize(Gpu, n);
        Assert.True(n > block && n % block != 0);
        Assert.Equal(n > Gpu.Tuning.PotrfLargeFrom ? Gpu.Tuning.PotrfLargeBlock : Gpu.Tuning.PotrfBlock, block);
        if (dtype == "f64") Trsm<double>(n, m);
        else Trsm<float>(n, m);
    });

    private void Trsm<T>(int n, int m) where T : unmanaged, INumber<T>
    {
        int seed = 17 * n + m;
        const int batch = 2;
        foreach (bool left in new[] { true, false })
        foreach (bool lower in new[] { true, false })
        foreach (bool transpose in new[] { false, true })
        foreach (bool unit in new[] { false, true })
        foreach (int tBatch in new[] { batch, 1 })
        {
            var b = new Shape(batch, left ? n : m, left ? m : n);
            var t = TestData.Triangular(tBatch, n, lower, seed++);
            var b0 = TestData.Random(b, seed++);
            const double alpha = -1.25;
            var expected = Reference.TriangularSolve(t, tBatch, n, b0, batch, b.Rows, b.Cols, left, lower, transpose, unit, alpha);
            using var dt = TestData.Upload<T>(Gpu, t, new Shape(tBatch, n, n));
            using var db = TestData.Upload<T>(Gpu, b0, b);
            Blas.Trsm(dt, db, left, lower, transpose, unit, T.CreateChecked(alpha));
            TestData.AssertClose(expected, db.ToArray(), TestData.KernelTol<T>() * Math.Max(1, n / 16.0),
                $"{typeof(T).Name} n={n} B={b} T batch {tBatch} left={left} lower={lower} transpose={transpose} unit={unit}");
        }
    }

    /// <summary>
    /// op(A)·op(B) for all four op flags with M, N and K past the GEMM's tiles and not multiples
    /// of them, batch 2 and each operand broadcast, α and β both non-trivial.
    /// </summary>
    [Theory]
    [InlineData("f64", 130, 70, 201)]
    [InlineData("f32", 130, 70, 201)]
    [Trait("Tier", "Slow")]
    public void GemmWithEveryOpPastTheTiles(string dtype, int m, int n, int k) => GemmPastTheTiles(dtype, m, n, k);

    /// <summary>The same with N and K short: a second tile row of the policy's tiling (128 rows on the emulated GPU), partial tiles, a partial slice.</summary>
    [Theory]
    [InlineData("f64", 130, 33, 37)]
    [InlineData("f32", 130, 33, 37)]
    public void GemmWithEveryOpJustPastATile(string dtype, int m, int n, int k) => GemmPastTheTiles(dtype, m, n, k);

    private void GemmPastTheTiles(string dtype, int m, int n, int k)
    {
        var tiling = dtype == "f64" ? GemmPolicy.TilingFor<double>(Gpu, m, n, k, 2) : GemmPolicy.TilingFor<float>(Gpu, m, n, k, 2);
        Assert.True(m > tiling.TileM && m % tiling.TileM != 0 && k % tiling.SliceK != 0 && n % tiling.TileN != 0, $"{tiling}");
        if (dtype == "f64") Gemm<double>(m, n, k);
        else Gemm<float>(m, n, k);
    }

    private void Gemm<T>(int m, int n, int k) where T : unmanaged, INumber<T>
    {
        const int batch = 2;
        int seed = 99;
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (var (aBatch, bBatch) in new[] { (batch, batch), (1, batch), (batch, 1) })
        {
            var sa = ta ? (aBatch, k, m) : (aBatch, m, k);
            var sb = tb ? (bBatch, n, k) : (bBatch, k, n);
            var a = TestData.Random(new Shape(sa.Item1, sa.Item2, sa.Item3), seed++);
            var b = TestData.Random(new Shape(sb.Item1, sb.Item2, sb.Item3), seed++);
            var c0 = TestData.Random(new Shape(batch, m, n), seed++);
            var expected = Reference.Gemm(a, sa, ta, b, sb, tb, c0, batch, 0.5, -1.5);
            using var da = TestData.Upload<T>(Gpu, a, new Shape(sa.Item1, sa.Item2, sa.Item3));
            using var db = TestData.Upload<T>(Gpu, b, new Shape(sb.Item1, sb.Item2, sb.Item3));
            using var dc = TestData.Upload<T>(Gpu, c0, new Shape(batch, m, n));
            Blas.Gemm(da, db, dc, ta, tb, T.CreateChecked(0.5), T.CreateChecked(-1.5));
            TestData.AssertClose(expected, dc.ToArray(), TestData.KernelTol<T>() * Math.Max(1, k / 16.0),
                $"{typeof(T).Name} m={m} n={n} k={k} A batch {aBatch} B batch {bBatch} ta={ta} tb={tb}");
        }
    }

    /// <summary>
    /// GETRF past several 32-wide panels (ragged), batch 2: P·L·U = A with the reference's pivots;
    /// GETRS on both sides, transposed or not, with the factors broadcast too; LASWP's four
    /// directions against the permutation they define.
    /// </summary>
    [Theory]
    [InlineData("f64", 130)]
    [InlineData("f32", 200)]
    [Trait("Tier", "Slow")]
    public void LuSolvesAndInterchangesPastThePanel(string dtype, int n) => LuPastThePanel(dtype, n);

    /// <summary>The same past two panels (f64, 70 = 2·32 + 6) and one (f32, 37).</summary>
    [Theory]
    [InlineData("f64", 70)]
    [InlineData("f32", 37)]
    public void LuSolvesAndInterchangesJustPastThePanel(string dtype, int n) => LuPastThePanel(dtype, n);

    private void LuPastThePanel(string dtype, int n)
    {
        Assert.True(n > LuGpu.PanelWidth && n % LuGpu.PanelWidth != 0);
        if (dtype == "f64") Lu<double>(n);
        else Lu<float>(n);
    }

    private void Lu<T>(int n) where T : unmanaged, INumber<T>
    {
        const int batch = 2;
        var shape = new Shape(batch, n, n);
        // Π·(R + 2√n·I): well-conditioned, and pivoting must find the diagonal of each row.
        var a = TestData.Random(shape, seed: 3 * n);
        var rng = new Random(n);
        for (int b = 0; b < batch; b++)
        {
            var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
            for (int i = 0; i < n; i++) a[(long)b * n * n + i * n + perm[i]] += 2 * Math.Sqrt(n);
        }
        var reference = LuReference.Getrf(a, batch, n);
        double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
        string what = $"{typeof(T).Name} n={n} batch={batch}";

        using var lu = TestData.Upload<T>(Gpu, a, shape);
        using var pivots = Gpu.Upload(Enumerable.Repeat(-7, batch * n).ToArray(), batch, n, 1);
        using var info = Gpu.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
        Blas.Getrf(lu, pivots, info);
        var piv = pivots.ToArray();
        Assert.Equal(new int[batch], info.ToArray());
        Assert.Equal(reference.Pivots, piv); // the pivots are the diagonal entries 2√n larger than the rest: no ties
        TestData.AssertClose(a, LuReference.Reconstruct(TestData.ToDouble(lu.ToArray()), piv, batch, n), tol, what + ": P·L·U = A");

        foreach (bool left in new[] { true, false })
        foreach (bool transpose in new[] { false, true })
        {
            var bShape = left ? new Shape(batch, n, 3) : new Shape(batch, 5, n);
            var b0 = TestData.Random(bShape, seed: n + (left ? 1 : 2) + (transpose ? 4 : 0));
            var expected = LuReference.Solve(a, batch, n, b0, batch, left ? 3 : 5, left, transpose);
            using var x = TestData.Upload<T>(Gpu, b0, bShape);
            Blas.Getrs(lu, pivots, x, left, transpose);
            TestData.AssertClose(expected, x.ToArray(), tol, $"{what}: GETRS left={left} transpose={transpose}");
        }

        // LASWP: row interchanges in increasing order give Pᵀ·X, decreasing P·X (columns: X·P, X·Pᵀ).
        var x0 = TestData.Random(shape, seed: 7 * n);
        foreach (bool columns in new[] { false, true })
        foreach (bool backward in new[] { false, true })
        {
            var expected = (double[])x0.Clone();
            for (int b = 0; b < batch; b++)
            for (int s = 0; s < n; s++)
            {
                int i = backward ? n - 1 - s : s, p = piv[b * n + i];
                for (int e = 0; e < n; e++)
                {
                    long u = (long)b * n * n + (columns ? e * n + i : i * n + e), v = (long)b * n * n + (columns ? e * n + p : p * n + e);
                    (expected[u], expected[v]) = (expected[v], expected[u]);
                }
            }
            using var x = TestData.Upload<T>(Gpu, x0, shape);
            Blas.Laswp(Gpu, x.Mat, pivots, columns, backward);
            Assert.Equal(TestData.ToDouble(TestData.To<T>(expected)), TestData.ToDouble(x.ToArray()));
        }
    }

    /// <summary>Sums, Frobenius dots and batch sums over matrices far larger than a reduction group.</summary>
    [Fact]
    public void ReductionsOverLargeMatrices()
    {
        var s = new Shape(3, 130, 201);
        var x = TestData.Random(s, 5);
        var y = TestData.Random(s, 6);
        using var dx = Gpu.Upload<double>(x, s);
        using var dy = Gpu.Upload<double>(y, s);
        using var sums = TestData.Poisoned<double>(Gpu, new Shape(3, 1, 1));
        using var dots = TestData.Poisoned<double>(Gpu, new Shape(3, 1, 1));
        Elementwise.Reduce(Gpu, dx.Mat, null, sums.Mat);
        Elementwise.Reduce(Gpu, dx.Mat, dy.Mat, dots.Mat);
        long m = s.MatrixLength;
        var expectedSums = new double[3];
        var expectedDots = new double[3];
        var expectedBatch = new double[m];
        for (int b = 0; b < 3; b++)
        for (long e = 0; e < m; e++)
        {
            expectedSums[b] += x[b * m + e];
            expectedDots[b] += x[b * m + e] * y[b * m + e];
            expectedBatch[e] += x[b * m + e];
        }
        TestData.AssertClose(expectedSums, sums.ToArray(), 1e-12, "sums");
        TestData.AssertClose(expectedDots, dots.ToArray(), 1e-12, "dots");
        using var total = TestData.Poisoned<double>(Gpu, s.WithBatch(1));
        Elementwise.SumBatch(Gpu, dx.Mat, total.Mat, 1.0, 0.0);
        TestData.AssertClose(expectedBatch, total.ToArray(), 1e-14, "SumBatch");
    }

    private static double[] LowerTriangle(double[] a, int batch, int n)
    {
        var l = (double[])a.Clone();
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            l[(long)b * n * n + i * n + j] = 0;
        return l;
    }

    /// <summary>½(Ā + Āᵀ) from Ā's lower triangle: the gradient with respect to a symmetric Σ.</summary>
    private static double[] SymmetrizeLower(double[] a, int batch, int n)
    {
        var s = new double[a.Length];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++)
        {
            long o = (long)b * n * n;
            double v = i == j ? a[o + i * n + i] : 0.5 * a[o + i * n + j];
            s[o + i * n + j] = v;
            s[o + j * n + i] = v;
        }
        return s;
    }
}
