namespace GpuAD;

/// <summary>How <see cref="Gradcheck"/> perturbs an input.</summary>
public enum PerturbationKind
{
    /// <summary>Any direction.</summary>
    General,

    /// <summary>Symmetric directions only (for SPD inputs such as a Cholesky's Σ), so Σ ± h·U stays symmetric positive-definite.</summary>
    Symmetric,
}

/// <summary>One input of a function under <see cref="Gradcheck"/>.</summary>
/// <param name="Data">Row-major values, <c>[batch, rows, cols]</c>.</param>
/// <param name="Shape">The shape.</param>
/// <param name="Kind">How to perturb it.</param>
public sealed record GradcheckInput(double[] Data, Shape Shape, PerturbationKind Kind = PerturbationKind.General);

/// <summary>Settings of <see cref="Gradcheck"/>.</summary>
/// <param name="Step">
/// The larger step h of the Richardson-extrapolated central differences (the other is h/2). The
/// allowance's truncation part grows like h², its rounding part like ε·|f|/h; 10⁻⁴ balances them
/// near 10⁻⁹ relative for inputs and derivatives of order one.
/// </param>
/// <param name="AdjointTolerance">Allowance of the adjoint identity relative to its larger side (the identity is exact up to rounding).</param>
/// <param name="Directions">Random directions tested (each checks one projection of the Jacobian).</param>
/// <param name="Seed">Seed of the random directions and cotangents.</param>
/// <param name="NoiseStep">
/// Spacing of four extra evaluations near x (±s, ±2s) whose second differences measure the
/// function's rounding noise at a second scale; 0 leaves them out (the noise is then measured from
/// the difference points alone, a single sample per output element: enough for large outputs).
/// </param>
/// <param name="Magnitude">
/// Added to the size of f in the allowance's floor (see <paramref name="NoiseFloor"/>): the size of
/// the terms that cancel inside f where it is a sum (n for a likelihood of n points), 0 otherwise.
/// </param>
/// <param name="NoiseFloor">
/// The rounding allowance is at least NoiseFloor·ε·(size + Magnitude)/(h/2), size being ‖f‖∞ (or
/// Σ|vₖ·fₖ| for ⟨v, f⟩). 4: the rounding of the values themselves, which alone puts up to
/// 1.5·ε·size/h into R, with the measured noise's safety factor; larger where the measured noise
/// may miss some (one scalar, few samples).
/// </param>
public sealed record GradcheckOptions(double Step = 1e-4, double AdjointTolerance = 1e-10, int Directions = 3, int Seed = 1234,
    double NoiseStep = 1e-8, double Magnitude = 0, double NoiseFloor = 4);

/// <summary>What one comparison of <see cref="Gradcheck"/> compares.</summary>
public enum GradcheckKind
{
    /// <summary>float32's value against float64's (<see cref="Gradcheck.RunFloat32"/> only).</summary>
    Value,

    /// <summary>The JVP J·u against the Richardson difference along u (float64), or float32's against float64's.</summary>
    Jvp,

    /// <summary>⟨Jᵀv, u⟩ against ⟨v, Richardson difference⟩ (float64), or an input's Jᵀv in float32 against float64.</summary>
    Vjp,

    /// <summary>⟨Jᵀv, u⟩ against ⟨v, J·u⟩: the VJP and the JVP against each other.</summary>
    Adjoint,
}

/// <summary>One comparison of <see cref="Gradcheck"/>: its error and the allowance it is held to.</summary>
/// <param name="Kind">What is compared.</param>
/// <param name="Direction">Which random direction (or, for <see cref="Gradcheck.Gradient"/>, which coordinate).</param>
/// <param name="Input">The input whose gradient is compared, where the comparison is of one input's.</param>
/// <param name="Computed">The derivative under test; for a vector comparison its entry where the error is largest.</param>
/// <param name="Reference">What it is compared with (a difference, or float64's); the same entry.</param>
/// <param name="Error">|computed − reference|, the ∞-norm for a vector comparison.</param>
/// <param name="Allowance">The largest error the reference cannot tell from zero: truncation + measured rounding noise of a difference, ε₃₂·κ-scaled for float32.</param>
/// <param name="Scale">The magnitude the error is relative to.</param>
public sealed record GradcheckComparison(GradcheckKind Kind, int Direction, int? Input, double Computed, double Reference, double Error, double Allowance, double Scale)
{
    /// <summary>True when the error is within the allowance (a NaN never is).</summary>
    public bool Passed => Error <= Allowance;

    /// <summary>The error relative to <see cref="Scale"/>.</summary>
    public double RelativeError => Error / Math.Max(Scale, 1e-300);

    /// <summary>The allowance relative to <see cref="Scale"/>: how strict the comparison was.</summary>
    public double RelativeAllowance => Allowance / Math.Max(Scale, 1e-300);

    /// <summary>Error over allowance; above 1 fails.</summary>
    public double Ratio => Error / Math.Max(Allowance, 1e-300);
}

/// <summary>Every comparison <see cref="Gradcheck"/> made, and the verdict.</summary>
/// <param name="Comparisons">Per direction (and input), each with its error and allowance.</param>
public sealed record GradcheckResult(IReadOnlyList<GradcheckComparison> Comparisons)
{
    /// <summary>True when there was something to compare and every comparison is within its allowance.</summary>
    public bool Passed => Comparisons.Count > 0 && Comparisons.All(c => c.Passed);

    /// <summary>The comparison of the given kind nearest to (or furthest beyond) its allowance; null when none was made.</summary>
    public GradcheckComparison? Worst(GradcheckKind kind) =>
        Comparisons.Where(c => c.Kind == kind).OrderByDescending(c => double.IsNaN(c.Ratio) ? double.PositiveInfinity : c.Ratio).FirstOrDefault();

    /// <summary>The comparison nearest to (or furthest beyond) its allowance.</summary>
    public GradcheckComparison? Worst() =>
        Comparisons.OrderByDescending(c => double.IsNaN(c.Ratio) ? double.PositiveInfinity : c.Ratio).FirstOrDefault();

    /// <summary>The largest relative error of the VJP comparisons (NaN when none).</summary>
    public double VjpError => WorstRelative(GradcheckKind.Vjp);

    /// <summary>The largest relative error of the JVP comparisons (NaN when none).</summary>
    public double JvpError => WorstRelative(GradcheckKind.Jvp);

    /// <summary>The largest relative error of the adjoint identity (NaN when none).</summary>
    public double AdjointError => WorstRelative(GradcheckKind.Adjoint);

    /// <summary>The largest relative error of float32's value against float64's (NaN when not compared).</summary>
    public double ValueError => WorstRelative(GradcheckKind.Value);

    private double WorstRelative(GradcheckKind kind)
    {
        double worst = double.NaN;
        foreach (var c in Comparisons.Where(c => c.Kind == kind))
        {
            double e = double.IsNaN(c.Error) ? double.PositiveInfinity : c.RelativeError;
            worst = double.IsNaN(worst) ? e : Math.Max(worst, e);
        }
        return worst;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{(Passed ? "passed" : "FAILED")}: " + string.Join("; ",
        Enum.GetValues<GradcheckKind>().Select(k => Worst(k)).OfType<GradcheckComparison>()
            .Select(c => $"{c.Kind} error {c.Error:E2} (relative {c.RelativeError:E2}), allowance {c.Allowance:E2} (relative {c.RelativeAllowance:E2})"));
}

/// <summary>
/// Checks a function's derivatives, like <c>torch.autograd.gradcheck</c>, without crying wolf.
/// <para>
/// In float64 (<see cref="Run"/>): for random directions u (symmetrized for SPD inputs) and random
/// cotangents v it compares the JVP J·u with the central differences D(h) and D(h/2) of
/// f(x + t·u) combined by Richardson extrapolation, R = (4·D(h/2) − D(h))/3 (truncation O(h⁴)),
/// entry by entry; the VJP through ⟨Jᵀv, u⟩ with R of the projection ψ(t) = ⟨v, f(x + t·u)⟩; and
/// the two with each other through the adjoint identity ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ on which
/// every VJP rule rests. A difference is held to what it can resolve: |D(h) − D(h/2)| (an upper
/// estimate of R's truncation error, about 12 times it) plus R's rounding error, 4 × 3·η/h, where
/// η is the function's rounding noise measured along u — the fourth difference of the five points
/// (−h, −h/2, 0, h/2, h), whose truncation part (h/2)⁴·f⁗ is negligible, and the second
/// differences of five points <see cref="GradcheckOptions.NoiseStep"/> apart; for ψ at least
/// ‖v‖₂ times the largest entry's — with a floor <see cref="GradcheckOptions.NoiseFloor"/>·ε·(size + magnitude)/(h/2),
/// size ‖f‖∞ or Σ|vₖ·fₖ|. Ill-conditioned functions raise η far above ε·‖f‖; a wrong
/// derivative shows as a disagreement far beyond the allowance.
/// </para>
/// <para>
/// In float32 (<see cref="RunFloat32"/>): finite differences say little in float32 (their rounding
/// error, ε₃₂·|f|/h, is about 10⁻³ relative at the best h), so the float32 value, JVP and VJP are
/// held to agreement with float64's on the same device — whose derivatives the float64 check
/// verifies — within <see cref="Float32Allowance"/>, and the adjoint identity in float32 too.
/// </para>
/// </summary>
public static class Gradcheck
{
    /// <summary>float64's ε = 2⁻⁵² (double.Epsilon is the smallest subnormal, not this).</summary>
    public const double Epsilon64 = 2.220446049250313e-16;

    /// <summary>float32's ε = 2⁻²³ (the spacing of floats at 1).</summary>
    public const double Epsilon32 = 1.0 / (1 << 23);

    /// <summary>
    /// The relative allowance of float32 against float64 for a computation through factorizations
    /// of order n: 10·(n + 1)·ε₃₂. A Cholesky factor computed in floating point has a backward error
    /// of at most (n + 1)·ε·‖A‖ (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed.,
    /// Thm 10.3), its forward error about κ(A) times that; the checked matrices have κ ≤ 3, and a
    /// derivative chains about three such solves, hence the factor 10. Rounding errors in practice
    /// grow like √n, far below this. n = 0 for a function without a factorization.
    /// </summary>
    public static double Float32Allowance(int order) => 10 * (order + 1) * Epsilon32;

    /// <summary>Checks the float64 JVP and VJP of <paramref name="function"/> at the inputs against Richardson differences and each other.</summary>
    /// <param name="device">Where to evaluate.</param>
    /// <param name="function">Builds the output from the input vars (records ops on their tape).</param>
    /// <param name="inputs">The point x at which to differentiate.</param>
    /// <param name="options">Step, noise probe, directions, seed.</param>
    /// <returns>Per direction a JVP, a VJP and an adjoint comparison.</returns>
    /// <exception cref="ArgumentException">A symmetric input is not square, or the options are out of range.</exception>
    public static GradcheckResult Run(Device device, Func<Var<double>[], Var<double>> function, IReadOnlyList<GradcheckInput> inputs, GradcheckOptions? options = null)
    {
        options = Validate(options);
        var rng = new Random(options.Seed);
        var comparisons = new List<GradcheckComparison>();
        for (int dir = 0; dir < options.Directions; dir++)
        {
            var u = inputs.Select(input => Direction(input, rng)).ToArray();
            var (y, ydot, grads, v) = Derivatives(device, function, inputs, u, rng, null);
            var samples = Sample(t => Evaluate(device, function, inputs, u, t), y, options);

            // J·u against R, entry by entry: ‖J·u − R‖∞ against ‖T‖∞ + N.
            var d = Entrywise(samples, options);
            int worst = 0;
            double jvpErr = 0, scale = 0, trunc = 0;
            for (int k = 0; k < y.Length; k++)
            {
                double e = Math.Abs(ydot[k] - d.Richardson[k]);
                if (!(e <= jvpErr)) (jvpErr, worst) = (e, k);
                scale = Math.Max(scale, Math.Abs(d.Richardson[k]));
                trunc = Math.Max(trunc, d.Truncation[k]);
            }
            if (y.Length > 0)
                comparisons.Add(new(GradcheckKind.Jvp, dir, null, ydot[worst], d.Richardson[worst], jvpErr, trunc + d.Rounding, scale));

            // ⟨Jᵀv, u⟩ against the Richardson difference of ψ(t) = ⟨v, f(x + t·u)⟩, with ψ's own allowance.
            double jtvU = 0, vJu = Dot(v, ydot);
            for (int i = 0; i < inputs.Count; i++) jtvU += Dot(grads[i], u[i]);
            var p = Projected(samples, v, options);
            comparisons.Add(new(GradcheckKind.Vjp, dir, null, jtvU, p.Richardson, Math.Abs(jtvU - p.Richardson), p.Truncation + p.Rounding,
                Math.Max(Math.Abs(jtvU), Math.Abs(p.Richardson))));

            // ⟨Jᵀv, u⟩ against ⟨v, J·u⟩, exact up to rounding.
            double adjScale = Math.Max(Math.Abs(jtvU), Math.Abs(vJu));
            comparisons.Add(new(GradcheckKind.Adjoint, dir, null, jtvU, vJu, Math.Abs(jtvU - vJu), options.AdjointTolerance * adjScale, adjScale));
        }
        return new GradcheckResult(comparisons);
    }

    /// <summary>
    /// Checks the float32 value, JVP and VJP of a function against its float64 ones on the same
    /// device, and the adjoint identity in float32, each within <see cref="Float32Allowance"/> of
    /// <paramref name="order"/> relative to float64's magnitude.
    /// </summary>
    /// <param name="device">Where to evaluate both.</param>
    /// <param name="f32">The function in float32.</param>
    /// <param name="f64">The same function in float64.</param>
    /// <param name="inputs">The point (float64 values, rounded to float32 for <paramref name="f32"/>).</param>
    /// <param name="order">The order of the factorizations inside (0 for none), which sets the allowance.</param>
    /// <param name="options">Directions and seed (the difference settings are not used).</param>
    /// <returns>Per direction a value, a JVP, a VJP per input and an adjoint comparison.</returns>
    /// <exception cref="ArgumentException">A symmetric input is not square, the order is negative, or the options are out of range.</exception>
    public static GradcheckResult RunFloat32(Device device, Func<Var<float>[], Var<float>> f32, Func<Var<double>[], Var<double>> f64,
        IReadOnlyList<GradcheckInput> inputs, int order, GradcheckOptions? options = null)
    {
        options = Validate(options);
        if (order < 0) throw new ArgumentException($"Gradcheck: the order {order} is negative.", nameof(order));
        double allowance = Float32Allowance(order);
        var rng = new Random(options.Seed);
        var comparisons = new List<GradcheckComparison>();
        for (int dir = 0; dir < options.Directions; dir++)
        {
            var u = inputs.Select(input => Direction(input, rng)).ToArray();
            var (y64, ydot64, g64, v) = Derivatives(device, f64, inputs, u, rng, null);
            var (y32, ydot32, g32, _) = Derivatives(device, f32, inputs, u, rng, v);
            comparisons.Add(Against(GradcheckKind.Value, dir, null, y32, y64, allowance));
            comparisons.Add(Against(GradcheckKind.Jvp, dir, null, ydot32, ydot64, allowance));
            for (int i = 0; i < inputs.Count; i++) comparisons.Add(Against(GradcheckKind.Vjp, dir, i, g32[i], g64[i], allowance));
            double vJu = Dot(v, ydot32), jtvU = 0;
            for (int i = 0; i < inputs.Count; i++) jtvU += Dot(g32[i], u[i]);
            double scale = Math.Max(Math.Abs(vJu), Math.Abs(jtvU));
            comparisons.Add(new(GradcheckKind.Adjoint, dir, null, jtvU, vJu, Math.Abs(jtvU - vJu), allowance * scale, scale));
        }
        return new GradcheckResult(comparisons);
    }

    /// <summary>
    /// Checks <paramref name="gradient"/> as the gradient of the scalar function <paramref name="f"/>
    /// at x, one coordinate at a time (u = eⱼ, v = 1), against Richardson differences with the same
    /// allowance as <see cref="Run"/>: for functions evaluated outside a tape (an objective's own
    /// gradient, say).
    /// </summary>
    /// <param name="f">The function, evaluated in float64.</param>
    /// <param name="gradient">The gradient under test, one entry per coordinate of x.</param>
    /// <param name="x">The point.</param>
    /// <param name="options">Step, noise probe and magnitude (directions and seed are not used).</param>
    /// <returns>One VJP comparison per coordinate (its <see cref="GradcheckComparison.Direction"/>).</returns>
    /// <exception cref="ArgumentException">The gradient and x differ in length, or the options are out of range.</exception>
    public static GradcheckResult Gradient(Func<double[], double> f, double[] gradient, double[] x, GradcheckOptions? options = null)
    {
        options = Validate(options);
        if (gradient.Length != x.Length)
            throw new ArgumentException($"Gradcheck: the gradient has {gradient.Length} entries, x has {x.Length}.", nameof(gradient));
        double[] y = [f(x)];
        double[] one = [1];
        var comparisons = new List<GradcheckComparison>();
        for (int j = 0; j < x.Length; j++)
        {
            var d = Projected(Sample(t =>
            {
                var moved = (double[])x.Clone();
                moved[j] += t;
                return [f(moved)];
            }, y, options), one, options);
            comparisons.Add(new(GradcheckKind.Vjp, j, null, gradient[j], d.Richardson, Math.Abs(gradient[j] - d.Richardson), d.Truncation + d.Rounding,
                Math.Max(Math.Abs(gradient[j]), Math.Abs(d.Richardson))));
        }
        return new GradcheckResult(comparisons);
    }

    /// <summary>φ(t) = f(x + t·u) at the points the differences and the noise probe use; φ(0) = Y.</summary>
    private sealed record Samples(double[] Y, double[] P1, double[] M1, double[] P2, double[] M2, double[][] Near, double H);

    private static Samples Sample(Func<double, double[]> phi, double[] y, GradcheckOptions options)
    {
        double h = options.Step, s = options.NoiseStep;
        double[][] near = s > 0 ? [phi(-2 * s), phi(-s), y, phi(s), phi(2 * s)] : [];
        return new Samples(y, phi(h), phi(-h), phi(h / 2), phi(-h / 2), near, h);
    }

    /// <summary>Per output entry: R, its truncation estimate |D(h) − D(h/2)|, and one rounding allowance N = max(12·η∞/h, floor).</summary>
    private sealed record Differences(double[] Richardson, double[] Truncation, double Rounding);

    private static Differences Entrywise(Samples s, GradcheckOptions options)
    {
        int m = s.Y.Length;
        var r = new double[m];
        var trunc = new double[m];
        double size = 0;
        for (int k = 0; k < m; k++)
        {
            var (rk, tk) = Richardson(s.P1[k], s.M1[k], s.P2[k], s.M2[k], s.H);
            (r[k], trunc[k]) = (rk, tk);
            size = Math.Max(size, Math.Abs(s.Y[k]));
        }
        return new Differences(r, trunc, Rounding(EntryNoise(s), size, s.H, options));
    }

    /// <summary>The difference of the projection ψ(t) = ⟨v, φ(t)⟩: R, its truncation estimate, its rounding allowance.</summary>
    private static (double Richardson, double Truncation, double Rounding) Projected(Samples s, double[] v, GradcheckOptions options)
    {
        double Psi(double[] y) => Dot(v, y);
        var (r, trunc) = Richardson(Psi(s.P1), Psi(s.M1), Psi(s.P2), Psi(s.M2), s.H);
        // ψ's noise: measured on ψ itself (errors common to every entry add up there), and at least
        // that of independent entry errors, ‖v‖₂·η∞; the floor's size is that of ψ's terms, Σ|vₖ·yₖ|.
        double psiNoise = Noise(Psi(s.M1), Psi(s.M2), Psi(s.Y), Psi(s.P2), Psi(s.P1), s.Near.Select(Psi).ToArray());
        double norm2 = 0, terms = 0;
        for (int k = 0; k < v.Length; k++)
        {
            norm2 += v[k] * v[k];
            terms += Math.Abs(v[k] * s.Y[k]);
        }
        double noise = Max(psiNoise, Math.Sqrt(norm2) * EntryNoise(s));
        return (r, trunc, Rounding(noise, terms, s.H, options));
    }

    /// <summary>R = (4·D(h/2) − D(h))/3 and |D(h) − D(h/2)|.</summary>
    private static (double Richardson, double Truncation) Richardson(double p1, double m1, double p2, double m2, double h)
    {
        double d1 = (p1 - m1) / (2 * h), d2 = (p2 - m2) / h;
        return ((4 * d2 - d1) / 3, Math.Abs(d1 - d2));
    }

    /// <summary>The largest noise of any output entry.</summary>
    private static double EntryNoise(Samples s)
    {
        double noise = 0;
        for (int k = 0; k < s.Y.Length; k++)
            noise = Max(noise, Noise(s.M1[k], s.M2[k], s.Y[k], s.P2[k], s.P1[k], s.Near.Select(y => y[k]).ToArray()));
        return noise;
    }

    /// <summary>
    /// Rounding noise η of one value along u, at two scales: the fourth difference of the five
    /// points (−h, −h/2, 0, h/2, h) and the second differences of the near points (a NaN propagates
    /// into the allowance and fails the check).
    /// </summary>
    private static double Noise(double m1, double m2, double y, double p2, double p1, double[] near)
    {
        double noise = Math.Abs(m1 - 4 * m2 + 6 * y - 4 * p2 + p1);
        for (int k = 1; k + 1 < near.Length; k++) noise = Max(noise, Math.Abs(near[k + 1] - 2 * near[k] + near[k - 1]));
        return noise;
    }

    /// <summary>R's rounding allowance: 4 × 3·η/h (R = (8·(φ(h/2) − φ(−h/2)) − (φ(h) − φ(−h)))/6h), at least the floor.</summary>
    private static double Rounding(double noise, double size, double h, GradcheckOptions options) =>
        Max(options.NoiseFloor * Epsilon64 * (size + options.Magnitude) / (h / 2), 12 * noise / h);

    private static double Max(double a, double b) => double.IsNaN(b) ? b : Math.Max(a, b);

    private static GradcheckOptions Validate(GradcheckOptions? options)
    {
        options ??= new GradcheckOptions();
        if (!(options.Step > 0) || !(options.NoiseStep >= 0) || !(options.AdjointTolerance >= 0) || !(options.Magnitude >= 0) || !(options.NoiseFloor >= 0) || options.Directions < 1)
            throw new ArgumentException($"Gradcheck: the step must be positive, the noise step, magnitude, noise floor and adjoint tolerance not negative, and at least one direction ({options}).", nameof(options));
        return options;
    }

    /// <summary>got against expected in the ∞-norm, relative to ‖expected‖∞ times the allowance.</summary>
    private static GradcheckComparison Against(GradcheckKind kind, int direction, int? input, double[] got, double[] expected, double relativeAllowance)
    {
        double diff = 0, scale = 0;
        int worst = 0;
        for (int k = 0; k < got.Length; k++)
        {
            double e = Math.Abs(got[k] - expected[k]);
            if (!(e <= diff)) (diff, worst) = (e, k);
            scale = Math.Max(scale, Math.Abs(expected[k]));
        }
        if (double.IsNaN(diff)) diff = double.PositiveInfinity;
        return got.Length == 0
            ? new(kind, direction, input, 0, 0, 0, 0, 0)
            : new(kind, direction, input, got[worst], expected[worst], diff, relativeAllowance * scale, scale);
    }

    /// <summary>y, J·u and Jᵀ·v in precision T, all as float64; v is drawn here when not given (the float64 run draws it).</summary>
    private static (double[] Y, double[] Ydot, double[][] Grads, double[] V) Derivatives<T>(Device device, Func<Var<T>[], Var<T>> f,
        IReadOnlyList<GradcheckInput> inputs, double[][] u, Random rng, double[]? v)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var tape = new Tape(device);
        var owned = new List<DeviceTensor<T>>();
        try
        {
            var vars = inputs.Select((input, i) =>
            {
                var value = device.Upload<T>(To<T>(input.Data), input.Shape);
                owned.Add(value);
                var tangent = device.Upload<T>(To<T>(u[i]), input.Shape);
                owned.Add(tangent);
                return tape.Variable(value, tangent);
            }).ToArray();
            var output = f(vars);
            var y = ToDouble(output.ToArray());
            var ydot = output.Tangent is { } t ? ToDouble(t.ToArray()) : new double[y.Length];
            v ??= Random(y.Length, rng);
            using var cot = device.Upload<T>(To<T>(v), output.Shape);
            tape.Backward(output, cot);
            var grads = vars.Select(x => x.Grad is { } g ? ToDouble(g.ToArray()) : new double[x.Shape.Length]).ToArray();
            return (y, ydot, grads, v);
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    /// <summary>f(x + t·u) in float64, on a tape of constants.</summary>
    private static double[] Evaluate(Device device, Func<Var<double>[], Var<double>> function, IReadOnlyList<GradcheckInput> inputs, double[][] u, double t)
    {
        using var tape = new Tape(device);
        var owned = new List<DeviceTensor<double>>();
        try
        {
            var vars = inputs.Select((input, i) =>
            {
                var shifted = new double[input.Data.Length];
                for (int k = 0; k < shifted.Length; k++) shifted[k] = input.Data[k] + t * u[i][k];
                var value = device.Upload<double>(shifted, input.Shape);
                owned.Add(value);
                return tape.Constant(value);
            }).ToArray();
            return function(vars).ToArray();
        }
        finally
        {
            foreach (var value in owned) value.Dispose();
        }
    }

    private static double[] Direction(GradcheckInput input, Random rng)
    {
        var d = Random(input.Data.Length, rng);
        if (input.Kind == PerturbationKind.Symmetric)
        {
            var (batch, n) = (input.Shape.Batch, input.Shape.Rows);
            if (!input.Shape.IsSquare) throw new ArgumentException($"Gradcheck: a symmetric input must be square, got {input.Shape}.");
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
            {
                long ij = (long)b * n * n + (long)i * n + j, ji = (long)b * n * n + (long)j * n + i;
                d[ij] = d[ji] = 0.5 * (d[ij] + d[ji]);
            }
        }
        return d;
    }

    private static double[] Random(long length, Random rng)
    {
        var r = new double[length];
        for (long k = 0; k < length; k++) r[k] = 2 * rng.NextDouble() - 1;
        return r;
    }

    private static T[] To<T>(double[] x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new T[x.Length];
        for (int k = 0; k < x.Length; k++) r[k] = T.CreateTruncating(x[k]);
        return r;
    }

    private static double[] ToDouble<T>(T[] x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var r = new double[x.Length];
        for (int k = 0; k < x.Length; k++) r[k] = double.CreateTruncating(x[k]);
        return r;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int k = 0; k < a.Length; k++) s += a[k] * b[k];
        return s;
    }
}
