using System.Text.Json;
using GpuAD.Tests.Cli;

namespace GpuAD.Tests.Distributed;

/// <summary>
/// <c>mpirun -np 2 gpuad demo --distributed</c> against the same demo as one process, on the CPU
/// accelerator: the same hyperparameters and NLLs, bitwise equal runs, rank 0 printing alone, and
/// a failure on rank 1 ending every rank with the same line.
/// </summary>
[Collection("Mpi")]
[Trait("Tier", "Slow")]
public sealed class DistributedDemoTests
{
    private static readonly string[] Demo = ["demo", "--device", "cpu", "--batch", "4", "--n", "128", "--steps", "3", "--seed", "1", "--plot", Path.Combine(Path.GetTempPath(), "gpuad-distributed-demo.png")];

    private static double[] Numbers(JsonElement e) => e.EnumerateArray().Select(x => x.GetDouble()).ToArray();

    private static (double[] Nll, double[][] Hyper) Final(string path)
    {
        var final = JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("final");
        return (Numbers(final.GetProperty("nll")),
            new[] { "lengthscale", "signalVariance", "noiseVariance" }.Select(k => Numbers(final.GetProperty(k))).ToArray());
    }

    [Fact]
    public void TwoRanksGiveTheHyperparametersOfOneProcessAndRepeatBitwise()
    {
        using var dir = new TempDir();
        var one = ToolProcess.Run([.. Demo, "--json", dir["one.json"]]);
        Assert.True(one.ExitCode == 0, one.ToString());
        var first = MpiRun.Run(2, ToolProcess.ToolDll, null, [.. Demo, "--distributed", "--json", dir["two-a.json"]]);
        Assert.True(first.ExitCode == 0, first.ToString());
        var second = MpiRun.Run(2, ToolProcess.ToolDll, null, [.. Demo, "--distributed", "--json", dir["two-b.json"]]);
        Assert.True(second.ExitCode == 0, second.ToString());

        // Rank 0 prints, rank 1 does not.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(first.Stdout, "GpuAD demo: batched"));
        Assert.Contains("on rank 0 of 2 MPI ranks", first.Stdout);
        Assert.Contains("PASS", first.Stdout);

        // Two runs on 2 ranks: the same bits.
        Assert.Equal(File.ReadAllText(dir["two-a.json"]), File.ReadAllText(dir["two-b.json"]));

        var (nll1, hyper1) = Final(dir["one.json"]);
        var (nll2, hyper2) = Final(dir["two-a.json"]);
        Assert.Equal(4, nll1.Length);
        foreach (var (a, b) in nll1.Zip(nll2).Concat(hyper1.Zip(hyper2).SelectMany(p => p.First.Zip(p.Second))))
            Assert.True(Math.Abs(a - b) <= 1e-12 * Math.Abs(a), $"one process {a:R}, 2 ranks {b:R}");
        // The fit moved the hyperparameters from the start (ℓ = 1 year), so the comparison is not of constants.
        Assert.All(hyper1[0], l => Assert.NotEqual(1.0, l));

        // BFGS: the NLL at the start and at the end.
        var history = JsonDocument.Parse(File.ReadAllText(dir["two-a.json"])).RootElement.GetProperty("history");
        Assert.Equal(2, history.GetArrayLength());
        Assert.Equal(2, JsonDocument.Parse(File.ReadAllText(dir["two-a.json"])).RootElement.GetProperty("ranks").GetInt32());
    }

    [Fact]
    public void AFailureOfOneProblemOnRank1EndsEveryRankWithTheSameLine()
    {
        // Window 3 of 4 lies on rank 1 ([2, 4)); it starts from a NaN hyperparameter.
        var run = MpiRun.Run(2, ToolProcess.ToolDll, null,
            "demo", "--distributed", "--device", "cpu", "--batch", "4", "--n", "32", "--steps", "3", "--corrupt-element", "3");
        Assert.Equal(1, run.ExitCode);
        var lines = MpiRun.Lines(run.Stderr, "gpuad: ");
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal("gpuad: rank 1 of 2: GpObjective: θ holds NaN at batch element 3, index [0, 0].", l));
    }

    [Fact]
    public void OneProcessNamesTheSameElement()
    {
        var run = ToolProcess.Run("demo", "--device", "cpu", "--batch", "4", "--n", "32", "--steps", "3", "--corrupt-element", "3");
        Assert.Equal(1, run.ExitCode);
        Assert.Equal("gpuad: GpObjective: θ holds NaN at batch element 3, index [0, 0].", run.Stderr.Trim());
    }

    [Fact]
    public void DistributedWithoutMpirunSaysHowToStartIt()
    {
        var run = MpiRun.RunAlone(ToolProcess.ToolDll, null, "demo", "--distributed", "--device", "cpu", "--n", "32");
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("gpuad: MPI: this process was not started by mpirun", run.Stderr);
        Assert.Contains("mpirun -np N", run.Stderr);
    }

    [Fact]
    public void JsonIntoAMissingFolderIsAUsageErrorBeforeAnyWork()
    {
        var run = ToolProcess.Run("demo", "--device", "cpu", "--n", "32", "--json", "/nonexistent-folder/run.json");
        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--json /nonexistent-folder/run.json: the folder /nonexistent-folder does not exist.", run.Stderr);
        Assert.DoesNotContain("GpuAD demo", run.Stdout);
    }
}
