using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>Covariances composed from the elementwise ops, as a Gaussian-process user writes them.</summary>
public static class ComposedCovariances
{
    /// <summary>ExpSineSquared: k = exp(−2 sin²(π d / p) / ℓ²), d the Euclidean distances; ℓ, p [1, 1, 1].</summary>
    public static Var<T> ExpSineSquared<T>(Var<T> x1, Var<T> x2, Var<T> lengthscale, Var<T> period) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = Op.Distances(x1, x2);
        var s = Op.Sin(Op.Divide(Op.Scale(d, T.Pi), period));
        return Op.Exp(Op.Scale(Op.Divide(Op.Square(s), Op.Square(lengthscale)), T.CreateChecked(-2)));
    }

    /// <summary>RationalQuadratic: k = (1 + d² / (2αℓ²))^(−α), d the Euclidean distances; ℓ, α [1, 1, 1].</summary>
    public static Var<T> RationalQuadratic<T>(Var<T> x1, Var<T> x2, Var<T> lengthscale, Var<T> alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = Op.Distances(x1, x2);
        var one = x1.Tape.Constant([T.One], new Shape(1, 1, 1));
        var denominator = Op.Multiply(Op.Scale(alpha, T.CreateChecked(2)), Op.Square(lengthscale));
        return Op.Pow(Op.Add(one, Op.Divide(Op.Square(d), denominator)), Op.Negate(alpha));
    }
}

/// <summary>
/// The elementwise ops (Sin, Cos, Sqrt, Square, Reciprocal, Negate, Tanh, Abs, Pow, Divide), the
/// scalar-per-matrix broadcasting of every binary op, and Distances: VJP and JVP against finite
/// differences and each other (the adjoint identity), on both kernel families, batch 1 and 3; the
/// conventions at the points without a derivative; shape errors.
/// </summary>
[Collection("Graph")]
public sealed class ElementwiseOpTests(DeviceFixture devices)
{
    private static GradcheckInput G(Shape s, int seed) => new(TestData.Random(s, seed), s);

    /// <summary>Entries in [1, 3].</summary>
    private static GradcheckInput Positive(Shape s, int seed) => new(TestData.Random(s, seed).Select(x => x + 2).ToArray(), s);

    /// <summary>Entries of either sign with |x| in [0.25, 1.25]: no kink or pole within a difference step.</summary>
    private static GradcheckInput AwayFromZero(Shape s, int seed) => new(TestData.Random(s, seed).Select(x => x >= 0 ? x + 0.25 : x - 0.25).ToArray(), s);

    /// <summary>The binary ops' operand forms: both matrices, a scalar per matrix on either side (batch 3 or 1), a batch-1 matrix.</summary>
    private static IEnumerable<(string Form, Shape A, Shape B)> Forms(int batch)
    {
        Shape m = new(batch, 4, 3), s = new(batch, 1, 1), s1 = new(1, 1, 1);
        yield return ("matrix∘matrix", m, m);
        yield return ("matrix∘scalar", m, s);
        yield return ("scalar∘matrix", s, m);
        if (batch > 1)
        {
            yield return ("matrix∘scalar batch 1", m, s1);
            yield return ("scalar batch 1∘matrix", s1, m);
            yield return ("matrix batch 1∘scalar", new(1, 4, 3), s);
            yield return ("matrix∘matrix batch 1", m, new(1, 4, 3));
        }
    }

    public static IEnumerable<OpCase> Cases()
    {
        int seed = 500;
        foreach (int batch in new[] { 1, 3 })
        {
            var s = new Shape(batch, 4, 3);
            yield return new($"Sin b{batch}", v => Op.Sin(v[0]), [G(s, seed++)]);
            yield return new($"Cos b{batch}", v => Op.Cos(v[0]), [G(s, seed++)]);
            yield return new($"Tanh b{batch}", v => Op.Tanh(v[0]), [G(s, seed++)]);
            yield return new($"Square b{batch}", v => Op.Square(v[0]), [G(s, seed++)]);
            yield return new($"Negate b{batch}", v => Op.Negate(v[0]), [G(s, seed++)]);
            yield return new($"Sqrt b{batch}", v => Op.Sqrt(v[0]), [Positive(s, seed++)]);
            yield return new($"Reciprocal b{batch}", v => Op.Reciprocal(v[0]), [AwayFromZero(s, seed++)]);
            yield return new($"Abs b{batch}", v => Op.Abs(v[0]), [AwayFromZero(s, seed++)]);
            yield return new($"Pow 2.5 b{batch}", v => Op.Pow(v[0], 2.5), [Positive(s, seed++)]);
            yield return new($"Pow -1.5 b{batch}", v => Op.Pow(v[0], -1.5), [Positive(s, seed++)]);
            yield return new($"Pow 3 negative base b{batch}", v => Op.Pow(v[0], 3.0), [AwayFromZero(s, seed++)]);
            yield return new($"Pow 0 b{batch}", v => Op.Pow(v[0], 0.0), [G(s, seed++)]);
            foreach (var (form, sa, sb) in Forms(batch))
            {
                yield return new($"Add {form} b{batch}", v => Op.Add(v[0], v[1]), [G(sa, seed++), G(sb, seed++)]);
                yield return new($"Subtract {form} b{batch}", v => Op.Subtract(v[0], v[1]), [G(sa, seed++), G(sb, seed++)]);
                yield return new($"Multiply {form} b{batch}", v => Op.Multiply(v[0], v[1]), [G(sa, seed++), G(sb, seed++)]);
                yield return new($"Divide {form} b{batch}", v => Op.Divide(v[0], v[1]), [G(sa, seed++), AwayFromZero(sb, seed++)]);
                yield return new($"Pow {form} b{batch}", v => Op.Pow(v[0], v[1]), [Positive(sa, seed++), G(sb, seed++)]);
            }
            Shape x1 = new(batch, 4, 2), x2 = new(batch, 3, 2);
            yield return new($"Distances b{batch}", v => Op.Distances(v[0], v[1]), [G(x1, seed++), G(x2, seed++)]);
            yield return new($"Distances isotropic w b{batch}", v => Op.Distances(v[0], v[1], v[2]), [G(x1, seed++), G(x2, seed++), Positive(new(1, 1, 1), seed++)]);
            yield return new($"Distances ARD w b{batch}", v => Op.Distances(v[0], v[1], v[2]), [G(x1, seed++), G(x2, seed++), Positive(new(batch, 1, 2), seed++)]);
            // X with itself: the diagonal is 0 for every X, so its derivative (taken as 0) is exact there.
            yield return new($"Distances X with X b{batch}", v => Op.Distances(v[0], v[0], v[1]), [G(x1, seed++), Positive(new(1, 1, 2), seed++)]);
        }
        yield return new("Distances broadcast X₂", v => Op.Distances(v[0], v[1]), [G(new(3, 4, 2), seed++), G(new(1, 3, 2), seed++)]);
    }

    public static IEnumerable<OpCase> CompositeCases()
    {
        Shape l = new(1, 1, 1);
        foreach (int batch in new[] { 1, 3 })
        {
            Shape x1 = new(batch, 4, 2), x2 = new(batch, 3, 2);
            int seed = 700 + 10 * batch;
            GradcheckInput Between(double lo, double hi, int s) => new(TestData.Random(l, s).Select(x => lo + (hi - lo) * (x + 1) / 2).ToArray(), l);
            yield return new($"ExpSineSquared b{batch}", v => ComposedCovariances.ExpSineSquared(v[0], v[1], v[2], v[3]),
                [G(x1, seed), G(x2, seed + 1), Between(0.8, 1.5, seed + 2), Between(1.5, 3, seed + 3)]);
            yield return new($"RationalQuadratic b{batch}", v => ComposedCovariances.RationalQuadratic(v[0], v[1], v[2], v[3]),
                [G(x1, seed + 4), G(x2, seed + 5), Between(0.8, 1.5, seed + 6), Between(0.5, 2, seed + 7)]);
        }
    }

    private static readonly Dictionary<string, OpCase> ByName = Cases().Concat(CompositeCases()).ToDictionary(c => c.Name);

    /// <summary>
    /// The emulated-GPU cases of the fast tier: every unary op and Distances without scales at
    /// batch 3, and two binary ops whose scalar gradients are reduced on the device: one with the
    /// scalar on the left (the swapped map), one with a batch-1 scalar on the right (the sum over the
    /// matrix and the batch). The rest, each several seconds (every barrier of the emulated GPU's
    /// reductions is an OS barrier), run in the slow tier.
    /// </summary>
    private static bool FastOnTheGpuFamily(string name) =>
        name is "Divide scalar∘matrix b3" or "Multiply matrix∘scalar batch 1 b3"
        || (name.EndsWith(" b3", StringComparison.Ordinal) && !name.Contains('∘') && !name.StartsWith("Distances ", StringComparison.Ordinal))
        || name == "Distances b3";

    public static TheoryData<string, KernelFamily> Data()
    {
        var data = new TheoryData<string, KernelFamily>();
        foreach (var c in Cases())
        {
            data.Add(c.Name, KernelFamily.CpuTuned);
            if (FastOnTheGpuFamily(c.Name)) data.Add(c.Name, KernelFamily.GpuTuned);
        }
        return data;
    }

    public static TheoryData<string> SlowGpuData() => new(Cases().Select(c => c.Name).Where(n => !FastOnTheGpuFamily(n)));

    public static TheoryData<string> CompositeData() => new(CompositeCases().Select(c => c.Name));

    private void AssertGradcheck(string name, KernelFamily family)
    {
        var c = ByName[name];
        var r = Gradcheck.Run(devices.Get(family), c.F, c.Inputs);
        Assert.True(r.Passed, $"{name} ({family}): {r}");
        Assert.Equal(3 * 3, r.Comparisons.Count); // a JVP, a VJP and an adjoint comparison per direction
    }

    [Theory]
    [MemberData(nameof(Data))]
    public void VjpAndJvpMatchFiniteDifferencesAndEachOther(string name, KernelFamily family) => AssertGradcheck(name, family);

    [Theory]
    [Trait("Tier", "Slow")]
    [MemberData(nameof(SlowGpuData))]
    public void OnTheGpuFamilyVjpAndJvpMatchFiniteDifferencesAndEachOther(string name) => AssertGradcheck(name, KernelFamily.GpuTuned);

    [Theory]
    [MemberData(nameof(CompositeData))]
    public void ComposedCovariancesMatchFiniteDifferencesAndEachOther(string name) => AssertGradcheck(name, KernelFamily.CpuTuned);

    [Theory]
    [Trait("Tier", "Slow")]
    [MemberData(nameof(CompositeData))]
    public void OnTheGpuFamilyComposedCovariancesMatchFiniteDifferencesAndEachOther(string name) => AssertGradcheck(name, KernelFamily.GpuTuned);

    public static TheoryData<KernelFamily> Families() => new() { KernelFamily.CpuTuned, KernelFamily.GpuTuned };

    /// <summary>Runs f on one input with a tangent and a cotangent; returns y, its JVP and the input's VJP.</summary>
    private (double[] Y, double[] Ydot, double[] Grad) Derivatives(KernelFamily family, Func<Var<double>, Var<double>> f, double[] x, Shape shape, double[] tangent, double[] cotangent)
    {
        using var tape = new Tape(devices.Get(family));
        var v = tape.Variable(x, shape, tangent);
        var y = f(v);
        var ydot = y.Tangent!.ToArray();
        using var cot = devices.Get(family).Upload<double>(cotangent, y.Shape);
        double[] value = y.ToArray();
        tape.Backward(y, cot);
        return (value, ydot, v.Grad!.ToArray());
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void SqrtHasDerivativeZeroAtZero(KernelFamily family)
    {
        var shape = new Shape(2, 2, 3);
        double[] a = [0, 0.25, 4, 0, 9, 2, 1e-300, 0, 0.5, 3, 0, 7];
        var tangent = TestData.Random(shape, 1);
        var cotangent = TestData.Random(shape, 2);
        var (y, ydot, grad) = Derivatives(family, Op.Sqrt, a, shape, tangent, cotangent);
        for (int k = 0; k < a.Length; k++)
        {
            if (a[k] == 0)
            {
                Assert.Equal(0.0, y[k]);
                Assert.Equal(0.0, ydot[k]);
                Assert.Equal(0.0, grad[k]);
                continue;
            }
            double r = Math.Sqrt(a[k]);
            Assert.Equal(r, y[k], 15);
            Assert.True(Math.Abs(ydot[k] - tangent[k] / (2 * r)) <= 1e-15 * Math.Abs(tangent[k] / (2 * r)), $"JVP at {k}: {ydot[k]}");
            Assert.True(Math.Abs(grad[k] - cotangent[k] / (2 * r)) <= 1e-15 * Math.Abs(cotangent[k] / (2 * r)), $"VJP at {k}: {grad[k]}");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void AbsHasDerivativeZeroAtZero(KernelFamily family)
    {
        var shape = new Shape(1, 2, 3);
        double[] a = [0, -1.5, 2, -0.0, 0.5, -3];
        var tangent = TestData.Random(shape, 3);
        var cotangent = TestData.Random(shape, 4);
        var (y, ydot, grad) = Derivatives(family, Op.Abs, a, shape, tangent, cotangent);
        for (int k = 0; k < a.Length; k++)
        {
            double sign = a[k] > 0 ? 1 : a[k] < 0 ? -1 : 0;
            Assert.Equal(BitConverter.DoubleToInt64Bits(Math.Abs(a[k])), BitConverter.DoubleToInt64Bits(y[k])); // +0 for −0
            Assert.Equal(sign * tangent[k], ydot[k]);
            Assert.Equal(sign * cotangent[k], grad[k]);
        }
    }

    /// <summary>
    /// Pow(A, e) with one exponent per matrix at bases 0 and below, against the documented (PyTorch)
    /// conventions evaluated by hand: ē = Σ Ȳ·Y·log A with the terms of zero bases taken as 0 when
    /// e ≥ 0; NaN when some base is negative; Ā = Ȳ·e·A^(e−1), 0 when e = 0.
    /// </summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void PowExponentGradientAtZeroAndNegativeBasesFollowsPyTorch(KernelFamily family)
    {
        var device = devices.Get(family);
        Shape sa = new(4, 1, 3), se = new(4, 1, 1);
        double[] a = [0, 2, 0.5, 0, 0, 3, -1, 2, 0.5, 0, 1.5, 2];
        double[] e = [2.5, 0, 2, -1];
        double[] ybar = TestData.Random(sa, 5);
        using var tape = new Tape(device);
        var av = tape.Variable(a, sa);
        var ev = tape.Variable(e, se);
        var y = Op.Pow(av, ev);
        using var cot = device.Upload<double>(ybar, sa);
        tape.Backward(y, cot);
        double[] abar = av.Grad!.ToArray(), ebar = ev.Grad!.ToArray();

        // matrix 0: e = 2.5 with a zero base; matrix 1: e = 0 with zeros; matrix 2: a negative base; matrix 3: e < 0 with a zero base.
        for (int b = 0; b < 3; b++)
        {
            double expected = 0;
            for (int j = 0; j < 3; j++)
            {
                double x = a[3 * b + j], yv = Math.Pow(x, e[b]);
                if (x != 0) expected += ybar[3 * b + j] * yv * Math.Log(x);
                double da = e[b] == 0 ? 0 : ybar[3 * b + j] * e[b] * Math.Pow(x, e[b] - 1);
                Assert.Equal(da, abar[3 * b + j], 14);
            }
            if (b == 2) Assert.True(double.IsNaN(ebar[b]), $"ē with a negative base: {ebar[b]}");
            else Assert.True(Math.Abs(ebar[b] - expected) <= 1e-14 * Math.Max(1, Math.Abs(expected)), $"ē[{b}] = {ebar[b]}, expected {expected}");
        }
        Assert.Equal(0.0, abar[3]); // e = 0: no base gradient, even at a zero base
        Assert.Equal(0.0, abar[4]);
        Assert.Equal(double.NegativeInfinity * Math.Sign(ybar[9]), abar[9]); // e = −1 at 0: −∞·ȳ, as PyTorch
    }

    /// <summary>
    /// Distances at coincident points: R is exactly 0 there, the JVP exactly 0, and cotangent
    /// mass placed there contributes exactly nothing to X̄₁, X̄₂ or w̄; everything stays finite.
    /// </summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void DistancesHaveGradientZeroAtCoincidentPoints(KernelFamily family)
    {
        var device = devices.Get(family);
        Shape s1 = new(1, 3, 2), s2 = new(1, 4, 2), sw = new(1, 1, 2), sr = new(1, 3, 4);
        double[] x1 = TestData.Random(s1, 6), x2 = TestData.Random(s2, 7), w = [1.5, 0.7];
        // coincident pairs (i, j): (1, 0) and (0, 2)
        (x2[0], x2[1]) = (x1[2], x1[3]);
        (x2[4], x2[5]) = (x1[0], x1[1]);
        bool Coincident(int i, int j) => (i, j) is (1, 0) or (0, 2);

        (double[] R, double[] Rdot, double[][] Grads) Run(double[] cotangent)
        {
            using var tape = new Tape(device);
            var v1 = tape.Variable(x1, s1, TestData.Random(s1, 8));
            var v2 = tape.Variable(x2, s2, TestData.Random(s2, 9));
            var vw = tape.Variable(w, sw, TestData.Random(sw, 10));
            var r = Op.Distances(v1, v2, vw);
            var value = r.ToArray();
            var rdot = r.Tangent!.ToArray();
            using var cot = device.Upload<double>(cotangent, sr);
            tape.Backward(r, cot);
            return (value, rdot, [v1.Grad!.ToArray(), v2.Grad!.ToArray(), vw.Grad!.ToArray()]);
        }

        var random = TestData.Random(sr, 11);
        var (rv, rdot, full) = Run(random);
        var onlyCoincident = random.Select((c, k) => Coincident(k / 4, k % 4) ? c : 0).ToArray();
        var withoutCoincident = random.Select((c, k) => Coincident(k / 4, k % 4) ? 0 : c).ToArray();
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 4; j++)
        {
            double d2 = 0;
            for (int k = 0; k < 2; k++) d2 += Math.Pow(w[k] * (x1[2 * i + k] - x2[2 * j + k]), 2);
            if (Coincident(i, j))
            {
                Assert.Equal(0.0, rv[4 * i + j]);
                Assert.Equal(0.0, rdot[4 * i + j]);
            }
            else
            {
                Assert.Equal(Math.Sqrt(d2), rv[4 * i + j], 14);
                Assert.True(double.IsFinite(rdot[4 * i + j]));
            }
        }
        Assert.All(full, g => Assert.All(g, x => Assert.True(double.IsFinite(x))));
        var (_, _, zero) = Run(onlyCoincident);
        Assert.All(zero, g => Assert.All(g, x => Assert.Equal(0.0, x)));
        var (_, _, rest) = Run(withoutCoincident);
        for (int k = 0; k < 3; k++) Assert.Equal(rest[k], full[k]);
    }

    [Fact]
    public void DistancesMatchTheSquareRootOfSquaredDistances()
    {
        var device = devices.Cpu;
        Shape s1 = new(3, 5, 3), s2 = new(1, 4, 3), sw = new(3, 1, 3);
        using var tape = new Tape(device);
        var x1 = tape.Variable(TestData.Random(s1, 12), s1);
        var x2 = tape.Variable(TestData.Random(s2, 13), s2);
        var w = tape.Variable(TestData.Random(sw, 14).Select(x => x + 2).ToArray(), sw);
        var r = Op.Distances(x1, x2, w).ToArray();
        var d2 = Op.SquaredDistances(x1, x2, w).ToArray();
        Assert.Equal(d2.Length, r.Length);
        for (int k = 0; k < r.Length; k++) Assert.Equal(Math.Sqrt(d2[k]), r[k]);
    }

    private static readonly string[] BinaryOps = ["Add", "Subtract", "Multiply", "Divide", "Pow"];

    public static TheoryData<string> ShapeErrorOps() => new(BinaryOps);

    private static Var<double> Binary(string op, Var<double> a, Var<double> b) => op switch
    {
        "Add" => Op.Add(a, b),
        "Subtract" => Op.Subtract(a, b),
        "Multiply" => Op.Multiply(a, b),
        "Divide" => Op.Divide(a, b),
        "Pow" => Op.Pow(a, b),
        _ => throw new ArgumentException(op),
    };

    [Theory]
    [MemberData(nameof(ShapeErrorOps))]
    public void BinaryShapeErrorsAreOneLineNamingTheOpAndBothShapes(string op)
    {
        using var tape = new Tape(devices.Cpu);
        foreach (var (sa, sb) in new[] { (new Shape(1, 4, 3), new Shape(1, 3, 4)), (new Shape(2, 4, 3), new Shape(3, 1, 1)), (new Shape(1, 1, 3), new Shape(1, 4, 3)) })
        {
            var a = tape.Variable(new double[sa.Length], sa);
            var b = tape.Variable(new double[sb.Length], sb);
            var e = Assert.Throws<ArgumentException>(() => Binary(op, a, b));
            Assert.StartsWith(op + ":", e.Message);
            Assert.Contains(sa.ToString(), e.Message);
            Assert.Contains(sb.ToString(), e.Message);
            Assert.DoesNotContain('\n', e.Message);
        }
        Assert.Equal(0, tape.NodeCount);
    }

    /// <summary>Empty matrices: the outputs are empty, a broadcast scalar's gradient is the empty sum 0.</summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void EmptyMatricesGiveEmptyOutputsAndZeroScalarGradients(KernelFamily family)
    {
        var device = devices.Get(family);
        foreach (var op in BinaryOps)
        {
            using var tape = new Tape(device);
            var m = tape.Variable(Array.Empty<double>(), new Shape(2, 0, 3));
            var s = tape.Variable([0.5, 2.0], new Shape(2, 1, 1));
            var y = Binary(op, s, m);
            Assert.Equal(new Shape(2, 0, 3), y.Shape);
            using var cot = device.Upload<double>(Array.Empty<double>(), y.Shape);
            tape.Backward(y, cot);
            Assert.Equal([0.0, 0.0], s.Grad!.ToArray());
            Assert.Empty(m.Grad!.ToArray());
        }
        using (var tape = new Tape(device))
        {
            var x1 = tape.Variable(Array.Empty<double>(), new Shape(1, 0, 2));
            var x2 = tape.Variable([1.0, 2.0, 3.0, 4.0], new Shape(1, 2, 2));
            var w = tape.Variable([1.5], new Shape(1, 1, 1));
            var r = Op.Distances(x1, x2, w);
            Assert.Equal(new Shape(1, 0, 2), r.Shape);
            using var cot = device.Upload<double>(Array.Empty<double>(), r.Shape);
            tape.Backward(r, cot);
            Assert.Equal([0.0, 0.0, 0.0, 0.0], x2.Grad!.ToArray());
            Assert.Equal([0.0], w.Grad!.ToArray());
        }
    }

    /// <summary>
    /// A tangent on the broadcast scalar alone (the matrix has none): the JVP spreads it over every
    /// matrix — for Subtract with its sign, for Multiply times the matrix.
    /// </summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void AJvpAlongTheScalarAloneSpreadsItOverTheMatrix(KernelFamily family)
    {
        Shape sm = new(3, 2, 3), ss = new(3, 1, 1);
        double[] m = TestData.Random(sm, 15), s = [0.5, -1.25, 2], sdot = [0.3, -0.7, 1.1];
        foreach (var op in new[] { "Add", "Subtract", "Multiply" })
        foreach (bool scalarFirst in new[] { false, true })
        {
            using var tape = new Tape(devices.Get(family));
            var mv = tape.Variable(m, sm);
            var sv = tape.Variable(s, ss, sdot);
            var y = scalarFirst ? Binary(op, sv, mv) : Binary(op, mv, sv);
            var ydot = y.Tangent!.ToArray();
            for (int k = 0; k < ydot.Length; k++)
            {
                double d = sdot[k / 6];
                double expected = op switch
                {
                    "Add" => d,
                    "Subtract" => scalarFirst ? d : -d,
                    _ => d * m[k],
                };
                Assert.Equal(expected, ydot[k], 15);
            }
        }
    }

    [Fact]
    public void ScalarBroadcastGivesTheOutputShapeOfTheMatrix()
    {
        using var tape = new Tape(devices.Cpu);
        var m = tape.Variable(new double[12], new Shape(1, 4, 3));
        var s = tape.Variable(new double[3], new Shape(3, 1, 1));
        foreach (var op in BinaryOps)
        {
            Assert.Equal(new Shape(3, 4, 3), Binary(op, m, s).Shape);
            Assert.Equal(new Shape(3, 4, 3), Binary(op, s, m).Shape);
            Assert.Equal(new Shape(3, 1, 1), Binary(op, s, tape.Variable(new double[1], new Shape(1, 1, 1))).Shape);
        }
    }
}
