using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

[Collection("Potrf")]
public sealed class PotrfTests(DeviceFixture devices)
{
    /// <summary>
    /// (family, dtype, n, block size; 0 = automatic). The CPU family factors matrices up to 512
    /// whole by default, one thread each; with blocks of 64, 65 and 130 cross block boundaries, and
    /// blocks of 7 make many ragged ones. The GPU family factors matrices up to 77 (fp64) or 110
    /// (fp32) whole, one group each, and blocks of 32 above; explicit block sizes exercise its
    /// blocked path on small sizes. It runs emulated (slow), so it gets small sizes and 65 once.
    /// </summary>
    public static TheoryData<KernelFamily, string, int, int> Cases()
    {
        var data = new TheoryData<KernelFamily, string, int, int>();
        foreach (var dtype in new[] { "f64", "f32" })
        {
            foreach (int n in new[] { 1, 2, 7, 16, 33, 65, 130 })
                data.Add(KernelFamily.CpuTuned, dtype, n, 0);
            foreach (int n in new[] { 1, 7, 33 })
                data.Add(KernelFamily.GpuTuned, dtype, n, 0);
        }
        foreach (var dtype in new[] { "f64", "f32" })
        foreach (int n in new[] { 65, 130 })
            data.Add(KernelFamily.CpuTuned, dtype, n, 64);
        data.Add(KernelFamily.CpuTuned, "f64", 33, 7);
        data.Add(KernelFamily.GpuTuned, "f64", 2, 0);
        data.Add(KernelFamily.GpuTuned, "f64", 65, 0);
        data.Add(KernelFamily.GpuTuned, "f64", 45, 32);
        data.Add(KernelFamily.GpuTuned, "f32", 20, 8);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void FactorsMatchFloat64Cholesky(KernelFamily family, string dtype, int n, int blockSize)
    {
        if (dtype == "f64") Run<double>(family, n, blockSize);
        else Run<float>(family, n, blockSize);
    }

    private void Run<T>(KernelFamily family, int n, int blockSize) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        foreach (int batch in new[] { 1, 3 })
        {
            var a = TestData.Spd(batch, n, seed: n * 31 + batch);
            var expected = Reference.Cholesky(a, batch, n);
            using var da = TestData.Upload<T>(device, TestData.WithNaNAbove(a, batch, n), new Shape(batch, n, n));
            using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
            Blas.Potrf(device, da.Mat, info, blockSize);

            string what = $"{family} {typeof(T).Name} n={n} batch={batch} block={blockSize}";
            Assert.Equal(new int[batch], info.ToArray());
            var l = da.ToArray();
            double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
            TestData.AssertClose(expected, l, tol, what + ": L");
            var lf = TestData.ToDouble(l);
            var llt = Reference.Gemm(lf, (batch, n, n), false, lf, (batch, n, n), true, null, batch, 1, 0);
            TestData.AssertClose(a, llt, tol, what + ": L·Lᵀ = A");
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
                Assert.True(l[(long)b * n * n + i * n + j] == T.Zero, $"{what}: L[{b}, {i}, {j}] above the diagonal is {l[(long)b * n * n + i * n + j]}, not 0");
        }
    }

    private int[] Factor<T>(KernelFamily family, double[] a, int batch, int n, int blockSize = 0) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        using var da = TestData.Upload<T>(device, a, new Shape(batch, n, n));
        using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
        Blas.Potrf(device, da.Mat, info, blockSize);
        return info.ToArray();
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, "f64", 7)]
    [InlineData(KernelFamily.CpuTuned, "f32", 70)]
    [InlineData(KernelFamily.GpuTuned, "f64", 7)]
    [InlineData(KernelFamily.GpuTuned, "f32", 40)]
    public void InfoNamesTheFailingMinorInItsBatchElementOnly(KernelFamily family, string dtype, int n)
    {
        const int batch = 3;
        var a = TestData.Spd(batch, n, seed: 5);
        TestData.BreakPivot(a, n, b: 1, k: 2); // the leading minor of order 3 of the middle matrix is indefinite
        var info = dtype == "f64" ? Factor<double>(family, a, batch, n) : Factor<float>(family, a, batch, n);
        Assert.Equal(new[] { 0, 3, 0 }, info);
    }

    /// <summary>
    /// The GPU family's look-ahead (the table's potrfLookAhead: each block's launch runs the
    /// previous panel's trailing update as GEMM tiles beside its panel groups, which update the
    /// block's columns themselves) and the separate update launches give the same factor: both
    /// match the float64 reference, several panel groups and update tiles per launch, a ragged
    /// last block, 1, 2 and 4 threads per row, SIMT and DMMA tiles beside the panel; a failure in a
    /// later block names its minor, and the launches counted are the plan's (one per block).
    /// </summary>
    [Theory]
    [InlineData("f64", 200, 64, 1, "")]
    [InlineData("f64", 150, 64, 4, "")]
    [InlineData("f32", 100, 32, 2, "")]
    [InlineData("f64", 140, 32, 1, "64x64k16mma")]
    [Trait("Tier", "Slow")]
    public void LookAheadGivesTheFactorOfSeparateUpdates(string dtype, int n, int blockSize, int lanes, string tiling) =>
        LookAhead(dtype, n, blockSize, lanes, tiling);

    /// <summary>
    /// The same with blocks of 16 and 8: three or four blocks, a ragged last one, each lane count,
    /// the DMMA tiles beside the panel (trailing updates of several GEMM tiles: the slow tier).
    /// </summary>
    [Theory]
    [InlineData("f32", 30, 8, 2, "")]
    [InlineData("f64", 40, 16, 1, "64x64k16mma")]
    public void LookAheadGivesTheFactorOfSeparateUpdatesWithSmallBlocks(string dtype, int n, int blockSize, int lanes, string tiling) =>
        LookAhead(dtype, n, blockSize, lanes, tiling);

    /// <summary>The same with blocks of 16: one and four threads per row, the default tiling.</summary>
    [Theory]
    [InlineData("f64", 40, 16, 1, "")]
    [InlineData("f64", 36, 16, 4, "")]
    [Trait("Tier", "Slow")]
    public void LookAheadGivesTheFactorOfSeparateUpdatesWithBlocksOf16(string dtype, int n, int blockSize, int lanes, string tiling) =>
        LookAhead(dtype, n, blockSize, lanes, tiling);

    private void LookAhead(string dtype, int n, int blockSize, int lanes, string tiling)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            const int batch = 2;
            var a = TestData.Spd(batch, n, seed: 23 + n);
            var expected = Reference.Cholesky(a, batch, n);
            var table = original with { PotrfPanelLanes = lanes };
            if (tiling != "") table = table with { GemmF64 = tiling, GemmSmallF64 = tiling };
            foreach (bool lookAhead in new[] { true, false })
            {
                device.Tuning = table with { PotrfLookAhead = lookAhead };
                string what = $"look-ahead {lookAhead} {dtype} n={n} block={blockSize} lanes={lanes} {tiling}";
                long before = device.Launches;
                double[] l = dtype == "f64" ? FactorOf<double>(device, a, batch, n, blockSize) : FactorOf<float>(device, a, batch, n, blockSize);
                long launches = device.Launches - before;
                double tol = (dtype == "f64" ? TestData.KernelTol<double>() : TestData.KernelTol<float>()) * Math.Max(1, n / 16.0);
                TestData.AssertClose(expected, l, tol, what);
                int planned = dtype == "f64" ? CholeskyPlan.ForBlockSize<double>(device, n, batch, blockSize).ForwardLaunches : CholeskyPlan.ForBlockSize<float>(device, n, batch, blockSize).ForwardLaunches;
                Assert.Equal(planned, launches);
                if (lookAhead) Assert.Equal((n + blockSize - 1) / blockSize, launches);
                var broken = (double[])a.Clone();
                TestData.BreakPivot(broken, n, b: 1, k: n - 3);
                Assert.Equal(new[] { 0, n - 2 }, Factor<double>(KernelFamily.GpuTuned, broken, batch, n, blockSize));
            }
        }
        finally
        {
            device.Tuning = original;
        }
    }

    private static double[] FactorOf<T>(Device device, double[] a, int batch, int n, int blockSize) where T : unmanaged, INumber<T>
    {
        using var da = TestData.Upload<T>(device, TestData.WithNaNAbove(a, batch, n), new Shape(batch, n, n));
        using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
        Blas.Potrf(device, da.Mat, info, blockSize);
        Assert.Equal(new int[batch], info.ToArray());
        return TestData.ToDouble(da.ToArray());
    }

    /// <summary>
    /// The GPU family's panel step with 2 and 4 threads per row (the tuning table's
    /// potrfPanelLanes): ragged and whole blocks, both precisions, batch 2; the factor matches the
    /// float64 reference, its first diagonal block is bitwise that of one thread per row (the same
    /// operations, split between the lanes; later blocks differ in rounding, through the panel
    /// solves' sums), and a failure in a later block names its minor exactly.
    /// </summary>
    [Theory]
    [InlineData(4, 21, 8)]
    public void PanelStepsWithSeveralThreadsPerRowGiveTheSameFactor(int lanes, int n, int blockSize) => PanelSteps(lanes, n, blockSize);

    /// <summary>The same in blocks of 16 (three full blocks and a ragged one), two and four threads per row.</summary>
    [Theory]
    [InlineData(2, 45, 16)]
    [InlineData(4, 45, 16)]
    [Trait("Tier", "Slow")]
    public void PanelStepsWithSeveralThreadsPerRowInBlocksOf16GiveTheSameFactor(int lanes, int n, int blockSize) => PanelSteps(lanes, n, blockSize);

    /// <summary>Four threads per row in the default blocks of 32.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void PanelStepsWithFourThreadsPerRowInBlocksOf32GiveTheSameFactor() => PanelSteps(4, 70, 32);

    private void PanelSteps(int lanes, int n, int blockSize)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            const int batch = 2;
            var a = TestData.Spd(batch, n, seed: 17 + lanes);
            var expected = Reference.Cholesky(a, batch, n);
            double[] Factor1(int l)
            {
                device.Tuning = original with { PotrfPanelLanes = l };
                return FactorOf<double>(device, a, batch, n, blockSize);
            }
            var one = Factor1(1);
            var several = Factor1(lanes);
            string what = $"{lanes} lanes n={n} block={blockSize}";
            TestData.AssertClose(expected, several, TestData.KernelTol<double>() * Math.Max(1, n / 16.0), what);
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < blockSize; i++)
            for (int j = 0; j <= i; j++)
            {
                long idx = (long)b * n * n + i * n + j;
                Assert.True(one[idx] == several[idx], $"{what}: first diagonal block L[{b}, {i}, {j}] = {several[idx]}, one lane gives {one[idx]}");
            }

            device.Tuning = original with { PotrfPanelLanes = lanes };
            using (var df = TestData.Upload<float>(device, a, new Shape(batch, n, n)))
            using (var info = device.Upload(new int[batch], batch, 1, 1))
            {
                Blas.Potrf(device, df.Mat, info, blockSize);
                Assert.Equal(new int[batch], info.ToArray());
                TestData.AssertClose(expected, df.ToArray(), TestData.KernelTol<float>() * Math.Max(1, n / 16.0), what + " float32");
            }
            var broken = (double[])a.Clone();
            TestData.BreakPivot(broken, n, b: 1, k: n - 3);
            Assert.Equal(new[] { 0, n - 2 }, Factor<double>(KernelFamily.GpuTuned, broken, batch, n, blockSize));
        }
        finally
        {
            device.Tuning = original;
        }
    }

    [Fact]
    public void ThreadsPerRowAreHalvedToFitTheDevicesLargestGroup()
    {
        var device = devices.GpuEmulated; // groups of at most 256 threads
        Assert.Equal(256, device.MaxGroupSize);
        Assert.Equal(4, PotrfGpu.Lanes(device, 4, 64, "Potrf"));  // 64 rows · 4
        Assert.Equal(2, PotrfGpu.Lanes(device, 4, 77, "Potrf"));  // 96 · 4 = 384 > 256; 96 · 2 fits
        Assert.Equal(2, PotrfGpu.Lanes(device, 4, 110, "Potrf")); // 128 · 2
        Assert.Equal(1, PotrfGpu.Lanes(device, 1, 77, "Potrf"));
        var e = Assert.Throws<ArgumentException>(() => PotrfGpu.Lanes(device, 3, 32, "PotrfBackward"));
        Assert.Contains("PotrfBackward", e.Message);
    }

    /// <summary>
    /// The GPU family's whole-matrix factor with 2 and 4 threads per row (potrfWholeLanes): bitwise
    /// the factor of one thread per row (the same operations, split between the lanes), float32
    /// against the float64 reference, and a failing minor named exactly.
    /// </summary>
    [Theory]
    [InlineData(2, 33)]
    [InlineData(4, 33)]
    public void WholeMatrixFactorsWithSeveralThreadsPerRowAreTheSame(int lanes, int n) => WholeMatrixLanes(lanes, n);

    /// <summary>The same at n = 70, near the largest order the GPU family factors whole in float64.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void WholeMatrixFactorsWithFourThreadsPerRowAreTheSameAt70() => WholeMatrixLanes(4, 70);

    private void WholeMatrixLanes(int lanes, int n)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            const int batch = 3;
            var a = TestData.Spd(batch, n, seed: 41 + lanes);
            double[] Factor1(int l)
            {
                device.Tuning = original with { PotrfWholeLanes = l };
                using var da = TestData.Upload<double>(device, TestData.WithNaNAbove(a, batch, n), new Shape(batch, n, n));
                using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
                Blas.Potrf(device, da.Mat, info, blockSize: 0);
                Assert.Equal(new int[batch], info.ToArray());
                return da.ToArray();
            }
            var one = Factor1(1);
            Assert.Equal(one, Factor1(lanes));
            TestData.AssertClose(Reference.Cholesky(a, batch, n), one, TestData.KernelTol<double>() * Math.Max(1, n / 16.0), $"{lanes} lanes n={n}");

            device.Tuning = original with { PotrfWholeLanes = lanes };
            using (var df = TestData.Upload<float>(device, a, new Shape(batch, n, n)))
            using (var info = device.Upload(new int[batch], batch, 1, 1))
            {
                Blas.Potrf(device, df.Mat, info, blockSize: 0);
                Assert.Equal(new int[batch], info.ToArray());
                TestData.AssertClose(Reference.Cholesky(a, batch, n), df.ToArray(), TestData.KernelTol<float>() * Math.Max(1, n / 16.0), $"{lanes} lanes n={n} float32");
            }
            var broken = (double[])a.Clone();
            TestData.BreakPivot(broken, n, b: 2, k: n / 2);
            Assert.Equal(new[] { 0, 0, n / 2 + 1 }, Factor<double>(KernelFamily.GpuTuned, broken, batch, n));
        }
        finally
        {
            device.Tuning = original;
        }
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, 130, 100, 0)]
    [InlineData(KernelFamily.CpuTuned, 130, 100, 64)]
    [InlineData(KernelFamily.GpuTuned, 65, 50, 0)]
    [InlineData(KernelFamily.GpuTuned, 65, 50, 32)]
    public void AFailureInALaterBlockIsReportedExactly(KernelFamily family, int n, int minor, int blockSize)
    {
        var a = TestData.Spd(2, n, seed: 6);
        TestData.BreakPivot(a, n, b: 0, k: minor - 1);
        Assert.Equal(new[] { minor, 0 }, Factor<double>(family, a, 2, n, blockSize));
        Assert.Equal(new[] { minor, 0 }, Factor<float>(family, a, 2, n, blockSize));
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, 70, 0)]
    [InlineData(KernelFamily.CpuTuned, 70, 64)]
    [InlineData(KernelFamily.GpuTuned, 40, 0)]
    public void NonFinitePivotsAndEntriesFailAtTheirRow(KernelFamily family, int n, int blockSize) => NonFinite(family, n, blockSize);

    /// <summary>The GPU family in blocks of 32: row 37 in the second block (a later block's failure is in the fast tier at 65).</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void NonFinitePivotsAndEntriesFailAtTheirRowInBlocksOf32() => NonFinite(KernelFamily.GpuTuned, 40, 32);

    private void NonFinite(KernelFamily family, int n, int blockSize)
    {
        // Row k of the lower triangle enters pivots k, k+1, … only (pivot i < k never reads it), and
        // a NaN in L[k, j] makes pivot k NaN: either way the first failing minor is exactly k + 1.
        // NaN in the upper triangle is never read: the matrix factors.
        const int k = 37;
        foreach (var (i, j, v) in new[] { (k, k, double.NaN), (k, k, double.PositiveInfinity), (k, 3, double.NaN), (k, k - 1, double.NaN), (k, 0, double.PositiveInfinity), (3, k, double.NaN) })
        {
            var a = TestData.Spd(1, n, seed: 7);
            a[i * n + j] = v;
            Assert.Equal(new[] { j <= i ? k + 1 : 0 }, Factor<double>(family, a, 1, n, blockSize));
        }
        // a pivot that is exactly zero fails too
        var z = TestData.Spd(1, n, seed: 8);
        z[0] = 0;
        Assert.Equal(new[] { 1 }, Factor<double>(family, z, 1, n, blockSize));
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void EmptyAndOneByOne(KernelFamily family)
    {
        var device = devices.Get(family);
        using var empty = device.Allocate<double>(new Shape(2, 0, 0));
        using var info = device.Upload(new[] { -7, -7 }, 2, 1, 1);
        Blas.Potrf(empty, info);
        Assert.Equal(new[] { 0, 0 }, info.ToArray());

        using var none = device.Allocate<double>(new Shape(0, 4, 4));
        using var noInfo = device.Allocate<int>(new Shape(0, 1, 1));
        Blas.Potrf(none, noInfo);

        using var one = device.Upload(new[] { 4.0, -9.0 }, 2, 1, 1);
        Blas.Potrf(one, info);
        Assert.Equal(new[] { 2.0, -9.0 }, one.ToArray());
        Assert.Equal(new[] { 0, 1 }, info.ToArray());
    }

    [Fact]
    public void MismatchedShapesThrowNamingThem()
    {
        var device = devices.Cpu;
        using var a = device.Zeros<double>(new Shape(3, 4, 4));
        using var info = device.Zeros<int>(new Shape(2, 1, 1));
        var e = Assert.Throws<ArgumentException>(() => Blas.Potrf(a, info));
        Assert.Contains("Potrf", e.Message);
        Assert.Contains("[3, 4, 4]", e.Message);
        Assert.Contains("[2, 1, 1]", e.Message);
        using var rect = device.Zeros<double>(new Shape(2, 4, 5));
        e = Assert.Throws<ArgumentException>(() => Blas.Potrf(rect, info));
        Assert.Contains("[2, 4, 5]", e.Message);
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, 130, 33)]
    [InlineData(KernelFamily.GpuTuned, 0, 16)]
    public void TrailingUpdateGemmComputesTheLowerTilesOnly(KernelFamily family, int n, int k)
    {
        // C −= A·Bᵀ (and A·B) on C's lower triangle; tiles strictly above the diagonal are skipped,
        // so they keep their old values. On the GPU family, n spans two tile rows of the policy's tiling and one more.
        var device = devices.Get(family);
        var tiling = GemmPolicy.TilingFor<double>(device, 64, 64, k, 2);
        if (n == 0) n = 2 * tiling.TileM + 1;
        int tile = family == KernelFamily.CpuTuned ? GemmCpu.BlockM : tiling.TileM, tileN = family == KernelFamily.CpuTuned ? tile : tiling.TileN;
        const int batch = 2;
        foreach (bool transB in new[] { true, false })
        {
            var a = TestData.Random(new Shape(batch, n, k), 21);
            var bShape = transB ? new Shape(batch, n, k) : new Shape(batch, k, n);
            var b = TestData.Random(bShape, 22);
            var c = TestData.Random(new Shape(batch, n, n), 23);
            var full = Reference.Gemm(a, (batch, n, k), false, b, (bShape.Batch, bShape.Rows, bShape.Cols), transB, c, batch, -1, 1);
            using var da = TestData.Upload<double>(device, a, new Shape(batch, n, k));
            using var db = TestData.Upload<double>(device, b, bShape);
            using var dc = TestData.Upload<double>(device, c, new Shape(batch, n, n));
            Blas.Gemm(device, da.Mat, transA: false, db.Mat, transB, dc.Mat, -1.0, 1.0, lowerOnly: true);
            var got = dc.ToArray();
            var lower = new List<double>();
            var lowerExpected = new List<double>();
            for (int bt = 0; bt < batch; bt++)
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                long idx = (long)bt * n * n + i * n + j;
                if (j <= i)
                {
                    lower.Add(got[idx]);
                    lowerExpected.Add(full[idx]);
                }
                else if (j / tileN * tileN > i / tile * tile + tile - 1)
                    Assert.True(got[idx] == c[idx], $"{family}: C[{bt}, {i}, {j}] in a tile above the diagonal was written");
            }
            TestData.AssertClose(lowerExpected.ToArray(), lower.ToArray(), 1e-12, $"{family} transB={transB}: lower triangle");
        }
        using var rect = device.Zeros<double>(new Shape(1, 3, 4));
        using var x = device.Zeros<double>(new Shape(1, 3, 2));
        using var y = device.Zeros<double>(new Shape(1, 4, 2));
        Assert.Throws<ArgumentException>(() => Blas.Gemm(device, x.Mat, false, y.Mat, true, rect.Mat, 1.0, 0.0, lowerOnly: true));
    }
}
