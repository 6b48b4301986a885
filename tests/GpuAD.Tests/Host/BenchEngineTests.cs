using GpuAD.Bench;
using GpuAD.Kernels;

namespace GpuAD.Tests.Host;

/// <summary>
/// The benchmark engine behind <c>gpuad bench</c> and the suites: its inputs are what their kinds
/// promise whatever the block size, its results carry the executed flops of the path that ran and
/// the pool's peak, and a problem larger than the device fails with the bytes before any host data.
/// </summary>
[Collection("Runtime")]
public sealed class BenchEngineTests(DeviceFixture devices)
{
    private Device D => devices.Cpu;

    [Fact]
    public void InputsAreSymmetricPositiveDefiniteTriangularAndIndependentOfTheBlockSize()
    {
        const int n = 33;
        using var spd = D.Allocate<double>(new Shape(2, n, n));
        HostData.Fill(spd, InputKind.Spd, seed: 5);
        var s = spd.ToArray();
        for (int b = 0; b < 2; b++)
        for (int i = 0; i < n; i++)
        {
            Assert.Equal(n, s[(b * n + i) * n + i]);
            for (int j = 0; j < n; j++)
            {
                Assert.Equal(s[(b * n + i) * n + j], s[(b * n + j) * n + i]);
                if (i != j) Assert.InRange(s[(b * n + i) * n + j], -1, 1);
            }
        }
        Assert.NotEqual(s[1], s[n * n + 1]); // each matrix its own entries
        using (var tape = new Tape(D))
            Assert.Equal(s.Length, Op.Cholesky(tape.Variable(spd)).Value.ToArray().Count(double.IsFinite));

        using var lower = D.Allocate<double>(new Shape(1, n, n));
        HostData.Fill(lower, InputKind.Lower, seed: 6);
        var l = lower.ToArray();
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double v = l[i * n + j];
            if (j > i) Assert.Equal(0, v);
            else if (j == i) Assert.InRange(v, 1, 2);
            else Assert.InRange(v, -1.0 / n, 1.0 / n);
        }

        // A float32 fill of the same seed holds the same numbers rounded: the entries depend on
        // (seed, matrix, row, column) only.
        using var single = D.Allocate<float>(new Shape(2, n, n));
        HostData.Fill(single, InputKind.Spd, seed: 5);
        Assert.Equal(s.Select(v => (float)v), single.ToArray());
    }

    [Fact]
    public void ResultsCarryTheExecutedFlopsOfThePathThatRanAndThePeak()
    {
        const int n = 40, batch = 3;
        var loaded = new HashSet<(BenchOp, DType)>();
        var settings = new MeasureSettings(Warmup: 1, Reps: 2, CapSeconds: 60);
        var auto = Engine.Measure(D, new Problem(BenchOp.Cholesky, DType.Fp64, batch, n), settings, loaded);
        var composed = Engine.Measure(D, new Problem(BenchOp.CholeskyComposed, DType.Fp64, batch, n), settings, loaded);
        Assert.True(auto.Ran, auto.Note);
        Assert.True(composed.Ran, composed.Note);
        Assert.Equal(CholeskyPolicy.Resolve<double>(D, new Shape(batch, n, n)).ToString(), auto.Path);
        Assert.Equal("Composed", composed.Path);
        double cube = (double)n * n * n;
        Assert.Equal(batch * cube / 3, auto.PhaseFlops!["forward"], 6);
        Assert.Equal(batch * 2 * cube / 3, auto.PhaseFlops!["backward"], 6);   // Murray's reverse: twice the forward
        Assert.Equal(batch * 4 * cube, composed.PhaseFlops!["backward"], 6);   // one GEMM and two TRSMs
        Assert.Equal(auto.ExecutedFlops!.Value / (auto.MedianMs!.Value * 1e6), auto.Gflops!.Value, 2);
        long inputs = 2 * BufferPool.SizeClass((long)batch * n * n * sizeof(double));
        Assert.InRange(auto.PeakBytes!.Value, inputs, 16 * inputs);
        Assert.True(composed.PeakBytes > auto.PeakBytes, $"the composed backward holds n² temporaries: {composed.PeakBytes} vs {auto.PeakBytes}");
    }

    /// <summary>
    /// The forced Cholesky designs of the GPU suite: one level, two levels (outer blocks of n/2 at a
    /// small order), two levels on two streams, left-looking and with the blocks' reverse by
    /// inverse, each reporting the path that ran and, for two
    /// levels, the executed flops plus each outer block's inverse (w³/3) and its panel as a GEMM
    /// (r·w² more than a solve), counted here by hand.
    /// </summary>
    [Fact]
    public void TheForcedCholeskyDesignsReportTheirPathAndTheFlopsTheyExecuted()
    {
        const int n = 160, batch = 2;
        var loaded = new HashSet<(BenchOp, DType)>();
        var settings = new MeasureSettings(Warmup: 1, Reps: 1, CapSeconds: 60);
        var one = Engine.Measure(D, new Problem(BenchOp.CholeskyOneLevel, DType.Fp64, batch, n), settings, loaded);
        var two = Engine.Measure(D, new Problem(BenchOp.CholeskyTwoLevel, DType.Fp64, batch, n), settings, loaded);
        var streams = Engine.Measure(D, new Problem(BenchOp.CholeskyTwoStreams, DType.Fp64, batch, n), settings, loaded);
        var left = Engine.Measure(D, new Problem(BenchOp.CholeskyLeftLooking, DType.Fp64, batch, n), settings, loaded);
        var byInverse = Engine.Measure(D, new Problem(BenchOp.CholeskyReverseByInverse, DType.Fp64, batch, n), settings, loaded);
        Assert.All(new[] { one, two, streams, left, byInverse }, r => Assert.True(r.Ran, r.Note));
        Assert.Equal("Blocked", one.Path);
        Assert.Equal("Blocked, two levels (outer 80, leaves 64, 1 stream)", two.Path);
        Assert.Equal("Blocked, two levels (outer 80, leaves 64, 2 streams)", streams.Path);
        Assert.Equal("Blocked, two levels (outer 80, leaves 64, 1 stream, left-looking)", left.Path);
        Assert.Equal("cholesky-left-looking/fp64/2x160", left.Id);
        Assert.Equal(two.PhaseFlops, left.PhaseFlops); // the same products, in another order
        // Each of the two blocks of 80 differentiated by three 80³ GEMMs (6·80³) in place of Murray's (2/3)·80³, and the last block inverted (80³/3).
        Assert.Equal("Blocked, two levels (outer 80, leaves 64, 1 stream, blocks' reverse by inverse)", byInverse.Path);
        double block = 80.0 * 80 * 80;
        Assert.Equal(two.PhaseFlops!["forward"], byInverse.PhaseFlops!["forward"]);
        Assert.Equal(two.PhaseFlops!["backward"] + batch * (2 * (6 * block - 2 * block / 3) + block / 3), byInverse.PhaseFlops!["backward"], 6);
        double cube = (double)n * n * n, extra = 80.0 * 80 * 80 / 3 + 80.0 * 80 * 80; // one outer block with 80 rows below it
        Assert.Equal(batch * cube / 3, one.PhaseFlops!["forward"], 6);
        Assert.Equal(batch * (cube / 3 + extra), two.PhaseFlops!["forward"], 6);
        Assert.Equal(batch * (2 * cube / 3 + extra), streams.PhaseFlops!["backward"], 6);
        Assert.Equal("cholesky-two-streams/fp64/2x160", streams.Id);
    }

    /// <summary>
    /// `gpuad bench`'s note of the executed flops counts a Cholesky's backward by the algorithm its
    /// path names: the automatic case resolved to dataflow executes n³/3 + 2n³, composed 4n³,
    /// blocked (one or two levels) and whole 2n³/3; an op with one path has none.
    /// </summary>
    [Theory]
    [InlineData("cholesky", "Dataflow", "cholesky (Dataflow) forward n³/3, backward 7n³/3")]
    [InlineData("cholesky", "Composed", "cholesky (Composed) forward n³/3, backward 4n³")]
    [InlineData("cholesky", "Blocked, two levels (outer 512, leaves 64, 1 stream, left-looking)",
        "cholesky (Blocked, two levels (outer 512, leaves 64, 1 stream, left-looking)) forward n³/3, backward 2n³/3")]
    [InlineData("cholesky", "Whole", "cholesky (Whole) forward n³/3, backward 2n³/3")]
    [InlineData("cholesky-dataflow", null, "cholesky-dataflow forward n³/3, backward 7n³/3")]
    [InlineData("matmul", null, "matmul forward 2n³, backward 4n³")]
    public void TheReportCountsTheBackwardOfTheCholeskyThatRan(string op, string? path, string expected) =>
        Assert.Equal(expected, GpuAD.Tool.Bench.BenchReport.Counts(op, path));

    [Fact]
    public void AProblemLargerThanTheDeviceFailsWithTheBytesBeforeAnyHostData()
    {
        var loaded = new HashSet<(BenchOp, DType)> { (BenchOp.Gemm, DType.Fp64) };
        var r = Engine.Measure(D, new Problem(BenchOp.Gemm, DType.Fp64, 1024, 65536), new MeasureSettings(1, 1, 60), loaded);
        Assert.Equal("failed", r.Status);
        var e = Assert.IsType<DeviceOutOfMemoryException>(r.Error);
        Assert.Equal(3L << 45, e.RequestedBytes); // A, B and C: 32 TiB each
        Assert.Contains("requested 105,553,116,266,496 bytes", r.Note);
    }

    /// <summary>The one timing loop, as the engine and the tuner use it: every call in order, the median of the timed runs.</summary>
    [Fact]
    public void TheTimingLoopWarmsUpValidatesOnceTimesTheRepeatsAndTakesTheirMedian()
    {
        var calls = new List<string>();
        var durations = new Queue<int>([30, 1, 40, 5, 20]); // ms: the warm-up, then four timed runs
        var run = new TimedAction(D, restore: () => calls.Add("prepare"), run: () =>
        {
            calls.Add("run");
            Thread.Sleep(durations.Dequeue());
        }, validate: () => calls.Add("validate"));
        var t = Engine.Time(run, new MeasureSettings(Warmup: 1, Reps: 4, CapSeconds: double.PositiveInfinity));
        Assert.Equal(["prepare", "run", "validate", "prepare", "run", "prepare", "run", "prepare", "run", "prepare", "run"], calls);
        Assert.False(t.Capped);
        Assert.Equal(4, t.Samples.Count);
        Assert.All(t.Samples, s => Assert.Single(s));
        Assert.InRange(t.WarmupSeconds, 0.030, 1); // the warm-up run, not among the samples
        Assert.InRange(t.MedianSeconds, 0.0125, 0.0225 + 0.5); // (5 + 20)/2 ms at least; sleeps overrun, never underrun
        Assert.True(t.MedianSeconds < t.Samples.Max(s => s[0]), "the median is not the slowest run");
    }

    [Fact]
    public void TheTimingLoopStopsAtTheCapAndKeepsAWarmupThatAloneOutlastsIt()
    {
        int runs = 0;
        var slow = new TimedAction(D, restore: null, run: () =>
        {
            runs++;
            Thread.Sleep(30);
        });
        // A warm-up longer than the cap is the one sample.
        var t = Engine.Time(slow, new MeasureSettings(Warmup: 3, Reps: 5, CapSeconds: 0.01));
        Assert.True(t.Capped);
        Assert.Equal(1, runs);
        Assert.Single(t.Samples);

        // Otherwise the repeats stop once the next would pass the cap; at least one is measured.
        runs = 0;
        t = Engine.Time(slow, new MeasureSettings(Warmup: 1, Reps: 100, CapSeconds: 0.3));
        Assert.True(t.Capped);
        Assert.InRange(t.Samples.Count, 1, 10);
        Assert.Equal(1 + t.Samples.Count, runs);
    }
}
