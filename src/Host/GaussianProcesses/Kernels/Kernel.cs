using System.Globalization;

namespace GpuAD;

/// <summary>
/// A covariance function k(x, x′) for Gaussian processes, composable as scikit-learn's
/// <c>sklearn.gaussian_process.kernels</c>: <see cref="ConstantKernel"/>, <see cref="RBF"/>,
/// <see cref="Matern"/>, <see cref="RationalQuadratic"/>, <see cref="ExpSineSquared"/>,
/// <see cref="DotProduct"/>, <see cref="WhiteKernel"/>, their sums (<c>k1 + k2</c>) and products
/// (<c>k1 * k2</c>, <c>2.0 * k</c>). Kernels are immutable. <see cref="Theta"/>, <see cref="Bounds"/>
/// and <see cref="ToString"/> agree with scikit-learn's <c>kernel.theta</c>, <c>kernel.bounds</c>
/// and <c>repr(kernel)</c>; <see cref="Parse"/> reads that syntax back. <see cref="Covariance{T}"/>
/// records K on a tape as a function of a θ variable, so the marginal likelihood's gradient by θ
/// (and by the inputs) comes from the tape.
/// </summary>
public abstract class Kernel
{
    private protected Kernel() { }

    /// <summary>
    /// Every hyperparameter (fixed ones included) in θ's order: within a kernel sorted by name as
    /// scikit-learn lists them, a sum's or product's first operand before its second.
    /// </summary>
    public abstract IReadOnlyList<Hyperparameter> Hyperparameters { get; }

    /// <summary>Entries in θ: the values of the non-fixed hyperparameters.</summary>
    public int ThetaLength => Hyperparameters.Sum(h => h.ThetaCount);

    /// <summary>θ: the natural logs of the non-fixed hyperparameters' values, in scikit-learn's order.</summary>
    public double[] Theta => Hyperparameters.Where(h => !h.IsFixed).SelectMany(h => h.Values).Select(v => Math.Log(v)).ToArray();

    /// <summary>The log bounds of θ's entries (an ARD lengthscale's bounds repeated per dimension), as scikit-learn's <c>kernel.bounds</c>.</summary>
    public (double Lower, double Upper)[] Bounds =>
        Hyperparameters.Where(h => !h.IsFixed).SelectMany(h => h.Values.Select(_ => (Math.Log(h.Bounds.Lower), Math.Log(h.Bounds.Upper)))).ToArray();

    /// <summary>The number of input dimensions the kernel requires (from an ARD lengthscale), or null when any will do.</summary>
    public virtual int? InputDimensions => null;

    /// <summary>The same kernel with the non-fixed hyperparameters set to exp(θ) (scikit-learn's <c>clone_with_theta</c>).</summary>
    /// <param name="theta">θ, <see cref="ThetaLength"/> values.</param>
    /// <exception cref="ArgumentException">θ has the wrong length or a value is not finite.</exception>
    public Kernel WithTheta(ReadOnlySpan<double> theta)
    {
        if (theta.Length != ThetaLength)
            throw new ArgumentException($"Kernel.WithTheta: θ holds {theta.Length} values but {this} takes {ThetaLength}.", nameof(theta));
        var values = new List<double[]>();
        int offset = 0;
        foreach (var h in Hyperparameters)
        {
            if (h.IsFixed)
            {
                values.Add(h.Values.ToArray());
                continue;
            }
            var v = new double[h.Values.Count];
            for (int i = 0; i < v.Length; i++, offset++)
            {
                if (!double.IsFinite(theta[offset]))
                    throw new ArgumentException($"Kernel.WithTheta: θ[{offset}] = {theta[offset].ToString(CultureInfo.InvariantCulture)} ({h.Name}) is not finite.", nameof(theta));
                v[i] = Math.Exp(theta[offset]);
            }
            values.Add(v);
        }
        int index = 0;
        return Rebuild(values, ref index);
    }

    /// <summary>The same kernel with the hyperparameters' values taken in order from <paramref name="values"/>.</summary>
    private protected abstract Kernel Rebuild(IReadOnlyList<double[]> values, ref int index);

    /// <summary>
    /// Records the covariance matrix K(X₁, X₂) on the tape, as a function of θ and of the points.
    /// With <paramref name="x2"/> null it is the training covariance K(X, X) with a
    /// <see cref="WhiteKernel"/>'s noise on the diagonal; with X₂ given a WhiteKernel contributes 0
    /// (scikit-learn's <c>kernel(X)</c> and <c>kernel(X, Y)</c>). Stationary kernels are computed from
    /// the pairwise distances on the device (<see cref="Op.SquaredDistances{T}"/>) with no
    /// [n, m, d] temporary.
    /// </summary>
    /// <param name="theta">θ as a row, [batch or 1, 1, <see cref="ThetaLength"/>] (a variable for its gradient).</param>
    /// <param name="x1">Points [batch or 1, n, d].</param>
    /// <param name="x2">Points [batch or 1, m, d], or null for K(X₁, X₁) with the noise.</param>
    /// <returns>K [batch, n, m] (m = n when <paramref name="x2"/> is null).</returns>
    /// <exception cref="ArgumentException">
    /// θ is not [·, 1, ThetaLength], the points' dimensions differ or do not match an ARD lengthscale,
    /// or the batches do not broadcast (raised before any op is recorded).
    /// </exception>
    public Var<T> Covariance<T>(Var<T> theta, Var<T> x1, Var<T>? x2 = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Record("Kernel.Covariance", theta, x1, x2, diagonalOnly: false);

    /// <summary>
    /// The diagonal of the training covariance, <c>k(xᵢ, xᵢ)</c> with the noise (scikit-learn's
    /// <c>kernel.diag(X)</c>), as a column, without forming K: stationary kernels contribute 1,
    /// <see cref="DotProduct"/> ‖xᵢ‖² + σ₀², <see cref="WhiteKernel"/> its noise.
    /// </summary>
    /// <param name="theta">θ as a row, [batch or 1, 1, <see cref="ThetaLength"/>].</param>
    /// <param name="x">Points [batch or 1, n, d].</param>
    /// <returns>[batch, n, 1].</returns>
    /// <exception cref="ArgumentException">As <see cref="Covariance{T}"/>.</exception>
    public Var<T> Diagonal<T>(Var<T> theta, Var<T> x) where T : unmanaged, IFloatingPointIeee754<T> =>
        Record("Kernel.Diagonal", theta, x, null, diagonalOnly: true);

    private Var<T> Record<T>(string op, Var<T> theta, Var<T> x1, Var<T>? x2, bool diagonalOnly) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(theta);
        ArgumentNullException.ThrowIfNull(x1);
        var tape = x2 is null ? Tape.Of(op, theta, x1) : Tape.Of(op, theta, x1, x2);
        var other = x2 ?? x1;
        if (theta.Shape.Rows != 1 || theta.Shape.Cols != ThetaLength)
            throw ShapeErrors.Mismatch(op, $"θ must be [batch or 1, 1, {ThetaLength}] for {this}", x1.Shape, theta.Shape);
        if (other.Shape.Cols != x1.Shape.Cols)
            throw ShapeErrors.Mismatch(op, "X₁ and X₂ must have the same number of columns (the dimension d)", x1.Shape, other.Shape);
        if (InputDimensions is int d && d != x1.Shape.Cols)
            throw ShapeErrors.Invalid(op, $"{this} has {d} lengthscales (ARD) but the points have {x1.Shape.Cols} dimensions", x1.Shape);
        int batch = ShapeErrors.BroadcastBatch(op, x1.Shape, other.Shape);
        batch = ShapeErrors.BroadcastBatch(op, x1.Shape.WithBatch(batch), theta.Shape);
        var context = new KernelContext<T>(tape, theta, x1, other, training: x2 is null, diagonalOnly);
        var k = context.Materialize(Evaluate(context));
        var shape = new Shape(batch, x1.Shape.Rows, diagonalOnly ? 1 : other.Shape.Rows);
        if (k.Shape.Batch != batch) k = Op.Add(k, tape.Constant(new T[shape.Batch * (long)shape.Rows * shape.Cols], shape));
        return k;
    }

    /// <summary>θ (<see cref="Theta"/>) on the tape as a [1, 1, <see cref="ThetaLength"/>] row.</summary>
    /// <param name="tape">The tape.</param>
    /// <param name="requiresGrad">A variable (its gradient is accumulated) or a constant.</param>
    public Var<T> ThetaVar<T>(Tape tape, bool requiresGrad = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(tape);
        var values = Theta.Select(T.CreateChecked).ToArray();
        var shape = new Shape(1, 1, values.Length);
        return requiresGrad ? tape.Variable(values, shape) : tape.Constant(values, shape);
    }

    /// <summary>The kernel's covariance as a term of a sum or product (see <see cref="KernelTerm{T}"/>).</summary>
    private protected abstract KernelTerm<T> Evaluate<T>(KernelContext<T> context) where T : unmanaged, IFloatingPointIeee754<T>;

    internal Kernel RebuildFrom(IReadOnlyList<double[]> values, ref int index) => Rebuild(values, ref index);

    internal KernelTerm<T> EvaluateTerm<T>(KernelContext<T> context) where T : unmanaged, IFloatingPointIeee754<T> => Evaluate(context);

    /// <summary>What scikit-learn's <c>repr(kernel)</c> prints, e.g. <c>316**2 * RBF(length_scale=50) + WhiteKernel(noise_level=0.1)</c>.</summary>
    public abstract override string ToString();

    /// <summary>
    /// The kernel in the expression syntax with every value at full precision, non-default bounds
    /// (<c>length_scale_bounds="fixed"</c>, <c>alpha_bounds=(0.01, 10)</c>) and the parentheses a
    /// nested sum or product needs: <see cref="Parse"/> rebuilds exactly this kernel from it (same
    /// structure, θ, bounds and <see cref="ToString"/>). It is also Python that builds the same
    /// scikit-learn kernel.
    /// </summary>
    public abstract string ToExpression();

    /// <summary>
    /// Reads a kernel expression in scikit-learn's <c>repr</c> syntax: the seven kernels with keyword
    /// (or positional) arguments, ARD lists <c>length_scale=[1, 2]</c>, bounds
    /// <c>length_scale_bounds=(1e-3, 1e3)</c> or <c>"fixed"</c>, constants <c>c</c> or <c>c**2</c>,
    /// <c>*</c>, <c>+</c> and parentheses; and the shorthands <c>rbf</c>, <c>matern12</c>,
    /// <c>matern32</c>, <c>matern52</c> (<c>1**2 * RBF(length_scale=1) + WhiteKernel(noise_level=1)</c>
    /// and the Matérn ν = ½, 3⁄2, 5⁄2 analogues).
    /// </summary>
    /// <param name="expression">The expression.</param>
    /// <exception cref="KernelExpressionException">The expression is malformed; the message names the column.</exception>
    public static Kernel Parse(string expression) => KernelParser.Parse(expression);

    /// <summary>The sum k1 + k2 (scikit-learn's <c>Sum</c>).</summary>
    public static Kernel operator +(Kernel k1, Kernel k2) => new KernelSum(k1, k2);

    /// <summary>k + ConstantKernel(c).</summary>
    public static Kernel operator +(Kernel k, double c) => new KernelSum(k, new ConstantKernel(c));

    /// <summary>ConstantKernel(c) + k.</summary>
    public static Kernel operator +(double c, Kernel k) => new KernelSum(new ConstantKernel(c), k);

    /// <summary>The product k1 * k2 (scikit-learn's <c>Product</c>).</summary>
    public static Kernel operator *(Kernel k1, Kernel k2) => new KernelProduct(k1, k2);

    /// <summary>k * ConstantKernel(c).</summary>
    public static Kernel operator *(Kernel k, double c) => new KernelProduct(k, new ConstantKernel(c));

    /// <summary>ConstantKernel(c) * k, as scikit-learn's <c>c * k</c>.</summary>
    public static Kernel operator *(double c, Kernel k) => new KernelProduct(new ConstantKernel(c), k);

    /// <summary>The sum k1 + k2.</summary>
    public static Kernel Add(Kernel k1, Kernel k2) => k1 + k2;

    /// <summary>The product k1 * k2.</summary>
    public static Kernel Multiply(Kernel k1, Kernel k2) => k1 * k2;

    /// <summary>A number at full precision (the shortest text that reads back exactly).</summary>
    internal static string Exact(double value) => value.ToString("R", CultureInfo.InvariantCulture).Replace("E", "e", StringComparison.Ordinal);

    /// <summary><c>name=value</c>, with <c>, name_bounds=…</c> when the bounds are not the default.</summary>
    internal static string Argument(Hyperparameter h, bool list = false)
    {
        string values = list || h.Values.Count > 1 ? "[" + string.Join(", ", h.Values.Select(Exact)) + "]" : Exact(h.Values[0]);
        string bounds = h.Bounds == HyperparameterBounds.Default ? ""
            : h.IsFixed ? $", {h.Name}_bounds=\"fixed\""
            : $", {h.Name}_bounds=({Exact(h.Bounds.Lower)}, {Exact(h.Bounds.Upper)})";
        return $"{h.Name}={values}{bounds}";
    }

    /// <summary>Python's <c>'{:.3g}'.format(value)</c>, as scikit-learn's reprs print hyperparameters.</summary>
    internal static string G3(double value) => PythonFormat.G(value, 3);
}
