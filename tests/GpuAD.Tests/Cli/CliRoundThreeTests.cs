using System.IO.Compression;

namespace GpuAD.Tests.Cli;

/// <summary>
/// The promises the gp verbs, demo, .npz archives and tuning tables broke when tried as a hurried
/// user would: float32 range named by input and element, outputs all or none and never over an
/// input, checked before any work, archives read as vjp reads them, errors in the user's words.
/// </summary>
[Collection("Cli")]
public sealed class CliRoundThreeTests
{
    private static TempDir WithData()
    {
        var d = new TempDir();
        Npy.Write<double>(d["x.npy"], [0, 1, 2, 3, 4], 5, 1);
        Npy.Write<double>(d["y.npy"], [0, 1, 0, 1, 0], 5);
        Npy.Write<double>(d["theta.npy"], [0, 0, 0], 3);
        return d;
    }

    private static string[] Nll(TempDir d, string x, string y, string outDir, params string[] more) =>
        ["gp", "nll", "--x", x, "--y", y, "--kernel", "rbf", "--theta", d["theta.npy"], "--out", outDir, "--device", "cpu", .. more];

    private static string[] Fit(TempDir d, string x, string y, string outDir, params string[] more) =>
        ["gp", "fit", "--x", x, "--y", y, "--kernel", "rbf", "--out", outDir, "--device", "cpu", .. more];

    private static void AssertOneLine(ToolRun run, int code, params string[] needles)
    {
        Assert.True(run.ExitCode == code, run.ToString());
        string line = run.Stderr.TrimEnd('\n');
        Assert.DoesNotContain('\n', line);
        Assert.StartsWith("gpuad: ", line);
        foreach (var n in needles) Assert.Contains(n, line);
        Assert.DoesNotContain("Access to the path", line);
        Assert.DoesNotContain("unexpected", line);
    }

    [Fact]
    public void GpNllInFloat32RefusesATargetBeyondItsRangeNamingTheInputAndElement()
    {
        using var d = WithData();
        Npy.Write<double>(d["ybig.npy"], [0, 1, 0, 1e39, 0], 5);
        var run = ToolProcess.Run(Nll(d, d["x.npy"], d["ybig.npy"], d["out"], "--dtype", "f32"));
        AssertOneLine(run, 1, $"--y {d["ybig.npy"]}: element [3] = 1E+39 does not fit float32", "Use --dtype f64");
        Assert.False(File.Exists(d["out/nll.npy"]));
        Assert.False(File.Exists(d["out/grad_theta.npy"]));

        // The same value in X is blamed on X, not on the covariance.
        Npy.Write<double>(d["xbig.npy"], [0, 1, 1e39, 3, 4], 5, 1);
        var x = ToolProcess.Run(Nll(d, d["xbig.npy"], d["y.npy"], d["out"], "--dtype", "f32"));
        AssertOneLine(x, 1, $"--x {d["xbig.npy"]}: element [2, 0] = 1E+39 does not fit float32");
        Assert.DoesNotContain("positive-definite", x.Stderr);

        // float64 holds both.
        Assert.Equal(0, ToolProcess.Run(Nll(d, d["x.npy"], d["ybig.npy"], d["out"])).ExitCode);
    }

    [Fact]
    public void GpNllWritesAllOrNothing()
    {
        using var d = WithData();
        Assert.Equal(0, ToolProcess.Run(Nll(d, d["x.npy"], d["y.npy"], d["out"])).ExitCode);
        byte[] before = File.ReadAllBytes(d["out/nll.npy"]);
        File.Delete(d["out/grad_theta.npy"]);
        Directory.CreateDirectory(d["out/grad_theta.npy"]);
        Npy.Write<double>(d["y2.npy"], [5, 1, 0, 1, 0], 5);
        var run = ToolProcess.Run(Nll(d, d["x.npy"], d["y2.npy"], d["out"]));
        AssertOneLine(run, 2, "grad_theta.npy is a directory");
        Assert.Equal(before, File.ReadAllBytes(d["out/nll.npy"]));
        Assert.Empty(Directory.GetFiles(d["out"], "*.tmp"));
    }

    [Fact]
    public void GpFitNeverOverwritesItsStart()
    {
        using var d = WithData();
        Directory.CreateDirectory(d["out"]);
        Npy.Write<double>(d["out/theta.npy"], [0.5, 0.5, -1], 3);
        byte[] start = File.ReadAllBytes(d["out/theta.npy"]);
        var run = ToolProcess.Run(Fit(d, d["x.npy"], d["y.npy"], d["out"], "--theta0", d["out/theta.npy"]));
        AssertOneLine(run, 2, "would overwrite the input --theta0");
        Assert.Equal(start, File.ReadAllBytes(d["out/theta.npy"]));
        Assert.False(File.Exists(d["out/nll.npy"]));
        // Through another spelling of the same path too.
        var dotted = ToolProcess.Run(Fit(d, d["x.npy"], d["y.npy"], d["out/../out"], "--theta0", d["out/./theta.npy"]));
        AssertOneLine(dotted, 2, "would overwrite the input --theta0");
        Assert.Equal(start, File.ReadAllBytes(d["out/theta.npy"]));
    }

    [Fact]
    public void GpFitOnZeroPointsWritesItsResultsAndNoPlot()
    {
        using var d = new TempDir();
        Npy.Write<double>(d["x0.npy"], [], 0, 1);
        Npy.Write<double>(d["y0.npy"], [], 0);
        var run = ToolProcess.Run(Fit(d, d["x0.npy"], d["y0.npy"], d["out"]));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0.0, Npy.Read(d["out/nll.npy"]).ToDouble()[0]);
        Assert.Equal([3], Npy.Read(d["out/theta.npy"]).Shape);
        Assert.False(File.Exists(d["out/fit.png"]));
    }

    [Fact]
    public void GpFitChecksThePlotBeforeTheFit()
    {
        using var d = WithData();
        Directory.CreateDirectory(d["out/fit.png"]);
        var run = ToolProcess.Run(Fit(d, d["x.npy"], d["y.npy"], d["out"]));
        AssertOneLine(run, 2, "fit.png is a directory");
        Assert.DoesNotContain("signal variance", run.Stdout);
        Assert.False(File.Exists(d["out/theta.npy"]));
        Assert.False(File.Exists(d["out/nll.npy"]));
    }

    [Fact]
    public void GpFitRefusesAStartOutsideTheBoundsNamingTheElement()
    {
        using var d = WithData();
        Npy.Write<double>(d["far.npy"], [0, 20, 0], 3);
        var run = ToolProcess.Run(Fit(d, d["x.npy"], d["y.npy"], d["out"], "--theta0", d["far.npy"]));
        AssertOneLine(run, 1, $"--theta0 {d["far.npy"]}: element [1] = 20 lies outside the bounds");
    }

    [Fact]
    public void DemoChecksJsonAndPlotBeforeTheFit()
    {
        if (!OperatingSystem.IsLinux()) return;
        using var d = new TempDir();
        // /proc exists but takes no new files: found out before the fit, naming the user's path.
        var json = ToolProcess.Run("demo", "--device", "cpu", "--n", "16", "--batch", "1", "--json", "/proc/gpuad-run.json", "--plot", d["fit.png"]);
        AssertOneLine(json, 2, "/proc/gpuad-run.json cannot be written");
        Assert.DoesNotContain(".tmp", json.Stderr);
        Assert.DoesNotContain("GpuAD demo", json.Stdout);

        Directory.CreateDirectory(d["plotdir"]);
        var plot = ToolProcess.Run("demo", "--device", "cpu", "--n", "16", "--batch", "1", "--plot", d["plotdir"]);
        AssertOneLine(plot, 2, $"--plot {d["plotdir"]}: is a directory");
        Assert.DoesNotContain("GpuAD demo", plot.Stdout);
    }

    [Fact]
    public void ADirectoryWhereAFileIsExpectedIsSaidSo()
    {
        using var d = WithData();
        Directory.CreateDirectory(d["dir"]);
        AssertOneLine(ToolProcess.Run(Nll(d, d["dir"], d["y.npy"], d["out"])), 1, $"--x {d["dir"]}: is a directory");
        var tuning = ToolProcess.RunWith(d.Path, new Dictionary<string, string?> { ["GPUAD_TUNING"] = d["dir"] },
            "gp", "nll", "--x", d["x.npy"], "--y", d["y.npy"], "--kernel", "rbf", "--theta", d["theta.npy"], "--out", d["out"], "--device", "emulated-gpu");
        AssertOneLine(tuning, 1, $"GPUAD_TUNING ({d["dir"]}): is a directory");
    }

    private static void Archive(string path, params (string Name, byte[] Data)[] members)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in members)
        {
            using var s = zip.CreateEntry(name).Open();
            s.Write(data);
        }
    }

    private static byte[] NpyBytes(double[] data, params int[] shape)
    {
        var m = new MemoryStream();
        Npy.Write<double>(m, data, shape);
        return m.ToArray();
    }

    [Fact]
    public void GpReadsArchivesAsVjpDoes()
    {
        using var d = WithData();
        Assert.Equal(0, ToolProcess.Run(Nll(d, d["x.npy"], d["y.npy"], d["ref"])).ExitCode);
        byte[] expected = File.ReadAllBytes(d["ref/nll.npy"]);
        // An archive holding x and y, with a text member beside them (numpy reads the member asked for).
        Archive(d["data.npz"], ("x.npy", NpyBytes([0, 1, 2, 3, 4], 5, 1)), ("y.npy", NpyBytes([0, 1, 0, 1, 0], 5)), ("README.txt", "made by hand"u8.ToArray()));
        var run = ToolProcess.Run(Nll(d, d["data.npz"], d["data.npz"] + ":y", d["out"]));
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(expected, File.ReadAllBytes(d["out/nll.npy"]));
        Assert.DoesNotContain("Npz.Read", run.Stderr);

        // vjp reads the same archive with its text member.
        Npy.Write<double>(d["cot.npy"], [1], 1, 1);
        Archive(d["s.npz"], ("sigma.npy", NpyBytes([2], 1, 1)), ("notes.txt", "hello"u8.ToArray()));
        var vjp = ToolProcess.Run("vjp", "logdet", "--input", $"sigma={d["s.npz"]}", "--cotangent", d["cot.npy"], "--out", d["vjp"], "--device", "cpu");
        Assert.True(vjp.ExitCode == 0, vjp.ToString());

        // An empty archive is an archive with no arrays, not "not an .npy file".
        Archive(d["empty.npz"]);
        var empty = ToolProcess.Run(Nll(d, d["empty.npz"], d["y.npy"], d["out"]));
        AssertOneLine(empty, 1, "holds no arrays");
        Assert.DoesNotContain("not an .npy file", empty.Stderr);
    }

    [Fact]
    public void ParseErrorsNameTheFullCommand()
    {
        var run = ToolProcess.Run("gp", "fit", "--x", "a.npy", "--bogus");
        AssertOneLine(run, 2, "See 'gpuad gp fit --help'");
        var nll = ToolProcess.Run("gp", "nll", "--repeat", "many");
        AssertOneLine(nll, 2, "See 'gpuad gp nll --help'");
    }

    [Theory]
    [InlineData("{\"maxSplit\": 4}", "unknown field 'maxSplit'; the fields are device, measured, gemmF64")]
    [InlineData("{\"maxSplits\": \"four\"}", "maxSplits \"four\": must be an integer")]
    [InlineData("{\"maxSplits\": 2.5}", "maxSplits 2.5: must be an integer")]
    [InlineData("{\"potrfLookAhead\": 1}", "potrfLookAhead 1: must be true or false")]
    [InlineData("{\"maxSplits\": 4", "not valid JSON at line 1")]
    [InlineData("[1, 2]", "the file holds a JSON array; a table is a JSON object")]
    public void TuningTableErrorsNameTheFieldTheValueAndWhatIsAllowed(string json, string expected)
    {
        using var d = new TempDir();
        File.WriteAllText(d["t.json"], json);
        var run = ToolProcess.RunWith(d.Path, new Dictionary<string, string?> { ["GPUAD_TUNING"] = d["t.json"] }, "devices", "--device", "emulated-gpu");
        Assert.Contains(expected, run.Stderr);
        foreach (var dotnet in new[] { "could not be mapped", "System.Int32", "BytePositionInLine", "LineNumber", "Path: $" })
            Assert.DoesNotContain(dotnet, run.Stderr);
    }
}
