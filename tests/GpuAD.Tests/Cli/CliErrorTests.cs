using GpuAD.Kernels;

namespace GpuAD.Tests.Cli;

/// <summary>
/// Bad input gives one line on stderr that names the problem, and exit code 2 for a wrong command
/// line or 1 for a failure while running; never a stack trace.
/// </summary>
[Collection("Cli")]
public sealed class CliErrorTests
{
    public sealed record BadInput(string Name, int ExitCode, string[] Expected, Func<TempDir, string[]> Args)
    {
        public override string ToString() => Name;
    }

    private static string[] Vjp(TempDir d, string op, params string[] inputs) =>
        ["vjp", op, .. inputs.SelectMany(i => new[] { "--input", i }), "--cotangent", d["cot.npy"], "--out", d["out"], "--device", "cpu"];

    private static readonly BadInput[] Cases =
    [
        new("unknown verb", 2, ["'frobnicate'", "gpuad --help"], d => ["frobnicate"]),
        new("unknown op", 2, ["unknown op 'cholesy'", "cholesky"], d => Vjp(d, "cholesy", $"sigma={d["spd.npy"]}")),
        new("unknown input name", 2, ["cholesky has no input 'sig'", "sigma"], d => Vjp(d, "cholesky", $"sig={d["spd.npy"]}")),
        new("missing input", 2, ["a-xinv-b needs --input b=PATH"], d => Vjp(d, "a-xinv-b", $"a={d["spd.npy"]}", $"x={d["spd.npy"]}")),
        new("malformed dtype", 2, ["--dtype 'f16'"], d => [.. Vjp(d, "cholesky", $"sigma={d["spd.npy"]}"), "--dtype", "f16"]),
        new("flag on an op without flags", 2, ["--lower", "only triangular-solve"], d => [.. Vjp(d, "cholesky", $"sigma={d["spd.npy"]}"), "--lower", "false"]),
        new("missing file", 1, ["--input sigma", "missing.npy", "no such file"], d => Vjp(d, "cholesky", $"sigma={d["missing.npy"]}")),
        new("malformed npy", 1, ["--input sigma", "junk.npy", "not an .npy file"], d => Vjp(d, "cholesky", $"sigma={d["junk.npy"]}")),
        new("wrong shapes", 1, ["MatMul", "[2, 3, 3]", "[2, 2, 3]"], d => Vjp(d, "matmul", $"a={d["spd.npy"]}", $"b={d["wide.npy"]}")),
        new("cotangent of the wrong shape", 1, ["--cotangent", "[2, 3, 3]", "[2, 1, 1]"], d => Vjp(d, "logdet", $"sigma={d["spd.npy"]}")),
        new("not positive-definite", 1, ["Cholesky", "batch element 1", "not positive-definite"], d => Vjp(d, "cholesky", $"sigma={d["indefinite.npy"]}")),
        new("singular X", 1, ["AXInvB", "batch element 1", "singular"], d => Vjp(d, "a-xinv-b", $"a={d["spd.npy"]}", $"x={d["singular.npy"]}", $"b={d["spd.npy"]}")),
        new("no CUDA GPU", 1, ["CUDA"], d => ["demo", "--device", "cuda:7"]),
        // Output paths are checked before any work (a sweep of large sizes would run first otherwise).
        new("bench --out is a file", 2, ["--out", "junk.npy", "is a file, not a directory"],
            d => ["bench", "--ops", "matmul,cholesky", "--sizes", "4096", "--no-torch", "--out", d["junk.npy"], "--device", "cpu"]),
        new("bench --out holds a directory where a result goes", 2, ["--out", "bench.json is a directory"],
            d => ["bench", "--ops", "matmul", "--sizes", "4096", "--no-torch", "--out", d["results"], "--device", "cpu"]),
        new("bench --out under a file", 2, ["--out", "is a file, not a directory"],
            d => ["bench", "--ops", "matmul", "--sizes", "4096", "--no-torch", "--out", d["junk.npy"] + "/sub", "--device", "cpu"]),
        new("bench --json is a directory", 2, ["--json", "is a directory; give a file name"],
            d => ["bench", "--op", "cholesky", "--n", "4096", "--json", d["results"], "--device", "cpu"]),
        new("bench --json under a file", 2, ["--json", "is a file, not a directory"],
            d => ["bench", "--op", "cholesky", "--n", "4096", "--json", d["junk.npy"] + "/one.json", "--device", "cpu"]),
        // 1024 float64 matrices of order 65536: 32 TiB, more than any machine has (bench: Σ and L̄).
        new("bench larger than the device", 1, ["Out of device memory", "requested 70,368,744,177,664 bytes"],
            d => ["bench", "--op", "cholesky", "--n", "65536", "--batch", "1024", "--dtype", "f64", "--device", "cpu"]),
        // The CO2 record has 2225 weeks: 4096 whole-record windows need 4096·2225² doubles (about 160 GB).
        new("demo larger than the device", 1, ["Out of device memory", "requested", "bytes"],
            d => ["demo", "--n", "2225", "--batch", "4096", "--device", "cpu"]),
        new("demo longer than the record", 2, ["--n 65536 is out of range [2, 2225]"],
            d => ["demo", "--n", "65536", "--device", "cpu"]),
    ];

    /// <summary>The fast tier's runs: a usage error, an unreadable file, a numerical failure.</summary>
    private static readonly string[] Smoke = ["unknown verb", "missing file", "not positive-definite"];

    public static TheoryData<BadInput> SmokeData() => new(Cases.Where(c => Smoke.Contains(c.Name)));

    public static TheoryData<BadInput> Data() => new(Cases.Where(c => !Smoke.Contains(c.Name)));

    [Theory]
    [MemberData(nameof(SmokeData))]
    public void BadInputGivesOneLineAndAnExitCode(BadInput c) => Run(c);

    [Theory]
    [MemberData(nameof(Data))]
    [Trait("Tier", "Slow")]
    public void EveryOtherBadInputGivesOneLineAndAnExitCode(BadInput c) => Run(c);

    private static void Run(BadInput c)
    {
        using var dir = new TempDir();
        WriteFiles(dir);
        var run = ToolProcess.Run(c.Args(dir));
        Assert.True(run.ExitCode == c.ExitCode, $"{c.Name}: {run}");
        var lines = run.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"{c.Name}: expected one line on stderr: {run}");
        Assert.StartsWith("gpuad: ", lines[0]);
        foreach (var fragment in c.Expected) Assert.Contains(fragment, lines[0]);
        Assert.DoesNotContain("Exception", run.Stderr);
        Assert.DoesNotContain(" at ", run.Stderr.Replace(" at character ", ""));
        Assert.False(File.Exists(dir["out/y.npy"]), "nothing is written on failure");
    }

    private static void WriteFiles(TempDir d)
    {
        var spd = TestData.Spd(2, 3, 1);
        Npy.Write<double>(d["spd.npy"], spd, 2, 3, 3);
        Npy.Write<double>(d["wide.npy"], TestData.Random(new Shape(2, 2, 3), 2), 2, 2, 3);
        Npy.Write<double>(d["cot.npy"], TestData.Random(new Shape(2, 3, 3), 3), 2, 3, 3);
        // Batch element 1 has a negative leading entry.
        var indefinite = (double[])spd.Clone();
        indefinite[9] = -1;
        Npy.Write<double>(d["indefinite.npy"], indefinite, 2, 3, 3);
        // Batch element 1: rows 0 and 2 equal.
        var singular = (double[])spd.Clone();
        for (int j = 0; j < 3; j++) singular[9 + 6 + j] = singular[9 + j];
        Npy.Write<double>(d["singular.npy"], singular, 2, 3, 3);
        File.WriteAllText(d["junk.npy"], "not numpy");
        Directory.CreateDirectory(Path.Combine(d["results"], "bench.json"));
    }
}
