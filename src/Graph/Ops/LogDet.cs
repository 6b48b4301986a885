namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>log det Σ</c> of each symmetric positive-definite matrix, through its Cholesky factor:
    /// 2·Σᵢ log Lᵢᵢ. → [batch, 1, 1]. Σ's gradient is the symmetric ȳ·Σ⁻¹.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <exception cref="ArgumentException">Σ is not square (raised when recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">A matrix is not positive-definite (batch element and minor named).</exception>
    public static Var<T> LogDet<T>(Var<T> sigma) where T : unmanaged, IFloatingPointIeee754<T> =>
        LogDet(sigma, CholeskyOptions.Default);

    /// <summary>
    /// <see cref="LogDet{T}(Var{T})"/> with per-call Cholesky options, each automatic field taken
    /// from the tape's <see cref="Tape.CholeskyOptions"/>: the algorithm and block size of the
    /// factorization and of its reverse in the VJP.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="options">How to factor and differentiate.</param>
    /// <exception cref="ArgumentException">Σ is not square, or the options cannot handle its order (raised when recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">A matrix is not positive-definite (batch element and minor named).</exception>
    public static Var<T> LogDet<T>(Var<T> sigma, CholeskyOptions options) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        var tape = Tape.Of(LogDetNode<T>.OpName, sigma);
        if (!sigma.Shape.IsSquare) throw ShapeErrors.Invalid(LogDetNode<T>.OpName, "Σ must be square", sigma.Shape);
        var plan = CholeskyPolicy.Plan<T>(tape.Device, sigma.Shape, options.Over(tape.CholeskyOptions), LogDetNode<T>.OpName);
        return tape.Record(new LogDetNode<T>(sigma, plan));
    }
}

/// <summary>
/// y = log det Σ = 2·Σᵢ log Lᵢᵢ with Σ = L·Lᵀ.
/// Derivative (Jacobi's formula): dy = tr(Σ⁻¹·dΣ) = tr(L⁻¹·dΣ·L⁻ᵀ).
/// Adjoint: ȳ·tr(Σ⁻¹dΣ) = ⟨ȳ·Σ⁻ᵀ, dΣ⟩ ⇒ Σ̄ = ȳ·Σ⁻¹ (symmetric).
/// Computed without forming I or L⁻¹: y = 2·Σᵢ log Lᵢᵢ(Σ) gives L̄ = 2ȳ·diag(1/Lᵢᵢ), and the
/// Cholesky reverse (<see cref="Blas.PotrfBackward{T}(Device, MatRef{T}, MatRef{T}, int, bool)"/>, symmetrized) carries it to the symmetric
/// Σ̄ = ȳ·Σ⁻¹ in place, in the one n² buffer that is the gradient (Murray 2016, §4). With the
/// composed algorithm, the composed Cholesky backward carries the same L̄.
/// </summary>
internal sealed class LogDetNode<T>(Var<T> sigma, CholeskyPlan plan) : Node<T>(OpName, sigma) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "LogDet";
    private DeviceTensor<T>? factor;

    /// <summary>The plan of the factorization and its reverse, made when the op was recorded.</summary>
    internal CholeskyPlan Plan { get; } = plan;

    internal override DeviceTensor<T> Forward()
    {
        var sigma = In[0].Value;
        factor = CholeskyFactor(sigma, Plan);
        var diag = Elementwise.Diagonal(factor.Mat);
        using var logs = Device.Allocate<T>(new Shape(sigma.Batch, sigma.Rows, 1));
        Elementwise.Map(Device, new Maps.Log<T>(C(2)), diag, diag, YAccess.Same, logs.Mat);
        return ReduceNew(logs.Mat, null);
    }

    // ẏ = tr(L⁻¹·Σ̇·L⁻ᵀ)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var l = factor!;
        using var x = TrsmNew(l.Mat, t[0]!.Mat, l.Batch, left: true, lower: true, transpose: false);
        Blas.Trsm(Device, l.Mat, x.Mat, left: false, lower: true, transpose: true, unitDiagonal: false, T.One);
        return ReduceNew(Elementwise.Diagonal(x.Mat), null);
    }

    // Σ̄ = ȳ·Σ⁻¹
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var l = factor!;
        var g = Device.Allocate<T>(l.Shape);
        Elementwise.Map(Device, new Maps.LogDetCotangent<T>(), l.Mat, ybar.Mat, YAccess.ScalarPerMatrix, g.Mat); // L̄ = 2ȳ·diag(1/Lᵢᵢ)
        if (Plan.Algorithm == CholeskyAlgorithm.Composed)
        {
            using (g) grads.Add(0, CholeskyNode<T>.ComposedBackward(Device, l, g));
            return;
        }
        Blas.PotrfBackward(Device, l.Mat, g.Mat, Plan, symmetrize: true);                                       // Σ̄ = ȳ·Σ⁻¹
        grads.Add(0, g);
    }

    protected override void ReleaseSaved()
    {
        factor?.Dispose();
        factor = null;
    }
}
