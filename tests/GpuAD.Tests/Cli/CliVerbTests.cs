using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace GpuAD.Tests.Cli;

[CollectionDefinition("Cli")] public sealed class CliCollection : ICollectionFixture<DeviceFixture>;

/// <summary>
/// Each verb of the gpuad tool, run as a process: exit code and output. One run of each verb in
/// the fast tier; the demo's other optimizers and the bench sweep in the slow one.
/// </summary>
[Collection("Cli")]
public sealed class CliVerbTests
{
    [Fact]
    public void HelpNamesEveryVerbAndTheExitCodes()
    {
        var run = ToolProcess.Run("--help");
        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var verb in new[] { "devices", "demo", "check", "bench", "tune", "vjp", "jvp", "gp" })
            Assert.Matches(new Regex($@"^\s+{verb}\b", RegexOptions.Multiline), run.Stdout);
        Assert.Contains("Exit codes:", run.Stdout);
        Assert.Matches(new Regex(@"^\s+2\s+usage error", RegexOptions.Multiline), run.Stdout);
        Assert.Contains("Usage:\n  gpuad [command] [options]", run.Stdout.ReplaceLineEndings("\n"));
    }

    [Fact]
    public void DevicesListsTheCpuAcceleratorAndTheChoice()
    {
        var run = ToolProcess.Run("devices", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(new Regex(@"│ cpu\s+│ CPU accelerator\s+│ CPU-tuned"), run.Stdout);
        Assert.Matches(new Regex(@"│ emulated-gpu\s+│ emulated GPU \(CPU accelerator\)\s+│ GPU-tuned"), run.Stdout);
        Assert.Contains("GpuAD would use: cpu (CPU accelerator, CPU-tuned kernels): asked for by --device cpu.", run.Stdout);
        Assert.Equal("", run.Stderr);
    }

    [Fact]
    public void DemoLowersTheNegativeLogLikelihoodAndPassesItsDerivativeCheck()
    {
        var run = ToolProcess.Run("demo", "--n", "64", "--batch", "2", "--steps", "3", "--learning-rate", "0.1", "--device", "cpu",
            "--plot", Path.Combine(Path.GetTempPath(), $"gpuad-demo-test-{Environment.ProcessId}.png"));
        Assert.True(run.ExitCode == 0, run.ToString());
        var nll = Regex.Matches(run.Stdout, @"^\s+(\d+)\s+(-?\d+\.\d+)\s.*\d ms", RegexOptions.Multiline)
            .Select(m => (Step: int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture), Nll: double.Parse(m.Groups[2].Value, CultureInfo.InvariantCulture)))
            .ToArray();
        Assert.Equal([1, 2, 3], nll.Select(x => x.Step));
        for (int i = 1; i < nll.Length; i++) Assert.True(nll[i].Nll < nll[i - 1].Nll, run.ToString());
        Assert.Equal(2, Regex.Matches(run.Stdout, @"Derivative check \(float64\), \w+ θ of window 0: PASS").Count);
        Assert.DoesNotContain("FAIL", run.Stdout);
        Assert.DoesNotContain("diverged", run.Stdout);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void DemoSaysAHugeLearningRateDivergedAndStillChecksTheGradient()
    {
        var run = ToolProcess.Run("demo", "--n", "4", "--batch", "2", "--learning-rate", "1e6", "--device", "cpu",
            "--plot", Path.Combine(Path.GetTempPath(), $"gpuad-demo-test-{Environment.ProcessId}.png"));
        // Diverged is a failure a script can see: exit 1, as a divergence caught during the fit.
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("The optimization diverged", run.Stdout);
        Assert.DoesNotContain("FAIL", run.Stdout);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void DemoFitsWithBfgsByDefault()
    {
        var run = ToolProcess.Run("demo", "--n", "24", "--batch", "2", "--device", "cpu", "--dtype", "f32",
            "--plot", Path.Combine(Path.GetTempPath(), $"gpuad-demo-test-{Environment.ProcessId}.png"));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("bounded BFGS", run.Stdout);
        var total = Regex.Match(run.Stdout, @"Total NLL over the batch: (-?\d+\.\d+) at the start → (-?\d+\.\d+) after fitting");
        Assert.True(total.Success, run.ToString());
        Assert.True(double.Parse(total.Groups[2].Value, CultureInfo.InvariantCulture) < double.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture) - 1, run.ToString());
        Assert.DoesNotContain("FAIL", run.Stdout);
    }

    /// <summary>
    /// The check verb on the LogDet cases (n = 1, 7 and 70): its table, its verdict and its exit
    /// code. The ops' gradchecks are GradcheckTests; the table's blocked cases, CheckCasesTests.
    /// </summary>
    [Fact]
    public void CheckPassesTheCasesItsFilterSelects()
    {
        var run = ToolProcess.Run("check", "--filter", "logdet", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Checking 3 cases", run.Stdout);
        Assert.Matches(new Regex(@"All 3 cases pass"), run.Stdout);
        var rows = Regex.Matches(run.Stdout, @"^│ (\w+)\s+│ n = (\d+)\s.*│ pass\s+│$", RegexOptions.Multiline);
        Assert.Equal(["LogDet 1", "LogDet 7", "LogDet 70"], rows.Select(m => $"{m.Groups[1].Value} {m.Groups[2].Value}"));
        Assert.DoesNotContain("FAIL", run.Stdout);

        var none = ToolProcess.Run("check", "--filter", "frobnicate", "--device", "cpu");
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("--filter 'frobnicate' matches no op", none.Stderr);
    }

    [Fact]
    public void BenchSingleCaseWritesTheMedians()
    {
        using var dir = new TempDir();
        var run = ToolProcess.Run("bench", "--op", "cholesky", "--n", "24", "--batch", "2", "--dtype", "f32", "--repeat", "2", "--json", dir["one.json"], "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        using var doc = JsonDocument.Parse(File.ReadAllText(dir["one.json"]));
        var r = doc.RootElement.GetProperty("result");
        Assert.Equal("cholesky", r.GetProperty("op").GetString());
        Assert.Equal(24, r.GetProperty("n").GetInt32());
        Assert.Equal(2, r.GetProperty("batch").GetInt32());
        Assert.Equal("f32", r.GetProperty("dtype").GetString());
        double forward = r.GetProperty("forward_ms").GetDouble(), backward = r.GetProperty("backward_ms").GetDouble();
        Assert.True(forward > 0 && backward > 0, run.ToString());
        Assert.Contains($"forward_ms {forward.ToString("F4", CultureInfo.InvariantCulture)}", run.Stdout);
        // The pool's peak during the backward pass holds at least the inputs Σ and L̄ and the gradient.
        long block = GpuAD.BufferPool.SizeClass(2 * 24 * 24 * sizeof(float));
        Assert.InRange(r.GetProperty("peak_bytes").GetInt64(), 3 * block, 64 * block);
        Assert.Contains(r.GetProperty("path").GetString(), new[] { "Blocked", "Whole" });
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void BenchSweepWritesMarkdownJsonAndChart()
    {
        using var dir = new TempDir();
        var run = ToolProcess.Run("bench", "--ops", "matmul,a-xinv-b", "--sizes", "8,16", "--repeat", "1", "--out", dir.Path,
            "--python", dir["no-python-here"], "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"PyTorch reference not run: {dir["no-python-here"]} does not import torch", run.Stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(dir["bench.json"]));
        var results = doc.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["matmul 8", "matmul 16", "a-xinv-b 8", "a-xinv-b 16"],
            results.Select(r => $"{r.GetProperty("op").GetString()} {r.GetProperty("n").GetInt32()}"));
        Assert.All(results, r => Assert.True(r.GetProperty("forward_gflops").GetDouble() > 0));

        var markdown = File.ReadAllLines(dir["bench.md"]);
        Assert.Equal(4, markdown.Count(l => Regex.IsMatch(l, @"^\| (matmul|a-xinv-b) \| (8|16) \|")));

        var png = File.ReadAllBytes(dir["bench.png"]);
        Assert.True(png.Length > 1000);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
    }
}
