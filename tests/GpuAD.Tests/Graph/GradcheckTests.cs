using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

[Collection("Graph")]
public sealed class GradcheckTests(DeviceFixture devices)
{
    /// <summary>The relative tolerance the check held the VJP and JVP to before its allowance was measured; the allowance must stay within it.</summary>
    private const double FormerTolerance = 1e-6;

    private static void AssertPassedWithinFormerTolerance(GradcheckResult r, string name)
    {
        Assert.True(r.Passed, $"{name}: {r}");
        foreach (var c in r.Comparisons.Where(c => c.Kind is GradcheckKind.Vjp or GradcheckKind.Jvp))
            Assert.True(c.RelativeAllowance <= FormerTolerance, $"{name}: {c.Kind} direction {c.Direction} allowance {c.RelativeAllowance:E2} relative, looser than {FormerTolerance:E0}");
    }

    [Theory]
    [MemberData(nameof(OpCases.SmallData), MemberType = typeof(OpCases))]
    public void VjpAndJvpMatchFiniteDifferencesAndEachOther(OpCase c) =>
        AssertPassedWithinFormerTolerance(Gradcheck.Run(devices.Cpu, c.F, c.Inputs), c.Name);

    [Theory]
    [MemberData(nameof(LinalgCases.Data), MemberType = typeof(LinalgCases))]
    public void FactorizationOpsMatchFiniteDifferencesAndEachOther(OpCase c) =>
        AssertPassedWithinFormerTolerance(Gradcheck.Run(devices.Cpu, c.F, c.Inputs), c.Name);

    [Fact]
    public void GradcheckCatchesAWrongGradient()
    {
        // A deliberately wrong derivative: y = A·A with A treated as a constant on one side.
        var s = new Shape(1, 4, 4);
        var x = new GradcheckInput(TestData.Random(s, 3), s);
        var r = Gradcheck.Run(devices.Cpu, v =>
        {
            var constant = v[0].Tape.Constant(v[0].Value);
            return Op.MatMul(v[0], constant);
        }, [x]);
        Assert.False(r.Passed);
        Assert.True(r.VjpError > 1e-3 && r.JvpError > 1e-3, $"{r}");
    }

    /// <summary>f(A, B) = exp(A)·B, through <see cref="SkewedExpNode{T}"/> whose JVP and VJP are scaled by the given factors.</summary>
    private static Func<Var<T>[], Var<T>> ExpTimes<T>(double jvpScale, double vjpScale) where T : unmanaged, IFloatingPointIeee754<T> =>
        v => Op.MatMul(SkewedExpNode<T>.Apply(v[0], T.CreateChecked(jvpScale), T.CreateChecked(vjpScale)), v[1]);

    private static GradcheckInput[] ExpTimesInputs(int batch)
    {
        Shape sa = new(batch, 5, 4), sb = new(batch, 4, 3);
        return [new(TestData.Random(sa, 11), sa), new(TestData.Random(sb, 12), sb)];
    }

    [Theory]
    [InlineData(1, 1e-4)]
    [InlineData(3, 1e-4)]
    [InlineData(3, 1e-5)]
    public void AVjpOffByASmallRelativeErrorFailsAndTheRightOnePasses(int batch, double relativeError)
    {
        var inputs = ExpTimesInputs(batch);
        var right = Gradcheck.Run(devices.Cpu, ExpTimes<double>(1, 1), inputs);
        AssertPassedWithinFormerTolerance(right, "exp(A)·B");

        var wrong = Gradcheck.Run(devices.Cpu, ExpTimes<double>(1, 1 + relativeError), inputs);
        Assert.False(wrong.Passed, $"a VJP off by {relativeError:E0} passed: {wrong}");
        Assert.All(wrong.Comparisons.Where(c => c.Kind == GradcheckKind.Jvp), c => Assert.True(c.Passed, $"{c}"));
        Assert.All(wrong.Comparisons.Where(c => c.Kind is GradcheckKind.Vjp or GradcheckKind.Adjoint), c => Assert.False(c.Passed, $"{c}"));
        // It fails by far: the error is the skew, the allowance orders of magnitude below it.
        var worst = wrong.Worst(GradcheckKind.Vjp)!;
        Assert.True(worst.Ratio > 100, $"{worst}");
    }

    [Theory]
    [InlineData(1, 1e-4)]
    [InlineData(3, 1e-5)]
    public void AJvpOffByASmallRelativeErrorFailsAndTheRightOnePasses(int batch, double relativeError)
    {
        var inputs = ExpTimesInputs(batch);
        var wrong = Gradcheck.Run(devices.Cpu, ExpTimes<double>(1 + relativeError, 1), inputs);
        Assert.False(wrong.Passed, $"a JVP off by {relativeError:E0} passed: {wrong}");
        Assert.All(wrong.Comparisons.Where(c => c.Kind == GradcheckKind.Vjp), c => Assert.True(c.Passed, $"{c}"));
        Assert.All(wrong.Comparisons.Where(c => c.Kind is GradcheckKind.Jvp or GradcheckKind.Adjoint), c => Assert.False(c.Passed, $"{c}"));
    }

    [Fact]
    public void TheFloat32ModeFailsAWrongVjpOrJvpAndPassesTheRightOnes()
    {
        var inputs = ExpTimesInputs(3);
        const double Skew = 1e-4;
        var right = Gradcheck.RunFloat32(devices.Cpu, ExpTimes<float>(1, 1), ExpTimes<double>(1, 1), inputs, order: 0);
        Assert.True(right.Passed, $"{right}");
        Assert.Equal(3 * (3 + inputs.Length), right.Comparisons.Count); // per direction: value, JVP, adjoint and a VJP per input
        Assert.All(right.Comparisons, c => Assert.Equal(Gradcheck.Float32Allowance(0) * c.Scale, c.Allowance));

        var wrongVjp = Gradcheck.RunFloat32(devices.Cpu, ExpTimes<float>(1, 1 + Skew), ExpTimes<double>(1, 1), inputs, order: 0);
        Assert.False(wrongVjp.Passed, $"{wrongVjp}");
        Assert.All(wrongVjp.Comparisons.Where(c => c.Kind is GradcheckKind.Value or GradcheckKind.Jvp), c => Assert.True(c.Passed, $"{c}"));
        Assert.All(wrongVjp.Comparisons.Where(c => c.Kind is GradcheckKind.Vjp && c.Input == 0), c => Assert.False(c.Passed, $"{c}"));

        var wrongJvp = Gradcheck.RunFloat32(devices.Cpu, ExpTimes<float>(1 + Skew, 1), ExpTimes<double>(1, 1), inputs, order: 0);
        Assert.False(wrongJvp.Passed, $"{wrongJvp}");
        Assert.All(wrongJvp.Comparisons.Where(c => c.Kind is GradcheckKind.Jvp), c => Assert.False(c.Passed, $"{c}"));
        Assert.All(wrongJvp.Comparisons.Where(c => c.Kind is GradcheckKind.Vjp), c => Assert.True(c.Passed, $"{c}"));
    }

    [Fact]
    public void TheFloat32ModeHoldsAFactorizationToItsOrdersAllowance()
    {
        const int n = 20;
        var sigma = new GradcheckInput(TestData.Spd(2, n, 5), new Shape(2, n, n), PerturbationKind.Symmetric);
        var r = Gradcheck.RunFloat32(devices.Cpu, v => Op.Cholesky(v[0]), v => Op.Cholesky(v[0]), [sigma], order: n);
        Assert.True(r.Passed, $"{r}");
        Assert.Equal(10 * (n + 1) * Gradcheck.Epsilon32, Gradcheck.Float32Allowance(n));
        // float32 is not float64: the errors are there, of float32's size.
        Assert.True(r.ValueError > Gradcheck.Epsilon32 / 100, $"{r}");
    }

    [Fact]
    public void AGradientOffByASmallRelativeErrorFailsOnlyInItsCoordinate()
    {
        // f(x) = Σ exp(xᵢ)·xᵢ₊₁, on the host.
        static double F(double[] x) => Enumerable.Range(0, x.Length - 1).Sum(i => Math.Exp(x[i]) * x[i + 1]);
        double[] x = [0.3, -0.7, 1.1, 0.2];
        var g = new double[x.Length];
        for (int i = 0; i + 1 < x.Length; i++)
        {
            g[i] += Math.Exp(x[i]) * x[i + 1];
            g[i + 1] += Math.Exp(x[i]);
        }
        var right = Gradcheck.Gradient(F, g, x);
        Assert.True(right.Passed, $"{right}");
        Assert.Equal(x.Length, right.Comparisons.Count);
        var wrong = g.Select((v, j) => j == 2 ? v * (1 + 1e-5) : v).ToArray();
        var r = Gradcheck.Gradient(F, wrong, x);
        Assert.Equal([true, true, false, true], r.Comparisons.Select(c => c.Passed));
    }

    [Fact]
    public void ANaNFailsAndBadOptionsAreRefused()
    {
        var s = new Shape(1, 2, 2);
        var x = new GradcheckInput([0.1, 0.2, 0.3, 0.4], s);
        var r = Gradcheck.Run(devices.Cpu, v => Op.Log(v[0]), [x with { Data = [-1, 0.2, 0.3, 0.4] }], new GradcheckOptions(Directions: 1));
        Assert.False(r.Passed);
        Assert.Throws<ArgumentException>(() => Gradcheck.Run(devices.Cpu, v => v[0], [x], new GradcheckOptions(Step: 0)));
        Assert.Throws<ArgumentException>(() => Gradcheck.Run(devices.Cpu, v => v[0], [x], new GradcheckOptions(Directions: 0)));
        Assert.Throws<ArgumentException>(() => Gradcheck.Gradient(_ => 0, [1], [1, 2]));
    }
}

/// <summary>Y = exp(A) with a JVP and a VJP scaled by given factors (1, 1: the right ones), to test that the check catches small errors.</summary>
internal sealed class SkewedExpNode<T>(Var<T> a, T jvpScale, T vjpScale) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "SkewedExp";

    public static Var<T> Apply(Var<T> a, T jvpScale, T vjpScale) => Tape.Of(OpName, a).Record(new SkewedExpNode<T>(a, jvpScale, vjpScale));

    internal override IEnumerable<IVar> SavedVars { get { yield return Out; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Exp<T>(T.One), In[0].Value);

    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Multiply<T>(jvpScale), t[0]!.Mat, Out.Value.Mat, YAccess.Same, Out.Shape);

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.Multiply<T>(vjpScale), ybar.Mat, Out.Value.Mat, YAccess.Same, Out.Shape));
}
