using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using GpuAD.Kernels;

namespace GpuAD.Bench.Runner;

/// <summary>
/// The self-timed runner (no BenchmarkDotNet, so it fits a short device lease):
/// <c>run --suite NAME --out DIR [--quick] [--reps N] [--warmup N] [--case-cap-s S] [--budget-s S] [--filter TEXT] [--suites FILE] [--emulate-gpu] [--profile]</c>.
/// Opens the device chosen by <c>GPUAD_DEVICE</c> (Devices.Open; with <c>--emulate-gpu</c>, the
/// CPU accelerator running the GPU-tuned kernels, to try a GPU suite without a GPU), and for each case of the
/// suite: uploads the inputs, loads the kernels with a small problem of the same op and type,
/// warms up at full size, then times runs (each synchronizing the device) until the repetitions
/// or the case's time cap are reached, and reports medians. Writes DIR/gpuad.json and DIR/gpuad.md.
/// </summary>
internal static class SuiteRunner
{
    private const string Usage =
        "usage: GpuAD.Bench run --suite gpu|cpu --out DIR [--quick] [--reps N] [--warmup N] [--case-cap-s S] [--budget-s S] [--filter TEXT] [--suites FILE] [--emulate-gpu] [--profile]";

    public static int Run(string[] args)
    {
        Options options;
        try
        {
            options = Options.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        string suiteName = options.Quick ? options.Suite + "-quick" : options.Suite;
        var suite = Suite.Load(options.SuitesPath, suiteName);
        suite = suite with
        {
            Reps = options.Reps ?? suite.Reps,
            Warmup = options.Warmup ?? suite.Warmup,
            CaseCapSeconds = options.CaseCapSeconds ?? suite.CaseCapSeconds,
            BudgetSeconds = options.BudgetSeconds ?? suite.BudgetSeconds,
        };
        var problems = suite.Cases.Select(Suite.ParseCase)
            .Where(p => options.Filter is null || p.Id.Contains(options.Filter, StringComparison.OrdinalIgnoreCase))
            .ToList();

        Directory.CreateDirectory(options.Out);
        var clock = Stopwatch.StartNew();
        Device device;
        try
        {
            device = Devices.Open(options.EmulateGpu ? DeviceChoice.EmulatedGpu : null);
        }
        catch (Exception e) when (e is GpuADException or FormatException) // FormatException: a malformed GPUAD_TUNING table
        {
            Console.Error.WriteLine($"GpuAD.Bench: {e.Message}");
            return 3;
        }
        using var _ = device;
        string? tuning = device.Family == KernelFamily.GpuTuned ? device.Tuning.Source : null; // the CPU family reads no table
        Console.WriteLine($"GpuAD {suiteName}: {problems.Count} cases on {device} (opened in {clock.Elapsed.TotalSeconds:F1} s); " +
                          $"{suite.Reps} reps, cap {suite.CaseCapSeconds} s per case, budget {suite.BudgetSeconds} s" +
                          (tuning is null ? "" : $"; tuning table: {tuning}"));

        var loaded = new HashSet<(BenchOp, DType)>();
        var settings = new MeasureSettings(suite.Warmup, suite.Reps, suite.CaseCapSeconds);
        var results = new List<CaseResult>();
        foreach (var problem in problems)
        {
            double remaining = suite.BudgetSeconds - clock.Elapsed.TotalSeconds;
            var result = remaining <= 0
                ? CaseResult.Skipped(problem, $"suite budget of {suite.BudgetSeconds} s spent")
                : Engine.Measure(device, problem, settings with { CapSeconds = Math.Min(suite.CaseCapSeconds, remaining) }, loaded);
            results.Add(result);
            Console.WriteLine(result.Line());
            if (options.Profile && result.Ran && clock.Elapsed.TotalSeconds < suite.BudgetSeconds)
            {
                string table = Profiler.Run(device, problem);
                Console.Write(table);
                File.AppendAllText(Path.Combine(options.Out, "profile.txt"), table);
            }
        }

        var report = new Report
        {
            Suite = suiteName,
            DateUtc = DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
            Command = "GpuAD.Bench.dll run " + string.Join(' ', args),
            Device = new DeviceReport(device.Name, device.Kind.ToString(), device.Family.ToString(), device.MemoryBytes, tuning),
            Host = HostReport.Current(),
            Settings = new SettingsReport(suite.Warmup, suite.Reps, suite.CaseCapSeconds, suite.BudgetSeconds),
            WallSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
            Cases = results,
        };
        File.WriteAllText(Path.Combine(options.Out, "gpuad.json"), JsonSerializer.Serialize(report, Report.Json));
        File.WriteAllText(Path.Combine(options.Out, "gpuad.md"), report.Markdown());
        Console.WriteLine($"wrote {Path.Combine(options.Out, "gpuad.json")} and gpuad.md ({clock.Elapsed.TotalSeconds:F0} s)");
        return results.Any(r => r.Status == "failed") ? 1 : 0;
    }

    private sealed record Options(string Suite, string Out, bool Quick, int? Reps, int? Warmup, double? CaseCapSeconds, double? BudgetSeconds, string? Filter, string SuitesPath, bool EmulateGpu, bool Profile)
    {
        public static Options Parse(string[] args)
        {
            string? suite = null, output = null, filter = null, suites = null;
            bool quick = false, emulate = false, profile = false;
            int? reps = null, warmup = null;
            double? cap = null, budget = null;
            for (int i = 0; i < args.Length; i++)
            {
                string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "--suite": suite = Value(); break;
                    case "--out": output = Value(); break;
                    case "--quick": quick = true; break;
                    case "--reps": reps = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--warmup": warmup = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--case-cap-s": cap = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--budget-s": budget = double.Parse(Value(), CultureInfo.InvariantCulture); break;
                    case "--filter": filter = Value(); break;
                    case "--suites": suites = Value(); break;
                    case "--emulate-gpu": emulate = true; break;
                    case "--profile": profile = true; break;
                    default: throw new ArgumentException($"unknown argument '{args[i]}'");
                }
            }
            if (suite is null || output is null) throw new ArgumentException("--suite and --out are required");
            if (reps is < 1) throw new ArgumentException("--reps must be at least 1");
            return new Options(suite, output, quick, reps, warmup, cap, budget, filter, suites ?? Runner.Suite.DefaultPath, emulate, profile);
        }
    }
}

/// <summary>The result file of one run of a suite (gpuad.json).</summary>
internal sealed record Report
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Tool { get; init; } = "GpuAD";
    public required string Suite { get; init; }
    public required string DateUtc { get; init; }
    public required string Command { get; init; }
    public required DeviceReport Device { get; init; }
    public required HostReport Host { get; init; }
    public required SettingsReport Settings { get; init; }
    public double WallSeconds { get; init; }
    public required List<CaseResult> Cases { get; init; }

    public string Markdown()
    {
        var md = new StringBuilder();
        md.AppendLine($"# GpuAD, suite {Suite}").AppendLine();
        md.AppendLine($"- Date (UTC): {DateUtc}");
        md.AppendLine($"- Device: {Device.Name} ({Device.Kind}, {Device.Family} kernels)");
        md.AppendLine($"- Host: {Host.Cpu}, {Host.Processors} processors, {Host.Os}, .NET {Host.Dotnet}");
        md.AppendLine($"- Median of up to {Settings.Reps} runs after {Settings.Warmup} warm-up run(s); cap {Settings.CaseCapS} s per case; the device is synchronized inside each run");
        md.AppendLine($"- Command: `{Command}`").AppendLine();
        md.AppendLine("| case | path | reps | forward ms | backward ms | total ms | executed GFLOP/s | peak MiB | status |");
        md.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---|");
        foreach (var c in Cases)
        {
            string Phase(string name) => c.Phases is not null && c.Phases.TryGetValue(name, out var p) ? Ms(p.MedianMs) : "";
            md.AppendLine($"| {c.Id} | {c.Path} | {c.Reps} | {Phase("forward")} | {Phase("backward")} | {Ms(c.MedianMs)} | " +
                          $"{(c.Gflops is double g ? g.ToString("F1", CultureInfo.InvariantCulture) : "")} | " +
                          $"{(c.PeakBytes is long b ? (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "")} | {c.Status}{(c.Note is null ? "" : ": " + c.Note)} |");
        }
        md.AppendLine().AppendLine("Executed flops: what the algorithm that ran computes (GpuAD.Bench.Flops): GEMM 2n³, TRSM n³ (n right-hand sides), POTRF n³/3; " +
            "Cholesky forward + backward n³/3 + 2n³/3 on the blocked and whole-matrix paths, n³/3 + 4n³ composed; times the batch.");
        return md.ToString();
    }

    private static string Ms(double? ms) => ms is double v ? v.ToString(v < 10 ? "F3" : "F1", CultureInfo.InvariantCulture) : "";
}

/// <summary>The device of a suite run; <paramref name="Tuning"/> is the GPU family's tuning table's source (null on the CPU family).</summary>
internal sealed record DeviceReport(string Name, string Kind, string Family, long MemoryBytes, string? Tuning);

internal sealed record SettingsReport(int Warmup, int Reps, double CaseCapS, double BudgetS);

internal sealed record HostReport(string Cpu, int Processors, string Os, string Dotnet)
{
    public static HostReport Current()
    {
        string cpu = RuntimeInformation.ProcessArchitecture.ToString();
        try
        {
            var model = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            if (model is not null) cpu = model[(model.IndexOf(':') + 1)..].Trim();
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new HostReport(cpu, Environment.ProcessorCount, RuntimeInformation.OSDescription, Environment.Version.ToString());
    }
}
