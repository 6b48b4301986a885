using System.Globalization;
using GpuAD.Bench;
using GpuAD.Kernels;

namespace GpuAD.Tests.Host;

/// <summary>
/// The tuning sweep end to end on the emulated GPU at tiny sizes: every entry is chosen from its
/// candidates by their measured medians, the table reads back, and the device's own table is
/// restored; with no budget nothing is timed and the defaults are kept, saying so.
/// </summary>
[Collection("EmulatedGpu")]
public sealed class TunerTests(DeviceFixture devices)
{
    /// <summary>Smaller than <see cref="TuneOptions.For"/>'s emulated sizes; still past one block of each candidate.</summary>
    private static readonly TuneOptions Tiny = new()
    {
        Budget = TimeSpan.FromMinutes(10), Repeats = 1,
        GemmOrder = 64, GemmSmallOrder = 32, SplitOrder = 64, SplitK = 256, CholeskyOrder = 80, CholeskyLargeOrders = [80],
        CholeskyOuterBlocks = [72], CholeskyDataflowOrders = [40, 56], CholeskySmallOrder = 16, CholeskySmallBatch = 2, TrsmOrder = 40,
    };

    [Fact]
    [Trait("Tier", "Slow")]
    public void EveryEntryIsTheFastestOfItsCandidatesAndTheTableReadsBack()
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        var marker = original with { Measured = "the table in force before the sweep" };
        device.Tuning = marker;
        TuneReport report;
        try
        {
            report = Tuner.Run(device, Tiny);
            Assert.Same(marker, device.Tuning);
        }
        finally
        {
            device.Tuning = original;
        }
        var t = report.Table;

        // Each timed problem has one chosen candidate, the one with the least median.
        foreach (var group in report.Rows.GroupBy(r => r.What))
        {
            Assert.All(group, r => Assert.True(r.MedianMs > 0, $"{r.What} {r.Candidate}: {r.MedianMs} ms"));
            var chosen = Assert.Single(group, r => r.Chosen);
            Assert.Equal(group.Min(r => r.MedianMs), chosen.MedianMs);
        }
        string Chosen(string field) => report.Rows.Single(r => r.Chosen && r.What.StartsWith(field + ":", StringComparison.Ordinal)).Candidate;

        // The GEMM tilings: the chosen rows, each one of the tilings that fit the element type.
        Assert.Equal(Chosen("gemmF64"), t.GemmF64);
        Assert.Equal(Chosen("gemmSmallF64"), t.GemmSmallF64);
        Assert.Equal(Chosen("gemmF32"), t.GemmF32);
        Assert.Equal(Chosen("gemmSmallF32"), t.GemmSmallF32);
        Assert.Equal(GemmGpu.TilingsFor(sizeof(double)).Count(), report.Rows.Count(r => r.What.StartsWith("gemmF64:", StringComparison.Ordinal)));
        Assert.Equal(GemmGpu.TilingsFor(sizeof(float)).Count(), report.Rows.Count(r => r.What.StartsWith("gemmSmallF32:", StringComparison.Ordinal)));
        Assert.Contains(GemmTiling.Parse(t.GemmF64)!.Value, GemmGpu.TilingsFor(sizeof(double)));
        Assert.Contains(GemmTiling.Parse(t.GemmSmallF64)!.Value, GemmGpu.TilingsFor(sizeof(double)));

        // Split-K: counts that give every split whole slices of the small tiling; MinSplitK = max(64, K / best).
        int slice = GemmTiling.Parse(t.GemmSmallF64)!.Value.SliceK;
        var counts = Tuner.SplitCandidates.Where(s => Tiny.SplitK / s >= slice).ToArray();
        Assert.Equal(counts.Length, report.Rows.Count(r => r.What.StartsWith("maxSplits:", StringComparison.Ordinal)));
        Assert.Contains(t.MaxSplits, counts);
        Assert.StartsWith($"{t.MaxSplits} ", Chosen("maxSplits"));
        Assert.Equal(Math.Max(Tuner.MinSplitKFloor, Tiny.SplitK / t.MaxSplits), t.MinSplitK);

        // Cholesky: block sizes from the candidates; the whole-matrix limit 0 (whole up to 77),
        // an order of the walk down from 77 where whole won, or one block.
        Assert.Equal($"block {t.PotrfBlock}", Chosen("potrfBlock"));
        Assert.Equal($"block {t.PotrfLargeBlock}", Chosen("potrfLargeBlock"));
        Assert.Contains(t.PotrfBlock, Tuner.BlockCandidates);
        Assert.Equal($"{t.PotrfPanelLanes} per row", Chosen("potrfPanelLanes"));
        Assert.Equal(Tuner.PanelLaneCandidates.Length, report.Rows.Count(r => r.What.StartsWith("potrfPanelLanes:", StringComparison.Ordinal)));
        Assert.Equal($"{t.PotrfWholeLanes} per row", Chosen("potrfWholeLanes"));
        Assert.Equal(Tuner.PanelLaneCandidates.Length, report.Rows.Count(r => r.What.StartsWith("potrfWholeLanes:", StringComparison.Ordinal)));
        Assert.Equal($"{t.TrsmNarrowLanes} per column", Chosen("trsmNarrowLanes"));
        Assert.Equal(Tuner.NarrowLaneCandidates.Length, report.Rows.Count(r => r.What.StartsWith("trsmNarrowLanes:", StringComparison.Ordinal)));
        int max = Blas.PotrfMaxWholeOrder<double>(device);
        var walk = report.Rows.Where(r => r.What.StartsWith("potrfWholeUpTo:", StringComparison.Ordinal)).Chunk(2).ToArray();
        Assert.All(walk, pair => Assert.Equal(["whole", $"blocked ({t.PotrfBlock})"], pair.Select(r => r.Candidate)));
        Assert.All(walk[..^1], pair => Assert.True(pair[1].Chosen)); // walked on only while blocked won
        if (walk[^1][0].Chosen) Assert.Equal(walk.Length == 1 ? 0 : max - (walk.Length - 1) * Tuner.WholeStep, t.PotrfWholeUpTo);
        else Assert.Equal(t.PotrfBlock, t.PotrfWholeUpTo);
        Assert.Equal(TuningTable.Defaults.PotrfLargeFrom, t.PotrfLargeFrom);
        Assert.Equal(TuningTable.Defaults.GroupsPerMultiprocessor, t.GroupsPerMultiprocessor);

        // Two levels: one level against outer blocks of 72 (above every leaf block, below 80); the
        // outer panels timed only when two levels won. potrfOuterFrom keeps its default.
        Assert.Equal(["one level", "outer 72"], report.Rows.Where(r => r.What.StartsWith("potrfOuterBlock:", StringComparison.Ordinal)).Select(r => r.Candidate));
        Assert.Equal(t.PotrfOuterBlock == 0 ? "one level" : $"outer {t.PotrfOuterBlock}", Chosen("potrfOuterBlock"));
        Assert.Equal(TuningTable.Defaults.PotrfOuterFrom, t.PotrfOuterFrom);
        // The dataflow limit: blocked against dataflow at n = 40, then at 56 only if dataflow won at
        // 40; the limit is the largest order up to which dataflow won at every order timed.
        var dataflow = report.Rows.Where(r => r.What.StartsWith("potrfDataflowUpTo:", StringComparison.Ordinal)).Chunk(2).ToArray();
        Assert.InRange(dataflow.Length, 1, 2);
        Assert.All(dataflow, pair => Assert.Equal(["blocked", "dataflow"], pair.Select(r => r.Candidate)));
        Assert.Equal("potrfDataflowUpTo: f64 n = 40", dataflow[0][0].What);
        bool wonAt40 = dataflow[0][1].Chosen;
        Assert.Equal(wonAt40 ? 2 : 1, dataflow.Length);
        int expectedLimit = !wonAt40 ? 0 : dataflow[1][1].Chosen ? 56 : 40;
        Assert.Equal(expectedLimit, t.PotrfDataflowUpTo);

        var entries = Tuner.Entries.All.ToList();
        if (t.PotrfOuterBlock == 0)
        {
            entries.Remove(Tuner.Entries.PanelInverse);
            entries.Remove(Tuner.Entries.Streams);
            entries.Remove(Tuner.Entries.LeftLooking);
            entries.Remove(Tuner.Entries.BlockReverse);
            Assert.Equal([(Tuner.Entries.PanelInverse, "one level chosen: no outer panels"), (Tuner.Entries.Streams, "one level chosen: no outer panels"),
                (Tuner.Entries.LeftLooking, "one level chosen: no outer panels"), (Tuner.Entries.BlockReverse, "one level chosen: no outer panels")], report.NotMeasured);
        }
        else
        {
            Assert.Equal(t.PotrfPanelInverse ? "GEMM against the inverse" : "TRSM", Chosen("potrfPanelInverse"));
            Assert.Equal(t.PotrfStreams == 2 ? "two streams" : "one stream", Chosen("potrfStreams"));
            Assert.Equal(t.PotrfLeftLooking ? "left-looking" : "right-looking", Chosen("potrfLeftLooking"));
            Assert.Equal(t.PotrfBlockReverseByInverse ? "GEMMs against the inverse" : "leaf reverses", Chosen("potrfBlockReverseByInverse"));
            Assert.Empty(report.NotMeasured);
        }

        // The table names the device and what was measured, and reads back as written.
        Assert.Equal(device.Name, t.Device);
        string today = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Assert.StartsWith($"{today}, Tuner.Run on {device.Name}: {string.Join(", ", entries)}", t.Measured);
        Assert.Equal(entries, report.Measured);
        Assert.Equal(t with { Source = "again" }, TuningTable.FromJson(t.ToJson(), "again"));
    }

    [Fact]
    public void ADmmaCandidateCountsOnlyIfItsProductIsTheSimtProduct()
    {
        var dmma = GemmTiling.Parse("128x128k8mma")!.Value;
        var simt = GemmTiling.Parse("64x64k16")!.Value;
        var reference = Enumerable.Range(0, 4096).Select(i => Math.Sin(i) * 100).ToArray();
        // Rounding differences of a different summation order pass.
        Tuner.SameProduct(dmma, simt, reference.Select(v => v * (1 + 1e-15)).ToArray(), reference);
        // A wrong element (a fragment mapped to the wrong place), a NaN, an infinity do not.
        foreach (double bad in new[] { reference[7] + 1e-6, double.NaN, double.PositiveInfinity })
        {
            var got = (double[])reference.Clone();
            got[7] = bad;
            var e = Assert.Throws<GpuADException>(() => Tuner.SameProduct(dmma, simt, got, reference));
            Assert.Contains("128x128k8mma", e.Message);
            Assert.Contains("64x64k16", e.Message);
        }
    }

    /// <summary>Leaves of 8 (both block sizes): outer blocks of 16 and 32 split n = 48; 8 and 64 are left out.</summary>
    private static TuningTable LeavesOf8(Device device) =>
        TuningTable.Defaults with { Device = device.Name, PotrfBlock = 8, PotrfLargeBlock = 8 };

    private static readonly TuneOptions TwoLevelSizes = Tiny with { CholeskyLargeOrders = [48], CholeskyOuterBlocks = [64, 32, 8, 16] };

    /// <summary>
    /// The two-level entries at n = 48 in leaves of 8: one level against outer blocks of 16 and 32
    /// (8, not above the leaves, and 64, not below n, left out), the fastest written as
    /// potrfOuterBlock (0 for one level), then with it the outer panels by inverse or TRSM; the
    /// table written has both fields and reads back.
    /// </summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void TwoLevelsAreTimedAgainstOneLevelAndTheFastestWritten()
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        var report = Tuner.RunTwoLevels(device, TwoLevelSizes, LeavesOf8(device));
        Assert.Same(original, device.Tuning);
        var t = report.Table;

        var outer = report.Rows.Where(r => r.What == "potrfOuterBlock: f64 n = 48").ToArray();
        Assert.Equal(["one level", "outer 16", "outer 32"], outer.Select(r => r.Candidate));
        Assert.All(outer, r => Assert.True(r.MedianMs > 0, $"{r.Candidate}: {r.Note}"));
        var chosen = Assert.Single(outer, r => r.Chosen);
        Assert.Equal(outer.Min(r => r.MedianMs), chosen.MedianMs);
        Assert.Equal(chosen.Candidate == "one level" ? 0 : int.Parse(chosen.Candidate["outer ".Length..], CultureInfo.InvariantCulture), t.PotrfOuterBlock);

        var panel = report.Rows.Where(r => r.What.StartsWith("potrfPanelInverse:", StringComparison.Ordinal)).ToArray();
        if (t.PotrfOuterBlock == 0)
        {
            Assert.Empty(panel);
            Assert.Equal([Tuner.Entries.OuterBlock], report.Measured);
            Assert.Equal(TuningTable.Defaults.PotrfPanelInverse, t.PotrfPanelInverse);
        }
        else
        {
            Assert.Equal(["GEMM against the inverse", "TRSM"], panel.Select(r => r.Candidate));
            Assert.All(panel, r => Assert.Equal($"potrfPanelInverse: f64 n = 48, outer {t.PotrfOuterBlock}", r.What));
            Assert.Equal(Assert.Single(panel, r => r.Chosen).Candidate != "TRSM", t.PotrfPanelInverse);
            Assert.Equal(panel.Min(r => r.MedianMs), panel.Single(r => r.Chosen).MedianMs);
            Assert.Equal([Tuner.Entries.OuterBlock, Tuner.Entries.PanelInverse, Tuner.Entries.Streams, Tuner.Entries.LeftLooking, Tuner.Entries.BlockReverse], report.Measured);
            var streams = report.Rows.Where(r => r.What.StartsWith("potrfStreams:", StringComparison.Ordinal)).ToArray();
            Assert.Equal(["one stream", "two streams"], streams.Select(r => r.Candidate));
            Assert.Equal(streams.Min(r => r.MedianMs), streams.Single(r => r.Chosen).MedianMs);
            var order = report.Rows.Where(r => r.What.StartsWith("potrfLeftLooking:", StringComparison.Ordinal)).ToArray();
            Assert.Equal(["right-looking", "left-looking"], order.Select(r => r.Candidate));
            Assert.Equal(order.Min(r => r.MedianMs), order.Single(r => r.Chosen).MedianMs);
            Assert.Equal(order[1].Chosen, t.PotrfLeftLooking);
            var reverse = report.Rows.Where(r => r.What.StartsWith("potrfBlockReverseByInverse:", StringComparison.Ordinal)).ToArray();
            Assert.Equal(["leaf reverses", "GEMMs against the inverse"], reverse.Select(r => r.Candidate));
            Assert.Equal(reverse.Min(r => r.MedianMs), reverse.Single(r => r.Chosen).MedianMs);
            Assert.Equal(reverse[1].Chosen, t.PotrfBlockReverseByInverse);
        }

        // The leaves and where two levels start are the starting table's; the JSON has both fields.
        Assert.Equal((8, 8, TuningTable.Defaults.PotrfOuterFrom), (t.PotrfBlock, t.PotrfLargeBlock, t.PotrfOuterFrom));
        string json = t.ToJson();
        Assert.Contains($"\"potrfOuterBlock\": {t.PotrfOuterBlock},", json);
        Assert.Contains($"\"potrfPanelInverse\": {(t.PotrfPanelInverse ? "true" : "false")}", json);
        Assert.Equal(t with { Source = "again" }, TuningTable.FromJson(json, "again"));
    }

    /// <summary>
    /// A candidate whose factor or gradient is off by more than the tolerance is reported with its
    /// error, never timed and never chosen, while one off by rounding is timed. At the smallest
    /// sizes that reach two levels (n = 20, leaves of 4): outer blocks of 8 (a factor element off
    /// by 10⁻⁴ of the largest) and 12 (the gradient off by 10⁻⁵) are both rejected, so one level is
    /// chosen and written as 0, with no outer panels to time; a difference of a tenth of the
    /// tolerance passes, in the reference and in a later candidate.
    /// </summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void ACandidateThatComputesWronglyIsReportedAndNeverChosen()
    {
        var device = devices.GpuEmulated;
        const int n = 20;
        var start = TuningTable.Defaults with { Device = device.Name, PotrfBlock = 4, PotrfLargeBlock = 4 };
        var sizes = Tiny with { CholeskyLargeOrders = [n], CholeskyOuterBlocks = [8, 12] };
        double tol = Tuner.CholeskyTolerance<double>(n);
        static double Largest(double[] x) => x.Max(Math.Abs);
        void Corrupt(string candidate, double[] factor, double[] gradient)
        {
            if (candidate == "outer 8") factor[(n - 1) * n + 9] += 1e-4 * Largest(factor);
            if (candidate == "outer 12") gradient[5] -= 1e-5 * Largest(gradient);
            if (candidate == "one level") gradient[3] += 0.1 * tol * Largest(gradient); // the reference the others are compared with
        }
        var report = Tuner.RunTwoLevels(device, sizes, start, Corrupt);
        var rows = report.Rows.Where(r => r.What == $"potrfOuterBlock: f64 n = {n}").ToArray();
        Assert.Equal(["one level", "outer 8", "outer 12"], rows.Select(r => r.Candidate));
        Assert.True(rows[0].Chosen);
        Assert.True(rows[0].MedianMs > 0);
        foreach (var (row, what) in new[] { (rows[1], "the factor"), (rows[2], "the gradient") })
        {
            Assert.Null(row.MedianMs);
            Assert.False(row.Chosen);
            Assert.Contains($"{row.Candidate} (n = {n}): {what} differs from one level's by", row.Note);
        }
        Assert.Equal(0, report.Table.PotrfOuterBlock);
        Assert.Equal([Tuner.Entries.OuterBlock], report.Measured);
        Assert.Equal([(Tuner.Entries.PanelInverse, "one level chosen: no outer panels"), (Tuner.Entries.Streams, "one level chosen: no outer panels"),
            (Tuner.Entries.LeftLooking, "one level chosen: no outer panels"), (Tuner.Entries.BlockReverse, "one level chosen: no outer panels")], report.NotMeasured);
        Assert.Contains("Cholesky panel by inverse, Cholesky streams, Cholesky left-looking, Cholesky block reverse by inverse not measured (one level chosen: no outer panels)",
            report.Table.Measured);

        // A rounding-sized difference in a later candidate is not a wrong result: it is timed.
        var rounding = Tuner.RunTwoLevels(device, sizes with { CholeskyOuterBlocks = [8] }, start,
            (candidate, factor, _) => { if (candidate == "outer 8") factor[0] *= 1 + 0.1 * tol; });
        Assert.Equal(2, rounding.Rows.Count(r => r.What.StartsWith("potrfOuterBlock:", StringComparison.Ordinal) && r.MedianMs > 0));
    }

    /// <summary>
    /// The tolerance grows with n and is the element type's: differences of half of it pass and of
    /// twice it fail, at n = 64 and 4096 in float64 (10⁻⁸, 6.4·10⁻⁷) and float32 (10⁻⁴, 6.4·10⁻³).
    /// </summary>
    [Theory]
    [InlineData(64, 1e-8, 1e-4)]
    [InlineData(4096, 6.4e-7, 6.4e-3)]
    public void TheCholeskyToleranceScalesWithTheOrderAndTheElementType(int n, double f64, double f32)
    {
        Assert.Equal(f64, Tuner.CholeskyTolerance<double>(n), 1e-20);
        Assert.Equal(f32, Tuner.CholeskyTolerance<float>(n), 1e-12);
        var reference = Enumerable.Range(0, 400).Select(i => Math.Cos(i) * 3).ToArray();
        double largest = reference.Max(Math.Abs);
        foreach (double factor in new[] { 0.5, 2.0 })
        {
            var got = (double[])reference.Clone();
            got[11] += factor * f64 * largest;
            void Check() => Tuner.Agrees("outer 512 (n = 4096): the factor", "one level", got, reference, Tuner.CholeskyTolerance<double>(n));
            if (factor < 1) Check();
            else Assert.Contains("differs from one level's by", Assert.Throws<GpuADException>(Check).Message);
        }
    }

    [Fact]
    public void WithoutBudgetNothingIsTimedAndTheDefaultsAreKeptSayingSo()
    {
        var device = devices.GpuEmulated;
        var before = device.Tuning;
        var report = Tuner.Run(device, Tiny with { Budget = TimeSpan.Zero });
        Assert.Same(before, device.Tuning);
        Assert.Empty(report.Rows);
        Assert.Empty(report.Measured);
        Assert.Equal(Tuner.Entries.All, report.NotMeasured.Select(x => x.Entry));
        Assert.All(report.NotMeasured, x => Assert.Equal("budget", x.Why));
        Assert.EndsWith($"Tuner.Run on {device.Name}: nothing measured, the defaults kept (budget)", report.Table.Measured);
        Assert.Equal(TuningTable.Defaults with { Device = device.Name, Measured = report.Table.Measured, Source = report.Table.Source }, report.Table);
    }

    [Fact]
    public void TheCpuFamilyHasNothingToTune()
    {
        var e = Assert.Throws<ArgumentException>(() => Tuner.Run(devices.Cpu, Tiny));
        Assert.Contains("CPU-tuned kernels, which have nothing to tune", e.Message);
        Assert.Throws<ArgumentException>(() => Tuner.Run(devices.GpuEmulated, Tiny with { Repeats = 0 }));
    }
}
