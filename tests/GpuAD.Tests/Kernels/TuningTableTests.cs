using System.Text.Json.Nodes;
using GpuAD.Kernels;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The tuning table's file format: what <c>gpuad tune</c> writes reads back the same, every
/// out-of-range value is refused with a message naming its field, and <see cref="TuningTable.For(string, string?)"/>
/// takes a GPUAD_TUNING file over the committed tables and the defaults.
/// </summary>
public sealed class TuningTableTests
{
    /// <summary>A table in which every field differs from the defaults.</summary>
    private static readonly TuningTable Measured = new()
    {
        Device = "NVIDIA Test GPU", Measured = "2026-11-27, gpuad tune --budget 240 on NVIDIA Test GPU: gemm f64",
        GemmF64 = "64x64k16", GemmF32 = "64x64k32", GemmSmallF64 = "128x64k8", GemmSmallF32 = "128x64k16",
        GroupsPerMultiprocessor = 1.5, MaxSplits = 8, MinSplitK = 512, GemmCublas = "large,k-panel",
        PotrfBlock = 48, PotrfLargeBlock = 32, PotrfLargeFrom = 1024, PotrfWholeUpTo = 64, PotrfPanelLanes = 4, PotrfWholeLanes = 2, TrsmNarrowLanes = 8, PotrfLookAhead = false,
        PotrfOuterBlock = 256, PotrfOuterFrom = 4096, PotrfPanelInverse = false, PotrfStreams = 2, PotrfLeftLooking = true, PotrfBlockReverseByInverse = true, PotrfDataflowUpTo = 1024,
    };

    [Fact]
    public void WhatTuneWritesReadsBackTheSame()
    {
        string json = Measured.ToJson();
        var back = TuningTable.FromJson(json, "test");
        Assert.Equal(Measured with { Source = "test" }, back);
        Assert.Equal("test", back.Source);
        // Written in camelCase, without the source (where a table came from is not part of it).
        var node = JsonNode.Parse(json)!.AsObject();
        Assert.Equal("64x64k32", (string?)node["gemmF32"]);
        Assert.Equal(8, (int?)node["maxSplits"]);
        Assert.False(node.ContainsKey("source"));
        Assert.Equal(false, (bool?)node["potrfLookAhead"]);
        Assert.Equal("large,k-panel", (string?)node["gemmCublas"]);
        Assert.Equal(256, (int?)node["potrfOuterBlock"]);
        Assert.Equal(false, (bool?)node["potrfPanelInverse"]);
        Assert.Equal(2, (int?)node["potrfStreams"]);
        Assert.Equal(1024, (int?)node["potrfDataflowUpTo"]);
        Assert.Equal(true, (bool?)node["potrfLeftLooking"]);
        Assert.Equal(true, (bool?)node["potrfBlockReverseByInverse"]);
        Assert.Equal(25, node.Count);
    }

    public static TheoryData<string, string, string> BadValues() => new()
    {
        // field, value (JSON), what the message must say besides the field
        { "gemmF64", "\"96x96k8\"", "not a GEMM tiling" },
        { "gemmF64", "\"64x64k32\"", "65 KiB of shared memory in float64, more than the 48 KiB" },
        { "gemmSmallF32", "\"32x32k4\"", "not a GEMM tiling" },
        { "gemmF32", "\"128x128k8mma\"", "runs on the fp64 tensor cores, float64 only" },
        { "gemmSmallF32", "\"64x64k16mma\"", "runs on the fp64 tensor cores, float64 only" },
        { "maxSplits", "0", "must be at least 1" },
        { "potrfPanelLanes", "3", "must be 1, 2 or 4" },
        { "potrfWholeLanes", "8", "must be 1, 2 or 4" },
        { "trsmNarrowLanes", "3", "must be a power of two up to 32" },
        { "minSplitK", "-4", "must be at least 1" },
        { "groupsPerMultiprocessor", "0", "must be a positive number" },
        { "potrfBlock", "96", "Cholesky blocks of more than 77 do not fit" },
        { "potrfLargeBlock", "78", "Cholesky blocks of more than 77 do not fit" },
        { "potrfBlock", "0", "must be at least 1" },
        { "potrfWholeUpTo", "-1", "must not be negative" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void FromJsonRefusesAValueOutOfRangeNamingItsField(string field, string value, string why)
    {
        var node = JsonNode.Parse(TuningTable.Defaults.ToJson())!.AsObject();
        node[field] = JsonNode.Parse(value);
        var e = Assert.Throws<FormatException>(() => TuningTable.FromJson(node.ToJsonString(), "bad.json"));
        Assert.StartsWith($"Tuning table bad.json: {field} {value.Trim('"')}", e.Message.Replace("'", ""));
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void FromJsonRefusesAMisspeltFieldAndWhatIsNotJson()
    {
        var node = JsonNode.Parse(TuningTable.Defaults.ToJson())!.AsObject();
        node["gemmf64"] = "64x64k16"; // would otherwise leave gemmF64 at its default without a word
        var e = Assert.Throws<FormatException>(() => TuningTable.FromJson(node.ToJsonString(), "typo.json"));
        Assert.Contains("typo.json", e.Message);
        Assert.Contains("'gemmf64'", e.Message);

        e = Assert.Throws<FormatException>(() => TuningTable.FromJson("{ \"maxSplits\": ", "cut.json"));
        Assert.StartsWith("Tuning table cut.json: ", e.Message);
        e = Assert.Throws<FormatException>(() => TuningTable.FromJson("null", "null.json"));
        Assert.StartsWith("Tuning table null.json: the file holds a JSON null; a table is a JSON object", e.Message);
    }

    [Fact]
    public void ForTakesTheGpuadTuningFileOverTheCommittedTablesAndTheDefaults()
    {
        string dir = Path.Combine(Path.GetTempPath(), "gpuad-tuning-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            string file = Path.Combine(dir, "t.json");
            File.WriteAllText(file, Measured.ToJson());
            // The file applies to any device name, with its source saying where it came from.
            var fromFile = TuningTable.For("some other GPU", file);
            Assert.Equal(Measured with { Source = $"GPUAD_TUNING ({file})" }, fromFile);

            // Unset (null or empty): the committed table of that name, else the defaults.
            Assert.Same(TuningTable.Defaults, TuningTable.For("no GPU of this name", null));
            Assert.Same(TuningTable.Defaults, TuningTable.For("no GPU of this name", ""));
            foreach (var committed in TuningTable.Committed)
            {
                Assert.Same(committed, TuningTable.For(committed.Device, null));
                Assert.StartsWith("committed (", committed.Source);
            }

            // A file that is missing or malformed: one message naming the file.
            string missing = Path.Combine(dir, "missing.json");
            var e = Assert.Throws<FormatException>(() => TuningTable.For("x", missing));
            Assert.Equal($"Tuning table GPUAD_TUNING ({missing}): no such file.", e.Message);
            File.WriteAllText(file, Measured.ToJson().Replace("\"maxSplits\": 8", "\"maxSplits\": 0"));
            e = Assert.Throws<FormatException>(() => TuningTable.For("x", file));
            Assert.Equal($"Tuning table GPUAD_TUNING ({file}): maxSplits 0: must be at least 1 (1 turns split-K off).", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheDefaultsAreValidAndUseCompiledTilings()
    {
        var d = TuningTable.FromJson(TuningTable.Defaults.ToJson(), "defaults");
        Assert.Equal(TuningTable.Defaults with { Source = "defaults" }, d);
        Assert.Contains(GemmTiling.Parse(d.GemmF64)!.Value, GemmGpu.TilingsFor(sizeof(double)));
        Assert.Contains(GemmTiling.Parse(d.GemmF32)!.Value, GemmGpu.TilingsFor(sizeof(float)));
        Assert.Equal(PotrfGpu.BlockSize, d.PotrfBlock);
        Assert.Equal(PotrfGpu.LargeBlockSize, d.PotrfLargeBlock);
    }
}
