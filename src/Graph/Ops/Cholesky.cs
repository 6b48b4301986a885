namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// The lower Cholesky factor L of each symmetric positive-definite matrix, Σ = L·Lᵀ, like
    /// <c>torch.linalg.cholesky</c>. Only Σ's lower triangle is read; Σ's gradient is the symmetric
    /// Σ̄ that PyTorch returns, and a forward-mode tangent Σ̇ is symmetrized on entry, ½(Σ̇ + Σ̇ᵀ),
    /// so that forward and reverse mode agree. Σ is left untouched.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="algorithm">
    /// How to factor and differentiate (see <see cref="CholeskyAlgorithm"/>); Auto defers to the
    /// tape's <see cref="Tape.CholeskyOptions"/>, then to <see cref="CholeskyPolicy"/>. Every algorithm gives the same
    /// values and gradients up to rounding.
    /// </param>
    /// <returns>L [batch, n, n], zero above the diagonal.</returns>
    /// <exception cref="ArgumentException">
    /// Σ is not square, or the algorithm cannot handle its order (raised when recorded).
    /// </exception>
    /// <exception cref="NotPositiveDefiniteException">
    /// A matrix is not positive-definite (NaN and ±Inf included); names the first failing batch
    /// element and the order of its leading minor.
    /// </exception>
    public static Var<T> Cholesky<T>(Var<T> sigma, CholeskyAlgorithm algorithm = CholeskyAlgorithm.Auto) where T : unmanaged, IFloatingPointIeee754<T> =>
        Cholesky(sigma, new CholeskyOptions { Algorithm = algorithm });

    /// <summary>
    /// <see cref="Cholesky{T}(Var{T}, CholeskyAlgorithm)"/> with per-call options: the algorithm
    /// and block size, each automatic field taken from the tape's <see cref="Tape.CholeskyOptions"/>.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="options">How to factor and differentiate.</param>
    /// <returns>L [batch, n, n], zero above the diagonal.</returns>
    /// <exception cref="ArgumentException">Σ is not square, or the options cannot handle its order (raised when recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">A matrix is not positive-definite; names the first failing batch element and the order of its leading minor.</exception>
    public static Var<T> Cholesky<T>(Var<T> sigma, CholeskyOptions options) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        var tape = Tape.Of(CholeskyNode<T>.OpName, sigma);
        CholeskyNode<T>.CheckShape(sigma.Shape);
        var plan = CholeskyPolicy.Plan<T>(tape.Device, sigma.Shape, options.Over(tape.CholeskyOptions));
        return tape.Record(new CholeskyNode<T>(sigma, throwOnFailure: true, plan));
    }

    /// <summary>
    /// <see cref="Cholesky{T}(Var{T}, CholeskyAlgorithm)"/> without the check, like <c>torch.linalg.cholesky_ex</c>:
    /// returns the per-matrix info codes on the device (0, or the order of the first leading minor
    /// that is not positive-definite) and makes no host round trip. Factors of failed matrices are
    /// unspecified. The caller owns <c>Info</c>.
    /// </summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="algorithm">How to factor and differentiate; Auto defers to the tape's <see cref="Tape.CholeskyOptions"/>, then to <see cref="CholeskyPolicy"/>.</param>
    /// <exception cref="ArgumentException">Σ is not square, or the algorithm cannot handle its order (raised when recorded).</exception>
    public static (Var<T> L, DeviceTensor<int> Info) CholeskyEx<T>(Var<T> sigma, CholeskyAlgorithm algorithm = CholeskyAlgorithm.Auto) where T : unmanaged, IFloatingPointIeee754<T> =>
        CholeskyEx(sigma, new CholeskyOptions { Algorithm = algorithm });

    /// <summary><see cref="CholeskyEx{T}(Var{T}, CholeskyAlgorithm)"/> with per-call options (see <see cref="Cholesky{T}(Var{T}, CholeskyOptions)"/>).</summary>
    /// <param name="sigma">SPD [batch, n, n].</param>
    /// <param name="options">How to factor and differentiate.</param>
    /// <exception cref="ArgumentException">Σ is not square, or the options cannot handle its order (raised when recorded).</exception>
    public static (Var<T> L, DeviceTensor<int> Info) CholeskyEx<T>(Var<T> sigma, CholeskyOptions options) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(options);
        var tape = Tape.Of(CholeskyNode<T>.OpName, sigma);
        CholeskyNode<T>.CheckShape(sigma.Shape);
        var plan = CholeskyPolicy.Plan<T>(tape.Device, sigma.Shape, options.Over(tape.CholeskyOptions));
        var node = new CholeskyNode<T>(sigma, throwOnFailure: false, plan);
        var l = tape.Record(node);
        return (l, node.Info!);
    }
}

/// <summary>
/// Cholesky factorization Σ = L·Lᵀ (seed §3; Murray 2016, "Differentiation of the Cholesky
/// decomposition", arXiv:1602.07527).
/// Derivative: dΣ = dL·Lᵀ + L·dLᵀ with dL lower triangular gives dL = L·Φ(L⁻¹·dΣ·L⁻ᵀ),
/// Φ(Z) = tril(Z) − ½·diag(Z).
/// Adjoint: ⟨L̄, L·Φ(L⁻¹dΣL⁻ᵀ)⟩ = ⟨tril(Lᵀ·L̄), Φ(L⁻¹dΣL⁻ᵀ)⟩ = ⟨Φ*(tril(Lᵀ·L̄)), L⁻¹dΣL⁻ᵀ⟩, with
/// Φ*(Z) = ½(Z + Zᵀ − diag(Z)), so Σ̄ = L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹ — symmetric, what PyTorch returns
/// (symmetrized once more at the end so it is exactly symmetric in floating point). That is the
/// composed backward, kept as the reference.
/// Blocked (and whole-matrix) backward: the forward reads only Σ's lower triangle, and reverse
/// mode through its blocked (or unblocked) algorithm gives Ā, lower triangular, with
/// dy = Σ_{i≥j} Ā_ij·dΣ_ij = ⟨Ā, dΣ⟩ (Murray 2016, §4; <see cref="Blas.PotrfBackward{T}(Device, MatRef{T}, MatRef{T}, int, bool)"/>). For a
/// symmetric dΣ, ⟨Ā, dΣ⟩ = ⟨½(Ā + Āᵀ), dΣ⟩, and the symmetric gradient is unique, so
/// Σ̄ = ½(Ā + Āᵀ): Ā's strict lower triangle halved and mirrored, its diagonal kept.
/// </summary>
internal sealed class CholeskyNode<T>(Var<T> sigma, bool throwOnFailure, CholeskyPlan plan) : Node<T>(OpName, sigma)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The plan of the forward and backward kernels, made when the op was recorded.</summary>
    internal CholeskyPlan Plan { get; } = plan;

    /// <summary>The resolved algorithm (never Auto).</summary>
    internal CholeskyAlgorithm Algorithm => Plan.Algorithm;

    /// <summary>The resolved block size of the forward and backward kernels (never 0).</summary>
    internal int BlockSize => Plan.BlockSize;

    internal const string OpName = "Cholesky";

    /// <summary>The info codes, for the non-throwing variant (owned by its caller).</summary>
    internal DeviceTensor<int>? Info { get; private set; }

    internal static void CheckShape(Shape sigma)
    {
        if (!sigma.IsSquare) throw ShapeErrors.Invalid(OpName, "Σ must be square", sigma);
    }

    internal override IEnumerable<IVar> SavedVars { get { yield return Out; } }

    internal override DeviceTensor<T> Forward()
    {
        var sigma = In[0].Value;
        var l = sigma.Clone();
        var codes = Device.Allocate<int>(new Shape(sigma.Batch, 1, 1));
        Blas.Potrf(Device, l.Mat, codes, Plan);
        if (!throwOnFailure)
        {
            Info = codes;
            return l;
        }
        var host = codes.ToArray();
        codes.Dispose();
        for (int b = 0; b < host.Length; b++)
        {
            if (host[b] == 0) continue;
            l.Dispose();
            throw new NotPositiveDefiniteException(OpName, b, host[b]);
        }
        return l;
    }

    // L̇ = L·Φ(L⁻¹·Σ̇·L⁻ᵀ), with Σ̇ symmetrized on entry: Σ ranges over symmetric matrices, and
    // reverse mode returns the symmetric Σ̄, so ⟨Σ̄, Σ̇⟩ = ⟨Σ̄, ½(Σ̇ + Σ̇ᵀ)⟩ — the JVP of ½(Σ̇ + Σ̇ᵀ) is the
    // one that agrees with the VJP (PyTorch's convention for tangents of SPD inputs).
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var l = Out.Value;
        int batch = l.Batch;
        using var sigmaDot = SymmetrizeNew(t[0]!);
        using var x = TrsmNew(l.Mat, sigmaDot.Mat, batch, left: true, lower: true, transpose: false);   // L⁻¹Σ̇
        Blas.Trsm(Device, l.Mat, x.Mat, left: false, lower: true, transpose: true, unitDiagonal: false, T.One); // ·L⁻ᵀ
        using var phi = MapNew(new Maps.Phi<T>(), x);
        var ldot = Device.Allocate<T>(l.Shape);
        Blas.Gemm(Device, l.Mat, false, phi.Mat, false, ldot.Mat, T.One, T.Zero);
        return ldot;
    }

    // Composed: Σ̄ = L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹. Blocked and small: Ā in place in L̄, Σ̄ = ½(Ā + Āᵀ).
    internal override void Vjp(DeviceTensor<T> lbar, Grads<T> grads)
    {
        if (Algorithm == CholeskyAlgorithm.Composed)
        {
            grads.Add(0, ComposedBackward(Device, Out.Value, lbar));
            return;
        }
        // In place: L̄ becomes Σ̄ and is handed on as Σ's gradient.
        var sigmaBar = TakeCotangent();
        Blas.PotrfBackward(Device, Out.Value.Mat, sigmaBar.Mat, Plan, symmetrize: true);
        grads.Add(0, sigmaBar);
    }

    /// <summary>The composed backward: one GEMM, an element map and two triangular solves.</summary>
    internal static DeviceTensor<T> ComposedBackward(Device device, DeviceTensor<T> l, DeviceTensor<T> lbar)
    {
        var p = device.Allocate<T>(l.Shape);
        Blas.Gemm(device, l.Mat, true, lbar.Mat, false, p.Mat, T.One, T.Zero);                  // P = Lᵀ·L̄
        using var s = device.Allocate<T>(l.Shape);
        Elementwise.Map(device, new Maps.PhiStarOfTril<T>(), p.Mat, p.Mat, YAccess.Transposed, s.Mat); // Φ*(tril P)
        Blas.Trsm(device, l.Mat, s.Mat, left: true, lower: true, transpose: true, unitDiagonal: false, T.One);   // L⁻ᵀ·
        Blas.Trsm(device, l.Mat, s.Mat, left: false, lower: true, transpose: false, unitDiagonal: false, T.One); // ·L⁻¹
        Elementwise.Map(device, new Maps.Symmetrize<T>(), s.Mat, s.Mat, YAccess.Transposed, p.Mat);      // P's buffer holds Σ̄
        return p;
    }
}
