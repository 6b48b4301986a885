using System.Globalization;
using GpuAD.Tests.Graph;

namespace GpuAD.Tests.Cli;

/// <summary>
/// <c>gpuad gp</c> with a scikit-learn kernel expression and <c>gpuad gp predict</c>, against
/// scikit-learn (tests/golden/gp-regressor), a malformed expression, and <c>gpuad demo --model co2</c>.
/// </summary>
[Collection("Cli")]
public sealed class CliGpRegressorTests
{
    private static string Case(string name, string file) => Path.Combine(Golden.Root, "gp-regressor", name, file + ".npy");

    [Fact]
    public void PredictAtScikitLearnsThetaWritesItsMeanAndStd()
    {
        var c = RegressorGolden.Load("seasonal-norm");
        using var dir = new TempDir();
        var run = ToolProcess.Run("gp", "predict", "--x", Case(c.Name, "x"), "--y", Case(c.Name, "y"), "--kernel", c.Expression, "--normalize-y",
            "--theta", Case(c.Name, "theta"), "--x-star", Case(c.Name, "xstar"), "--out", dir.Path, "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        var mean = Npy.Read(dir["mean.npy"]);
        Assert.Equal([c.M], mean.Shape);
        TestData.AssertClose(c.Mean, mean.ToDouble(), 1e-9, "mean.npy");
        TestData.AssertClose(c.Std, Npy.Read(dir["std.npy"]).ToDouble(), 1e-9, "std.npy");
    }

    [Fact]
    public void NllWithAnExpressionIsMinusScikitLearnsLogMarginalLikelihood()
    {
        var c = RegressorGolden.Load("seasonal-norm");
        using var dir = new TempDir();
        var run = ToolProcess.Run("gp", "nll", "--x", Case(c.Name, "x"), "--y", Case(c.Name, "y"), "--kernel", c.Expression, "--normalize-y",
            "--theta", Case(c.Name, "theta0"), "--out", dir.Path, "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(-c.Lml0, Npy.Read(dir["nll.npy"]).ToDouble()[0], 1e-9 * Math.Abs(c.Lml0));
        TestData.AssertClose(c.Grad0.Select(g => -g).ToArray(), Npy.Read(dir["grad_theta.npy"]).ToDouble(), 1e-8, "grad_theta.npy");
    }

    [Fact]
    public void FitWithAnExpressionReachesScikitLearnsOptimum()
    {
        var c = RegressorGolden.Load("seasonal");
        using var dir = new TempDir();
        var run = ToolProcess.Run("gp", "fit", "--x", Case(c.Name, "x"), "--y", Case(c.Name, "y"), "--kernel", c.Expression, "--out", dir.Path, "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        double nll = Npy.Read(dir["nll.npy"]).ToDouble()[0];
        Assert.True(-nll >= c.Lml - 1e-4, $"GpuAD LML {-nll:R}, scikit-learn {c.Lml:R}");
        Assert.Equal([c.Theta.Length], Npy.Read(dir["theta.npy"]).Shape);
        Assert.True(File.Exists(dir["fit.png"]), run.ToString());
    }

    [Fact]
    public void AMalformedExpressionIsOneLinePointingAtTheColumn()
    {
        using var dir = new TempDir();
        var run = ToolProcess.Run("gp", "predict", "--x", Case("seasonal", "x"), "--y", Case("seasonal", "y"), "--kernel", "1.0**2 * RBF(length_scale=) + WhiteKernel()",
            "--x-star", Case("seasonal", "xstar"), "--out", dir["out"], "--device", "cpu");
        Assert.True(run.ExitCode == 2, run.ToString());
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr: {run}");
        Assert.Contains("column 27", lines[0]);
        Assert.False(Directory.Exists(dir["out"]) && Directory.EnumerateFiles(dir["out"]).Any(), "nothing is written on failure");
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void DemoCo2FitsTheGalleryModelAndPlotsTheForecast()
    {
        var c = RegressorGolden.Load("co2");
        using var dir = new TempDir();
        var run = ToolProcess.RunWith(Path.GetTempPath(), null, TimeSpan.FromSeconds(600), "demo", "--model", "co2", "--plot", dir["co2.png"], "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.True(new FileInfo(dir["co2.png"]).Length > 10_000, run.ToString());
        var line = run.Stdout.Split('\n').Single(l => l.StartsWith("log marginal likelihood "));
        double lml = double.Parse(line.Split(' ')[3], CultureInfo.InvariantCulture);
        Assert.True(lml >= c.Lml - 1e-3, $"GpuAD LML {lml} (printed to 4 decimals), scikit-learn {c.Lml:R}");
    }
}
