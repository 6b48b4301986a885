using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The element maps, per-matrix reductions and batch sums of both kernel families against
/// float64 references, on poisoned outputs: every map, the three ways of reading y, broadcasting,
/// strided (diagonal) views, and sizes that are not multiples of any group size.
/// </summary>
[Collection("Elementwise")]
public sealed class ElementwiseTests(DeviceFixture devices)
{
    public static TheoryData<KernelFamily, string, int, int, int> Shapes()
    {
        var data = new TheoryData<KernelFamily, string, int, int, int>();
        foreach (var family in new[] { KernelFamily.CpuTuned, KernelFamily.GpuTuned })
        foreach (var dtype in new[] { "f64", "f32" })
        foreach (var (batch, rows, cols) in new[] { (1, 1, 1), (3, 7, 7), (1, 33, 65), (3, 65, 33) })
            data.Add(family, dtype, batch, rows, cols);
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void MapsMatchTheirDefinitions(KernelFamily family, string dtype, int batch, int rows, int cols)
    {
        if (dtype == "f64") Maps<double>(family, batch, rows, cols);
        else Maps<float>(family, batch, rows, cols);
    }

    private void Maps<T>(KernelFamily family, int batch, int rows, int cols) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Get(family);
        var s = new Shape(batch, rows, cols);
        var x = TestData.Random(s, rows * 31 + cols);
        var y = TestData.Random(s, rows * 17 + cols + 1);
        var pos = x.Select(v => v + 2).ToArray();
        double tol = typeof(T) == typeof(double) ? 1e-15 : 1e-6;

        void Check<TOp>(string name, TOp op, double[] xs, double[] ys, Func<double, double, int, int, double> f) where TOp : struct, IElementMap<T>
        {
            using var dx = TestData.Upload<T>(device, xs, s);
            using var dy = TestData.Upload<T>(device, ys, s);
            using var o = TestData.Poisoned<T>(device, s);
            Elementwise.Map(device, op, dx.Mat, dy.Mat, YAccess.Same, o.Mat);
            var expected = new double[s.Length];
            for (long e = 0; e < expected.Length; e++)
            {
                int i = (int)(e / cols % rows), j = (int)(e % cols);
                expected[e] = f(xs[e], ys[e], i, j);
            }
            TestData.AssertClose(expected, o.ToArray(), tol, $"{family} {typeof(T).Name} {name} {s}");
        }

        T C(double v) => T.CreateChecked(v);
        Check("Axpby", new Maps.Axpby<T>(C(1.5), C(-0.5)), x, y, (a, b, i, j) => 1.5 * a - 0.5 * b);
        Check("Axpby β=0", new Maps.Axpby<T>(C(2), T.Zero), x, y, (a, b, i, j) => 2 * a);
        Check("Multiply", new Maps.Multiply<T>(C(-2)), x, y, (a, b, i, j) => -2 * a * b);
        Check("Divide", new Maps.Divide<T>(C(3)), x, pos, (a, b, i, j) => 3 * a / b);
        foreach (int k in new[] { 0, -1, 2 })
        {
            Check($"Tril({k})", new Maps.Tril<T>(k, C(0.5)), x, y, (a, b, i, j) => j - i <= k ? 0.5 * a : 0);
            Check($"Triu({k})", new Maps.Triu<T>(k, C(0.5)), x, y, (a, b, i, j) => j - i >= k ? 0.5 * a : 0);
        }
        Check("Phi", new Maps.Phi<T>(), x, y, (a, b, i, j) => i > j ? a : i == j ? a / 2 : 0);
        Check("Fill", new Maps.Fill<T>(C(4)), x, y, (a, b, i, j) => 4);
        Check("Identity", new Maps.Identity<T>(C(3)), x, y, (a, b, i, j) => i == j ? 3 : 0);
        Check("AddDiagonal", new Maps.AddDiagonal<T>(C(2), C(5)), x, y, (a, b, i, j) => 2 * a + (i == j ? 5 : 0));
        Check("Exp", new Maps.Exp<T>(C(0.5)), x, y, (a, b, i, j) => 0.5 * Math.Exp(a));
        Check("Log", new Maps.Log<T>(C(2)), pos, y, (a, b, i, j) => 2 * Math.Log(a));
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void TransposedAndScalarReadsOfY(KernelFamily family)
    {
        var device = devices.Get(family);
        const int batch = 3, n = 37, m = 20;
        var sq = new Shape(batch, n, n);
        var z = TestData.Random(sq, 1);
        double At(int b, int i, int j) => z[(b * n + i) * n + j];
        using var dz = device.Upload<double>(z, sq);

        void CheckSquare<TOp>(string name, TOp op, Func<int, int, int, double> f) where TOp : struct, IElementMap<double>
        {
            using var o = TestData.Poisoned<double>(device, sq);
            Elementwise.Map(device, op, dz.Mat, dz.Mat, YAccess.Transposed, o.Mat);
            var expected = new double[sq.Length];
            for (int b = 0; b < batch; b++) for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) expected[(b * n + i) * n + j] = f(b, i, j);
            TestData.AssertClose(expected, o.ToArray(), 1e-15, $"{family} {name}");
        }

        CheckSquare("PhiStarOfTril", new Maps.PhiStarOfTril<double>(), (b, i, j) => (i >= j ? At(b, i, j) : At(b, j, i)) / 2);
        CheckSquare("PhiStar", new Maps.PhiStar<double>(), (b, i, j) => i == j ? At(b, i, i) / 2 : (At(b, i, j) + At(b, j, i)) / 2);
        CheckSquare("Symmetrize", new Maps.Symmetrize<double>(), (b, i, j) => (At(b, i, j) + At(b, j, i)) / 2);
        CheckSquare("AddTransposed", new Maps.AddTransposed<double>(2, -1), (b, i, j) => 2 * At(b, i, j) - At(b, j, i));

        // A non-square transpose: out [m, n] = yᵀ with y [n, m].
        var r = TestData.Random(new Shape(batch, n, m), 2);
        using var dr = device.Upload<double>(r, new Shape(batch, n, m));
        using var t = TestData.Poisoned<double>(device, new Shape(batch, m, n));
        Elementwise.Map(device, new Maps.Transpose<double>(-1), t.Mat, dr.Mat, YAccess.Transposed, t.Mat);
        TestData.AssertClose(Reference.Transpose(r, batch, n, m).Select(v => -v).ToArray(), t.ToArray(), 0, $"{family} Transpose");

        // A scalar per matrix: out = s_b·x, and s_b·I.
        var scalars = new[] { 2.0, -3.0, 0.5 };
        using var ds = device.Upload<double>(scalars, new Shape(batch, 1, 1));
        using var o2 = TestData.Poisoned<double>(device, sq);
        Elementwise.Map(device, new Maps.Multiply<double>(1), dz.Mat, ds.Mat, YAccess.ScalarPerMatrix, o2.Mat);
        TestData.AssertClose(z.Select((v, e) => v * scalars[e / (n * n)]).ToArray(), o2.ToArray(), 0, $"{family} s·x");
        Elementwise.Map(device, new Maps.ScaledIdentity<double>(2), o2.Mat, ds.Mat, YAccess.ScalarPerMatrix, o2.Mat);
        TestData.AssertClose(z.Select((v, e) => e % (n * n) / n == e % n ? 2 * scalars[e / (n * n)] : 0).ToArray(), o2.ToArray(), 0, $"{family} s·I");
        Elementwise.Map(device, new Maps.AddScaledIdentity<double>(2), dz.Mat, ds.Mat, YAccess.ScalarPerMatrix, o2.Mat);
        TestData.AssertClose(z.Select((v, e) => e % (n * n) / n == e % n ? v + 2 * scalars[e / (n * n)] : v).ToArray(), o2.ToArray(), 0, $"{family} x + s·I");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void BroadcastOperandsAndDiagonalViews(KernelFamily family)
    {
        var device = devices.Get(family);
        const int batch = 3, n = 9;
        var s = new Shape(batch, n, n);
        var x = TestData.Random(s, 3);
        var one = TestData.Random(new Shape(1, n, n), 4);
        using var dx = device.Upload<double>(x, s);
        using var d1 = device.Upload<double>(one, new Shape(1, n, n));
        using var o = TestData.Poisoned<double>(device, s);
        Elementwise.Map(device, new Maps.Axpby<double>(1, 1), dx.Mat, Blas.Broadcast(d1, batch, "test"), YAccess.Same, o.Mat);
        TestData.AssertClose(x.Select((v, e) => v + one[e % (n * n)]).ToArray(), o.ToArray(), 0, $"{family} broadcast y");

        // The diagonal as a strided [n, 1] view: read it out, then write into it.
        using var diag = TestData.Poisoned<double>(device, new Shape(batch, n, 1));
        var view = Elementwise.Diagonal(dx.Mat);
        Elementwise.Map(device, new Maps.Axpby<double>(1, 0), view, view, YAccess.Same, diag.Mat);
        var expected = new double[batch * n];
        for (int b = 0; b < batch; b++) for (int i = 0; i < n; i++) expected[b * n + i] = x[(b * n + i) * n + i];
        TestData.AssertClose(expected, diag.ToArray(), 0, $"{family} diagonal read");
        Elementwise.Map(device, new Maps.Fill<double>(7), view, view, YAccess.Same, view);
        var after = dx.ToArray();
        for (long e = 0; e < after.Length; e++)
            Assert.Equal(e % (n * n) / n == e % n ? 7 : x[e], after[e]);
    }

    public static TheoryData<KernelFamily, int, int, int> ReductionShapes()
    {
        var data = new TheoryData<KernelFamily, int, int, int>();
        foreach (var family in new[] { KernelFamily.CpuTuned, KernelFamily.GpuTuned })
        foreach (var (batch, rows, cols) in new[] { (1, 1, 1), (3, 7, 5), (2, 33, 65), (3, 130, 3) })
            data.Add(family, batch, rows, cols);
        // Past one group per matrix on the GPU family: 3 and 5 groups, ragged last chunks.
        data.Add(KernelFamily.GpuTuned, 2, 181, 200);
        data.Add(KernelFamily.GpuTuned, 1, 260, 301);
        return data;
    }

    /// <summary>
    /// The GPU family's two-pass reduction: two launches, more groups as the matrix grows (up to
    /// the cap), and bitwise the same result on every run, in float32 where order shows most.
    /// </summary>
    [Fact]
    public void LargeReductionsUseManyGroupsAndAreBitwiseReproducible()
    {
        Assert.Equal(1, Elementwise.ReduceGroups(Elementwise.ReduceOneGroupUpTo));
        Assert.Equal(3, Elementwise.ReduceGroups(Elementwise.ReduceOneGroupUpTo + 1));
        Assert.Equal(1024, Elementwise.ReduceGroups(8192L * 8192));
        Assert.Equal(1024, Elementwise.ReduceGroups(3L * int.MaxValue));

        var device = devices.GpuEmulated;
        var s = new Shape(2, 190, 211);
        var x = TestData.Random(s, 15);
        var y = TestData.Random(s, 16);
        using var dx = TestData.Upload<float>(device, x, s);
        using var dy = TestData.Upload<float>(device, y, s);
        using var dots = TestData.Poisoned<float>(device, new Shape(2, 1, 1));
        long before = device.Launches;
        Elementwise.Reduce(device, dx.Mat, dy.Mat, dots.Mat);
        Assert.Equal(2, device.Launches - before);
        var first = dots.ToArray();
        long m = s.MatrixLength;
        var expected = Enumerable.Range(0, 2).Select(b => Enumerable.Range((int)(b * m), (int)m).Sum(e => (double)(float)x[e] * (float)y[e])).ToArray();
        TestData.AssertClose(expected, first, 1e-4, "float32 dots over 3 groups");
        for (int run = 0; run < 3; run++)
        {
            Elementwise.Reduce(device, dx.Mat, dy.Mat, dots.Mat);
            Assert.Equal(first, dots.ToArray());
        }
    }

    [Theory]
    [MemberData(nameof(ReductionShapes))]
    public void ReductionsSumInFullPrecisionOrder(KernelFamily family, int batch, int rows, int cols)
    {
        var device = devices.Get(family);
        var s = new Shape(batch, rows, cols);
        var x = TestData.Random(s, 5);
        var y = TestData.Random(s, 6);
        using var dx = device.Upload<double>(x, s);
        using var dy = device.Upload<double>(y, s);
        using var sums = TestData.Poisoned<double>(device, new Shape(batch, 1, 1));
        using var dots = TestData.Poisoned<double>(device, new Shape(batch, 1, 1));
        Elementwise.Reduce(device, dx.Mat, null, sums.Mat);
        Elementwise.Reduce(device, dx.Mat, dy.Mat, dots.Mat);
        long m = s.MatrixLength;
        var expectedSums = Enumerable.Range(0, batch).Select(b => x.Skip((int)(b * m)).Take((int)m).Sum()).ToArray();
        var expectedDots = Enumerable.Range(0, batch).Select(b => Enumerable.Range((int)(b * m), (int)m).Sum(e => x[e] * y[e])).ToArray();
        TestData.AssertClose(expectedSums, sums.ToArray(), 1e-13, $"{family} sums {s}");
        TestData.AssertClose(expectedDots, dots.ToArray(), 1e-13, $"{family} dots {s}");

        // Σ_b x_b into one matrix: with β = 0 (poisoned output) and β = 1 (accumulate).
        using var total = TestData.Poisoned<double>(device, s.WithBatch(1));
        Elementwise.SumBatch(device, dx.Mat, total.Mat, 2.0, 0.0);
        var expected = new double[m];
        for (int b = 0; b < batch; b++) for (long e = 0; e < m; e++) expected[e] += 2 * x[b * m + e];
        TestData.AssertClose(expected, total.ToArray(), 1e-14, $"{family} SumBatch β=0");
        Elementwise.SumBatch(device, dx.Mat, total.Mat, 1.0, 1.0);
        for (int b = 0; b < batch; b++) for (long e = 0; e < m; e++) expected[e] += x[b * m + e];
        TestData.AssertClose(expected, total.ToArray(), 1e-14, $"{family} SumBatch β=1");
    }
}
