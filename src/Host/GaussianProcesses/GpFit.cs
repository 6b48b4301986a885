using System.Numerics;
using Vector = MathNet.Numerics.LinearAlgebra.Vector<double>;
using GpuAD.Kernels;
using MathNet.Numerics.Optimization;

namespace GpuAD;

/// <summary>Settings of <see cref="GpFit.Fit{T}"/>.</summary>
/// <param name="Restarts">Extra starts per problem, drawn log-uniformly within the bounds (as scikit-learn's <c>n_restarts_optimizer</c>).</param>
/// <param name="Seed">Seed of the restarts' draws.</param>
/// <param name="LowerBound">Lower bound of every log-hyperparameter (scikit-learn's default: log 1e−5).</param>
/// <param name="UpperBound">Upper bound of every log-hyperparameter (log 1e5).</param>
/// <param name="MaxIterations">Iterations per start.</param>
/// <param name="GradientTolerance">Stop when the gradient's largest component falls below this.</param>
/// <param name="Progress">Receives one line per start (which problem, the NLL reached, evaluations).</param>
public sealed record GpFitOptions(int Restarts = 0, int Seed = 1, double LowerBound = -11.512925464970229, double UpperBound = 11.512925464970229,
    int MaxIterations = 200, double GradientTolerance = 1e-5, Action<string>? Progress = null);

/// <summary>What <see cref="GpFit.Fit{T}"/> reached per problem.</summary>
/// <param name="Theta">Fitted log-hyperparameters, row-major [batch, parameters].</param>
/// <param name="Nll">The NLL at them, [batch].</param>
/// <param name="Evaluations">NLL-and-gradient evaluations spent per problem (all starts).</param>
/// <param name="Jitter">Diagonal jitter the covariance needed at the optimum, per problem.</param>
public sealed record GpFitResult(double[] Theta, double[] Nll, int[] Evaluations, double[] Jitter);

/// <summary>A fit found no finite NLL from any start: names the problem and the last failure.</summary>
public sealed class GpFitDivergedException(string message) : GpuADException(message);

/// <summary>
/// Maximum-marginal-likelihood fitting of <see cref="GpObjective{T}"/>'s problems: bounded BFGS
/// (MathNet.Numerics' <c>BfgsBMinimizer</c>) on the log-hyperparameters, with the NLL and its
/// gradient from the device, from θ₀ and <see cref="GpFitOptions.Restarts"/> seeded random
/// starts; the best point any evaluation saw is kept (a line search that stalls at the optimum
/// does not lose it). Problems are fitted one after another, each through its own slice of the
/// batch, in batch order: deterministic.
/// </summary>
public static class GpFit
{
    private const int MaxRounds = 8;

    /// <summary>Fits every problem of the batch.</summary>
    /// <param name="objective">The problems.</param>
    /// <param name="theta0">Start, [parameters] (shared) or [batch, parameters]; null starts at 0 (every hyperparameter 1, scikit-learn's defaults).</param>
    /// <param name="options">Restarts, bounds, tolerances, progress.</param>
    /// <exception cref="ArgumentException">
    /// θ₀ has the wrong length (the message gives θ's order), holds NaN or ±Inf, or lies outside the
    /// bounds; the bounds are not finite with lower &lt; upper; negative restarts or no iterations.
    /// </exception>
    /// <exception cref="GpFitDivergedException">No start of a problem reached a finite NLL.</exception>
    public static GpFitResult Fit<T>(GpObjective<T> objective, double[]? theta0, GpFitOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        options ??= new GpFitOptions();
        int b = objective.Batch, p = objective.Parameters;
        theta0 ??= new double[p];
        if (theta0.Length != p && theta0.Length != b * p)
            throw new ArgumentException($"GpFit: θ₀ holds {theta0.Length} values; expected {p} ({objective.Order}) or batch × {p}.");
        if (!double.IsFinite(options.LowerBound) || !double.IsFinite(options.UpperBound) || !(options.LowerBound < options.UpperBound))
            throw new ArgumentException($"GpFit: the bounds [{options.LowerBound.ToString(Invariant)}, {options.UpperBound.ToString(Invariant)}] are not an interval: the lower bound must be finite and below the finite upper bound.");
        ArgumentOutOfRangeException.ThrowIfNegative(options.Restarts, "options.Restarts");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxIterations, 1, "options.MaxIterations");
        for (int i = 0; i < theta0.Length; i++)
        {
            double v = theta0[i];
            if (v >= options.LowerBound && v <= options.UpperBound) continue;
            string where = theta0.Length == p ? $"θ₀[{i}]" : $"θ₀ of batch element {i / p}, index {i % p}";
            throw new ArgumentException(double.IsNaN(v) || double.IsInfinity(v)
                ? $"GpFit: {where} is {v.ToString(Invariant)}; every start value must be finite ({objective.Order})."
                : $"GpFit: {where} = {v.ToString("R", Invariant)} lies outside the bounds [{options.LowerBound.ToString("R", Invariant)}, {options.UpperBound.ToString("R", Invariant)}] ({objective.Order}).");
        }
        var theta = new double[b * p];
        var nll = new double[b];
        var evaluations = new int[b];
        var jitter = new double[b];
        for (int e = 0; e < b; e++)
        {
            var start = theta0.Length == p ? theta0 : theta0[(e * p)..((e + 1) * p)];
            var starts = new List<double[]> { start.ToArray() };
            var rng = new Random(unchecked(options.Seed * 1_000_003 + e)); // not HashCode.Combine: that is randomized per process
            for (int r = 0; r < options.Restarts; r++)
                starts.Add(Enumerable.Range(0, p).Select(_ => options.LowerBound + (options.UpperBound - options.LowerBound) * rng.NextDouble()).ToArray());
            var point = Minimize(v =>
                {
                    var r = objective.Evaluate(v, e, e + 1, gradient: true);
                    return (r.Nll[0], r.Gradient!, r.Jitter[0]);
                }, starts, Enumerable.Repeat(options.LowerBound, p).ToArray(), Enumerable.Repeat(options.UpperBound, p).ToArray(), options.MaxIterations, options.GradientTolerance,
                options.Progress is null ? null : line => options.Progress($"problem {e}: {line}"));
            evaluations[e] = point.Evaluations;
            if (point.Theta is null)
                throw new GpFitDivergedException($"GpFit: batch element {e}: the fit diverged: no start reached a finite NLL ({point.LastFailure ?? "no evaluation succeeded"}).");
            Array.Copy(point.Theta, 0, theta, e * p, p);
            nll[e] = point.Value;
            jitter[e] = point.Jitter;
        }
        return new GpFitResult(theta, nll, evaluations, jitter);
    }

    /// <summary>The best point bounded BFGS found from a list of starts.</summary>
    /// <param name="Theta">The best θ any evaluation saw, or null when none was finite.</param>
    /// <param name="Value">The objective there (+∞ when none).</param>
    /// <param name="Jitter">The jitter the evaluation there reported.</param>
    /// <param name="Evaluations">Evaluations spent over all starts.</param>
    /// <param name="LastFailure">The last failure's message, for a diverged fit.</param>
    internal sealed record BestPoint(double[]? Theta, double Value, double Jitter, int Evaluations, string? LastFailure);

    /// <summary>
    /// Minimizes <paramref name="evaluate"/> (value, gradient, jitter) within per-parameter bounds by
    /// MathNet's bounded BFGS from each start in turn, restarting each from its best point until a
    /// round gains nothing; the best point any evaluation saw is kept. An evaluation that throws a
    /// <see cref="LinAlgException"/> (a covariance that is not positive-definite) counts as +∞ there.
    /// Shared by <see cref="Fit{T}"/> and <see cref="GpRegressor{T}"/>.
    /// </summary>
    internal static BestPoint Minimize(Func<double[], (double Value, double[] Gradient, double Jitter)> evaluate, IReadOnlyList<double[]> starts,
        double[] lowerBounds, double[] upperBounds, int maxIterations, double gradientTolerance, Action<string>? progress)
    {
        int p = lowerBounds.Length;
        var lower = Vector.Build.DenseOfArray(lowerBounds);
        var upper = Vector.Build.DenseOfArray(upperBounds);
        double best = double.PositiveInfinity;
        double[]? bestTheta = null;
        double bestJitter = 0;
        int total = 0;
        string? lastFailure = null;
        for (int s = 0; s < starts.Count; s++)
        {
            int count = 0;
            double startBest = double.PositiveInfinity;
            // The objective is scaled by 1/max(1, ‖∇f(start of the round)‖∞): BFGS's first step,
            // −H₀·∇f with H₀ = I, then moves θ by at most about 1 in log space (as L-BFGS-B's
            // first step does) instead of jumping across basins to the bounds.
            double scale = 1;
            var function = ObjectiveFunction.Gradient(v =>
            {
                count++;
                var point = v.ToArray();
                try
                {
                    var (value, gradient, jitter) = evaluate(point);
                    if (!double.IsFinite(value) || gradient.Any(g => !double.IsFinite(g)))
                        throw new GpFitDivergedException($"the NLL or its gradient is not finite at θ = [{Format(point)}]");
                    if (value < best)
                    {
                        best = value;
                        bestTheta = point;
                        bestJitter = jitter;
                    }
                    startBest = Math.Min(startBest, value);
                    return (value * scale, Vector.Build.DenseOfArray(gradient) * scale);
                }
                catch (LinAlgException x)
                {
                    // A point the covariance cannot take: steer the line search away from it.
                    lastFailure = x.Message;
                    return (double.MaxValue, Vector.Build.Dense(p));
                }
            });
            // BFGS restarted from the best point until a round gains nothing: MathNet's bounded
            // BFGS can stop early (a line search that fails, a stale curvature estimate).
            string exit = "";
            var from = starts[s];
            for (int round = 0; round < MaxRounds; round++)
            {
                double before = best;
                try
                {
                    var g0 = evaluate(from).Gradient;
                    scale = 1 / Math.Max(1, g0.Max(Math.Abs));
                    if (!double.IsFinite(scale)) scale = 1;
                    var minimizer = new BfgsBMinimizer(gradientTolerance, 1e-12, 1e-12, maxIterations);
                    var result = minimizer.FindMinimum(function, lower, upper, Vector.Build.DenseOfArray(from));
                    exit = result.ReasonForExit.ToString();
                }
                catch (Exception x) when (x is OptimizationException or MaximumIterationsException or GpFitDivergedException or ArgumentException or LinAlgException)
                {
                    // MathNet stops with an exception when its line search cannot improve (often at
                    // the optimum, within rounding): the best point seen stands.
                    exit = x is GpFitDivergedException ? $"diverged: {x.Message}" : $"stopped: {x.Message}";
                    lastFailure = x.Message;
                }
                if (bestTheta is null || !(before - best > 1e-10 * Math.Max(1, Math.Abs(best)))) break;
                from = bestTheta;
            }
            total += count;
            progress?.Invoke($"start {s} ({(s == 0 ? "θ₀" : "random")}) → NLL {startBest:F6} after {count} evaluations ({exit})");
        }
        return new BestPoint(bestTheta, best, bestJitter, total, lastFailure);
    }

    private static System.Globalization.CultureInfo Invariant => System.Globalization.CultureInfo.InvariantCulture;

    private static string Format(double[] v) => string.Join(", ", v.Select(x => x.ToString("G6", System.Globalization.CultureInfo.InvariantCulture)));
}
