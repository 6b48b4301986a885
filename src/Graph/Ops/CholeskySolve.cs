namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = Σ⁻¹·B</c> for symmetric positive-definite Σ, through its Cholesky factor (factored
    /// here; only Σ's lower triangle is read). Σ's gradient is symmetric, and a forward-mode tangent
    /// of Σ is symmetrized on entry. Σ or B with batch 1 broadcasts.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="b">[batch, n, k].</param>
    /// <exception cref="ArgumentException">Σ is not square or its order differs from B's rows (raised when recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">A matrix is not positive-definite (batch element and minor named).</exception>
    public static Var<T> CholeskySolve<T>(Var<T> sigma, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> =>
        CholeskySolve(sigma, b, CholeskyOptions.Default);

    /// <summary>
    /// <see cref="CholeskySolve{T}(Var{T}, Var{T})"/> with per-call options for the factorization of
    /// Σ (its algorithm and block size), each automatic field taken from the tape's
    /// <see cref="Tape.CholeskyOptions"/>.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="b">[batch, n, k].</param>
    /// <param name="options">How to factor Σ.</param>
    /// <exception cref="ArgumentException">Σ is not square, its order differs from B's rows, or the options cannot handle its order (raised when recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">A matrix is not positive-definite (batch element and minor named).</exception>
    public static Var<T> CholeskySolve<T>(Var<T> sigma, Var<T> b, CholeskyOptions options) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        var tape = Tape.Of(CholeskySolveNode<T>.OpName, sigma, b);
        var shape = CholeskySolveNode<T>.OutputShape(sigma.Shape, b.Shape);
        var plan = CholeskyPolicy.Plan<T>(tape.Device, sigma.Shape, options.Over(tape.CholeskyOptions), CholeskySolveNode<T>.OpName);
        return tape.Record(new CholeskySolveNode<T>(sigma, b, plan, shape));
    }

    /// <summary>
    /// <c>Y = (L·Lᵀ)⁻¹·B</c> from a lower Cholesky factor L, like <c>torch.cholesky_solve(B, L)</c>.
    /// Only L's lower triangle is read, and L's gradient is projected onto it.
    /// </summary>
    /// <param name="l">Lower triangular [batch, n, n] with a non-zero diagonal.</param>
    /// <param name="b">[batch, n, k].</param>
    /// <exception cref="ArgumentException">L is not square or its order differs from B's rows (raised when recorded).</exception>
    public static Var<T> CholeskySolveFactor<T>(Var<T> l, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(CholeskySolveNode<T>.OpName, l, b);
        var shape = CholeskySolveNode<T>.OutputShape(l.Shape, b.Shape);
        return tape.Record(new CholeskySolveNode<T>(l, b, plan: null, shape));
    }
}

/// <summary>
/// Y = Σ⁻¹·B with Σ = L·Lᵀ, solved as two triangular solves with L.
/// Derivative: Σ·Y = B ⇒ dY = Σ⁻¹·(dB − dΣ·Y).
/// Adjoint: ⟨Ȳ, Σ⁻¹dB⟩ ⇒ B̄ = Σ⁻¹·Ȳ; ⟨Ȳ, −Σ⁻¹dΣ·Y⟩ = ⟨−B̄·Yᵀ, dΣ⟩. On symmetric dΣ that gives
/// Σ̄ = −½(B̄·Yᵀ + Y·B̄ᵀ) (equal to what PyTorch returns through cholesky and cholesky_solve).
/// From the factor: dΣ = dL·Lᵀ + L·dLᵀ with dL lower, so ⟨−B̄Yᵀ, dL·Lᵀ + L·dLᵀ⟩ =
/// ⟨−(B̄Yᵀ + YB̄ᵀ)·L, dL⟩ ⇒ L̄ = −tril((B̄·Yᵀ + Y·B̄ᵀ)·L).
/// </summary>
internal sealed class CholeskySolveNode<T>(Var<T> factorOrSigma, Var<T> b, CholeskyPlan? plan, Shape shape)
    : Node<T>(OpName, factorOrSigma, b) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "CholeskySolve";

    /// <summary>The plan of Σ's factorization, made when the op was recorded; null when given the factor.</summary>
    internal CholeskyPlan? Plan { get; } = plan;

    private readonly bool fromFactor = plan is null;
    private DeviceTensor<T>? factor; // L: factored here from Σ, or the given factor's lower triangle

    internal static Shape OutputShape(Shape sigma, Shape b)
    {
        if (!sigma.IsSquare) throw ShapeErrors.Invalid(OpName, "the matrix must be square", sigma);
        if (b.Rows != sigma.Rows) throw ShapeErrors.Mismatch(OpName, "B's rows must equal the matrix's order", sigma, b);
        return b.WithBatch(ShapeErrors.BroadcastBatch(OpName, sigma, b));
    }

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In[0].RequiresGrad) yield return Out;
        }
    }

    private MatRef<T> L => Bc(factor!, shape.Batch);

    /// <summary>Σ⁻¹·X = L⁻ᵀ·(L⁻¹·X), into a new tensor.</summary>
    private DeviceTensor<T> SolveSigma(MatRef<T> x)
    {
        var y = TrsmNew(L, x, shape.Batch, left: true, lower: true, transpose: false);
        Blas.Trsm(Device, L, y.Mat, left: true, lower: true, transpose: true, unitDiagonal: false, T.One);
        return y;
    }

    /// <summary>X := Σ⁻¹·X in place.</summary>
    private void SolveSigmaInPlace(DeviceTensor<T> x)
    {
        Blas.Trsm(Device, L, x.Mat, left: true, lower: true, transpose: false, unitDiagonal: false, T.One);
        Blas.Trsm(Device, L, x.Mat, left: true, lower: true, transpose: true, unitDiagonal: false, T.One);
    }

    internal override DeviceTensor<T> Forward()
    {
        factor = fromFactor
            ? MapNew(new Maps.Tril<T>(0, T.One), In[0].Value) // only the given factor's lower triangle is read
            : CholeskyFactor(In[0].Value, Plan!);
        return SolveSigma(Bc(In[1].Value, shape.Batch));
    }

    // dY = Σ⁻¹·(dB − dΣ·Y), dΣ = dL·Lᵀ + L·dLᵀ from the factor (dL projected on the lower triangle)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var rhs = Device.Allocate<T>(shape);
        if (t[1] is { } db) Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), Bc(db, shape.Batch), Bc(db, shape.Batch), YAccess.Same, rhs.Mat);
        else rhs.Clear();
        if (t[0] is { } d)
        {
            var y = Out.Value.Mat;
            if (!fromFactor)
            {
                // Σ̇ symmetrized on entry, as in Cholesky: the VJP's Σ̄ is symmetric.
                using var sigmaDot = SymmetrizeNew(d);
                Blas.Gemm(Device, Bc(sigmaDot, shape.Batch), false, y, false, rhs.Mat, -T.One, T.One);
            }
            else
            {
                using var dl = MapNew(new Maps.Tril<T>(0, T.One), d);
                using var lty = Device.Allocate<T>(shape);
                using var dlty = Device.Allocate<T>(shape);
                Blas.Gemm(Device, L, true, y, false, lty.Mat, T.One, T.Zero);                              // Lᵀ·Y
                Blas.Gemm(Device, Bc(dl, shape.Batch), false, lty.Mat, false, rhs.Mat, -T.One, T.One);     // −dL·Lᵀ·Y
                Blas.Gemm(Device, Bc(dl, shape.Batch), true, y, false, dlty.Mat, T.One, T.Zero);           // dLᵀ·Y
                Blas.Gemm(Device, L, false, dlty.Mat, false, rhs.Mat, -T.One, T.One);                      // −L·dLᵀ·Y
            }
        }
        SolveSigmaInPlace(rhs);
        return rhs;
    }

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var bbar = SolveSigma(ybar.Mat); // B̄ = Σ⁻¹·Ȳ
        if (grads.Needs(0))
        {
            var y = Out.Value;
            int n = In[0].Shape.Rows, k = shape.Cols;
            if (fromFactor && 2 * k < n)
            {
                // L̄ = −tril(B̄·(Yᵀ·L) + Y·(B̄ᵀ·L)): two k×n products and two rank-k updates of the
                // lower triangle, O(k·n²), where forming B̄·Yᵀ + Y·B̄ᵀ and multiplying it by L costs
                // 2n³ (a GP likelihood's one right-hand side at n = 16384: 8.8·10¹² flops against ~10⁹).
                using var ytl = Device.Allocate<T>(new Shape(shape.Batch, k, n));
                using var btl = Device.Allocate<T>(new Shape(shape.Batch, k, n));
                Blas.Gemm(Device, y.Mat, true, L, false, ytl.Mat, T.One, T.Zero);     // Yᵀ·L
                Blas.Gemm(Device, bbar.Mat, true, L, false, btl.Mat, T.One, T.Zero);  // B̄ᵀ·L
                using var lower = Device.Allocate<T>(new Shape(shape.Batch, n, n));
                Blas.Gemm(Device, bbar.Mat, false, ytl.Mat, false, lower.Mat, T.One, T.Zero, lowerOnly: true); // B̄·(Yᵀ·L)
                Blas.Gemm(Device, y.Mat, false, btl.Mat, false, lower.Mat, T.One, T.One, lowerOnly: true);     // + Y·(B̄ᵀ·L)
                grads.Add(0, MapNew(new Maps.Tril<T>(0, -T.One), lower));
            }
            else
            {
                var m = Device.Allocate<T>(new Shape(shape.Batch, n, n));
                Blas.Gemm(Device, bbar.Mat, false, y.Mat, true, m.Mat, T.One, T.Zero);  // B̄·Yᵀ
                Blas.Gemm(Device, y.Mat, false, bbar.Mat, true, m.Mat, T.One, T.One);   // + Y·B̄ᵀ
                if (!fromFactor)
                {
                    Elementwise.Map(Device, new Maps.Axpby<T>(C(-0.5), T.Zero), m.Mat, m.Mat, YAccess.Same, m.Mat); // Σ̄ = −½(…)
                    grads.Add(0, m);
                }
                else
                {
                    using var ml = Device.Allocate<T>(m.Shape);
                    Blas.Gemm(Device, m.Mat, false, L, false, ml.Mat, T.One, T.Zero);
                    m.Dispose();
                    grads.Add(0, MapNew(new Maps.Tril<T>(0, -T.One), ml));                          // L̄ = −tril((…)·L)
                }
            }
        }
        if (grads.Needs(1)) grads.Add(1, bbar);
        else bbar.Dispose();
    }

    protected override void ReleaseSaved()
    {
        factor?.Dispose();
        factor = null;
    }
}
