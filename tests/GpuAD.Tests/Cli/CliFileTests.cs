using GpuAD.Kernels;

namespace GpuAD.Tests.Cli;

/// <summary>
/// The files of <c>gpuad vjp</c>/<c>jvp</c>: an output never replaces an input, unusable output
/// paths are refused before any work, outputs are all or nothing, and inputs are read from pipes,
/// Fortran-order files and .npz archives.
/// </summary>
[Collection("Cli")]
[Trait("Tier", "Slow")]
public sealed class CliFileTests
{
    private static string Fixture(string name) => Path.Combine(Golden.Root, "npy", name);

    private static string[] VjpCholesky(TempDir d, string sigma, string outDir, params string[] extra) =>
        ["vjp", "cholesky", "--input", $"sigma={sigma}", "--cotangent", d["g.npy"], "--out", outDir, "--device", "cpu", .. extra];

    private static TempDir WithInputs()
    {
        var d = new TempDir();
        Npy.Write<double>(d["s.npy"], TestData.Spd(3, 4, 1), 3, 4, 4);
        Npy.Write<double>(d["g.npy"], TestData.Random(new Shape(3, 4, 4), 2), 3, 4, 4);
        return d;
    }

    private static void AssertUsageError(ToolRun run, params string[] fragments)
    {
        Assert.True(run.ExitCode == 2, run.ToString());
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"one line on stderr: {run}");
        foreach (var f in fragments) Assert.Contains(f, lines[0]);
        Assert.DoesNotContain("Exception", run.Stderr);
    }

    /// <summary>
    /// The reported case: L = out/y.npy as T of a triangular solve into the same --out once
    /// replaced L silently. Also through a symbolic link and a roundabout spelling of the path.
    /// </summary>
    [Fact]
    public void AnOutputNeverOverwritesAnInput()
    {
        using var d = WithInputs();
        var first = ToolProcess.Run(VjpCholesky(d, d["s.npy"], d["out"]));
        Assert.True(first.ExitCode == 0, first.ToString());
        byte[] l = File.ReadAllBytes(d["out/y.npy"]);

        string[] Solve(string t) =>
            ["vjp", "triangular-solve", "--input", $"t={t}", "--input", $"rhs={d["g.npy"]}", "--cotangent", d["g.npy"], "--out", d["out"], "--device", "cpu"];
        AssertUsageError(ToolProcess.Run(Solve(d["out/y.npy"])), "--out", "would overwrite the input --input t (");
        AssertUsageError(ToolProcess.Run(Solve(Path.Combine(d.Path, "out", "..", "out", ".", "y.npy"))), "would overwrite the input --input t (");
        File.CreateSymbolicLink(d["link.npy"], d["out/y.npy"]);
        AssertUsageError(ToolProcess.Run(Solve(d["link.npy"])), "would overwrite the input --input t (");
        Directory.CreateSymbolicLink(d["alias"], d["out"]);
        AssertUsageError(ToolProcess.Run(
            ["vjp", "triangular-solve", "--input", $"t={d["out/y.npy"]}", "--input", $"rhs={d["g.npy"]}", "--cotangent", d["g.npy"], "--out", d["alias"], "--device", "cpu"]),
            "would overwrite the input --input t (");
        // The cotangent is an input too.
        AssertUsageError(ToolProcess.Run(
            ["vjp", "cholesky", "--input", $"sigma={d["s.npy"]}", "--cotangent", d["out/grad_sigma.npy"], "--out", d["out"], "--device", "cpu"]),
            "would overwrite the input --cotangent (");
        Assert.Equal(l, File.ReadAllBytes(d["out/y.npy"]));

        // An output may replace an earlier output that is not an input.
        var again = ToolProcess.Run(VjpCholesky(d, d["s.npy"], d["out"]));
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Equal(l, File.ReadAllBytes(d["out/y.npy"]));
    }

    public sealed record UnusableOut(string Name, Func<TempDir, string> Out, string[] Expected)
    {
        public override string ToString() => Name;
    }

    private static readonly UnusableOut[] OutCases =
    [
        new("empty", d => "", ["--out is empty"]),
        new("an existing file", d => d["g.npy"], ["--out", "g.npy is unusable: it is a file, not a directory"]),
        new("below a file", d => d["g.npy/sub"], ["--out", "is unusable", "g.npy is a file, not a directory"]),
        new("in /proc", d => "/proc/gpuad-out", ["--out /proc/gpuad-out is unusable: cannot create the directory"]),
        new("an output path that is a directory", d => { Directory.CreateDirectory(d["out/grad_sigma.npy"]); return d["out"]; },
            ["--out", "grad_sigma.npy is a directory"]),
    ];

    public static TheoryData<UnusableOut> OutData() => new(OutCases);

    /// <summary>An unusable --out is refused with the reason, before any work; nothing is written.</summary>
    [Theory]
    [MemberData(nameof(OutData))]
    public void UnusableOutIsRefusedFirst(UnusableOut c)
    {
        if (c.Name == "in /proc" && !OperatingSystem.IsLinux()) return;
        using var d = WithInputs();
        string outDir = c.Out(d);
        // The input is not positive-definite: had the command run, it would fail differently.
        Npy.Write<double>(d["bad.npy"], new double[3 * 16], 3, 4, 4);
        AssertUsageError(ToolProcess.Run(VjpCholesky(d, d["bad.npy"], outDir)), c.Expected);
        Assert.False(File.Exists(d["out/y.npy"]));
    }

    /// <summary>A failing run leaves earlier outputs as they were and no temporary files.</summary>
    [Fact]
    public void OutputsAreWrittenAllOrNothing()
    {
        using var d = WithInputs();
        Assert.Equal(0, ToolProcess.Run(VjpCholesky(d, d["s.npy"], d["out"])).ExitCode);
        var before = Directory.GetFiles(d["out"]).ToDictionary(f => f, File.ReadAllBytes);

        Npy.Write<double>(d["bad.npy"], new double[3 * 16], 3, 4, 4);
        var failed = ToolProcess.Run(VjpCholesky(d, d["bad.npy"], d["out"]));
        Assert.True(failed.ExitCode == 1, failed.ToString());
        Assert.Contains("not positive-definite", failed.Stderr);
        Assert.Equal(before.Keys.Order(), Directory.GetFiles(d["out"]).Order());
        foreach (var (file, bytes) in before) Assert.Equal(bytes, File.ReadAllBytes(file));

        // A directory the run creates is removed again when the run fails.
        Assert.Equal(1, ToolProcess.Run(VjpCholesky(d, d["bad.npy"], d["new/deeper"])).ExitCode);
        Assert.False(Directory.Exists(d["new"]));
    }

    /// <summary>
    /// A write that fails half way (here the file-size limit, as a full disk would) once left a
    /// truncated y.npy: now earlier outputs stay as they were and no partial file is left.
    /// </summary>
    [Fact]
    public void AFailedWriteLeavesNoPartialFile()
    {
        if (OperatingSystem.IsWindows()) return;
        using var d = new TempDir();
        Npy.Write<double>(d["s.npy"], TestData.Spd(3, 8, 1), 3, 8, 8);
        Npy.Write<double>(d["g.npy"], TestData.Random(new Shape(3, 8, 8), 2), 3, 8, 8);
        File.WriteAllText(d["y.npy"], "an earlier output");
        // 1,664-byte outputs against a 1,024-byte limit; SIGXFSZ ignored, so the write fails with
        // EFBIG. (The runtime's W^X double mapping needs a file of its own: off.)
        var run = ToolProcess.RunBash(d.Path,
            "trap '' XFSZ; ulimit -f 1; export DOTNET_EnableWriteXorExecute=0; gpuad vjp cholesky --input sigma=s.npy --cotangent g.npy --out . --device cpu");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("cannot write", run.Stderr);
        Assert.Contains("no output was written or replaced", run.Stderr);
        Assert.Equal("an earlier output", File.ReadAllText(d["y.npy"]));
        Assert.Equal(["g.npy", "s.npy", "y.npy"], Directory.GetFiles(d.Path).Select(Path.GetFileName).Order());
    }

    /// <summary>--input sigma=&lt;(cat S.npy) once failed with "Stream does not support seeking".</summary>
    [Fact]
    public void ReadsInputsFromPipes()
    {
        if (OperatingSystem.IsWindows()) return;
        using var d = WithInputs();
        var run = ToolProcess.RunBash(d.Path,
            "gpuad vjp cholesky --input sigma=<(cat s.npy) --cotangent <(cat g.npy) --out piped --device cpu && " +
            "gpuad vjp cholesky --input sigma=s.npy --cotangent g.npy --out direct --device cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        foreach (var name in new[] { "y.npy", "grad_sigma.npy" })
            Assert.Equal(File.ReadAllBytes(d[$"direct/{name}"]), File.ReadAllBytes(d[$"piped/{name}"]));
    }

    /// <summary>
    /// A PyTorch golden case's Σ and cotangent saved by numpy in Fortran order, and the same
    /// arrays in an .npz archive: the tool's gradient agrees with PyTorch's to 1e-10.
    /// </summary>
    [Fact]
    public void FortranOrderAndNpzInputsAgreeWithPyTorch()
    {
        var golden = Golden.Load("cholesky-b3-7");
        using var d = new TempDir();
        var run = ToolProcess.Run("vjp", "cholesky", "--input", $"sigma={Fixture("cholesky-b3-7_sigma_fortran.npy")}",
            "--cotangent", Fixture("cholesky-b3-7_cotangent_fortran.npy"), "--out", d["fortran"], "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        var expected = Npy.Read(Path.Combine(golden.Folder, "grad_sigma.npy")).ToDouble();
        Assert.True(TestData.RelErr(expected, Npy.Read(d["fortran/grad_sigma.npy"]).ToDouble()) <= 1e-10);
        Assert.True(TestData.RelErr(Npy.Read(Path.Combine(golden.Folder, "y.npy")).ToDouble(), Npy.Read(d["fortran/y.npy"]).ToDouble()) <= 1e-10);

        // The same arrays from archives: by the input's name, by ARCHIVE:ARRAY, and the only array.
        using (var zip = new System.IO.Compression.ZipArchive(File.Create(d["in.npz"]), System.IO.Compression.ZipArchiveMode.Create))
        {
            foreach (var (member, file) in new[] { ("sigma", "cholesky-b3-7_sigma_fortran.npy"), ("cot", "cholesky-b3-7_cotangent_fortran.npy") })
            {
                using var entry = zip.CreateEntry(member + ".npy").Open();
                using var source = File.OpenRead(Fixture(file));
                source.CopyTo(entry);
            }
        }
        run = ToolProcess.Run("vjp", "cholesky", "--input", $"sigma={d["in.npz"]}", "--cotangent", $"{d["in.npz"]}:cot",
            "--out", d["npz"], "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(File.ReadAllBytes(d["fortran/grad_sigma.npy"]), File.ReadAllBytes(d["npz/grad_sigma.npy"]));

        run = ToolProcess.Run("vjp", "cholesky", "--input", $"sigma={d["in.npz"]}:nothing", "--cotangent", $"{d["in.npz"]}:cot",
            "--out", d["npz"], "--device", "cpu");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("has no array 'nothing'; it holds 'sigma', 'cot'", run.Stderr);
    }

    /// <summary>1e39 with --dtype f32 once gave Inf and NaN with exit 0.</summary>
    [Fact]
    public void Float64ValuesBeyondFloat32AreAnError()
    {
        using var d = WithInputs();
        var sigma = TestData.Spd(3, 4, 1);
        sigma[16 + 5] = 1e39; // batch element 1, [1, 1]
        Npy.Write<double>(d["big.npy"], sigma, 3, 4, 4);
        var run = ToolProcess.Run(VjpCholesky(d, d["big.npy"], d["out"], "--dtype", "f32"));
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("--input sigma", run.Stderr);
        Assert.Contains("element [1, 1, 1]", run.Stderr);
        Assert.Contains("does not fit float32", run.Stderr);
        Assert.False(File.Exists(d["out/y.npy"]));
    }

    [Fact]
    public void TriangularFlagsHelpShowsHowToTurnThemOff()
    {
        var run = ToolProcess.Run("vjp", "--help");
        Assert.Equal(0, run.ExitCode);
        Assert.Contains("--lower false: T is upper triangular", run.Stdout);
        Assert.Contains("--left false: solve Y·op(T) = B", run.Stdout);
        Assert.Contains("--lower <true|false>", run.Stdout);
    }
}
