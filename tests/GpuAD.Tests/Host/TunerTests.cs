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
        CholeskySmallOrder = 16, CholeskySmallBatch = 2, TrsmOrder = 40,
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

        // The table names the device and what was measured, and reads back as written.
        Assert.Equal(device.Name, t.Device);
        string today = DateTime.UtcNow.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
        Assert.Equal($"{today}, Tuner.Run on {device.Name}: {string.Join(", ", Tuner.Entries.All)}", t.Measured);
        Assert.Equal(Tuner.Entries.All, report.Measured);
        Assert.Empty(report.NotMeasured);
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
