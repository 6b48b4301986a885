using System.Globalization;

namespace GpuAD;

/// <summary>
/// The search interval of a kernel hyperparameter in its natural units (θ holds its natural
/// log), or <see cref="Fixed"/>: scikit-learn's <c>*_bounds</c> argument.
/// </summary>
public readonly record struct HyperparameterBounds
{
    /// <summary>An interval [lower, upper] with 0 &lt; lower ≤ upper.</summary>
    /// <param name="lower">The smallest value.</param>
    /// <param name="upper">The largest value (may be +∞).</param>
    /// <exception cref="ArgumentOutOfRangeException">lower is not positive and finite, or upper &lt; lower.</exception>
    public HyperparameterBounds(double lower, double upper)
    {
        if (!(lower > 0) || double.IsInfinity(lower))
            throw new ArgumentOutOfRangeException(nameof(lower), lower, "Hyperparameter bounds: the lower bound must be positive and finite.");
        if (!(upper >= lower))
            throw new ArgumentOutOfRangeException(nameof(upper), upper, $"Hyperparameter bounds: the upper bound must be at least the lower bound {lower.ToString("R", CultureInfo.InvariantCulture)}.");
        Lower = lower;
        Upper = upper;
    }

    /// <summary>scikit-learn's default bounds, (1e-5, 1e5).</summary>
    public static HyperparameterBounds Default { get; } = new(1e-5, 1e5);

    /// <summary>A fixed hyperparameter: not in θ, not fitted.</summary>
    public static HyperparameterBounds Fixed { get; } = new(fixedMarker: true);

    private HyperparameterBounds(bool fixedMarker)
    {
        IsFixed = fixedMarker;
        Lower = double.NaN;
        Upper = double.NaN;
    }

    /// <summary>The smallest value (NaN when fixed).</summary>
    public double Lower { get; }

    /// <summary>The largest value (NaN when fixed).</summary>
    public double Upper { get; }

    /// <summary>True when the hyperparameter is fixed.</summary>
    public bool IsFixed { get; }

    /// <summary><c>fixed</c> or <c>(lower, upper)</c>, as the kernel expression syntax writes them.</summary>
    public override string ToString() => IsFixed
        ? "\"fixed\""
        : $"({Lower.ToString("R", CultureInfo.InvariantCulture)}, {Upper.ToString("R", CultureInfo.InvariantCulture)})";
}

/// <summary>
/// One hyperparameter of a kernel (scikit-learn's <c>Hyperparameter</c>): its name, its values (one,
/// or one per input dimension for an ARD lengthscale) and its bounds. A kernel's θ holds the natural
/// logs of the values of its non-fixed hyperparameters.
/// </summary>
public sealed class Hyperparameter
{
    /// <summary>Creates a hyperparameter.</summary>
    /// <param name="name">scikit-learn's name (<c>length_scale</c>, <c>alpha</c>, …).</param>
    /// <param name="values">The values: positive and finite (a fixed value may also be 0).</param>
    /// <param name="bounds">The bounds, or <see cref="HyperparameterBounds.Fixed"/>.</param>
    /// <exception cref="ArgumentException">There are no values, or a value is not positive and finite.</exception>
    public Hyperparameter(string name, IReadOnlyList<double> values, HyperparameterBounds bounds)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(values);
        if (values.Count == 0) throw new ArgumentException($"Kernel hyperparameter {name}: needs at least one value.", nameof(values));
        for (int i = 0; i < values.Count; i++)
        {
            double v = values[i];
            if (!double.IsFinite(v) || v < 0 || (v == 0 && !bounds.IsFixed))
                throw new ArgumentException(
                    $"Kernel hyperparameter {name}{(values.Count > 1 ? $"[{i}]" : "")} = {v.ToString("R", CultureInfo.InvariantCulture)}: must be positive and finite (θ holds its log).",
                    nameof(values));
        }
        Name = name;
        Values = values.ToArray();
        Bounds = bounds == default ? HyperparameterBounds.Default : bounds;
    }

    /// <summary>scikit-learn's name of the hyperparameter.</summary>
    public string Name { get; }

    /// <summary>The values (more than one for an ARD lengthscale).</summary>
    public IReadOnlyList<double> Values { get; }

    /// <summary>The bounds, or <see cref="HyperparameterBounds.Fixed"/>.</summary>
    public HyperparameterBounds Bounds { get; }

    /// <summary>True when the hyperparameter is fixed (not in θ).</summary>
    public bool IsFixed => Bounds.IsFixed;

    /// <summary>Entries in θ: 0 when fixed, else the number of values.</summary>
    public int ThetaCount => IsFixed ? 0 : Values.Count;

    /// <summary>The hyperparameter with other values and the same name and bounds.</summary>
    internal Hyperparameter With(IReadOnlyList<double> values) => new(Name, values, Bounds);

    /// <summary>The name and values.</summary>
    public override string ToString() =>
        $"{Name}={(Values.Count == 1 ? Values[0].ToString("R", CultureInfo.InvariantCulture) : "[" + string.Join(", ", Values.Select(v => v.ToString("R", CultureInfo.InvariantCulture))) + "]")}{(IsFixed ? " (fixed)" : "")}";
}
