using System.Text.RegularExpressions;

namespace GpuAD.Tests.Cli;

/// <summary>
/// <c>gpuad tune</c> and the tuning table in <c>gpuad devices</c>, run as processes: a sweep on the
/// emulated GPU writes a table that reads back and that <c>GPUAD_TUNING</c> then puts in force;
/// the CPU family is refused as a usage error; a malformed table is one line naming the file. The
/// sweep's timings decide what it writes: the fast tier runs it with no budget, where the outcome
/// is known; the slow tier runs all of it.
/// </summary>
[Collection("Cli")]
public sealed class CliTuneTests
{
    private static Dictionary<string, string?> Tuning(string file) => new() { ["GPUAD_TUNING"] = file };

    /// <summary>
    /// With no budget nothing is timed, so what is written is known: the defaults, naming the
    /// device and saying why nothing was measured. The file reads back, no temporary file is left,
    /// and GPUAD_TUNING puts it in force.
    /// </summary>
    [Fact]
    public void TuneWithoutBudgetWritesTheDefaultsThatGpuadTuningPutsInForce()
    {
        using var dir = new TempDir();
        string file = dir["sub/table.json"]; // a missing directory is created
        var run = ToolProcess.RunIn(dir.Path, "tune", "--device", "emulated-gpu", "--budget", "0", "--out", file);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);

        var table = TuningTable.FromJson(File.ReadAllText(file), file);
        Assert.Matches(new Regex(@"^\d{4}-\d\d-\d\d, gpuad tune --budget 0 on emulated GPU \(CPU accelerator\): nothing measured, the defaults kept \(budget\)$"), table.Measured);
        Assert.Equal(TuningTable.Defaults with { Device = "emulated GPU (CPU accelerator)", Measured = table.Measured, Source = file }, table);
        Assert.DoesNotContain("✓", run.Stdout); // no candidate timed, no table of them
        AssertWrittenAndInForce(dir, file, run);
    }

    /// <summary>
    /// The whole sweep at the emulated GPU's sizes (~30 s on an idle 2-core machine), with a budget
    /// no run comes near, so that every entry is timed (the outer panels where two levels won):
    /// each GEMM tiling written is the printed table's chosen (✓) candidate of its entry.
    /// </summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void TuneOnTheEmulatedGpuWritesTheChosenCandidateOfEveryEntry()
    {
        using var dir = new TempDir();
        string file = dir["table.json"];
        var run = ToolProcess.RunWith(dir.Path, environment: null, TimeSpan.FromMinutes(15),
            "tune", "--device", "emulated-gpu", "--budget", "3600", "--repeat", "1", "--out", file);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);

        var table = TuningTable.FromJson(File.ReadAllText(file), file);
        Assert.Equal("emulated GPU (CPU accelerator)", table.Device);
        // Every entry, but the outer panels only where two levels beat one (then potrfOuterBlock is 0).
        var entries = GpuAD.Bench.Tuner.Entries.All;
        string measured = table.PotrfOuterBlock == 0
            ? string.Join(", ", entries.Where(e => e != GpuAD.Bench.Tuner.Entries.PanelInverse && e != GpuAD.Bench.Tuner.Entries.Streams
                    && e != GpuAD.Bench.Tuner.Entries.LeftLooking && e != GpuAD.Bench.Tuner.Entries.BlockReverse))
                + $"; {GpuAD.Bench.Tuner.Entries.PanelInverse}, {GpuAD.Bench.Tuner.Entries.Streams}, {GpuAD.Bench.Tuner.Entries.LeftLooking}, "
                + $"{GpuAD.Bench.Tuner.Entries.BlockReverse} not measured (one level chosen: no outer panels), defaults kept"
            : string.Join(", ", entries);
        Assert.Matches(new Regex($@"^\d{{4}}-\d\d-\d\d, gpuad tune --budget 3600 on emulated GPU \(CPU accelerator\): {Regex.Escape(measured)}$"), table.Measured);
        Assert.Contains(table.PotrfOuterBlock, new[] { 0, 72, 96 });
        var chosen = Regex.Matches(run.Stdout, @"│ (\w+): [^│]+│ (\S+)\s+│ \d+\.\d{3}\s+│ ✓")
            .GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => g.Last().Groups[2].Value);
        Assert.Equal(chosen["gemmF64"], table.GemmF64);
        Assert.Equal(chosen["gemmF32"], table.GemmF32);
        Assert.Equal(chosen["gemmSmallF64"], table.GemmSmallF64);
        Assert.Equal(chosen["gemmSmallF32"], table.GemmSmallF32);
        AssertWrittenAndInForce(dir, file, run);
    }

    private static void AssertWrittenAndInForce(TempDir dir, string file, ToolRun run)
    {
        Assert.Contains($"Use it with GPUAD_TUNING={file}", run.Stdout);
        Assert.Contains("src/Kernels/Tuning/emulated-gpu-cpu-accelerator.json", run.Stdout);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(file)!, ".*.tmp")); // no temporary file left

        var devices = ToolProcess.RunWith(dir.Path, Tuning(file), "devices", "--device", "cpu");
        Assert.True(devices.ExitCode == 0, devices.ToString());
        Assert.Matches(new Regex($@"^  emulated-gpu  GPUAD_TUNING \({Regex.Escape(file)}\)$", RegexOptions.Multiline), devices.Stdout);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void TuneRefusesTheCpuFamilyAsAUsageErrorBeforeAnyWork()
    {
        using var dir = new TempDir();
        var run = ToolProcess.RunIn(dir.Path, "tune", "--device", "cpu");
        Assert.Equal(2, run.ExitCode);
        Assert.Equal("", run.Stdout);
        Assert.Equal(
            "gpuad: tune: the device is the CPU accelerator (asked for by --device cpu), and the CPU family has nothing to tune: its kernels read no tiling or block-size table. Use --device cuda, or --device emulated-gpu to try the sweep.",
            run.Stderr.TrimEnd());
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));

        // --out is checked before the device is opened.
        Directory.CreateDirectory(dir["d"]);
        run = ToolProcess.RunIn(dir.Path, "tune", "--device", "emulated-gpu", "--out", dir["d"]);
        Assert.Equal(2, run.ExitCode);
        Assert.Contains($"--out {dir["d"]}: is a directory", run.Stderr);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void DevicesSaysWhichTableEachDeviceUses()
    {
        var run = ToolProcess.Run("devices", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(new Regex(@"^  emulated-gpu  defaults$", RegexOptions.Multiline), run.Stdout);
        Assert.Matches(new Regex(@"^  cpu           — \(the CPU-tuned kernels read none\)$", RegexOptions.Multiline), run.Stdout);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void AMalformedGpuadTuningFileIsOneLineNamingTheFileAndTheField()
    {
        using var dir = new TempDir();
        string file = dir["bad.json"];
        File.WriteAllText(file, TuningTable.Defaults.ToJson().Replace("\"maxSplits\": 16", "\"maxSplits\": 0"));
        string expected = $"gpuad: Tuning table GPUAD_TUNING ({file}): maxSplits 0: must be at least 1 (1 turns split-K off). (fix the file, or unset GPUAD_TUNING for the committed or default table)";
        foreach (var args in new[] { new[] { "devices" }, ["tune", "--device", "emulated-gpu", "--out", dir["t.json"]] })
        {
            var run = ToolProcess.RunWith(dir.Path, Tuning(file), args);
            Assert.True(run.ExitCode == 1, run.ToString());
            Assert.Equal(expected, run.Stderr.TrimEnd());
            Assert.False(File.Exists(dir["t.json"]));
        }
        // The CPU family reads no table: a bad one does not stop it.
        var cpu = ToolProcess.RunWith(dir.Path, Tuning(file), "bench", "--op", "matmul", "--n", "8", "--repeat", "1", "--device", "cpu");
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        Assert.Contains("forward_ms", cpu.Stdout);
    }
}
