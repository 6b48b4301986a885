using GpuAD.Distributed;
using GpuAD.Kernels;
using GpuAD.MpiRanks;

namespace GpuAD.Tests.Distributed;

/// <summary>One process driving several CPU accelerators: a batch split across them, shared gradients summed in device order.</summary>
public sealed class DeviceGroupTests
{
    private const int Batch = 5, N = 24, Seed = 3;

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ShardedGradientMatchesOneDeviceAndRepeatsBitwise(int devices)
    {
        using var group = DeviceGroup.Open(devices);
        Assert.Equal(devices, group.Count);
        Assert.Equal(devices, group.Devices.Distinct().Count());

        double[] Run() => FixedOrderSum.Of(group.Map(Batch, (device, shard) => ShardedGp.Evaluate(device, Batch, N, Seed, shard.Start, shard.Count)));
        var first = Run();
        var second = Run();
        Assert.Equal(first, second);

        using var one = Device.CreateCpu();
        var whole = ShardedGp.Evaluate(one, Batch, N, Seed, 0, Batch);
        for (int i = 0; i < whole.Length; i++)
            Assert.True(Math.Abs(first[i] - whole[i]) <= 1e-12 * Math.Abs(whole[i]), $"component {i}: {first[i]:R} vs one device {whole[i]:R}");
        Assert.True(whole.Skip(1).All(g => Math.Abs(g) > 1e-3), "the gradient of the shared hyperparameters is not trivially zero");
    }

    [Fact]
    public void MapGivesEachDeviceItsPartInOrderOnItsOwnDevice()
    {
        using var group = DeviceGroup.Open(3);
        var seen = group.Map(7, (device, shard) => (Device: device, Shard: shard));
        Assert.Equal(new[] { new BatchShard(0, 3), new BatchShard(3, 2), new BatchShard(5, 2) }, seen.Select(s => s.Shard));
        Assert.Equal(group.Devices, seen.Select(s => s.Device));
    }

    [Fact]
    public void ANumericalErrorNamesTheGlobalBatchElement()
    {
        using var group = DeviceGroup.Open(2);
        // Element 4 of 5 lies on device 1 ([3, 5)) as its local element 1.
        var e = Assert.Throws<NotPositiveDefiniteException>(() =>
            group.Map(Batch, (device, shard) => ShardedGp.Evaluate(device, Batch, N, Seed, shard.Start, shard.Count, notPositiveDefinite: 4)));
        Assert.Equal(4, e.BatchIndex);
        Assert.Equal("Cholesky", e.Op);
        Assert.Contains("batch element 4:", e.Message);
    }

    [Fact]
    public void TheFirstFailingPartIsReported()
    {
        using var group = DeviceGroup.Open(3);
        var e = Assert.Throws<InvalidOperationException>(() => group.Map<int>(6, (_, shard) =>
            shard.Start == 0 ? 0 : throw new InvalidOperationException($"part {shard}")));
        Assert.Equal("part [2, 4)", e.Message);
    }

    [Fact]
    public void AGroupRefusesNoDevicesAndDuplicates()
    {
        Assert.Throws<ArgumentException>(() => new DeviceGroup([]));
        using var d = Device.CreateCpu();
        Assert.Throws<ArgumentException>(() => new DeviceGroup([d, d]));
    }
}

public sealed class BatchShardTests
{
    [Theory]
    [InlineData(10, 3)]
    [InlineData(4, 2)]
    [InlineData(5, 3)]
    [InlineData(2, 3)]
    [InlineData(0, 2)]
    [InlineData(7, 1)]
    public void PartsAreBalancedContiguousAndCoverTheBatch(int batch, int parts)
    {
        var shards = BatchShard.Split(batch, parts);
        Assert.Equal(parts, shards.Length);
        Assert.Equal(0, shards[0].Start);
        for (int i = 1; i < parts; i++) Assert.Equal(shards[i - 1].End, shards[i].Start);
        Assert.Equal(batch, shards[^1].End);
        Assert.True(shards.Max(s => s.Count) - shards.Min(s => s.Count) <= 1);
        Assert.True(shards.Zip(shards.Skip(1)).All(p => p.First.Count >= p.Second.Count), "larger parts come first");
    }

    [Fact]
    public void RunShiftsTheBatchElementOfNumericalErrors()
    {
        var shard = new BatchShard(6, 3);
        var pd = Assert.Throws<NotPositiveDefiniteException>(() => shard.Run<int>(() => throw new NotPositiveDefiniteException("LogDet", 2, 7)));
        Assert.Equal((8, 7, "LogDet"), (pd.BatchIndex, pd.MinorOrder, pd.Op));
        var lu = Assert.Throws<SingularMatrixException>(() => shard.Run<int>(() => throw new SingularMatrixException("Solve", 1, 4)));
        Assert.Equal((7, 4), (lu.BatchIndex, lu.Pivot));
        Assert.Equal(5, shard.Run(() => 5));
    }

    [Fact]
    public void RunReBasesATriangularSolveFailureKeepingItsWords()
    {
        // Rebuilt as an LU-pivot error before: the triangular solve's own words were lost.
        var shard = new BatchShard(6, 3);
        var original = new SingularMatrixException("TriangularSolve", 1, 3, "the diagonal entry T[3,3] (one-based) is zero");
        var e = Assert.Throws<SingularMatrixException>(() => shard.Run<int>(() => throw original));
        Assert.Equal(("TriangularSolve", 7, 3), (e.Op, e.BatchIndex, e.Index));
        Assert.Equal("TriangularSolve: batch element 7: the matrix is singular to working precision: the diagonal entry T[3,3] (one-based) is zero.", e.Message);
        Assert.DoesNotContain("LU", e.Message);

        // Every batch-element error derives from LinAlgException and is re-based the same way.
        var jitter = Assert.Throws<JitterExhaustedException>(() => shard.Run<int>(() => throw new JitterExhaustedException("GaussianProcess", 2, 0.5, 0.1, 4)));
        Assert.Equal((8, 4, 0.5), (jitter.BatchIndex, jitter.MinorOrder, jitter.Jitter));
        Assert.StartsWith("GaussianProcess: batch element 8: the covariance is not positive-definite", jitter.Message);
        Assert.IsAssignableFrom<LinAlgException>(jitter);
    }

    [Fact]
    public void BadArgumentsAreRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchShard.Of(4, 0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchShard.Of(4, 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => BatchShard.Of(-1, 2, 0));
    }
}

public sealed class FixedOrderSumTests
{
    [Fact]
    public void AddsInListOrder()
    {
        // (1e16 + 1) − 1e16 = 0 in float64; any other order gives 1.
        var sum = FixedOrderSum.Of([new[] { 1e16, 2.0 }, [1.0, 3.0], [-1e16, 4.0]]);
        Assert.Equal(new[] { 0.0, 9.0 }, sum);
        Assert.Equal(new[] { 1.0 }, FixedOrderSum.Of([new[] { 1e16 }, [-1e16], [1.0]]));
    }

    [Fact]
    public void RefusesPartsOfDifferentLengths()
    {
        var e = Assert.Throws<ArgumentException>(() => FixedOrderSum.Of([new[] { 1.0 }, [1.0, 2.0]]));
        Assert.Contains("part 0 has 1 elements but part 1 has 2", e.Message);
        Assert.Throws<ArgumentException>(() => FixedOrderSum.Of(Array.Empty<double[]>()));
    }
}

public sealed class RankDevicesTests
{
    [Theory]
    [InlineData(null, 0, 4, "cuda:0")]
    [InlineData("auto", 3, 4, "cuda:3")]
    [InlineData("cuda", 1, 2, "cuda:1")]
    [InlineData("auto", 5, 4, "cuda:1")]
    [InlineData(null, 2, 0, "cpu")]
    [InlineData("cpu", 2, 8, "cpu")]
    [InlineData("cuda:2", 0, 8, "cuda:2")]
    [InlineData("cuda", 1, 0, "cuda")]
    public void EachRankGetsItsOwnGpuOrWhatWasAskedFor(string? request, int localRank, int gpus, string expected)
    {
        Assert.Equal(expected, RankDevices.Choose(request, localRank, gpus).Device);
    }

    [Fact]
    public void CudaWhereThereIsNoneIsAnError()
    {
        // This machine has no CUDA GPU (the CI and development machines have none).
        if (Devices.List().Any(d => d.Kind == DeviceKind.Cuda)) return;
        Assert.Throws<DeviceUnavailableException>(() => RankDevices.Open("cuda", 0));
        using var cpu = RankDevices.Open("auto", 1);
        Assert.Equal(DeviceKind.Cpu, cpu.Kind);
    }
}
