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
internal static partial class DemoCommand
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
        var model = new Option<string>("--model") { HelpName = "windows|co2", Description = "windows: the batched fits below; co2: scikit-learn's gallery CO₂ forecast (its composite kernel on the monthly means, fitted, plotted with a forecast and ±2σ; only --plot, --device and --dtype apply)", DefaultValueFactory = _ => "windows" };
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
            """) { model, n, batch, steps, rate, optimizer, plot, device, dtype, seed, distributed, json, corrupt };
        command.SetAction(Report.Guard(parse =>
        {
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            switch (parse.GetValue(model)!.Trim().ToLowerInvariant())
            {
                case "co2":
                    {
                        string co2Plot = parse.GetValue(plot) ?? Path.Combine(Path.GetTempPath(), "gpuad-demo-co2.png");
                        CommonOptions.ParseDevice(parse.GetValue(device));
                        using var co2Files = OutputFiles.PrepareFiles([("--plot", co2Plot)], inputs: [], createDirectories: false);
                        using var co2Device = CommonOptions.OpenDevice(parse.GetValue(device));
                        return type == DType.F32 ? RunCo2<float>(co2Device, co2Files) : RunCo2<double>(co2Device, co2Files);
                    }
                case "windows": break;
                case var other: throw new UsageException($"--model '{other}' is not windows or co2.");
            }
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
}
