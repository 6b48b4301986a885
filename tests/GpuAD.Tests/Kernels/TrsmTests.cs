using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

[Collection("Trsm")]
public sealed class TrsmTests(DeviceFixture devices)
{
    /// <summary>
    /// (family, dtype, n, m): T is [n, n]; B is [n, m] for left solves and [m + 2, n] for right
    /// solves. The CPU family's blocks are 64 (65 and 130 cross one and two block boundaries). The
    /// GPU family's are 32, and its groups take 32 right-hand sides; it runs emulated (slow), so it
    /// gets small sizes, 35 right-hand sides (two groups) once, and one size crossing a block.
    /// </summary>
    public static TheoryData<KernelFamily, string, int, int> Cases()
    {
        var data = new TheoryData<KernelFamily, string, int, int>();
        foreach (var dtype in new[] { "f64", "f32" })
        foreach (int n in new[] { 1, 7, 65, 130 })
        foreach (int m in new[] { 3, 33 })
            data.Add(KernelFamily.CpuTuned, dtype, n, m);
        data.Add(KernelFamily.GpuTuned, "f64", 1, 3);
        data.Add(KernelFamily.GpuTuned, "f32", 7, 3);
        data.Add(KernelFamily.GpuTuned, "f64", 7, 33);
        return data;
    }

    /// <summary>The GPU family past its default diagonal block of 32 (blocks of 8 and 16 in the fast tier: GpuProductionConfigurationTests).</summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, "f64", 33, 3)]
    [Trait("Tier", "Slow")]
    public void AllFlagCombinationsPastTheDefaultBlockMatchFloat64Substitution(KernelFamily family, string dtype, int n, int m) =>
        AllFlagCombinationsMatchFloat64Substitution(family, dtype, n, m);

    [Theory]
    [MemberData(nameof(Cases))]
    public void AllFlagCombinationsMatchFloat64Substitution(KernelFamily family, string dtype, int n, int m)
    {
        if (dtype == "f64") Run<double>(family, n, m);
        else Run<float>(family, n, m);
    }

    private void Run<T>(KernelFamily family, int n, int m) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        int seed = n * 1009 + m;
        foreach (bool left in new[] { true, false })
        foreach (bool lower in new[] { true, false })
        foreach (bool transpose in new[] { false, true })
        foreach (bool unit in new[] { false, true })
        foreach (var (batch, tBatch, alpha) in new[] { (1, 1, 1.0), (3, 3, -0.75), (3, 1, 2.5) })
        {
            var b = new Shape(batch, left ? n : m + 2, left ? m : n);
            var t = TriangularWithGarbage(tBatch, n, lower, unit, seed++);
            var b0 = TestData.Random(b, seed++);
            var expected = Reference.TriangularSolve(t, tBatch, n, b0, batch, b.Rows, b.Cols, left, lower, transpose, unit, alpha);

            using var dt = TestData.Upload<T>(device, t, new Shape(tBatch, n, n));
            using var db = TestData.Upload<T>(device, b0, b);
            Blas.Trsm(dt, db, left, lower, transpose, unit, T.CreateChecked(alpha));
            TestData.AssertClose(expected, db.ToArray(), TestData.KernelTol<T>() * Math.Max(1, n / 16.0),
                $"{family} {typeof(T).Name} n={n} B={b} T batch {tBatch} left={left} lower={lower} transpose={transpose} unit={unit} α={alpha}");
        }
    }

    /// <summary>
    /// The GPU family's left solves with fewer than 32 columns and the table's trsmNarrowLanes: a
    /// group's idle threads join its columns (1 column: 32 threads each; 3: 8; 7: 4), every flag
    /// combination, forward and backward order, blocks of 16 with a ragged last one, against float64
    /// substitution; and which lanes a number of columns gets.
    /// </summary>
    [Fact]
    public void NarrowLeftSolvesOfOneColumnMatchFloat64Substitution() => NarrowLeftSolves(1);

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    [Trait("Tier", "Slow")]
    public void NarrowLeftSolvesOfSeveralColumnsMatchFloat64Substitution(int columns) => NarrowLeftSolves(columns);

    private void NarrowLeftSolves(int columns)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            device.Tuning = original with { TrsmNarrowLanes = 32 };
            Assert.Equal(columns == 1 ? 32 : columns == 3 ? 8 : 4, Blas.NarrowLanes(device, columns));
            const int n = 37, batch = 2;
            int seed = 70 + columns;
            foreach (bool lower in new[] { true, false })
            foreach (bool transpose in new[] { false, true })
            foreach (bool unit in new[] { false, true })
            {
                var b = new Shape(batch, n, columns);
                var t = TriangularWithGarbage(batch, n, lower, unit, seed++);
                var b0 = TestData.Random(b, seed++);
                var expected = Reference.TriangularSolve(t, batch, n, b0, batch, n, columns, left: true, lower, transpose, unit, 0.5);
                using var dt = TestData.Upload<double>(device, t, new Shape(batch, n, n));
                using var db = TestData.Upload<double>(device, b0, b);
                Blas.Trsm(device, dt.Mat, db.Mat, left: true, lower, transpose, unit, 0.5, blockSize: 16);
                TestData.AssertClose(expected, db.ToArray(), TestData.KernelTol<double>() * Math.Max(1, n / 16.0),
                    $"{columns} columns lower={lower} transpose={transpose} unit={unit}");
            }
        }
        finally
        {
            device.Tuning = original;
        }
    }

    [Fact]
    public void NarrowSolvesTakeTheIdleThreadsUpToTheTablesLanes()
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            device.Tuning = original with { TrsmNarrowLanes = 32 };
            Assert.Equal([32, 16, 8, 8, 4, 2, 1, 1, 1], new[] { 1, 2, 3, 4, 5, 16, 17, 32, 100 }.Select(c => Blas.NarrowLanes(device, c)));
            device.Tuning = original with { TrsmNarrowLanes = 4 };
            Assert.Equal([4, 4, 4, 2, 1], new[] { 1, 3, 8, 16, 32 }.Select(c => Blas.NarrowLanes(device, c)));
            device.Tuning = original;
            Assert.Equal(1, Blas.NarrowLanes(device, 1)); // the default: one thread per column
            Assert.Equal(1, Blas.NarrowLanes(devices.Cpu, 1));
        }
        finally
        {
            device.Tuning = original;
        }
    }

    /// <summary>
    /// The GPU family's right solves with 2 and 4 threads per row of B (TrsmGpu.SolveRightRows, with
    /// which the blocked Cholesky reverse's fused launch solves its panel, potrfPanelLanes): every flag combination, forward and backward order,
    /// blocks of 16 with a ragged last one, rows of B not a multiple of the rows per group, against
    /// float64 substitution.
    /// </summary>
    [Fact]
    public void RightSolvesWithFourThreadsPerRowMatchFloat64Substitution() => RightSolvesWithSeveralThreadsPerRow(4);

    [Fact]
    [Trait("Tier", "Slow")]
    public void RightSolvesWithTwoThreadsPerRowMatchFloat64Substitution() => RightSolvesWithSeveralThreadsPerRow(2);

    private void RightSolvesWithSeveralThreadsPerRow(int lanes)
    {
        var device = devices.GpuEmulated;
        const int n = 37, rows = 19, batch = 2;
        int seed = 90 + lanes;
        foreach (bool lower in new[] { true, false })
        foreach (bool transpose in new[] { false, true })
        foreach (bool unit in new[] { false, true })
        {
            var b = new Shape(batch, rows, n);
            var t = TriangularWithGarbage(batch, n, lower, unit, seed++);
            var b0 = TestData.Random(b, seed++);
            var expected = Reference.TriangularSolve(t, batch, n, b0, batch, rows, n, left: false, lower, transpose, unit, -1.5);
            using var dt = TestData.Upload<double>(device, t, new Shape(batch, n, n));
            using var db = TestData.Upload<double>(device, b0, b);
            Blas.Trsm(device, dt.Mat, db.Mat, left: false, lower, transpose, unit, -1.5, blockSize: 16, lanes: lanes);
            TestData.AssertClose(expected, db.ToArray(), TestData.KernelTol<double>() * Math.Max(1, n / 16.0),
                $"{lanes} lanes lower={lower} transpose={transpose} unit={unit}");
        }
    }

    /// <summary>
    /// Well-conditioned triangular matrices whose other strict triangle holds NaN, and whose
    /// diagonal is NaN when it must not be read: any read of those entries poisons the result.
    /// </summary>
    private static double[] TriangularWithGarbage(int batch, int n, bool lower, bool unitDiagonal, int seed)
    {
        var t = TestData.Triangular(batch, n, lower, seed);
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            if ((lower ? j > i : j < i) || (i == j && unitDiagonal))
                t[(long)b * n * n + i * n + j] = double.NaN;
        return t;
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, 70)]
    [InlineData(KernelFamily.GpuTuned, 40)]
    public void SubBlocksInsideLargerMatricesLeaveTheRestAlone(KernelFamily family, int n)
    {
        // T = A[3.., 2..] (n×n) and B = C[1.., 4..] inside larger matrices, as blocked factorizations pass them.
        var device = devices.Get(family);
        const int batch = 2, m = 5;
        var outerT = new Shape(batch, n + 5, n + 4);
        foreach (bool left in new[] { true, false })
        {
            var tData = TestData.Random(outerT, 11);
            var tri = TestData.Triangular(batch, n, lower: true, seed: 12);
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                tData[b * outerT.MatrixLength + (3 + i) * outerT.Cols + 2 + j] = tri[b * n * n + i * n + j];
            var inner = new Shape(batch, left ? n : m, left ? m : n);
            var outerB = new Shape(batch, inner.Rows + 3, inner.Cols + 6);
            var bData = TestData.Random(outerB, 13);
            var b0 = new double[inner.Length];
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < inner.Rows; i++)
            for (int j = 0; j < inner.Cols; j++)
                b0[b * inner.MatrixLength + i * inner.Cols + j] = bData[b * outerB.MatrixLength + (1 + i) * outerB.Cols + 4 + j];
            var x = Reference.TriangularSolve(tri, batch, n, b0, batch, inner.Rows, inner.Cols, left, lower: true, transpose: true, unitDiagonal: false, alpha: -2.0);
            var expected = (double[])bData.Clone();
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < inner.Rows; i++)
            for (int j = 0; j < inner.Cols; j++)
                expected[b * outerB.MatrixLength + (1 + i) * outerB.Cols + 4 + j] = x[b * inner.MatrixLength + i * inner.Cols + j];

            using var dt = TestData.Upload<double>(device, tData, outerT);
            using var db = TestData.Upload<double>(device, bData, outerB);
            Blas.Trsm(device, dt.Mat.Block(3, 2, n, n), db.Mat.Block(1, 4, inner.Rows, inner.Cols), left, lower: true, transpose: true, unitDiagonal: false, alpha: -2.0);
            TestData.AssertClose(expected, db.ToArray(), 1e-12, $"{family} left={left}: the solved block, and nothing outside it");
        }
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void AlphaZeroSetsBToZeroWithoutReadingIt(KernelFamily family)
    {
        var device = devices.Get(family);
        using var t = TestData.Upload<double>(device, TestData.Triangular(1, 4, lower: true, seed: 3), new Shape(1, 4, 4));
        using var b = TestData.Poisoned<double>(device, new Shape(2, 4, 3));
        Blas.Trsm(t, b, left: true, lower: true, transpose: false, unitDiagonal: false, alpha: 0.0);
        Assert.All(b.ToArray(), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void EmptyOperandsAreNoOps()
    {
        var device = devices.Cpu;
        using var t0 = device.Allocate<double>(new Shape(1, 0, 0));
        using var b0 = device.Allocate<double>(new Shape(2, 0, 4));
        Blas.Trsm(t0, b0, left: true, lower: true, transpose: false, unitDiagonal: false);
        using var t = TestData.Upload<double>(device, TestData.Triangular(1, 3, lower: false, seed: 4), new Shape(1, 3, 3));
        using var b = device.Allocate<double>(new Shape(2, 0, 3));
        Blas.Trsm(t, b, left: false, lower: false, transpose: true, unitDiagonal: true);
        using var none = device.Allocate<double>(new Shape(0, 3, 3));
        Blas.Trsm(t, none, left: true, lower: false, transpose: false, unitDiagonal: false);
    }

    [Fact]
    public void MismatchedShapesThrowNamingBothShapes()
    {
        var device = devices.Cpu;
        using var t = device.Zeros<double>(new Shape(1, 4, 4));
        using var b = device.Zeros<double>(new Shape(2, 5, 3));
        var e = Assert.Throws<ArgumentException>(() => Blas.Trsm(t, b, left: true, lower: true, transpose: false, unitDiagonal: false));
        Assert.Contains("Trsm", e.Message);
        Assert.Contains("[1, 4, 4]", e.Message);
        Assert.Contains("[2, 5, 3]", e.Message);
        using var rect = device.Zeros<double>(new Shape(1, 4, 5));
        Assert.Throws<ArgumentException>(() => Blas.Trsm(rect, b, left: false, lower: true, transpose: false, unitDiagonal: false));
        using var t2 = device.Zeros<double>(new Shape(2, 3, 3));
        using var b3 = device.Zeros<double>(new Shape(3, 3, 3));
        Assert.Throws<ArgumentException>(() => Blas.Trsm(t2, b3, left: true, lower: true, transpose: false, unitDiagonal: false));
    }
}
