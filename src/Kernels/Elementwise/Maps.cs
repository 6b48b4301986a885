using System.Numerics;

namespace GpuAD.Kernels;

/// <summary>
/// An element map for the <c>Elementwise.Map</c> launchers: the output element (i, j) from x(i, j)
/// and y(i, j) — or y(j, i) when the launch transposes y. Implementations are small structs, so
/// every map compiles into its own kernel.
/// </summary>
internal interface IElementMap<T> where T : unmanaged, INumber<T>
{
    /// <summary>The output element at (i, j).</summary>
    T Apply(T x, T y, int i, int j);
}

/// <summary>Map structs used by the launchers in <see cref="Elementwise"/>.</summary>
internal static class Maps
{
    /// <summary>α·x + β·y. β = 0 ignores y (so NaN poison in y does not leak).</summary>
    public readonly struct Axpby<T>(T alpha, T beta) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => beta == T.Zero ? alpha * x : alpha * x + beta * y;
    }

    /// <summary>α·x∘y (Hadamard product).</summary>
    public readonly struct Multiply<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * x * y;
    }

    /// <summary>x where j − i ≤ <c>diagonal</c> (lower part), else 0; scaled by α.</summary>
    public readonly struct Tril<T>(int diagonal, T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => j - i <= diagonal ? alpha * x : T.Zero;
    }

    /// <summary>
    /// 2·y / x on the diagonal, 0 elsewhere: with x = L and y = ȳ (one per matrix), the cotangent
    /// L̄ of y = 2·Σᵢ log Lᵢᵢ, whose Cholesky reverse is log det's gradient ȳ·Σ⁻¹.
    /// </summary>
    public readonly struct LogDetCotangent<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i == j ? (y + y) / x : T.Zero;
    }

    /// <summary>x where j − i ≥ <c>diagonal</c> (upper part), else 0; scaled by α.</summary>
    public readonly struct Triu<T>(int diagonal, T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => j - i >= diagonal ? alpha * x : T.Zero;
    }

    /// <summary>Φ(x) = tril(x) − ½·diag(x).</summary>
    public readonly struct Phi<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i > j ? x : i == j ? x / (T.One + T.One) : T.Zero;
    }

    /// <summary>
    /// Φ*(tril(Z)) = ½(tril(Z) + tril(Z)ᵀ − diag(Z)) with y = Z transposed: the lower triangle of
    /// Z mirrored, everything halved. Launch with y = x, transposed.
    /// </summary>
    public readonly struct PhiStarOfTril<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => (i >= j ? x : y) / (T.One + T.One);
    }

    /// <summary>Φ*(Z) = ½(Z + Zᵀ − diag(Z)) for any Z. Launch with y = x, transposed.</summary>
    public readonly struct PhiStar<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i == j ? x / (T.One + T.One) : (x + y) / (T.One + T.One);
    }

    /// <summary>α·x + β·yᵀ (launch with y transposed).</summary>
    public readonly struct AddTransposed<T>(T alpha, T beta) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * x + beta * y;
    }

    /// <summary>α·y (launch with y transposed to transpose).</summary>
    public readonly struct Transpose<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * y;
    }

    /// <summary>A constant.</summary>
    public readonly struct Fill<T>(T value) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => value;
    }

    /// <summary>α·I: α on the diagonal, 0 elsewhere (reads nothing).</summary>
    public readonly struct Identity<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i == j ? alpha : T.Zero;
    }

    /// <summary>α·y on the diagonal, 0 elsewhere (α·s·I with y a scalar per matrix).</summary>
    public readonly struct ScaledIdentity<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i == j ? alpha * y : T.Zero;
    }

    /// <summary>x + α·y on the diagonal, x elsewhere (A + α·s·I with y a scalar per matrix).</summary>
    public readonly struct AddScaledIdentity<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i == j ? x + alpha * y : x;
    }

    /// <summary>α·log(x).</summary>
    public readonly struct Log<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>, ILogarithmicFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * T.Log(x);
    }

    /// <summary>α·exp(x).</summary>
    public readonly struct Exp<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * DeviceMath.Exp(x);
    }

    /// <summary>α·x / y.</summary>
    public readonly struct Divide<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * x / y;
    }

    /// <summary>
    /// <c>op</c> with its operands swapped: op(y, x). The launchers broadcast only y (a scalar per
    /// matrix), so <c>s ∘ A</c> with the scalar on the left launches as Swapped(op) over (A, s).
    /// </summary>
    public readonly struct Swapped<T, TOp>(TOp op) : IElementMap<T> where T : unmanaged, INumber<T> where TOp : struct, IElementMap<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => op.Apply(y, x, i, j);
    }

    /// <summary>sin(x).</summary>
    public readonly struct Sin<T> : IElementMap<T> where T : unmanaged, INumber<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => T.Sin(x);
    }

    /// <summary>cos(x).</summary>
    public readonly struct Cos<T> : IElementMap<T> where T : unmanaged, INumber<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => T.Cos(x);
    }

    /// <summary>x·cos(y): sin's derivative at y applied to x.</summary>
    public readonly struct SinDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => x * T.Cos(y);
    }

    /// <summary>−x·sin(y): cos's derivative at y applied to x.</summary>
    public readonly struct CosDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => -(x * T.Sin(y));
    }

    /// <summary>√x.</summary>
    public readonly struct Sqrt<T> : IElementMap<T> where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => T.Sqrt(x);
    }

    /// <summary>
    /// x / (2y) with y = √a: √'s derivative applied to x, taken as 0 where y = 0 (the subgradient
    /// 0 at a = 0, so a distance's gradient at coincident points is 0, not ∞ or NaN).
    /// </summary>
    public readonly struct SqrtDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => y == T.Zero ? T.Zero : x / (y + y);
    }

    /// <summary>α·x² (elementwise).</summary>
    public readonly struct Square<T>(T alpha) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * x * x;
    }

    /// <summary>1/x.</summary>
    public readonly struct Reciprocal<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => T.One / x;
    }

    /// <summary>−x·y²: with y = 1/a, the reciprocal's derivative applied to x.</summary>
    public readonly struct ReciprocalDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => -(x * y * y);
    }

    /// <summary>tanh(x), by <see cref="DeviceMath.Tanh{T}"/> (the same values on both families, finite for large |x|).</summary>
    public readonly struct Tanh<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => DeviceMath.Tanh(x);
    }

    /// <summary>x·(1 − y²): with y = tanh(a), tanh's derivative applied to x.</summary>
    public readonly struct TanhDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => x * (T.One - y * y);
    }

    /// <summary>|x| (+0 for −0; NaN stays NaN).</summary>
    public readonly struct Abs<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => x <= T.Zero ? T.Zero - x : x;
    }

    /// <summary>x·sign(y), sign(0) = 0: |·|'s derivative at y applied to x (PyTorch's convention).</summary>
    public readonly struct AbsDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => y > T.Zero ? x : y < T.Zero ? -x : T.Zero;
    }

    /// <summary>x^p for a constant p.</summary>
    public readonly struct PowConstant<T>(T p) : IElementMap<T> where T : unmanaged, INumber<T>, IPowerFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => T.Pow(x, p);
    }

    /// <summary>x·p·y^(p−1): the derivative of a^p at y applied to x; 0 when p = 0 (as PyTorch).</summary>
    public readonly struct PowConstantDerivative<T>(T p) : IElementMap<T> where T : unmanaged, INumber<T>, IPowerFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => p == T.Zero ? T.Zero : x * p * T.Pow(y, p - T.One);
    }

    /// <summary>x^y.</summary>
    public readonly struct Pow<T> : IElementMap<T> where T : unmanaged, INumber<T>, IPowerFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => T.Pow(x, y);
    }

    /// <summary>∂(a^e)/∂a = e·a^(e−1) at a = x, e = y; 0 when e = 0 (as PyTorch).</summary>
    public readonly struct PowBaseDerivative<T> : IElementMap<T> where T : unmanaged, INumber<T>, IPowerFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => y == T.Zero ? T.Zero : y * T.Pow(x, y - T.One);
    }

    /// <summary>
    /// log a at a = x, e = y, taken as 0 where a = 0 and e ≥ 0 (PyTorch's mask for the exponent's
    /// gradient a^e·log a, whose true value there is 0, or 0·(−∞) = NaN unmasked).
    /// </summary>
    public readonly struct PowExponentLog<T> : IElementMap<T> where T : unmanaged, INumber<T>, ILogarithmicFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => x == T.Zero && y >= T.Zero ? T.Zero : T.Log(x);
    }

    /// <summary>½(x + y) with y = x transposed: the symmetric part of a square matrix.</summary>
    public readonly struct Symmetrize<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => (x + y) / (T.One + T.One);
    }

    /// <summary>x on and below the diagonal, y above it: with y = x transposed, the lower triangle mirrored into the upper.</summary>
    public readonly struct MirrorLower<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i >= j ? x : y;
    }

    /// <summary>
    /// x + y read from lower triangles: with y = xᵀ (<see cref="YAccess.Transposed"/>), L + Lᵀ for
    /// the lower triangle L of x (its diagonal doubled); x's strict upper triangle is not read.
    /// </summary>
    public readonly struct LowerPlusTranspose<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i > j ? x : i < j ? y : x + y;
    }

    /// <summary>
    /// A symmetric x in the lower-triangle convention of a Cholesky's Ā, y kept above the diagonal:
    /// 2·x below it, x on it (so that ½(Ā + Āᵀ) is x again).
    /// </summary>
    public readonly struct LowerOfSymmetric<T> : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i > j ? x + x : i == j ? x : y;
    }

    /// <summary>α·x + γ on the diagonal (x + γ·I when α = 1).</summary>
    public readonly struct AddDiagonal<T>(T alpha, T gamma) : IElementMap<T> where T : unmanaged, INumber<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => i == j ? alpha * x + gamma : alpha * x;
    }
}
