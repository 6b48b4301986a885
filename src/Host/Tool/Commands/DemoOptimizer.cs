using System.CommandLine;
using System.Diagnostics;
using GpuAD.Distributed;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary><c>gpuad demo</c>'s optimizers over the (possibly sharded) batch objective: Adam and bounded BFGS.</summary>
internal static partial class DemoCommand
{
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
}
