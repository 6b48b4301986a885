using System.Diagnostics;
using GpuAD.Kernels;

namespace GpuAD.Bench;

/// <summary>How many runs the engine times per case.</summary>
/// <param name="Warmup">Untimed full-size runs before measuring (at least one).</param>
/// <param name="Reps">Measured runs (fewer when the cap is reached).</param>
/// <param name="CapSeconds">Seconds one case may spend warming up and measuring; at least one run is always measured.</param>
internal sealed record MeasureSettings(int Warmup, int Reps, double CapSeconds);

/// <summary>
/// The one benchmark engine, behind <c>gpuad bench</c>, the suite runner (<c>GpuAD.Bench run</c>)
/// and the BenchmarkDotNet benchmarks: for a problem, loads the kernels of its op and type with a
/// small problem (first use per device), fills the inputs, then times them through <see cref="Time"/>
/// — the one timing loop, which the tuner's candidates go through too — and reports medians,
/// executed-flop rates and the pool's peak.
/// </summary>
internal static class Engine
{
    /// <summary>More than two blocks of every blocked kernel.</summary>
    private static readonly (int Batch, int N) KernelLoadSize = (2, 130);

    /// <summary>
    /// The timing loop behind every measurement (the benchmark cases and the tuner's candidates):
    /// warm-up runs at full size (at least one; a warm-up that alone outlasts the cap is kept as the
    /// one sample), then the result validated, then measured runs until the repetitions or the cap
    /// are reached. Each run is prepared (untimed) and laps its phases after waiting for the device
    /// (<see cref="TimedRun"/>). Exceptions propagate.
    /// </summary>
    /// <param name="work">What to run.</param>
    /// <param name="settings">Warm-up, repetitions and cap (seconds from the first warm-up run).</param>
    public static Timings Time(TimedRun work, MeasureSettings settings)
    {
        var timer = new PhaseTimer(work.Phases.Count);
        var clock = Stopwatch.StartNew();
        var samples = new List<double[]>();
        for (int i = 0; i < Math.Max(1, settings.Warmup); i++)
        {
            work.Prepare();
            work.Run(timer);
            if (clock.Elapsed.TotalSeconds > settings.CapSeconds)
            {
                samples.Add((double[])timer.Seconds.Clone());
                break;
            }
        }
        work.Validate();
        double warmupSeconds = timer.Total;
        bool capped = samples.Count > 0;
        for (int r = 0; r < settings.Reps && !capped; r++)
        {
            work.Prepare();
            work.Run(timer);
            samples.Add((double[])timer.Seconds.Clone());
            capped = r + 1 < settings.Reps && clock.Elapsed.TotalSeconds + timer.Total > settings.CapSeconds;
        }
        return new Timings(samples, warmupSeconds, capped);
    }

    /// <summary>Measures one case. A failure is reported in the result, not thrown; a case the device has no run for is skipped.</summary>
    /// <param name="device">The device.</param>
    /// <param name="problem">The case.</param>
    /// <param name="settings">Warm-up, repetitions and cap.</param>
    /// <param name="loaded">The (op, type) pairs whose kernels are loaded on this device; updated.</param>
    /// <param name="seed">Seed of the inputs.</param>
    public static CaseResult Measure(Device device, Problem problem, MeasureSettings settings, ISet<(BenchOp, DType)> loaded, int seed = 1)
    {
        if (Workload.CannotRun(device, problem) is { } why) return CaseResult.Skipped(problem, why);
        device.Pool.Trim(); // the previous case's blocks
        var caseClock = Stopwatch.StartNew();
        try
        {
            if (loaded.Add((problem.Op, problem.DType)))
            {
                using var small = Workload.Create(device, problem with { Batch = KernelLoadSize.Batch, N = Math.Min(problem.N, KernelLoadSize.N) });
                small.Prepare();
                small.Run(null);
                small.Validate();
            }
            using var work = Workload.Create(device, problem, seed);
            double setupSeconds = caseClock.Elapsed.TotalSeconds;
            var t = Time(work, settings);
            string? note = t.Capped ? $"{t.Samples.Count} of {settings.Reps} reps: case cap {settings.CapSeconds:F0} s" : null;
            return CaseResult.Measured(problem, work, t.Samples, setupSeconds, t.WarmupSeconds, t.Capped, note);
        }
        catch (Exception e) // a failing case is reported and a suite goes on: a device lease is short
        {
            return CaseResult.Failed(problem, e is GpuADException ? e.Message : $"{e.GetType().Name}: {e.Message}") with { Error = e };
        }
        finally
        {
            device.Pool.Trim();
        }
    }
}

/// <summary>What <see cref="Engine.Time"/> measured.</summary>
/// <param name="Samples">Seconds of each phase, per measured run.</param>
/// <param name="WarmupSeconds">The last warm-up run's seconds.</param>
/// <param name="Capped">True when the cap cut the repetitions short.</param>
internal sealed record Timings(List<double[]> Samples, double WarmupSeconds, bool Capped)
{
    /// <summary>The median of the runs' totals, seconds.</summary>
    public double MedianSeconds => CaseResult.Median(Samples.Select(s => s.Sum()).ToArray());
}

/// <summary>A run made of actions (the tuner's candidates): one phase, "op".</summary>
internal sealed class TimedAction(Device device, Action? restore, Action run, Action? validate = null) : TimedRun(device)
{
    protected override void Restore() => restore?.Invoke();

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        run();
        EndPhase(timer, 0);
    }

    public override void Validate() => validate?.Invoke();
}

internal static class Profiler
{
    /// <summary>
    /// One run of <paramref name="problem"/> (after an untimed one) with every launch timed on its
    /// own (<see cref="KernelProfile"/>); a table of the kernels that took the most time.
    /// </summary>
    /// <param name="device">The device.</param>
    /// <param name="problem">The case.</param>
    /// <param name="top">Rows of the table.</param>
    public static string Run(Device device, Problem problem, int top = 14)
    {
        device.Pool.Trim();
        try
        {
            using var work = Workload.Create(device, problem, 1);
            work.Prepare();
            work.Run(null);
            work.Prepare();
            var profile = new KernelProfile();
            device.Profile = profile;
            profile.Start();
            try
            {
                work.Run(null);
            }
            finally
            {
                profile.Stop();
                device.Profile = null;
            }
            var sb = new System.Text.StringBuilder();
            var entries = profile.Entries;
            sb.AppendLine($"  profile of {problem.Id}: {profile.Wall * 1e3:F3} ms with a synchronization per launch, " +
                          $"{entries.Sum(e => e.Count)} launches of {entries.Count} kernels, {profile.Outside * 1e3:F3} ms outside launches (copies, fills, host)");
            foreach (var (kernel, count, seconds) in entries.Take(top))
                sb.AppendLine($"    {seconds * 1e3,10:F3} ms {100 * seconds / profile.Wall,5:F1}% {count,6} x {seconds / count * 1e6,9:F1} us  {kernel}");
            return sb.ToString();
        }
        catch (Exception e)
        {
            return $"  profile of {problem.Id} failed: {e.GetType().Name}: {e.Message}\n";
        }
        finally
        {
            device.Pool.Trim();
        }
    }
}

/// <summary>A phase's median and minimum, milliseconds.</summary>
internal sealed record PhaseResult(double MedianMs, double MinMs);

/// <summary>The result of one case (one entry of gpuad.json, and of <c>gpuad bench</c>'s results).</summary>
internal sealed record CaseResult
{
    public required string Id { get; init; }
    public required string Op { get; init; }
    public required string Dtype { get; init; }
    public int Batch { get; init; }
    public int N { get; init; }
    public required string Status { get; init; }
    public string? Note { get; init; }

    /// <summary>The algorithm that ran, where the op has several paths (Cholesky).</summary>
    public string? Path { get; init; }

    public int Reps { get; init; }
    public double? MedianMs { get; init; }
    public double? MinMs { get; init; }
    public Dictionary<string, PhaseResult>? Phases { get; init; }

    /// <summary>Flops the algorithm that ran executes per run, the whole batch (see <see cref="Flops"/>).</summary>
    public double? ExecutedFlops { get; init; }

    /// <summary>Executed flops per phase.</summary>
    public Dictionary<string, double>? PhaseFlops { get; init; }

    /// <summary>Executed flops over the median time, 10⁹/s.</summary>
    public double? Gflops { get; init; }

    /// <summary>Peak bytes of the device pool during the run's backward pass (inputs included), where measured.</summary>
    public long? PeakBytes { get; init; }

    public double? SetupS { get; init; }
    public double? WarmupMs { get; init; }

    /// <summary>What made a failed case fail (not written to the result files).</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public Exception? Error { get; init; }

    /// <summary>True when the case ran (status ok or capped).</summary>
    public bool Ran => Status is "ok" or "capped";

    /// <summary>A phase's median in milliseconds, or null.</summary>
    public double? PhaseMs(string phase) => Phases is not null && Phases.TryGetValue(phase, out var p) ? p.MedianMs : null;

    /// <summary>A phase's executed-flop rate, 10⁹/s, or null.</summary>
    public double? PhaseGflops(string phase) =>
        PhaseMs(phase) is double ms && ms > 0 && PhaseFlops is not null && PhaseFlops.TryGetValue(phase, out var f) ? f / (ms * 1e6) : null;

    private static CaseResult Of(Problem p, string status, string? note) => new()
    {
        Id = p.Id, Op = p.OpKey, Dtype = p.DTypeKey, Batch = p.Batch, N = p.N, Status = status, Note = note,
    };

    public static CaseResult Skipped(Problem p, string why) => Of(p, "skipped", why);

    public static CaseResult Failed(Problem p, string why) => Of(p, "failed", why);

    public static CaseResult Measured(Problem p, Workload work, List<double[]> samples, double setupSeconds, double warmupSeconds, bool capped, string? note)
    {
        var totals = samples.Select(s => s.Sum()).ToArray();
        double median = Median(totals);
        var flops = work.PhaseFlops;
        return Of(p, capped ? "capped" : "ok", note) with
        {
            Path = work.Path,
            Reps = samples.Count,
            MedianMs = Round(median * 1e3),
            MinMs = Round(totals.Min() * 1e3),
            Phases = work.Phases.Select((name, i) => (name, i)).ToDictionary(
                x => x.name,
                x => new PhaseResult(Round(Median(samples.Select(s => s[x.i]).ToArray()) * 1e3), Round(samples.Min(s => s[x.i]) * 1e3))),
            ExecutedFlops = double.IsNaN(flops.Sum()) ? null : flops.Sum(),
            PhaseFlops = double.IsNaN(flops.Sum()) ? null : work.Phases.Select((name, i) => (name, i)).ToDictionary(x => x.name, x => flops[x.i]),
            Gflops = double.IsNaN(flops.Sum()) ? null : Math.Round(flops.Sum() / median / 1e9, 3),
            PeakBytes = work.PeakBytes,
            SetupS = Math.Round(setupSeconds, 2),
            WarmupMs = Round(warmupSeconds * 1e3),
        };
    }

    public string Line() => Ran
        ? $"  {Id,-32} {MedianMs,10:F3} ms  {(Gflops is double g ? $"{g,9:F1} GFLOP/s executed" : "")}{(Path is null ? "" : $" ({Path})")}  reps {Reps}{(Note is null ? "" : "  (" + Note + ")")}"
        : $"  {Id,-32} {Status}: {Note}";

    /// <summary>The median of <paramref name="xs"/> (the mean of the middle two for an even count).</summary>
    public static double Median(double[] xs)
    {
        var s = xs.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    private static double Round(double ms) => Math.Round(ms, 4);
}
