using System.Text.Json;
using GpuAD.Distributed;
using GpuAD;
using GpuAD.Kernels;
using GpuAD.MpiRanks;

// Usage: GpuAD.MpiRanks MODE OUTDIR   (started on every rank by mpirun)
//   collectives  every collective on host spans and CPU-device tensors, with rank-dependent data
//   gp           the sharded GP likelihood of ShardedGp, gradients all-reduced in rank order
//   fail         the same with batch element 3 not positive-definite (on the last rank)
// Each rank writes OUTDIR/rank<R>.json; a failure agreed on by every rank prints one line to
// stderr and exits 1.
if (args.Length != 2)
{
    Console.Error.WriteLine("usage: GpuAD.MpiRanks collectives|gp|fail OUTDIR");
    return 2;
}
string mode = args[0], outDir = args[1];
Communicator world;
try
{
    world = Communicator.Initialize();
}
catch (MpiUnavailableException e)
{
    Console.Error.WriteLine($"ranks: {e.Message}");
    return 1;
}

using (world)
{
    var results = new Dictionary<string, object>
    {
        ["rank"] = world.Rank,
        ["size"] = world.Size,
        ["localRank"] = world.LocalRank,
        ["localSize"] = world.LocalSize,
    };
    try
    {
        using var device = RankDevices.Open("cpu", world.LocalRank);
        switch (mode)
        {
            case "collectives":
                Collectives(world, device, results);
                break;
            case "gp":
            case "fail":
                const int batch = 5, n = 24, seed = 3;
                var shard = world.Shard(batch);
                var local = world.Agree(() => shard.Run(() =>
                    ShardedGp.Evaluate(device, batch, n, seed, shard.Start, shard.Count, notPositiveDefinite: mode == "fail" ? 3 : -1)));
                world.AllReduceSum<double>(local);
                results["shard"] = new[] { shard.Start, shard.Count };
                results["sum"] = local;
                break;
            default:
                throw new ArgumentException($"unknown mode '{mode}'");
        }
    }
    catch (RankFailedException e)
    {
        Console.Error.WriteLine($"ranks: {e.Message}");
        Console.Error.Flush();
        world.Barrier(); // every rank prints before any exits: mpirun ends the others after the first failure
        return 1;
    }
    File.WriteAllText(Path.Combine(outDir, $"rank{world.Rank}.json"), JsonSerializer.Serialize(results));
}
return 0;

static void Collectives(Communicator world, Device device, Dictionary<string, object> results)
{
    int r = world.Rank;

    // Values whose sum depends on the order of addition: only rank order gives the expected bits.
    double[] host = [RankData.Double(r, 0), RankData.Double(r, 1), RankData.Double(r, 2)];
    world.AllReduceSum<double>(host);
    results["allReduceHost"] = host;

    // A float32 tensor [2, 2, 3] on the device, with the same property in float32.
    var f = Enumerable.Range(0, 12).Select(i => RankData.Float(r, i)).ToArray();
    using (var t = device.Upload<float>(f, new Shape(2, 2, 3)))
    {
        world.AllReduceSum(t);
        results["allReduceTensor"] = t.ToArray().Select(x => (double)x).ToArray();
    }

    // All-gather of tensors with r + 1 matrices of 2 × 2 on rank r.
    var g = Enumerable.Range(0, (r + 1) * 4).Select(i => 100.0 * r + i).ToArray();
    using (var local = device.Upload<double>(g, new Shape(r + 1, 2, 2)))
    using (var all = world.AllGather(local))
    {
        results["allGatherShape"] = new[] { all.Batch, all.Rows, all.Cols };
        results["allGatherTensor"] = all.ToArray();
    }

    // All-gather of host spans of r + 2 ints.
    results["allGatherHost"] = world.AllGather<int>(Enumerable.Range(0, r + 2).Select(i => 10 * r + i).ToArray());

    // Broadcast from the last rank.
    int root = world.Size - 1;
    using (var b = device.Upload<double>(Enumerable.Range(0, 6).Select(i => r == root ? 1000.0 + i : -1.0).ToArray(), new Shape(1, 2, 3)))
    {
        world.Broadcast(b, root);
        results["broadcastTensor"] = b.ToArray();
    }

    // A rank with another length: every rank gets the same error.
    try
    {
        world.AllReduceSum<double>(new double[r == 1 ? 4 : 3]);
        results["mismatch"] = "no error";
    }
    catch (ArgumentException e)
    {
        results["mismatch"] = e.Message;
    }
}
