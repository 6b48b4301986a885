using System.Numerics.Tensors;
using System.Text.Json;

namespace GpuAD.Tests.Graph;

/// <summary>
/// <see cref="GpRegressor{T}"/> against scikit-learn's <c>GaussianProcessRegressor</c>
/// (tests/golden/gp-regressor, written by tests/oracle/generate_gp_regressor.py): the restarts'
/// draws, the log marginal likelihood and its gradient at the start, predictions (mean, std,
/// covariance) at scikit-learn's fitted θ, normalize_y on and off, batches, and fits from the same
/// start and restarts reaching scikit-learn's optimum (the CO₂ gallery model among them).
/// </summary>
[Collection("Graph")]
public sealed class GpRegressorTests(DeviceFixture devices)
{
    public static TheoryData<string> SmallCases() => ["seasonal", "seasonal-norm", "diabetes", "diabetes-raw"];

    [Theory]
    [InlineData("seasonal-norm")]
    [InlineData("diabetes")]
    public void RestartsAreTheStartsScikitLearnDraws(string name)
    {
        var c = RegressorGolden.Load(name);
        var bounds = Kernel.Parse(c.Expression).Bounds;
        var rng = new NumpyRandomState(c.RandomState);
        var draws = Enumerable.Range(0, c.Restarts).SelectMany(_ => rng.Uniform(bounds.Select(b => b.Lower).ToArray(), bounds.Select(b => b.Upper).ToArray())).ToArray();
        Assert.Equal(c.Draws, draws);
    }

    [Theory]
    [MemberData(nameof(SmallCases))]
    public void LogMarginalLikelihoodAndGradientMatchScikitLearnAtTheStart(string name)
    {
        var c = RegressorGolden.Load(name);
        using var gp = new GpRegressor<double>(devices.Cpu, Kernel.Parse(c.Expression), new GpRegressorOptions(NormalizeY: c.NormalizeY, Optimize: false));
        var fit = gp.Fit(c.X, c.Y, c.N, c.D);
        Assert.Equal(c.Theta0, fit.Theta);
        Assert.Equal(c.Lml0, fit.LogMarginalLikelihood[0], 1e-9 * Math.Abs(c.Lml0));
        var (lml, grad) = gp.LogMarginalLikelihood(c.Theta0, gradient: true);
        Assert.Equal(c.Lml0, lml[0], 1e-9 * Math.Abs(c.Lml0));
        TestData.AssertClose(c.Grad0, grad!, 1e-8, $"{name}: ∂LML/∂θ");
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void TheGpuFamilyGivesTheSameLikelihoodGradientAndPrediction()
    {
        // The GPU-tuned kernels on the emulated GPU, on the smallest case (n = 60).
        var c = RegressorGolden.Load("seasonal");
        using var gp = new GpRegressor<double>(devices.GpuEmulated, Kernel.Parse(c.Expression), new GpRegressorOptions(Optimize: false));
        gp.Fit(c.X, c.Y, c.N, c.D);
        var (lml, grad) = gp.LogMarginalLikelihood(c.Theta0, gradient: true);
        Assert.Equal(c.Lml0, lml[0], 1e-9 * Math.Abs(c.Lml0));
        TestData.AssertClose(c.Grad0, grad!, 1e-8, "GPU family: ∂LML/∂θ");
        gp.Fit(c.X, c.Y, 1, c.N, c.D, c.Theta);
        var p = gp.Predict(c.XStar, c.M);
        TestData.AssertClose(c.Mean, p.Mean, 1e-9, "GPU family: mean");
        TestData.AssertClose(c.Std, p.Std, 1e-9, "GPU family: std");
    }

    [Theory]
    [MemberData(nameof(SmallCases))]
    public void PredictionsAtScikitLearnsThetaMatch(string name)
    {
        var c = RegressorGolden.Load(name);
        var kernel = Kernel.Parse(c.Expression).WithTheta(c.Theta);
        using var gp = new GpRegressor<double>(devices.Cpu, kernel, new GpRegressorOptions(NormalizeY: c.NormalizeY, Optimize: false));
        var fit = gp.Fit(c.X, c.Y, c.N, c.D);
        Assert.Equal(c.Lml, fit.LogMarginalLikelihood[0], 1e-9 * Math.Abs(c.Lml));
        var p = gp.Predict(c.XStar, c.M, covariance: c.Cov is not null);
        TestData.AssertClose(c.Mean, p.Mean, 1e-9, $"{name}: mean");
        TestData.AssertClose(c.Std, p.Std, 1e-9, $"{name}: std");
        if (c.Cov is not null) TestData.AssertClose(c.Cov, p.Covariance!, 1e-9, $"{name}: covariance");
    }

    [Fact]
    public void BatchedProblemsAreFittedAndPredictedEachWithItsOwnNormalization()
    {
        // Element 1 is 3·y + 1: normalized it is element 0's data, so its LML is the same and its
        // predictions are 3·μ + 1 and 3·σ; element 0 is scikit-learn's.
        var c = RegressorGolden.Load("seasonal-norm");
        var kernel = Kernel.Parse(c.Expression).WithTheta(c.Theta);
        using var gp = new GpRegressor<double>(devices.Cpu, kernel, new GpRegressorOptions(NormalizeY: true, Optimize: false));
        var fit = gp.Fit(c.X.Concat(c.X).ToArray(), c.Y.Concat(c.Y.Select(v => 3 * v + 1)).ToArray(), 2, c.N, c.D);
        Assert.Equal(c.Lml, fit.LogMarginalLikelihood[0], 1e-9 * Math.Abs(c.Lml));
        Assert.Equal(c.Lml, fit.LogMarginalLikelihood[1], 1e-9 * Math.Abs(c.Lml));
        var p = gp.Predict(c.XStar, c.M);
        TestData.AssertClose(c.Mean.Concat(c.Mean.Select(v => 3 * v + 1)).ToArray(), p.Mean, 1e-9, "batched mean");
        TestData.AssertClose(c.Std.Concat(c.Std.Select(v => 3 * v)).ToArray(), p.Std, 1e-9, "batched std");
        // The tensor overloads agree with the span ones.
        var (mean, std) = gp.Predict(Tensor.Create(c.XStar, [c.M, c.D]).AsReadOnlyTensorSpan());
        Assert.Equal([2, c.M], mean.Lengths.ToArray());
        Assert.Equal(p.Mean, mean.ToArray());
        Assert.Equal(p.Std, std.ToArray());
    }

    [Theory]
    [InlineData("seasonal")]
    [InlineData("diabetes")]
    public void FitFromTheSameStartAndRestartsReachesScikitLearnsOptimum(string name) => FitReachesOptimum(name);

    // Restarts from far in the bounds take tens of seconds on the CPU.
    [Theory]
    [InlineData("seasonal-norm")]
    [InlineData("diabetes-raw")]
    [Trait("Tier", "Slow")]
    public void FitReachesScikitLearnsOptimumForTheOtherCases(string name) => FitReachesOptimum(name);

    private void FitReachesOptimum(string name)
    {
        var c = RegressorGolden.Load(name);
        var prior = Kernel.Parse(c.Expression);
        using var gp = new GpRegressor<double>(devices.Cpu, prior, new GpRegressorOptions(NormalizeY: c.NormalizeY, Restarts: c.Restarts, RandomState: c.RandomState));
        var fit = gp.Fit(c.X, c.Y, c.N, c.D);
        AssertOptimum(c, prior, fit);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void Co2GalleryModelReachesScikitLearnsOptimum()
    {
        var c = RegressorGolden.Load("co2");
        var prior = Kernel.Parse(c.Expression);
        using var gp = new GpRegressor<double>(devices.Cpu, prior, new GpRegressorOptions(NormalizeY: c.NormalizeY));
        var fit = gp.Fit(c.X, c.Y, c.N, c.D);
        AssertOptimum(c, prior, fit);
        // The fixed periodicity stays 1: θ has 11 entries and the kernel prints as scikit-learn's.
        Assert.Equal(11, fit.Theta.Length);
        Assert.Contains("periodicity=1)", fit.Kernels[0].ToString());
    }

    [Theory]
    [InlineData("seasonal")]
    [InlineData("co2")]
    public void KernelExpressionsAreScikitLearnsRepr(string name)
    {
        // The start at scikit-learn's fitted θ prints as scikit-learn printed kernel_, and that
        // printout reads back to itself (it drops "fixed": the co2 periodicity is free there).
        var c = RegressorGolden.Load(name);
        Assert.Equal(c.Fitted, Kernel.Parse(c.Expression).WithTheta(c.Theta).ToString());
        Assert.Equal(c.Fitted, Kernel.Parse(c.Fitted).ToString());
    }

    [Theory]
    [InlineData(StationaryKernel.Matern52, true)]
    [InlineData(StationaryKernel.Rbf, false)]
    public void ShorthandKernelsAreTheStationaryModelInItsThetaOrder(StationaryKernel function, bool ard)
    {
        // The CLI's shorthands as expressions (gp predict): the same NLL and gradient as GpObjective's model.
        var c = SklearnGolden.Load(ard ? "diabetes-matern52-ard" : "diabetes-rbf-iso");
        var kernel = KernelParser.Shorthand(function, ard ? c.D : null);
        Assert.Equal(c.Theta.Length, kernel.ThetaLength);
        var viaKernel = GaussianProcess.Evaluate<double>(devices.Cpu, kernel, c.X, c.Y, 1, c.N, c.D, c.Theta);
        Assert.Equal(c.Nll, viaKernel.Nll[0], 1e-9 * Math.Abs(c.Nll));
        TestData.AssertClose(c.Grad, viaKernel.Gradient!, 1e-9, $"{function}: ∂NLL/∂θ");
    }

    [Fact]
    public void BadInputIsRefusedNamingTheElement()
    {
        using var gp = new GpRegressor<double>(devices.Cpu, Kernel.Parse("1.0**2 * RBF(length_scale=1.0) + WhiteKernel(noise_level=1.0)"));
        var e = Assert.Throws<ArgumentException>(() => gp.Fit([0, 1, double.NaN, 3], [1, 2, 3, 4], 4, 1));
        Assert.Contains("X holds NaN at batch element 0, index [2, 0]", e.Message);
        Assert.Throws<InvalidOperationException>(() => gp.Predict([0.5], 1));
        Assert.Throws<ArgumentException>(() => new GpRegressor<double>(devices.Cpu, Kernel.Parse("rbf"), new GpRegressorOptions(Alpha: -1)));
    }

    private static void AssertOptimum(RegressorGolden c, Kernel prior, GpRegressorFit fit)
    {
        double ours = fit.LogMarginalLikelihood[0];
        Assert.True(ours >= c.Lml - 1e-4, $"{c.Name}: GpuAD reached LML {ours:R}, scikit-learn {c.Lml:R}");
        var bounds = prior.Bounds;
        for (int i = 0; i < bounds.Length; i++)
            Assert.InRange(fit.Theta[i], bounds[i].Lower, bounds[i].Upper);
        Assert.Equal(fit.Theta, fit.Kernels[0].Theta, (a, b) => Math.Abs(a - b) <= 1e-12 * Math.Max(1, Math.Abs(a)));
    }
}

/// <summary>One case of tests/golden/gp-regressor (see tests/oracle/generate_gp_regressor.py).</summary>
public sealed record RegressorGolden(string Name, string Expression, string Fitted, bool NormalizeY, int Restarts, uint RandomState,
    int N, int D, int M, double[] X, double[] Y, double[] XStar, double[] Theta0, double Lml0, double[] Grad0, double[] Theta, double Lml,
    double[] Mean, double[] Std, double[]? Cov, double[] Draws)
{
    public static RegressorGolden Load(string name)
    {
        string folder = Path.Combine(Golden.Root, "gp-regressor", name);
        NpyArray Read(string f) => Npy.Read(Path.Combine(folder, f + ".npy"));
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "meta.json")));
        var m = meta.RootElement;
        var x = Read("x");
        var xs = Read("xstar");
        return new RegressorGolden(name, m.GetProperty("kernel").GetString()!, m.GetProperty("fitted").GetString()!, m.GetProperty("normalize_y").GetBoolean(),
            m.GetProperty("restarts").GetInt32(), m.GetProperty("random_state").GetUInt32(), x.Shape[0], x.Shape[1], xs.Shape[0],
            x.ToDouble(), Read("y").ToDouble(), xs.ToDouble(), Read("theta0").ToDouble(), Read("lml0").ToDouble()[0], Read("grad0").ToDouble(),
            Read("theta").ToDouble(), Read("lml").ToDouble()[0], Read("mean").ToDouble(), Read("std").ToDouble(),
            File.Exists(Path.Combine(folder, "cov.npy")) ? Read("cov").ToDouble() : null, Read("draws").ToDouble());
    }
}
