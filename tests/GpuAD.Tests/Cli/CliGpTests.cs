using System.Globalization;
using GpuAD.Tests.Graph;

namespace GpuAD.Tests.Cli;

/// <summary>
/// <c>gpuad gp nll</c> and <c>gpuad gp fit</c> as a user runs them: against scikit-learn's values,
/// gradients and optimum on real data (tests/golden/gp-sklearn), and their bad-input errors.
/// </summary>
[Collection("Cli")]
public sealed class CliGpTests
{
    private static string Case(string name, string file) => Path.Combine(Golden.Root, "gp-sklearn", name, file + ".npy");

    private static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"gpuad-gp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    [Theory]
    [InlineData("diabetes-rbf-iso", "rbf", false)]
    public void NllAndGradientMatchScikitLearn(string name, string kernel, bool ard) => NllAndGradient(name, kernel, ard);

    [Theory]
    [InlineData("diabetes-matern32-ard", "matern32", true)]
    [InlineData("co2-matern52-iso", "matern52", false)]
    [Trait("Tier", "Slow")]
    public void NllAndGradientMatchScikitLearnForTheOtherKernels(string name, string kernel, bool ard) => NllAndGradient(name, kernel, ard);

    private static void NllAndGradient(string name, string kernel, bool ard)
    {
        string outDir = TempDir();
        var args = new List<string> { "gp", "nll", "--x", Case(name, "x"), "--y", Case(name, "y"), "--kernel", kernel, "--theta", Case(name, "theta"), "--out", outDir, "--device", "cpu" };
        if (ard) args.Add("--ard");
        var run = ToolProcess.Run(args.ToArray());
        Assert.True(run.ExitCode == 0, run.ToString());
        var c = SklearnGolden.Load(name);
        var nll = Npy.Read(Path.Combine(outDir, "nll.npy"));
        Assert.Empty(nll.Shape);
        Assert.True(Math.Abs(nll.ToDouble()[0] - c.Nll) <= 1e-9 * Math.Abs(c.Nll), $"{nll.ToDouble()[0]:R} vs {c.Nll:R}");
        var grad = Npy.Read(Path.Combine(outDir, "grad_theta.npy"));
        Assert.Equal([c.Theta.Length], grad.Shape);
        Assert.True(TestData.RelErr(c.Grad, grad.ToDouble()) <= 1e-9, $"gradient error {TestData.RelErr(c.Grad, grad.ToDouble()):E2}");
    }

    [Fact]
    public void NllRefusesAProblemLargerThanTheDeviceNamingBothNumbers()
    {
        // n = 400,000 in float64: K alone is 1.28e12 bytes, beyond any machine this runs on; refused before allocating.
        const int n = 400_000;
        string dir = TempDir();
        string x = Path.Combine(dir, "x.npy"), y = Path.Combine(dir, "y.npy"), theta = Path.Combine(dir, "theta.npy");
        using (var f = File.Create(x)) Npy.Write<double>(f, Enumerable.Range(0, n).Select(i => (double)i).ToArray(), [n, 1]);
        using (var f = File.Create(y)) Npy.Write<double>(f, new double[n], [n]);
        using (var f = File.Create(theta)) Npy.Write<double>(f, new double[3], [3]);
        var run = ToolProcess.Run("gp", "nll", "--x", x, "--y", y, "--kernel", "rbf", "--theta", theta, "--out", Path.Combine(dir, "out"), "--device", "cpu");
        Assert.True(run.ExitCode != 0, run.ToString());
        using var device = Device.CreateCpu(KernelFamily.CpuTuned);
        string need = GpObjective<double>.DeviceBytes(device, 1, n, 1, ard: false).ToString("N0", CultureInfo.InvariantCulture);
        Assert.Contains($"gp nll: 1 problem(s) of n = 400000 points (float64) need {need} bytes of device memory (one n×n matrix each), but ", run.ToString());
        Assert.Matches(@"has [0-9,]+ bytes\.", run.ToString());
        Assert.False(File.Exists(Path.Combine(dir, "out", "nll.npy")));
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void FitReachesScikitLearnsOptimumAndPlots()
    {
        const string name = "co2-matern52-iso";
        string outDir = TempDir();
        var run = ToolProcess.Run("gp", "fit", "--x", Case(name, "x"), "--y", Case(name, "y"), "--kernel", "matern52", "--theta0", Case(name, "theta"), "--out", outDir, "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        var c = SklearnGolden.Load(name);
        double sklearn = Npy.Read(Case(name, "fit_nll")).ToDouble()[0];
        double ours = Npy.Read(Path.Combine(outDir, "nll.npy")).ToDouble()[0];
        Assert.True(ours <= sklearn + 1e-7 * Math.Max(1, Math.Abs(sklearn)), $"GpuAD {ours:R} vs scikit-learn {sklearn:R}");
        Assert.Equal([c.Theta.Length], Npy.Read(Path.Combine(outDir, "theta.npy")).Shape);
        Assert.True(new FileInfo(Path.Combine(outDir, "fit.png")).Length > 1000);
        Assert.Contains("signal variance", run.Stdout);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void BadInputsGetOneClearLine()
    {
        string dir = TempDir();
        string P(string f) => Path.Combine(dir, f);
        Npy.Write<double>(P("x.npy"), [0, 1, 2, 3, 4], 5, 1);
        Npy.Write<double>(P("y4.npy"), [0, 1, 2, 3], 4);
        Npy.Write<double>(P("y.npy"), [0, 1, 0, 1, 0], 5);
        Npy.Write<double>(P("xnan.npy"), [0, 1, double.NaN, 3, 4], 5, 1);
        Npy.Write<double>(P("theta2.npy"), [0, 0], 2);
        Npy.Write<double>(P("theta.npy"), [0, 0, 0], 3);
        Npy.Write<double>(P("thetainf.npy"), [0, double.PositiveInfinity, 0], 3);
        var cases = new (string[] Args, int Code, string Needle)[]
        {
            (["--x", P("x.npy"), "--y", P("y4.npy"), "--theta", P("theta.npy")], 1, "X has 5 points but y has 4"),
            (["--x", P("xnan.npy"), "--y", P("y.npy"), "--theta", P("theta.npy")], 1, "element [0, 2, 0] is NaN"),
            (["--x", P("x.npy"), "--y", P("y.npy"), "--theta", P("theta2.npy")], 1, "takes 3 values, in this order: log signal variance, log lengthscale, log noise variance"),
            (["--x", P("x.npy"), "--y", P("y.npy"), "--theta", P("thetainf.npy")], 1, "is Infinity"),
            (["--x", P("x.npy"), "--y", P("y.npy"), "--theta", P("theta.npy"), "--kernel", "cosine"], 2, "--kernel 'cosine'"),
        };
        foreach (var (args, code, needle) in cases)
        {
            var all = new List<string> { "gp", "nll", "--out", P("out"), "--device", "cpu" };
            all.AddRange(args);
            if (!args.Contains("--kernel")) all.AddRange(["--kernel", "rbf"]);
            var run = ToolProcess.Run(all.ToArray());
            Assert.True(run.ExitCode == code, run.ToString());
            Assert.Contains(needle, run.Stderr);
            Assert.Single(run.Stderr.Trim().Split('\n'));
        }
    }
}
