using System.Text.Json;
using GpuAD.Kernels;
using GpuAD.MpiRanks;
using GpuAD.Tests.Cli;

namespace GpuAD.Tests.Distributed;

/// <summary>
/// The collectives and the failure agreement on 2 and 3 real MPI ranks (Open MPI's mpirun, CPU
/// accelerator): each rank writes what it received, and the tests compare it with values
/// computed here, independently.
/// </summary>
[Collection("Mpi")]
[Trait("Tier", "Slow")]
public sealed class MpiCollectiveTests
{
    private static JsonElement[] RunRanks(int ranks, string mode, TempDir dir)
    {
        var run = MpiRun.Run(ranks, MpiRun.RanksDll, null, mode, dir.Path);
        Assert.True(run.ExitCode == 0, run.ToString());
        return Enumerable.Range(0, ranks)
            .Select(r => JsonDocument.Parse(File.ReadAllText(dir[$"rank{r}.json"])).RootElement)
            .ToArray();
    }

    private static double[] Doubles(JsonElement e, string name) => e.GetProperty(name).EnumerateArray().Select(x => x.GetDouble()).ToArray();

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void CollectivesGiveEveryRankTheSameRankOrderedResult(int ranks)
    {
        using var dir = new TempDir();
        var results = RunRanks(ranks, "collectives", dir);

        // Sums added in rank order, here, element by element.
        var sumHost = new double[3];
        var sumFloat = new float[12];
        for (int i = 0; i < 3; i++)
        {
            double s = RankData.Double(0, i);
            for (int r = 1; r < ranks; r++) s += RankData.Double(r, i);
            sumHost[i] = s;
        }
        for (int i = 0; i < 12; i++)
        {
            float s = RankData.Float(0, i);
            for (int r = 1; r < ranks; r++) s += RankData.Float(r, i);
            sumFloat[i] = s;
        }
        // With 3 ranks, another order would give other bits: the data are built so.
        if (ranks == 3) Assert.NotEqual((RankData.Double(0, 0) + RankData.Double(2, 0)) + RankData.Double(1, 0), sumHost[0]);

        var gathered = Enumerable.Range(0, ranks).SelectMany(r => Enumerable.Range(0, (r + 1) * 4).Select(i => 100.0 * r + i)).ToArray();
        var gatheredInts = Enumerable.Range(0, ranks).SelectMany(r => Enumerable.Range(0, r + 2).Select(i => 10.0 * r + i)).ToArray();
        int batch = Enumerable.Range(1, ranks).Sum();

        foreach (var (result, r) in results.Select((x, r) => (x, r)))
        {
            Assert.Equal(r, result.GetProperty("rank").GetInt32());
            Assert.Equal(ranks, result.GetProperty("size").GetInt32());
            // One node: the node-local rank is the world rank.
            Assert.Equal(r, result.GetProperty("localRank").GetInt32());
            Assert.Equal(ranks, result.GetProperty("localSize").GetInt32());
            Assert.Equal(sumHost, Doubles(result, "allReduceHost"));
            Assert.Equal(sumFloat.Select(x => (double)x).ToArray(), Doubles(result, "allReduceTensor"));
            Assert.Equal(new double[] { batch, 2, 2 }, Doubles(result, "allGatherShape"));
            Assert.Equal(gathered, Doubles(result, "allGatherTensor"));
            Assert.Equal(gatheredInts, Doubles(result, "allGatherHost"));
            Assert.Equal(Enumerable.Range(0, 6).Select(i => 1000.0 + i).ToArray(), Doubles(result, "broadcastTensor"));
            Assert.Equal("Communicator.AllReduceSum: rank 0 passed length 3 but rank 1 passed 4; every rank must pass the same.",
                result.GetProperty("mismatch").GetString());
        }
    }

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ShardedGradientOfSharedParametersIsTheFixedOrderSumOfTheShards(int ranks)
    {
        const int batch = 5, n = 24, seed = 3;
        using var dir = new TempDir();
        var results = RunRanks(ranks, "gp", dir);

        using var device = Device.CreateCpu();
        var whole = ShardedGp.Evaluate(device, batch, n, seed, 0, batch);
        var shards = Enumerable.Range(0, ranks).Select(r => GpuAD.Distributed.BatchShard.Of(batch, ranks, r))
            .Select(s => ShardedGp.Evaluate(device, batch, n, seed, s.Start, s.Count)).ToArray();
        var rankOrder = GpuAD.Distributed.FixedOrderSum.Of(shards);

        foreach (var result in results)
        {
            var sum = Doubles(result, "sum");
            // Bitwise: the shards' values summed in rank order, on every rank.
            Assert.Equal(rankOrder, sum);
            // Within 1e-12 relative of one process over the whole batch.
            for (int i = 0; i < whole.Length; i++)
                Assert.True(Math.Abs(sum[i] - whole[i]) <= 1e-12 * Math.Abs(whole[i]), $"component {i}: {sum[i]:R} vs one process {whole[i]:R}");
        }
        Assert.True(whole.Skip(1).All(g => Math.Abs(g) > 1e-3), "the gradient of the shared hyperparameters is not trivially zero");
    }

    [Fact]
    public void AFailureOnOneRankEndsEveryRankWithTheSameErrorNamingTheGlobalElement()
    {
        using var dir = new TempDir();
        var run = MpiRun.Run(2, MpiRun.RanksDll, null, "fail", dir.Path);
        Assert.NotEqual(0, run.ExitCode);
        var lines = MpiRun.Lines(run.Stderr, "ranks: ");
        // Element 3 of 5 lies on rank 1 ([3, 5)), as its local element 0.
        Assert.Equal(2, lines.Length);
        Assert.All(lines, l => Assert.Equal(
            "ranks: rank 1 of 2: Cholesky: batch element 3: the leading minor of order 1 is not positive-definite (its pivot is ≤ 0, NaN or infinite).", l));
        Assert.Empty(Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void WithoutMpirunTheErrorSaysSo()
    {
        using var dir = new TempDir();
        var run = MpiRun.RunAlone(MpiRun.RanksDll, null, "collectives", dir.Path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("MPI: this process was not started by mpirun", run.Stderr);
    }

    [Fact]
    public void WithoutTheLibraryTheErrorNamesItAndTheFix()
    {
        using var dir = new TempDir();
        var run = MpiRun.RunAlone(MpiRun.RanksDll,
            new Dictionary<string, string> { ["OMPI_COMM_WORLD_SIZE"] = "1", ["GPUAD_MPI_LIBRARY"] = "/nonexistent/libmpi.so.40" },
            "collectives", dir.Path);
        Assert.Equal(1, run.ExitCode);
        Assert.Contains("MPI: Open MPI's library could not be loaded (/nonexistent/libmpi.so.40:", run.Stderr);
        Assert.Contains("apt-get install openmpi-bin", run.Stderr);
    }
}
