using System.Text.RegularExpressions;

namespace GpuAD.Tests.Cli;

/// <summary>
/// <c>gpuad tune</c> and the tuning table in <c>gpuad devices</c>, run as processes: a sweep on the
/// emulated GPU writes a table that reads back and that <c>GPUAD_TUNING</c> then puts in force;
/// the CPU family is refused as a usage error; a malformed table is one line naming the file.
/// </summary>
[Collection("Cli")]
public sealed class CliTuneTests
{
    /// <summary>Seconds of sweep: the GEMM entries on this 2-core machine when it is idle, not all (the emulated sweep takes ~30 s).</summary>
    private const int Budget = 12;

    private static Dictionary<string, string?> Tuning(string file) => new() { ["GPUAD_TUNING"] = file };

    [Fact]
    public void TuneOnTheEmulatedGpuWritesATableThatGpuadTuningPutsInForce()
    {
        using var dir = new TempDir();
        string file = dir["sub/table.json"]; // a missing directory is created
        var run = ToolProcess.RunIn(dir.Path, "tune", "--device", "emulated-gpu", "--budget", $"{Budget}", "--repeat", "1", "--out", file);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("", run.Stderr);

        var table = TuningTable.FromJson(File.ReadAllText(file), file);
        Assert.Equal("emulated GPU (CPU accelerator)", table.Device);
        var measured = Regex.Match(table.Measured, $@"^\d{{4}}-\d\d-\d\d, gpuad tune --budget {Budget} on emulated GPU \(CPU accelerator\): (.+)$");
        Assert.True(measured.Success, table.Measured);
        // "m1, m2; n1, n2 not measured (budget), defaults kept", or "nothing measured, the defaults kept (budget)".
        var parts = measured.Groups[1].Value.Split("; ");
        string[] timed = parts[0].StartsWith("nothing measured, the defaults kept", StringComparison.Ordinal) ? [] : parts[0].Split(", ");
        string untimed = string.Join("; ", parts.Skip(timed.Length == 0 ? 0 : 1));

        // Whatever the budget reached on this machine: a measured tiling is the printed table's
        // chosen (✓) candidate; one not reached is named as such and keeps its default.
        var chosen = Regex.Matches(run.Stdout, @"│ (\w+): [^│]+│ (\S+)\s+│ \d+\.\d{3}\s+│ ✓")
            .GroupBy(m => m.Groups[1].Value).ToDictionary(g => g.Key, g => g.Last().Groups[2].Value);
        var d = TuningTable.Defaults;
        foreach (var (entry, field, value, byDefault) in new[]
        {
            ("gemm f64", "gemmF64", table.GemmF64, d.GemmF64), ("gemm f32", "gemmF32", table.GemmF32, d.GemmF32),
            ("gemm small f64", "gemmSmallF64", table.GemmSmallF64, d.GemmSmallF64), ("gemm small f32", "gemmSmallF32", table.GemmSmallF32, d.GemmSmallF32),
        })
        {
            if (timed.Contains(entry)) Assert.Equal(chosen[field], value);
            else
            {
                if (timed.Length > 0) Assert.Matches(new Regex($@"(^|, ){entry}(,| not measured \(budget\))"), untimed);
                Assert.Equal(byDefault, value);
            }
        }
        Assert.Contains($"Use it with GPUAD_TUNING={file}", run.Stdout);
        Assert.Contains("src/Kernels/Tuning/emulated-gpu-cpu-accelerator.json", run.Stdout);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(file)!, ".*.tmp")); // no temporary file left

        var devices = ToolProcess.RunWith(dir.Path, Tuning(file), "devices", "--device", "cpu");
        Assert.True(devices.ExitCode == 0, devices.ToString());
        Assert.Matches(new Regex($@"^  emulated-gpu  GPUAD_TUNING \({Regex.Escape(file)}\)$", RegexOptions.Multiline), devices.Stdout);
    }

    [Fact]
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
    public void DevicesSaysWhichTableEachDeviceUses()
    {
        var run = ToolProcess.Run("devices", "--device", "cpu");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches(new Regex(@"^  emulated-gpu  defaults$", RegexOptions.Multiline), run.Stdout);
        Assert.Matches(new Regex(@"^  cpu           — \(the CPU-tuned kernels read none\)$", RegexOptions.Multiline), run.Stdout);
    }

    [Fact]
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
