namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>S = (L·Lᵀ)⁻¹</c> from a lower Cholesky factor L, like <c>torch.cholesky_inverse(L)</c>
    /// (LAPACK's POTRI): the whole symmetric inverse of Σ = L·Lᵀ, formed in the output's one
    /// n×n buffer by a blocked triangular inverse and a blocked L⁻ᵀ·L⁻¹. Only L's lower triangle
    /// is read, and L's gradient is projected onto it.
    /// </summary>
    /// <param name="l">Lower triangular [batch, n, n] with a non-zero diagonal.</param>
    /// <returns>S, symmetric [batch, n, n].</returns>
    /// <exception cref="ArgumentException">L is not square (raised when recorded).</exception>
    /// <exception cref="SingularMatrixException">A diagonal entry of L is zero, NaN or infinite (batch element and index named; L untouched).</exception>
    public static Var<T> CholeskyInverse<T>(Var<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(CholeskyInverseNode<T>.OpName, l);
        if (!l.Shape.IsSquare) throw ShapeErrors.Invalid(CholeskyInverseNode<T>.OpName, "L must be square", l.Shape);
        var plan = CholeskyInversePlan.For<T>(tape.Device, l.Shape.Rows, l.Shape.Batch);
        return tape.Record(new CholeskyInverseNode<T>(l, plan));
    }
}

/// <summary>
/// S = (L·Lᵀ)⁻¹ = L⁻ᵀ·L⁻¹ with L lower (only tril(L) is read).
/// Derivative: S·Σ = I ⇒ dS = −S·dΣ·S with dΣ = dL·Lᵀ + L·dLᵀ, dL = tril(L̇):
/// dS = −(Q + Qᵀ), Q = S·dL·Lᵀ·S (S symmetric).
/// Adjoint: ⟨S̄, −(Q + Qᵀ)⟩ = −⟨G, Q⟩ with G = S̄ + S̄ᵀ, and
/// ⟨G, S·dL·Lᵀ·S⟩ = tr(Gᵀ·S·dL·Lᵀ·S) = tr(Lᵀ·S·Gᵀ·S·dL) = ⟨S·G·S·L, dL⟩
/// ⇒ L̄ = −tril(S·G·S·L), the lower triangle of what torch.cholesky_inverse's backward returns
/// (it leaves both triangles). S·L = L⁻ᵀ, so L̄ = −tril(S·(G·(S·L))): three GEMMs.
/// </summary>
internal sealed class CholeskyInverseNode<T>(Var<T> l, CholeskyInversePlan plan) : Node<T>(OpName, l) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "CholeskyInverse";

    /// <summary>The plan of the in-place inverse, made when the op was recorded.</summary>
    internal CholeskyInversePlan Plan { get; } = plan;

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In[0].RequiresGrad)
            {
                yield return In[0];
                yield return Out;
            }
        }
    }

    internal override DeviceTensor<T> Forward()
    {
        var l = In[0].Value;
        if (Blas.FirstZeroDiagonal(l) is { } zero)
            throw new SingularMatrixException(OpName, zero.Batch, zero.Index + 1,
                $"the diagonal entry L[{zero.Index + 1},{zero.Index + 1}] (one-based) of the Cholesky factor is zero, NaN or infinite");
        var s = l.Clone();
        try
        {
            Blas.Potri(Device, s.Mat, Plan);
        }
        catch
        {
            s.Dispose();
            throw;
        }
        return s;
    }

    // Ṡ = −(Q + Qᵀ), Q = (S·dL)·(Lᵀ·S), dL = tril(L̇)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var s = Out.Value.Mat;
        var shape = Out.Shape;
        using var dl = MapNew(new Maps.Tril<T>(0, T.One), t[0]!);
        using var l = MapNew(new Maps.Tril<T>(0, T.One), In[0].Value);
        using var sdl = Device.Allocate<T>(shape);
        using var lts = Device.Allocate<T>(shape);
        using var q = Device.Allocate<T>(shape);
        Blas.Gemm(Device, s, false, dl.Mat, false, sdl.Mat, T.One, T.Zero);       // S·dL
        Blas.Gemm(Device, l.Mat, true, s, false, lts.Mat, T.One, T.Zero);         // Lᵀ·S
        Blas.Gemm(Device, sdl.Mat, false, lts.Mat, false, q.Mat, T.One, T.Zero);  // Q
        return MapNew(new Maps.AddTransposed<T>(-T.One, -T.One), q.Mat, q.Mat, YAccess.Transposed, shape);
    }

    // L̄ = −tril(S·(G·(S·L))), G = S̄ + S̄ᵀ
    internal override void Vjp(DeviceTensor<T> sbar, Grads<T> grads)
    {
        if (!grads.Needs(0)) return;
        var s = Out.Value.Mat;
        var shape = Out.Shape;
        using var l = MapNew(new Maps.Tril<T>(0, T.One), In[0].Value);
        using var g = MapNew(new Maps.AddTransposed<T>(T.One, T.One), sbar.Mat, sbar.Mat, YAccess.Transposed, shape);
        using var sl = Device.Allocate<T>(shape);
        using var gsl = Device.Allocate<T>(shape);
        Blas.Gemm(Device, s, false, l.Mat, false, sl.Mat, T.One, T.Zero);         // S·L = L⁻ᵀ
        Blas.Gemm(Device, g.Mat, false, sl.Mat, false, gsl.Mat, T.One, T.Zero);   // G·S·L
        Blas.Gemm(Device, s, false, gsl.Mat, false, sl.Mat, T.One, T.Zero);       // S·G·S·L
        grads.Add(0, MapNew(new Maps.Tril<T>(0, -T.One), sl));
    }
}
