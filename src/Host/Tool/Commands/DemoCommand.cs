using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using GpuAD.Distributed;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad demo</c>: batched Gaussian-process regression on real data — windows of the weekly
/// Mauna Loa CO₂ record — with the NLL and its gradient from the device, fitted by bounded BFGS
/// (or Adam when a learning rate is given), then a derivative check that allows for the finite
/// difference's own error.
/// </summary>
/// <remarks>
/// Structure: <see cref="GpObjective{T}"/> evaluates the NLL and its gradient for a contiguous
/// slice [lo, hi) of the batch; the optimizer's state (θ, Adam's moments, BFGS's memory) lives on
/// the host, outside it, and is updated in batch order — so a sharded run can evaluate one slice
/// per process and combine the slices in a fixed order with the same result.
/// </remarks>
internal static class DemoCommand
{
    private const int CpuPoints = 256, GpuPoints = 2048;
    private const int DefaultAdamSteps = 20, DefaultBfgsIterations = 100;

    // Matérn 5/2 on calendar years (centred per window), output scale and white noise: θ = (log s², log ℓ, log σ²).
    private const StationaryKernel Kernel = StationaryKernel.Matern52;

    // Start: unit signal and noise variance, a lengthscale of one year (scikit-learn's defaults).
    private static readonly double[] Start = [0, 0, 0];

    // Bounds of every log-hyperparameter (scikit-learn's defaults, 1e−5 … 1e5).
    private const double Lower = -11.512925464970229, Upper = 11.512925464970229;

    public static Command Create()
    {
        var n = new Option<int?>("--n") { HelpName = "N", Description = $"Weeks per window (points per problem) [default: {CpuPoints} on the CPU, {GpuPoints} on a GPU; at most {Co2.Weeks}]" };
        var batch = new Option<int>("--batch") { HelpName = "N", Description = "Windows of the record, each its own GP problem with its own hyperparameters", DefaultValueFactory = _ => 8 };
        var steps = new Option<int?>("--steps") { HelpName = "N", Description = $"Adam steps, or BFGS iterations per problem [default: {DefaultAdamSteps} Adam steps, {DefaultBfgsIterations} BFGS iterations]" };
        var rate = new Option<double?>("--learning-rate") { HelpName = "RATE", Description = "Adam's step size in log space; giving it selects Adam [default: 0.1 with --optimizer adam]" };
        var optimizer = new Option<string?>("--optimizer") { HelpName = "bfgs|adam", Description = "bounded BFGS (MathNet.Numerics) or Adam [default: bfgs, adam when --learning-rate is given]" };
        var plot = new Option<string?>("--plot") { HelpName = "PATH", Description = "Where to write the plot of window 0 [default: gpuad-demo-fit.png in the temporary directory]" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var seed = CommonOptions.Seed();
        seed.Description = "Seed of the windows' positions";
        var distributed = new Option<bool>("--distributed") { Description = "Run on the MPI ranks mpirun started: each rank fits a contiguous part of the batch, rank 0 prints (mpirun -np N gpuad demo --distributed …)" };
        var json = new Option<string?>("--json") { HelpName = "FILE", Description = "Write the NLL of every step and the final hyperparameters and NLLs to FILE (JSON)" };
        var corrupt = new Option<int?>("--corrupt-element") { HelpName = "K", Hidden = true, Description = "Start window K from a NaN hyperparameter: exercises the failure path of one problem" };
        var command = new Command("demo", $"""
            Batched Gaussian-process regression on real data, the job GpuAD is for: --batch windows of
            --n consecutive weeks of the Mauna Loa CO₂ record (NOAA, weekly, 1958–2001, as shipped by
            statsmodels), at seeded positions, each its own problem. Model: Matérn 5/2 in the calendar
            year (centred per window) with output scale and white noise, K = s²·k(x, x) + σ²·I, ppm
            standardized per window; NLL = ½·yᵀK⁻¹y + ½·log det K + (n/2)·log 2π, its gradient with
            respect to θ = (log s², log ℓ, log σ²) from the device (distances, kernel, Cholesky and
            their backward rules). Every problem starts from s² = 1, ℓ = 1 year, σ² = 1 and is fitted
            within [1e−5, 1e5] by bounded BFGS, or by Adam with --learning-rate. Prints the progress,
            the fitted hyperparameters and the final NLL, plots window 0, then checks the gradient of
            window 0 at the start and at the optimum against Richardson-extrapolated central
            differences in float64, allowing for their own truncation and rounding error (exit code 3
            if it fails). A run whose NLL rises, or whose steps overshoot the whole bounded range, is
            reported as diverged. With --distributed under mpirun, each rank fits a contiguous part of
            the batch and the results are gathered in rank order: the numbers of one process.
            --json FILE writes the NLL of every step and the final hyperparameters.
            """) { n, batch, steps, rate, optimizer, plot, device, dtype, seed, distributed, json, corrupt };
        command.SetAction(Report.Guard(parse =>
        {
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            int b = CommonOptions.Positive("--batch", parse.GetValue(batch), max: 4096);
            double? lr = parse.GetValue(rate);
            if (lr is double l && !(l > 0 && double.IsFinite(l))) throw new UsageException($"--learning-rate {l} must be a positive number.");
            bool adam = (parse.GetValue(optimizer)?.Trim().ToLowerInvariant()) switch
            {
                null => lr is not null,
                "adam" => true,
                "bfgs" or "lbfgs" or "l-bfgs" => lr is null ? false : throw new UsageException("--learning-rate applies to --optimizer adam, not bfgs."),
                var o => throw new UsageException($"--optimizer '{o}' is not bfgs or adam."),
            };
            int s = parse.GetValue(steps) is int given ? CommonOptions.Positive("--steps", given, max: 100_000) : adam ? DefaultAdamSteps : DefaultBfgsIterations;
            int? points = parse.GetValue(n);
            if (points is int p) CommonOptions.Positive("--n", p, min: 2, max: Co2.Weeks);
            string plotPath = parse.GetValue(plot) ?? Path.Combine(Path.GetTempPath(), "gpuad-demo-fit.png");
            string? jsonPath = parse.GetValue(json);
            int? bad = parse.GetValue(corrupt);
            if (bad is int k) CommonOptions.Positive("--corrupt-element", k, min: 0, max: b - 1);
            CommonOptions.ParseDevice(parse.GetValue(device));
            // Every option is checked, and the outputs' temporary files opened, before MPI starts:
            // a usage error ends every rank alike, and no fit runs for outputs that cannot be written.
            using var files = OutputFiles.PrepareFiles([("--plot", plotPath), ("--json", jsonPath)], inputs: [], createDirectories: false);
            using var ranks = parse.GetValue(distributed) ? Ranks.Mpi() : Ranks.Single();
            try
            {
                using var dev = ranks.Agree(() => ranks.OpenDevice(parse.GetValue(device)));
                int np = points ?? Math.Min(dev.Kind == DeviceKind.Cuda ? GpuPoints : CpuPoints, Co2.Weeks);
                var settings = new Settings(np, b, s, adam, lr ?? 0.1, parse.GetValue(seed), files, bad);
                return type == DType.F32 ? Run<float>(ranks, dev, settings) : Run<double>(ranks, dev, settings);
            }
            catch (RankFailedException e)
            {
                return ranks.Report(e);
            }
            catch (Exception e) when (ranks.Size > 1)
            {
                // Raised on this rank alone, outside an agreed step: the others cannot know of it.
                var (code, message) = Report.Classify(e);
                Report.Error(message);
                ranks.AbortOthers(code);
                return code;
            }
        }));
        return command;
    }

    private sealed record Settings(int N, int Batch, int Steps, bool Adam, double LearningRate, int Seed, OutputFiles Outputs, int? CorruptElement = null);

    private static int Run<T>(Ranks ranks, Device device, Settings s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var total = Stopwatch.StartNew();
        string dtype = typeof(T) == typeof(float) ? "f32" : "f64";
        var data = Co2.Windows(s.Batch, s.N, s.Seed);
        Terminal.Heading("GpuAD demo: batched Gaussian-process regression on the Mauna Loa CO₂ record");
        Terminal.Line($"device     {CommonOptions.Describe(device)}" + (ranks.Distributed ? $" on rank 0 of {ranks.Size} MPI ranks, each with a contiguous part of the batch" : ""));
        Terminal.Line($"data       {s.Batch} windows × {s.N} weeks (seed {s.Seed}), first weeks {string.Join(", ", data.Starts.Take(8).Select(w => Co2.Year(w).ToString("F2", CultureInfo.InvariantCulture)))}{(s.Batch > 8 ? ", …" : "")}; {dtype}");
        Terminal.Line("model      Matérn 5/2 in years, K = s²·k(x, x) + σ²·I, ppm standardized per window; NLL = ½·yᵀK⁻¹y + ½·log det K + (n/2)·log 2π");
        Terminal.Line($"optimizer  {(s.Adam ? $"Adam, step size {s.LearningRate.ToString(CultureInfo.InvariantCulture)}, {s.Steps} steps" : $"bounded BFGS (MathNet.Numerics), at most {s.Steps} iterations per window")}, θ = (log s², log ℓ, log σ²) in [log 1e−5, log 1e5], from s² = 1, ℓ = 1 year, σ² = 1");
        Terminal.Line();

        device.EnsureFits<double>(new Shape(s.Batch, s.N, s.N)); // before the host data: the float64 check holds an n×n matrix per window too
        var theta = Enumerable.Range(0, s.Batch).SelectMany(_ => Start).ToArray();
        if (s.CorruptElement is int bad) theta[3 * bad] = double.NaN;
        var shard = ranks.Shard(s.Batch);
        var history = new List<double[]>();
        FitOutcome outcome;
        bool diverged = false;
        using (var objective = new GpObjective<T>(device, data.X, data.Y, s.Batch, s.N, 1, Kernel, ard: false))
        {
            var sharded = new Sharded<T>(ranks, shard, objective, data.X, data.Y);
            try
            {
                outcome = s.Adam ? Adam(sharded, theta, s, history) : Bfgs(sharded, theta, s, history);
            }
            catch (Exception e) when (e is JitterExhaustedException or GpFitDivergedException)
            {
                Terminal.Verdict(false, $"The optimization diverged: {e.Message}");
                Terminal.Line(s.Adam ? "Reduce --learning-rate (Adam's steps are about that size in log space)." : "Try another --seed or fewer --n.");
                return ExitCodes.Failure;
            }
            Terminal.Line();
            Terminal.Line($"{"window",6}  {"from",8}  {"s²",10}  {"ℓ (years)",10}  {"σ²",10}  {"NLL",12}  jitter");
            for (int b = 0; b < s.Batch; b++)
                Terminal.Line($"{b,6}  {Co2.Year(data.Starts[b]),8:F2}  {Math.Exp(theta[3 * b]),10:G4}  {Math.Exp(theta[3 * b + 1]),10:G4}  {Math.Exp(theta[3 * b + 2]),10:G4}  {outcome.FinalNll[b],12:F4}  {(outcome.Jitter[b] > 0 ? outcome.Jitter[b].ToString("G3", CultureInfo.InvariantCulture) : "none")}");
            Terminal.Line();
            double first = outcome.FirstNll.Sum(), last = outcome.FinalNll.Sum();
            Terminal.Line($"Total NLL over the batch: {first:F4} at the start → {last:F4} after fitting ({outcome.Evaluations} evaluations of NLL and gradient, {outcome.Seconds:F1} s).");
            if (outcome.Diverged is { } why)
                Terminal.Verdict(false, $"The optimization diverged: {why} Reduce --learning-rate.");
            // The outputs are rank 0's (the JSON of the run and the plot of window 0), written in an agreed step.
            ranks.Agree(() =>
            {
                if (!ranks.IsRoot) return 0;
                if (s.Outputs.Has("--json"))
                {
                    var run = new DemoOutput.Run(dtype, s.Batch, s.N, s.Steps, s.Seed, s.Adam ? "adam" : "bfgs", s.LearningRate, ranks.Size, history, outcome.FinalNll, theta);
                    s.Outputs.Write("--json", stream => DemoOutput.Write(stream, run));
                }
                var png = GpPlot.Render<T>(device, data.X[..s.N], data.Y[..s.N], Kernel, theta[..3], outcome.Jitter[0],
                    $"gpuad demo: CO₂ window 0 from {Co2.Year(data.Starts[0]):F2}, Matérn 5/2", "years from the window's centre", "ppm (standardized)");
                s.Outputs.Write("--plot", stream => stream.Write(png));
                s.Outputs.Commit();
                Terminal.Line($"Plot of window 0: {s.Outputs.PathOf("--plot")}");
                if (s.Outputs.Has("--json")) Terminal.Line($"Run as JSON: {s.Outputs.PathOf("--json")}");
                return 0;
            });
            if (outcome.Diverged is not null) diverged = true;
        }

        // The derivative check, in float64 whatever the run's dtype, at the start and at the fitted θ of window 0 (rank 0's).
        bool pass = ranks.Broadcast(ranks.Agree(() => !ranks.IsRoot || Check(device, data.X, data.Y, theta, s.N)));
        Terminal.Line($"Total {total.Elapsed.TotalSeconds:F1} s.");
        // A diverged run fails as a divergence caught during the fit does (exit 1), whatever the check says.
        return diverged ? ExitCodes.Failure : pass ? ExitCodes.Success : ExitCodes.CheckFailed;
    }

    /// <summary>The derivative check of window 0 (x and y begin with it), at the start and at the fitted θ; prints its verdicts.</summary>
    private static bool Check(Device device, double[] x, double[] y, double[] theta, int n)
    {
        bool pass = true;
        using (var check = new GpObjective<double>(device, x[..n], y[..n], 1, n, 1, Kernel, ard: false))
        {
            foreach (var (label, point) in new[] { ("start", Start), ("fitted", theta[..3]) })
            {
                var r = CheckGradient(check, point);
                pass &= r.Passed;
                var worst = r.Worst()!;
                Terminal.Verdict(r.Passed, $"Derivative check (float64), {label} θ of window 0: {(r.Passed ? "PASS" : "FAIL")}");
                Terminal.Line($"    worst |graph − Richardson difference| {worst.Error:0.0e+00}, allowance {worst.Allowance:0.0e+00} (its truncation + rounding)");
                foreach (var c in r.Comparisons)
                    Terminal.Line($"    ∂NLL/∂{ThetaNames[c.Direction]}: graph {c.Computed,17:0.0000000000e+00}   difference {c.Reference,17:0.0000000000e+00}   allowance {c.Allowance:0.0e+00}");
            }
        }
        return pass;
    }

    /// <summary>
    /// The settings of the demo's gradient check (<see cref="Gradcheck.Gradient"/>) for an NLL of
    /// <paramref name="n"/> points: a step of 10⁻³ in log space, where the covariance at the bounds'
    /// corners is so ill-conditioned that the NLL's rounding noise dwarfs ε·|NLL|; the noise probed
    /// 10⁻⁸ apart too (the NLL is one number, one sample of the difference points' noise is not
    /// enough); a floor of 64·ε·(|NLL| + n)/(h/2), n the size of the NLL's n cancelling terms, for
    /// the noise one scalar's probes may miss.
    /// </summary>
    internal static GradcheckOptions CheckOptions(int n) => new(Step: 1e-3, NoiseStep: 1e-8, Magnitude: n, NoiseFloor: 64);

    /// <summary>The gradient of problem 0 of <paramref name="objective"/> at θ against Richardson differences of its NLL.</summary>
    internal static GradcheckResult CheckGradient(GpObjective<double> objective, double[] theta) =>
        Gradcheck.Gradient(t => objective.Evaluate(t, 0, 1, gradient: false).Nll[0], objective.Evaluate(theta, 0, 1, gradient: true).Gradient!, theta, CheckOptions(objective.N));

    /// <summary>
    /// The objective as the optimizers see it: the whole batch's NLL, gradient and jitter, each
    /// rank evaluating its own part [start, end) and the parts gathered in rank order (one process:
    /// the whole batch at once), so every rank holds the same numbers.
    /// </summary>
    private sealed class Sharded<T>(Ranks ranks, BatchShard shard, GpObjective<T> objective, double[] x, double[] y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        public GpEvaluation Evaluate(double[] theta, bool gradient)
        {
            int p = objective.Parameters;
            var part = ranks.Agree(() => objective.Evaluate(theta.AsSpan(shard.Start * p, shard.Count * p), shard.Start, shard.End, gradient));
            return new GpEvaluation(ranks.Gather(part.Nll), gradient ? ranks.Gather(part.Gradient!) : null, ranks.Gather(part.Jitter));
        }

        /// <summary>Bounded BFGS on this rank's problems (each through its own slice), results gathered in rank order.</summary>
        public GpFitResult Fit(double[] theta, GpFitOptions options)
        {
            if (!ranks.Distributed) return GpFit.Fit(objective, theta, options);
            int p = objective.Parameters, n = objective.N, d = objective.D;
            var part = ranks.Agree(() =>
            {
                using var local = new GpObjective<T>(objective.Device, x.AsSpan(shard.Start * n * d, shard.Count * n * d), y.AsSpan(shard.Start * n, shard.Count * n),
                    shard.Count, n, d, objective.Kernel, objective.Ard);
                return shard.Run(() => GpFit.Fit(local, theta[(shard.Start * p)..(shard.End * p)], options));
            });
            return new GpFitResult(ranks.Gather(part.Theta), ranks.Gather(part.Nll),
                ranks.Gather(part.Evaluations.Select(e => (double)e).ToArray()).Select(e => (int)e).ToArray(), ranks.Gather(part.Jitter));
        }
    }

    private static readonly string[] ThetaNames = ["log s²", "log ℓ", "log σ²"];

    private sealed record FitOutcome(double[] FirstNll, double[] FinalNll, double[] Jitter, int Evaluations, double Seconds, string? Diverged);

    /// <summary>Adam on every problem at once: one evaluation of the whole batch per step, θ projected onto the bounds.</summary>
    private static FitOutcome Adam<T>(Sharded<T> objective, double[] theta, Settings s, List<double[]> history) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
        var clock = Stopwatch.StartNew();
        var m = new double[theta.Length];
        var v = new double[theta.Length];
        double[] first = [], last = [];
        double[] jitter = new double[s.Batch];
        double overshoot = 0;
        Terminal.Line($"{"step",5}  {"NLL (mean over batch)",22}  {"s²",9}  {"ℓ",9}  {"σ²",9}  {"time",9}");
        for (int t = 1; t <= s.Steps; t++)
        {
            var step = Stopwatch.StartNew();
            var r = objective.Evaluate(theta, gradient: true);
            step.Stop();
            history.Add(r.Nll);
            if (t == 1) first = r.Nll;
            last = r.Nll;
            jitter = r.Jitter;
            Terminal.Line($"{t,5}  {r.Nll.Average(),22:F4}  {Mean(theta, 0),9:G4}  {Mean(theta, 1),9:G4}  {Mean(theta, 2),9:G4}  {step.Elapsed.TotalMilliseconds,6:F0} ms{(t == 1 ? "  (includes compiling the kernels)" : "")}");
            if (t == s.Steps) break; // the last evaluation reports the final θ
            var g = r.Gradient!;
            for (int i = 0; i < theta.Length; i++)
            {
                m[i] = Beta1 * m[i] + (1 - Beta1) * g[i];
                v[i] = Beta2 * v[i] + (1 - Beta2) * g[i] * g[i];
                double mHat = m[i] / (1 - Math.Pow(Beta1, t)), vHat = v[i] / (1 - Math.Pow(Beta2, t));
                double raw = theta[i] - s.LearningRate * mHat / (Math.Sqrt(vHat) + Epsilon);
                overshoot = Math.Max(overshoot, Math.Max(raw - Upper, Lower - raw));
                theta[i] = Math.Clamp(raw, Lower, Upper);
            }
        }
        string? diverged = null;
        if (overshoot > Upper - Lower)
            diverged = $"Adam's steps overshot the bounds by {overshoot:G3} in log space, more than the whole range [log 1e−5, log 1e5] (width {Upper - Lower:F1}): the hyperparameters were thrown between the bounds.";
        else if (last.Sum() > first.Sum())
            diverged = $"the total NLL rose from {first.Sum():F4} to {last.Sum():F4}.";
        return new FitOutcome(first, last, jitter, s.Steps * s.Batch, clock.Elapsed.TotalSeconds, diverged);
    }

    /// <summary>Bounded BFGS per problem (each through its own slice of the batch), in batch order.</summary>
    private static FitOutcome Bfgs<T>(Sharded<T> objective, double[] theta, Settings s, List<double[]> history) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var clock = Stopwatch.StartNew();
        var first = objective.Evaluate(theta, gradient: false).Nll;
        history.Add(first);
        Terminal.Line($"Start: mean NLL {first.Average():F4} ({clock.Elapsed.TotalSeconds:F1} s with compiling the kernels).");
        var result = objective.Fit(theta, new GpFitOptions(MaxIterations: s.Steps, LowerBound: Lower, UpperBound: Upper,
            Progress: line => Terminal.Line($"  {line.Replace("problem", "window")}  [{clock.Elapsed.TotalSeconds:F1} s]")));
        Array.Copy(result.Theta, theta, theta.Length);
        history.Add(result.Nll);
        string? diverged = result.Nll.Sum() > first.Sum() ? $"the total NLL rose from {first.Sum():F4} to {result.Nll.Sum():F4}." : null;
        return new FitOutcome(first, result.Nll, result.Jitter, result.Evaluations.Sum() + 1, clock.Elapsed.TotalSeconds, diverged);
    }

    private static double Mean(double[] theta, int j)
    {
        double sum = 0;
        int count = theta.Length / 3;
        for (int b = 0; b < count; b++) sum += Math.Exp(theta[3 * b + j]);
        return sum / count;
    }

    /// <summary>The weekly Mauna Loa CO₂ record shipped with the tool (src/Host/Tool/Data, exported by Scripts/export_co2.py).</summary>
    internal static class Co2
    {
        private static readonly Lazy<(double[] Year, double[] Ppm)> Record = new(Load);

        public static int Weeks => Record.Value.Year.Length;

        public static double Year(int week) => Record.Value.Year[week];

        private static (double[], double[]) Load()
        {
            using var stream = typeof(Co2).Assembly.GetManifestResourceStream("co2_weekly.csv")
                ?? throw new ToolFailureException("The CO₂ record is missing from the tool (resource co2_weekly.csv).");
            using var reader = new StreamReader(stream);
            reader.ReadLine(); // header
            var year = new List<double>();
            var ppm = new List<double>();
            while (reader.ReadLine() is { } line)
            {
                var parts = line.Split(',');
                year.Add(double.Parse(parts[0], CultureInfo.InvariantCulture));
                ppm.Add(double.Parse(parts[1], CultureInfo.InvariantCulture));
            }
            return (year.ToArray(), ppm.ToArray());
        }

        /// <summary>
        /// <paramref name="batch"/> windows of <paramref name="n"/> consecutive weeks at seeded
        /// positions: x in years from the window's centre, y in ppm standardized per window.
        /// </summary>
        public static (double[] X, double[] Y, int[] Starts) Windows(int batch, int n, int seed)
        {
            var (year, ppm) = Record.Value;
            var rng = new Random(seed);
            var x = new double[batch * n];
            var y = new double[batch * n];
            var starts = new int[batch];
            for (int b = 0; b < batch; b++)
            {
                int start = starts[b] = rng.Next(0, year.Length - n + 1);
                double centre = 0.5 * (year[start] + year[start + n - 1]);
                double mean = 0, sq = 0;
                for (int i = 0; i < n; i++) mean += ppm[start + i] / n;
                for (int i = 0; i < n; i++) sq += (ppm[start + i] - mean) * (ppm[start + i] - mean) / n;
                double sd = sq > 0 ? Math.Sqrt(sq) : 1;
                for (int i = 0; i < n; i++)
                {
                    x[b * n + i] = year[start + i] - centre;
                    y[b * n + i] = (ppm[start + i] - mean) / sd;
                }
            }
            return (x, y, starts);
        }
    }
}
