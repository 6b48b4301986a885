using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// The Gaussian-process ops (squared distances, stationary kernels, the multivariate normal,
/// posterior prediction) by gradcheck and the adjoint identity on both kernel families, and the
/// whole model against scikit-learn on real data (tests/golden/gp-sklearn, written by
/// tests/oracle/generate_gp.py): values, gradients, covariances and their θ-tangents, predictions.
/// </summary>
[Collection("Graph")]
public sealed class GaussianProcessTests(DeviceFixture devices)
{
    private static GradcheckInput G(Shape s, int seed, double scale = 1, double shift = 0) =>
        new(TestData.Random(s, seed).Select(v => scale * v + shift).ToArray(), s);

    private static readonly StationaryKernel[] Kernels = [StationaryKernel.Rbf, StationaryKernel.Matern12, StationaryKernel.Matern32, StationaryKernel.Matern52];

    public static IEnumerable<OpCase> Cases()
    {
        // Distances: no scale, isotropic, ARD; n ≠ m, d = 1 and 3, batch 1 and 2, broadcast operands.
        yield return new("SquaredDistances plain b2 5x4 d3", v => Op.SquaredDistances(v[0], v[1]), [G(new(2, 5, 3), 1), G(new(2, 4, 3), 2)]);
        yield return new("SquaredDistances iso b2 3x6 d1", v => Op.SquaredDistances(v[0], v[1], v[2]), [G(new(2, 3, 1), 3), G(new(2, 6, 1), 4), G(new(2, 1, 1), 5, 0.3, 1.5)]);
        yield return new("SquaredDistances ARD b1 4x4 d3", v => Op.SquaredDistances(v[0], v[1], v[2]), [G(new(1, 4, 3), 6), G(new(1, 4, 3), 7), G(new(1, 1, 3), 8, 0.3, 1.5)]);
        yield return new("SquaredDistances ARD broadcast", v => Op.SquaredDistances(v[0], v[1], v[2]), [G(new(3, 4, 2), 9), G(new(1, 5, 2), 10), G(new(1, 1, 2), 11, 0.3, 1.5)]);
        yield return new("SquaredDistances same X", v => Op.SquaredDistances(v[0], v[0], v[1]), [G(new(2, 5, 2), 12), G(new(2, 1, 2), 13, 0.3, 1.5)]);
        foreach (var k in Kernels)
            yield return new($"Stationary {k}", v => Op.Stationary(v[0], k), [G(new(2, 4, 5), 20 + (int)k, 0.5, 1.5)]);
        // The covariance from the points, ARD, on one tape: distances → kernel → output scale.
        foreach (var k in Kernels)
            yield return new($"Covariance {k} ARD", v => GaussianProcess.Covariance(v[0], v[1], k, v[2], v[3]),
                [G(new(2, 4, 2), 30 + (int)k), G(new(2, 3, 2), 34 + (int)k), G(new(2, 1, 1), 38), G(new(2, 1, 2), 39, 0.2)]);
        // The multivariate normal: x, μ, Σ (symmetric perturbations), k = 1 and 3 columns.
        foreach (int cols in new[] { 1, 3 })
            yield return new($"MVN log density k{cols}", v => MultivariateNormal.LogDensity(v[0], v[1], v[2]),
                [G(new(2, 5, cols), 40 + cols), G(new(2, 5, cols), 44 + cols), new(TestData.Spd(2, 5, 48), new Shape(2, 5, 5), PerturbationKind.Symmetric)]);
        // The NLL from the data and the posterior predictive, differentiated in every input.
        yield return new("GP NLL Matern52 ARD", v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1], StationaryKernel.Matern52, new GpTheta<double>(v[2], v[3], v[4])),
            [G(new(2, 6, 2), 50), G(new(2, 6, 1), 51), G(new(2, 1, 1), 52, 0.2), G(new(2, 1, 2), 53, 0.2), G(new(2, 1, 1), 54, 0.2, -1)]);
        foreach (bool noise in new[] { false, true })
        {
            yield return new($"GP predictive mean noise={noise}", v => GaussianProcess.Predict(v[0], v[1], v[2], StationaryKernel.Rbf, new GpTheta<double>(v[3], v[4], v[5]), includeNoise: noise).Mean,
                [G(new(2, 5, 2), 60), G(new(2, 5, 1), 61), G(new(2, 3, 2), 62), G(new(2, 1, 1), 63, 0.2), G(new(2, 1, 2), 64, 0.2), G(new(2, 1, 1), 65, 0.2, -1)]);
            yield return new($"GP predictive variance noise={noise}", v => GaussianProcess.Predict(v[0], v[1], v[2], StationaryKernel.Matern32, new GpTheta<double>(v[3], v[4], v[5]), includeNoise: noise).Variance,
                [G(new(2, 5, 2), 70), G(new(2, 5, 1), 71), G(new(2, 3, 2), 72), G(new(2, 1, 1), 73, 0.2), G(new(2, 1, 2), 74, 0.2), G(new(2, 1, 1), 75, 0.2, -1)]);
        }
    }

    public static TheoryData<OpCase, KernelFamily> Data()
    {
        var data = new TheoryData<OpCase, KernelFamily>();
        foreach (var c in Cases())
        {
            data.Add(c, KernelFamily.CpuTuned);
            // The GPU family (emulated: every thread an OS thread) on the ops' own kernels; the
            // composed models run the same kernels and are checked on the CPU family.
            if (c.Name.StartsWith("SquaredDistances") || c.Name.StartsWith("Stationary") || c.Name == "Covariance Matern52 ARD")
                data.Add(c, KernelFamily.GpuTuned);
        }
        return data;
    }

    /// <summary>The multivariate normal's log density on the GPU family (its Cholesky and solves are checked there in the fast tier).</summary>
    public static TheoryData<OpCase, KernelFamily> SlowData()
    {
        var data = new TheoryData<OpCase, KernelFamily>();
        foreach (var c in Cases().Where(c => c.Name == "MVN log density k3")) data.Add(c, KernelFamily.GpuTuned);
        return data;
    }

    [Theory]
    [MemberData(nameof(SlowData))]
    [Trait("Tier", "Slow")]
    public void TheMvnLogDensityOnTheGpuFamilyMatchesFiniteDifferences(OpCase c, KernelFamily family) =>
        GpOpsMatchFiniteDifferencesAndTheAdjointIdentity(c, family);

    [Theory]
    [MemberData(nameof(Data))]
    public void GpOpsMatchFiniteDifferencesAndTheAdjointIdentity(OpCase c, KernelFamily family)
    {
        var r = Gradcheck.Run(devices.Get(family), c.F, c.Inputs);
        Assert.True(r.Passed, $"{c.Name} ({family}): VJP err {r.VjpError:E2}, JVP err {r.JvpError:E2}, adjoint err {r.AdjointError:E2}");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void DistancesFarFromTheOriginKeepTheirDigits(KernelFamily family)
    {
        // Points near 10⁶ (calendar years in seconds would be worse): ‖x‖² + ‖y‖² − 2xᵀy loses about
        // 12 of 16 digits here; the difference-first formula loses none beyond the inputs' rounding.
        var device = devices.Get(family);
        int n = 6, d = 2;
        var x = TestData.Random(new Shape(1, n, d), 5).Select(v => 1e6 + v).ToArray();
        var w = new[] { 0.7, 1.9 };
        using var tape = new Tape(device);
        var dist = Op.SquaredDistances(tape.Constant(x, new Shape(1, n, d)), tape.Constant(x, new Shape(1, n, d)), tape.Constant(w, new Shape(1, 1, d)));
        var expected = new double[n * n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        for (int k = 0; k < d; k++)
        {
            double delta = w[k] * (x[i * d + k] - x[j * d + k]);
            expected[i * n + j] += delta * delta;
        }
        var actual = dist.ToArray();
        for (int e = 0; e < expected.Length; e++)
            Assert.True(Math.Abs(actual[e] - expected[e]) <= 1e-14 * Math.Max(expected[e], 1e-300) || actual[e] == expected[e],
                $"D[{e / n}, {e % n}] = {actual[e]:R}, expected {expected[e]:R}");
        for (int i = 0; i < n; i++) Assert.Equal(0.0, actual[i * n + i]);
    }

    public static TheoryData<string> SklearnCases() => new(SklearnGolden.Cases());

    [Theory]
    [MemberData(nameof(SklearnCases))]
    public void NllAndGradientMatchScikitLearn(string name)
    {
        var c = SklearnGolden.Load(name);
        using var objective = new GpObjective<double>(devices.Cpu, c.X, c.Y, 1, c.N, c.D, c.Kernel, c.Ard, CovarianceJitter.None);
        var r = objective.Evaluate(c.Theta, 0, 1, gradient: true);
        double nllErr = Math.Abs(r.Nll[0] - c.Nll) / Math.Abs(c.Nll);
        Assert.True(nllErr <= 1e-9, $"{name}: NLL {r.Nll[0]:R} vs scikit-learn {c.Nll:R}: relative error {nllErr:E2}");
        double gradErr = TestData.RelErr(c.Grad, r.Gradient!);
        Assert.True(gradErr <= 1e-9, $"{name}: ∂NLL/∂θ relative error {gradErr:E2}: [{string.Join(", ", r.Gradient!)}] vs [{string.Join(", ", c.Grad)}]");
        Assert.Equal(0.0, r.Jitter[0]);
    }

    [Theory]
    [InlineData("diabetes-matern52-ard")]
    [InlineData("co2-matern32-iso")]
    public void GpuFamilyMatchesScikitLearn(string name)
    {
        var c = SklearnGolden.Load(name);
        using var objective = new GpObjective<double>(devices.GpuEmulated, c.X, c.Y, 1, c.N, c.D, c.Kernel, c.Ard, CovarianceJitter.None);
        var r = objective.Evaluate(c.Theta, 0, 1, gradient: true);
        Assert.True(Math.Abs(r.Nll[0] - c.Nll) <= 1e-9 * Math.Abs(c.Nll), $"{name}: NLL {r.Nll[0]:R} vs {c.Nll:R}");
        Assert.True(TestData.RelErr(c.Grad, r.Gradient!) <= 1e-9, $"{name}: gradient error {TestData.RelErr(c.Grad, r.Gradient!):E2}");
    }

    [Theory]
    [MemberData(nameof(SklearnCases))]
    public void CovarianceAndItsThetaTangentsMatchScikitLearn(string name)
    {
        var c = SklearnGolden.Load(name);
        int p = c.Theta.Length, q = p - 2, n = c.N;
        for (int j = 0; j < p; j++)
        {
            using var tape = new Tape(devices.Cpu);
            double[] Unit(int from, int count) => Enumerable.Range(from, count).Select(i => i == j ? 1.0 : 0.0).ToArray();
            var theta = new GpTheta<double>(
                tape.Variable(c.Theta[..1], new Shape(1, 1, 1), Unit(0, 1)),
                tape.Variable(c.Theta[1..(1 + q)], new Shape(1, 1, q), Unit(1, q)),
                tape.Variable(c.Theta[(p - 1)..], new Shape(1, 1, 1), Unit(p - 1, 1)));
            var k = GaussianProcess.TrainingCovariance(tape.Constant(c.X, new Shape(1, n, c.D)), c.Kernel, theta);
            // scikit-learn scales X by 1/ℓ before it subtracts, which costs it ε·|x|/|Δx| (≈ 1e−11
            // relative on the CO2 years, more in dK/dθ); GpuAD subtracts first.
            if (j == 0) TestData.AssertClose(c.K, k.ToArray(), 1e-11, $"{name}: K");
            TestData.AssertClose(c.DK[(j * n * n)..((j + 1) * n * n)], k.Tangent!.ToArray(), 1e-10, $"{name}: dK/dθ{j}");
        }
    }

    [Theory]
    [MemberData(nameof(SklearnCases))]
    public void PredictionMatchesScikitLearn(string name)
    {
        var c = SklearnGolden.Load(name);
        int n = c.N, m = c.XStar.Length / c.D, q = c.Theta.Length - 2;
        using var tape = new Tape(devices.Cpu);
        var theta = new GpTheta<double>(tape.Constant(c.Theta[..1], new Shape(1, 1, 1)), tape.Constant(c.Theta[1..(1 + q)], new Shape(1, 1, q)), tape.Constant(c.Theta[^1..], new Shape(1, 1, 1)));
        var (mean, variance) = GaussianProcess.Predict(tape.Constant(c.X, new Shape(1, n, c.D)), tape.Constant(c.Y, new Shape(1, n, 1)),
            tape.Constant(c.XStar, new Shape(1, m, c.D)), c.Kernel, theta, includeNoise: true);
        TestData.AssertClose(c.Mean, mean.ToArray(), 1e-9, $"{name}: predictive mean");
        TestData.AssertClose(c.Var, variance.ToArray(), 1e-9, $"{name}: predictive variance");
    }

    [Theory]
    [MemberData(nameof(SklearnCases))]
    public void FitReachesScikitLearnsOptimumFromTheSameStart(string name)
    {
        var c = SklearnGolden.Load(name);
        double sklearn = Npy.Read(Path.Combine(Golden.Root, "gp-sklearn", name, "fit_nll.npy")).ToDouble()[0];
        using var objective = new GpObjective<double>(devices.Cpu, c.X, c.Y, 1, c.N, c.D, c.Kernel, c.Ard);
        var r = GpFit.Fit(objective, c.Theta);
        Assert.True(r.Nll[0] <= sklearn + 1e-6 * Math.Max(1, Math.Abs(sklearn)), $"{name}: GpuAD reached {r.Nll[0]:R}, scikit-learn {sklearn:R}");
        Assert.True(r.Nll[0] < c.Nll, $"{name}: the fit did not improve on the start");
    }

    [Fact]
    public void JitterRescuesOnlyTheElementThatNeedsItAndSaysHowMuch()
    {
        // Element 1 repeats a point with a negligible noise: K is singular in float64 without jitter.
        int n = 4, d = 1;
        double[] x = [0, 1, 2, 3, 0, 1, 1, 3];
        double[] y = [0.1, -0.2, 0.3, 0.0, 0.1, -0.2, -0.2, 0.0];
        double[] theta = [0, 0, Math.Log(0.1), 0, 0, -80];
        using var objective = new GpObjective<double>(devices.Cpu, x, y, 2, n, d, StationaryKernel.Rbf, ard: false);
        var r = objective.Evaluate(theta, 0, 2, gradient: true);
        Assert.Equal(0.0, r.Jitter[0]);
        Assert.InRange(r.Jitter[1], 1e-9, 1e-4);
        Assert.All(r.Gradient!, g => Assert.True(double.IsFinite(g)));

        using var strict = new GpObjective<double>(devices.Cpu, x, y, 2, n, d, StationaryKernel.Rbf, ard: false, CovarianceJitter.None);
        var e = Assert.Throws<JitterExhaustedException>(() => strict.Evaluate(theta, 0, 2, gradient: false));
        Assert.Equal(1, e.BatchIndex);
        Assert.Contains("batch element 1", e.Message);
    }

    [Fact]
    public void ASliceOfTheBatchGivesThatSlicesValuesAndGradients()
    {
        int b = 3, n = 5, d = 2;
        var x = TestData.Random(new Shape(b, n, d), 90);
        var y = TestData.Random(new Shape(b, n, 1), 91);
        var theta = TestData.Random(new Shape(b, 1, 4), 92).Select(t => 0.3 * t).ToArray();
        using var objective = new GpObjective<double>(devices.Cpu, x, y, b, n, d, StationaryKernel.Matern52, ard: true);
        var all = objective.Evaluate(theta, 0, b, gradient: true);
        var tail = objective.Evaluate(theta.AsSpan(4), 1, b, gradient: true);
        Assert.Equal(all.Nll[1..], tail.Nll);
        Assert.Equal(all.Gradient![4..], tail.Gradient!);
    }

    [Fact]
    public void BadInputsAreNamed()
    {
        double[] x = [0, 1, double.NaN, 3];
        var e = Assert.Throws<ArgumentException>(() => new GpObjective<double>(devices.Cpu, x, new double[4], 1, 4, 1, StationaryKernel.Rbf, ard: false));
        Assert.Contains("X holds NaN at batch element 0, index [2, 0]", e.Message);
        using var objective = new GpObjective<double>(devices.Cpu, [0, 1, 2, 3], new double[4], 1, 4, 1, StationaryKernel.Rbf, ard: false);
        e = Assert.Throws<ArgumentException>(() => objective.Evaluate([0, 0], 0, 1, gradient: false));
        Assert.Contains("log signal variance, log lengthscale, log noise variance", e.Message);
        e = Assert.Throws<ArgumentException>(() => objective.Evaluate([0, double.PositiveInfinity, 0], 0, 1, gradient: false));
        Assert.Contains("θ holds ∞", e.Message.Replace("Infinity", "∞"));
    }
}

/// <summary>One scikit-learn golden case of tests/golden/gp-sklearn (see tests/oracle/generate_gp.py).</summary>
public sealed record SklearnGolden(string Name, int N, int D, StationaryKernel Kernel, bool Ard, double[] X, double[] Y, double[] Theta,
    double Nll, double[] Grad, double[] K, double[] DK, double[] XStar, double[] Mean, double[] Var)
{
    private static string Root => Path.Combine(Golden.Root, "gp-sklearn");

    public static IEnumerable<string> Cases() => Directory.EnumerateDirectories(Root).Select(Path.GetFileName).Order(StringComparer.Ordinal)!;

    public static SklearnGolden Load(string name)
    {
        string folder = Path.Combine(Root, name);
        NpyArray Read(string f) => Npy.Read(Path.Combine(folder, f + ".npy"));
        var x = Read("x");
        var kernel = name.Split('-')[1] switch
        {
            "rbf" => StationaryKernel.Rbf,
            "matern12" => StationaryKernel.Matern12,
            "matern32" => StationaryKernel.Matern32,
            _ => StationaryKernel.Matern52,
        };
        return new SklearnGolden(name, x.Shape[0], x.Shape[1], kernel, name.EndsWith("-ard"), x.ToDouble(), Read("y").ToDouble(), Read("theta").ToDouble(),
            Read("nll").ToDouble()[0], Read("grad").ToDouble(), Read("k").ToDouble(), Read("dk").ToDouble(), Read("xstar").ToDouble(), Read("mean").ToDouble(), Read("var").ToDouble());
    }
}
