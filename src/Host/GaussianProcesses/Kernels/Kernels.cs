using System.Globalization;

namespace GpuAD;

/// <summary>
/// A constant covariance <c>k(x, x′) = c</c> (scikit-learn's <c>ConstantKernel</c>); as a factor it
/// scales another kernel (<c>2.0 * k</c>). Printed as <c>√c**2</c>.
/// </summary>
public sealed class ConstantKernel : Kernel
{
    /// <summary>Creates the kernel.</summary>
    /// <param name="constantValue">c &gt; 0.</param>
    /// <param name="constantValueBounds">Bounds of c (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">c is not positive and finite.</exception>
    public ConstantKernel(double constantValue = 1.0, HyperparameterBounds? constantValueBounds = null) =>
        ConstantValueHyperparameter = new Hyperparameter("constant_value", [constantValue], constantValueBounds ?? HyperparameterBounds.Default);

    /// <summary>c.</summary>
    public double ConstantValue => ConstantValueHyperparameter.Values[0];

    /// <summary>c as a hyperparameter.</summary>
    public Hyperparameter ConstantValueHyperparameter { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [ConstantValueHyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index) =>
        new ConstantKernel(values[index++][0], ConstantValueHyperparameter.Bounds);

    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context) =>
        new(KernelTermKind.Scalar, context.Take(ConstantValueHyperparameter));

    /// <inheritdoc/>
    public override string ToString() => $"{G3(Math.Sqrt(ConstantValue))}**2";

    /// <inheritdoc/>
    public override string ToExpression() => $"ConstantKernel({Argument(ConstantValueHyperparameter)})";
}

/// <summary>
/// The noise covariance <c>k(x, x′) = σ²·[x is x′]</c> (scikit-learn's <c>WhiteKernel</c>): σ² on the
/// diagonal of the training covariance K(X, X), 0 between different point sets.
/// </summary>
public sealed class WhiteKernel : Kernel
{
    /// <summary>Creates the kernel.</summary>
    /// <param name="noiseLevel">σ² &gt; 0.</param>
    /// <param name="noiseLevelBounds">Bounds of σ² (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">σ² is not positive and finite.</exception>
    public WhiteKernel(double noiseLevel = 1.0, HyperparameterBounds? noiseLevelBounds = null) =>
        NoiseLevelHyperparameter = new Hyperparameter("noise_level", [noiseLevel], noiseLevelBounds ?? HyperparameterBounds.Default);

    /// <summary>σ².</summary>
    public double NoiseLevel => NoiseLevelHyperparameter.Values[0];

    /// <summary>σ² as a hyperparameter.</summary>
    public Hyperparameter NoiseLevelHyperparameter { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [NoiseLevelHyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index) =>
        new WhiteKernel(values[index++][0], NoiseLevelHyperparameter.Bounds);

    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context) =>
        new(KernelTermKind.Diagonal, context.Take(NoiseLevelHyperparameter));

    /// <inheritdoc/>
    public override string ToString() => $"WhiteKernel(noise_level={G3(NoiseLevel)})";

    /// <inheritdoc/>
    public override string ToExpression() => $"WhiteKernel({Argument(NoiseLevelHyperparameter)})";
}

/// <summary>
/// The dot-product covariance <c>k(x, x′) = σ₀² + x·x′</c> (scikit-learn's <c>DotProduct</c>): Bayesian
/// linear regression with a N(0, σ₀²) prior on the intercept and N(0, 1) priors on the slopes.
/// </summary>
public sealed class DotProduct : Kernel
{
    /// <summary>Creates the kernel.</summary>
    /// <param name="sigma0">σ₀ &gt; 0.</param>
    /// <param name="sigma0Bounds">Bounds of σ₀ (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">σ₀ is not positive and finite.</exception>
    public DotProduct(double sigma0 = 1.0, HyperparameterBounds? sigma0Bounds = null) =>
        Sigma0Hyperparameter = new Hyperparameter("sigma_0", [sigma0], sigma0Bounds ?? HyperparameterBounds.Default);

    /// <summary>σ₀.</summary>
    public double Sigma0 => Sigma0Hyperparameter.Values[0];

    /// <summary>σ₀ as a hyperparameter.</summary>
    public Hyperparameter Sigma0Hyperparameter { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [Sigma0Hyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index) =>
        new DotProduct(values[index++][0], Sigma0Hyperparameter.Bounds);

    // K = X₁X₂ᵀ + σ₀²·11ᵀ; its diagonal ‖xᵢ‖² + σ₀² (rows of X∘X summed)
    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context)
    {
        var s2 = context.Take(Sigma0Hyperparameter, power: 2);
        var inner = context.DiagonalOnly
            ? Op.MatMul(Op.Multiply(context.X1, context.X1), context.Tape.Constant(Enumerable.Repeat(T.One, context.X1.Shape.Cols).ToArray(), new Shape(1, context.X1.Shape.Cols, 1)))
            : Op.MatMul(context.X1, context.X2, transposeB: true);
        return KernelContext<T>.Matrix(Op.Add(inner, Op.MultiplyScalar(context.Filled(T.One), s2)));
    }

    /// <inheritdoc/>
    public override string ToString() => $"DotProduct(sigma_0={G3(Sigma0)})";

    /// <inheritdoc/>
    public override string ToExpression() => $"DotProduct({Argument(Sigma0Hyperparameter)})";
}

/// <summary>
/// The squared-exponential covariance <c>k(x, x′) = exp(−½·Σₖ ((xₖ − x′ₖ)/ℓₖ)²)</c> (scikit-learn's
/// <c>RBF</c>), with one lengthscale (isotropic) or one per input dimension (ARD).
/// </summary>
public sealed class RBF : Kernel
{
    /// <summary>Creates an isotropic kernel.</summary>
    /// <param name="lengthScale">ℓ &gt; 0.</param>
    /// <param name="lengthScaleBounds">Bounds of ℓ (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">ℓ is not positive and finite.</exception>
    public RBF(double lengthScale = 1.0, HyperparameterBounds? lengthScaleBounds = null) : this([lengthScale], lengthScaleBounds) { }

    /// <summary>Creates an ARD kernel (one lengthscale per input dimension; a single one is isotropic).</summary>
    /// <param name="lengthScale">ℓₖ &gt; 0.</param>
    /// <param name="lengthScaleBounds">Bounds of every ℓₖ (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">A lengthscale is not positive and finite, or there is none.</exception>
    public RBF(IReadOnlyList<double> lengthScale, HyperparameterBounds? lengthScaleBounds = null) =>
        LengthScaleHyperparameter = new Hyperparameter("length_scale", lengthScale, lengthScaleBounds ?? HyperparameterBounds.Default);

    /// <summary>ℓ (one value, or one per dimension).</summary>
    public IReadOnlyList<double> LengthScale => LengthScaleHyperparameter.Values;

    /// <summary>ℓ as a hyperparameter.</summary>
    public Hyperparameter LengthScaleHyperparameter { get; }

    /// <summary>True with one lengthscale per dimension.</summary>
    public bool Anisotropic => LengthScale.Count > 1;

    /// <inheritdoc/>
    public override int? InputDimensions => Anisotropic ? LengthScale.Count : null;

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [LengthScaleHyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index) =>
        new RBF(values[index++], LengthScaleHyperparameter.Bounds);

    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context) => context.DiagonalOnly
        ? context.UnitDiagonal(Hyperparameters)
        : KernelContext<T>.Matrix(Op.Stationary(context.SquaredDistances(context.Take(LengthScaleHyperparameter, power: -1)), StationaryKernel.Rbf));

    /// <inheritdoc/>
    public override string ToString() => $"RBF(length_scale={Format.LengthScale(LengthScale)})";

    /// <inheritdoc/>
    public override string ToExpression() => $"RBF({Argument(LengthScaleHyperparameter)})";
}

/// <summary>
/// The Matérn covariance (scikit-learn's <c>Matern</c>) for ν = ½ (exponential), 3⁄2 and 5⁄2, of
/// r = √(Σₖ ((xₖ − x′ₖ)/ℓₖ)²): exp(−r), (1 + √3r)·exp(−√3r), (1 + √5r + 5r²/3)·exp(−√5r).
/// </summary>
public sealed class Matern : Kernel
{
    /// <summary>Creates an isotropic kernel.</summary>
    /// <param name="lengthScale">ℓ &gt; 0.</param>
    /// <param name="nu">ν: 0.5, 1.5 or 2.5.</param>
    /// <param name="lengthScaleBounds">Bounds of ℓ (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">ℓ is not positive and finite, or ν is not one of ½, 3⁄2, 5⁄2.</exception>
    public Matern(double lengthScale = 1.0, double nu = 1.5, HyperparameterBounds? lengthScaleBounds = null) : this([lengthScale], nu, lengthScaleBounds) { }

    /// <summary>Creates an ARD kernel (one lengthscale per input dimension; a single one is isotropic).</summary>
    /// <param name="lengthScale">ℓₖ &gt; 0.</param>
    /// <param name="nu">ν: 0.5, 1.5 or 2.5.</param>
    /// <param name="lengthScaleBounds">Bounds of every ℓₖ (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">A lengthscale is not positive and finite, or ν is not one of ½, 3⁄2, 5⁄2.</exception>
    public Matern(IReadOnlyList<double> lengthScale, double nu = 1.5, HyperparameterBounds? lengthScaleBounds = null)
    {
        Function = nu switch
        {
            0.5 => StationaryKernel.Matern12,
            1.5 => StationaryKernel.Matern32,
            2.5 => StationaryKernel.Matern52,
            _ => throw new ArgumentException($"Matern: nu = {nu.ToString(CultureInfo.InvariantCulture)} is not supported (0.5, 1.5 or 2.5).", nameof(nu)),
        };
        Nu = nu;
        LengthScaleHyperparameter = new Hyperparameter("length_scale", lengthScale, lengthScaleBounds ?? HyperparameterBounds.Default);
    }

    /// <summary>ν (smoothness; not a hyperparameter).</summary>
    public double Nu { get; }

    /// <summary>The stationary function of ν.</summary>
    public StationaryKernel Function { get; }

    /// <summary>ℓ (one value, or one per dimension).</summary>
    public IReadOnlyList<double> LengthScale => LengthScaleHyperparameter.Values;

    /// <summary>ℓ as a hyperparameter.</summary>
    public Hyperparameter LengthScaleHyperparameter { get; }

    /// <summary>True with one lengthscale per dimension.</summary>
    public bool Anisotropic => LengthScale.Count > 1;

    /// <inheritdoc/>
    public override int? InputDimensions => Anisotropic ? LengthScale.Count : null;

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [LengthScaleHyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index) =>
        new Matern(values[index++], Nu, LengthScaleHyperparameter.Bounds);

    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context) => context.DiagonalOnly
        ? context.UnitDiagonal(Hyperparameters)
        : KernelContext<T>.Matrix(Op.Stationary(context.SquaredDistances(context.Take(LengthScaleHyperparameter, power: -1)), Function));

    /// <inheritdoc/>
    public override string ToString() => $"Matern(length_scale={Format.LengthScale(LengthScale)}, nu={G3(Nu)})";

    /// <inheritdoc/>
    public override string ToExpression() => $"Matern({Argument(LengthScaleHyperparameter)}, nu={Exact(Nu)})";
}

/// <summary>
/// The rational quadratic covariance <c>k(x, x′) = (1 + ‖x − x′‖²/(2αℓ²))^(−α)</c> (scikit-learn's
/// <c>RationalQuadratic</c>): a scale mixture of RBFs. Isotropic only, as scikit-learn's.
/// </summary>
public sealed class RationalQuadratic : Kernel
{
    /// <summary>Creates the kernel.</summary>
    /// <param name="lengthScale">ℓ &gt; 0.</param>
    /// <param name="alpha">α &gt; 0.</param>
    /// <param name="lengthScaleBounds">Bounds of ℓ (default 1e-5..1e5), or fixed.</param>
    /// <param name="alphaBounds">Bounds of α (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">ℓ or α is not positive and finite.</exception>
    public RationalQuadratic(double lengthScale = 1.0, double alpha = 1.0, HyperparameterBounds? lengthScaleBounds = null, HyperparameterBounds? alphaBounds = null)
    {
        AlphaHyperparameter = new Hyperparameter("alpha", [alpha], alphaBounds ?? HyperparameterBounds.Default);
        LengthScaleHyperparameter = new Hyperparameter("length_scale", [lengthScale], lengthScaleBounds ?? HyperparameterBounds.Default);
    }

    /// <summary>ℓ.</summary>
    public double LengthScale => LengthScaleHyperparameter.Values[0];

    /// <summary>α.</summary>
    public double Alpha => AlphaHyperparameter.Values[0];

    /// <summary>ℓ as a hyperparameter.</summary>
    public Hyperparameter LengthScaleHyperparameter { get; }

    /// <summary>α as a hyperparameter.</summary>
    public Hyperparameter AlphaHyperparameter { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [AlphaHyperparameter, LengthScaleHyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index)
    {
        double alpha = values[index++][0], lengthScale = values[index++][0];
        return new RationalQuadratic(lengthScale, alpha, LengthScaleHyperparameter.Bounds, AlphaHyperparameter.Bounds);
    }

    // θ order: α, then ℓ.
    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context)
    {
        if (context.DiagonalOnly) return context.UnitDiagonal(Hyperparameters);
        var alpha = context.Take(AlphaHyperparameter);
        var inverse = context.Take(LengthScaleHyperparameter, power: -1);
        return KernelContext<T>.Matrix(Op.RationalQuadratic(context.SquaredDistances(inverse), alpha));
    }

    /// <inheritdoc/>
    public override string ToString() => $"RationalQuadratic(alpha={G3(Alpha)}, length_scale={G3(LengthScale)})";

    /// <inheritdoc/>
    public override string ToExpression() => $"RationalQuadratic({Argument(AlphaHyperparameter)}, {Argument(LengthScaleHyperparameter)})";
}

/// <summary>
/// The periodic covariance <c>k(x, x′) = exp(−2·sin²(π‖x − x′‖/p)/ℓ²)</c> (scikit-learn's
/// <c>ExpSineSquared</c>).
/// </summary>
public sealed class ExpSineSquared : Kernel
{
    /// <summary>Creates the kernel.</summary>
    /// <param name="lengthScale">ℓ &gt; 0.</param>
    /// <param name="periodicity">p &gt; 0.</param>
    /// <param name="lengthScaleBounds">Bounds of ℓ (default 1e-5..1e5), or fixed.</param>
    /// <param name="periodicityBounds">Bounds of p (default 1e-5..1e5), or fixed.</param>
    /// <exception cref="ArgumentException">ℓ or p is not positive and finite.</exception>
    public ExpSineSquared(double lengthScale = 1.0, double periodicity = 1.0, HyperparameterBounds? lengthScaleBounds = null, HyperparameterBounds? periodicityBounds = null)
    {
        LengthScaleHyperparameter = new Hyperparameter("length_scale", [lengthScale], lengthScaleBounds ?? HyperparameterBounds.Default);
        PeriodicityHyperparameter = new Hyperparameter("periodicity", [periodicity], periodicityBounds ?? HyperparameterBounds.Default);
    }

    /// <summary>ℓ.</summary>
    public double LengthScale => LengthScaleHyperparameter.Values[0];

    /// <summary>p.</summary>
    public double Periodicity => PeriodicityHyperparameter.Values[0];

    /// <summary>ℓ as a hyperparameter.</summary>
    public Hyperparameter LengthScaleHyperparameter { get; }

    /// <summary>p as a hyperparameter.</summary>
    public Hyperparameter PeriodicityHyperparameter { get; }

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [LengthScaleHyperparameter, PeriodicityHyperparameter];

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index)
    {
        double lengthScale = values[index++][0], periodicity = values[index++][0];
        return new ExpSineSquared(lengthScale, periodicity, LengthScaleHyperparameter.Bounds, PeriodicityHyperparameter.Bounds);
    }

    // θ order: ℓ, then p.
    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context)
    {
        if (context.DiagonalOnly) return context.UnitDiagonal(Hyperparameters);
        var lengthScale = context.Take(LengthScaleHyperparameter);
        var periodicity = context.Take(PeriodicityHyperparameter);
        return KernelContext<T>.Matrix(Op.ExpSineSquared(context.SquaredDistances(), lengthScale, periodicity));
    }

    /// <inheritdoc/>
    public override string ToString() => $"ExpSineSquared(length_scale={G3(LengthScale)}, periodicity={G3(Periodicity)})";

    /// <inheritdoc/>
    public override string ToExpression() => $"ExpSineSquared({Argument(LengthScaleHyperparameter)}, {Argument(PeriodicityHyperparameter)})";
}

/// <summary>The sum of two kernels, <c>k1 + k2</c> (scikit-learn's <c>Sum</c>); θ holds k1's entries, then k2's.</summary>
/// <param name="k1">The first operand.</param>
/// <param name="k2">The second operand.</param>
public sealed class KernelSum(Kernel k1, Kernel k2) : Kernel
{
    /// <summary>The first operand.</summary>
    public Kernel K1 { get; } = k1 ?? throw new ArgumentNullException(nameof(k1));

    /// <summary>The second operand.</summary>
    public Kernel K2 { get; } = k2 ?? throw new ArgumentNullException(nameof(k2));

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [.. K1.Hyperparameters, .. K2.Hyperparameters];

    /// <inheritdoc/>
    public override int? InputDimensions => K1.InputDimensions ?? K2.InputDimensions;

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index)
    {
        var a = K1.RebuildFrom(values, ref index);
        return new KernelSum(a, K2.RebuildFrom(values, ref index));
    }

    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context)
    {
        var a = K1.EvaluateTerm(context);
        return context.Sum(a, K2.EvaluateTerm(context));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{K1} + {K2}";

    /// <inheritdoc/>
    public override string ToExpression() => $"{K1.ToExpression()} + {(K2 is KernelSum ? $"({K2.ToExpression()})" : K2.ToExpression())}";
}

/// <summary>The elementwise product of two kernels, <c>k1 * k2</c> (scikit-learn's <c>Product</c>); θ holds k1's entries, then k2's.</summary>
/// <param name="k1">The first operand.</param>
/// <param name="k2">The second operand.</param>
public sealed class KernelProduct(Kernel k1, Kernel k2) : Kernel
{
    /// <summary>The first operand.</summary>
    public Kernel K1 { get; } = k1 ?? throw new ArgumentNullException(nameof(k1));

    /// <summary>The second operand.</summary>
    public Kernel K2 { get; } = k2 ?? throw new ArgumentNullException(nameof(k2));

    /// <inheritdoc/>
    public override IReadOnlyList<Hyperparameter> Hyperparameters => [.. K1.Hyperparameters, .. K2.Hyperparameters];

    /// <inheritdoc/>
    public override int? InputDimensions => K1.InputDimensions ?? K2.InputDimensions;

    private protected override Kernel Rebuild(IReadOnlyList<double[]> values, ref int index)
    {
        var a = K1.RebuildFrom(values, ref index);
        return new KernelProduct(a, K2.RebuildFrom(values, ref index));
    }

    private protected override KernelTerm<T> Evaluate<T>(KernelContext<T> context)
    {
        var a = K1.EvaluateTerm(context);
        return context.Product(a, K2.EvaluateTerm(context));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{K1} * {K2}";

    /// <inheritdoc/>
    public override string ToExpression() => $"{(K1 is KernelSum ? $"({K1.ToExpression()})" : K1.ToExpression())} * {(K2 is KernelSum or KernelProduct ? $"({K2.ToExpression()})" : K2.ToExpression())}";
}

/// <summary>Shared pieces of the kernels' reprs.</summary>
internal static class Format
{
    /// <summary><c>1.5</c> or <c>[1, 2.5]</c> (scikit-learn's isotropic and anisotropic forms).</summary>
    public static string LengthScale(IReadOnlyList<double> values) =>
        values.Count == 1 ? PythonFormat.G(values[0], 3) : "[" + string.Join(", ", values.Select(v => PythonFormat.G(v, 3))) + "]";
}
