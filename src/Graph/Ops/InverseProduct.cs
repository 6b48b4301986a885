namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = A·X⁻¹·B</c> for a general square X, through batched LU with partial pivoting
    /// (never an explicit inverse). Any operand with batch 1 broadcasts.
    /// </summary>
    /// <param name="a">[batch, p, n].</param>
    /// <param name="x">Invertible [batch, n, n].</param>
    /// <param name="b">[batch, n, q].</param>
    /// <returns>[batch, p, q].</returns>
    /// <exception cref="ArgumentException">Dimensions or batches do not agree (raised when recorded).</exception>
    /// <exception cref="SingularMatrixException">
    /// X is singular to working precision: a pivot U[k,k] is zero, NaN or infinite, or at most
    /// n·ε·max|U[0…k, k]| (see <see cref="Blas.CheckDiagonal{T}"/>); names the batch element and the pivot.
    /// </exception>
    public static Var<T> AXInvB<T>(Var<T> a, Var<T> x, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(InverseProductNode<T>.AXInvBName, a, x, b);
        var shape = InverseProductNode<T>.OutputShape(a.Shape, x.Shape, b.Shape);
        return tape.Record(new InverseProductNode<T>(InverseProductNode<T>.AXInvBName, [a, x, b], shape, throwOnFailure: true));
    }

    /// <summary>
    /// <see cref="AXInvB{T}"/> without the check, like <c>torch.linalg.solve_ex</c>: returns the
    /// per-matrix info codes on the device (0, or the one-based index of the first pivot that is
    /// singular to working precision) and makes no host round trip. Values and gradients of
    /// failed matrices are unspecified. The caller owns <c>Info</c>.
    /// </summary>
    /// <param name="a">[batch, p, n].</param>
    /// <param name="x">[batch, n, n].</param>
    /// <param name="b">[batch, n, q].</param>
    /// <returns>Y [batch, p, q], and Info [X's batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">Dimensions or batches do not agree (raised when recorded).</exception>
    public static (Var<T> Y, DeviceTensor<int> Info) AXInvBEx<T>(Var<T> a, Var<T> x, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(InverseProductNode<T>.AXInvBName, a, x, b);
        var shape = InverseProductNode<T>.OutputShape(a.Shape, x.Shape, b.Shape);
        var node = new InverseProductNode<T>(InverseProductNode<T>.AXInvBName, [a, x, b], shape, throwOnFailure: false);
        var y = tape.Record(node);
        return (y, node.Info!);
    }

    /// <summary><c>Y = X⁻¹·B</c> for a general square X (LU with partial pivoting), like <c>torch.linalg.solve</c>.</summary>
    /// <param name="x">Invertible [batch, n, n].</param>
    /// <param name="b">[batch, n, q].</param>
    /// <exception cref="ArgumentException">Dimensions or batches do not agree (raised when recorded).</exception>
    /// <exception cref="SingularMatrixException">
    /// X is singular to working precision (see <see cref="AXInvB{T}"/>); names the batch element and the pivot.
    /// </exception>
    public static Var<T> Solve<T>(Var<T> x, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(InverseProductNode<T>.SolveName, x, b);
        var shape = InverseProductNode<T>.OutputShape(null, x.Shape, b.Shape);
        return tape.Record(new InverseProductNode<T>(InverseProductNode<T>.SolveName, [x, b], shape, throwOnFailure: true));
    }

    /// <summary>
    /// <see cref="Solve{T}"/> without the check, like <c>torch.linalg.solve_ex</c>: returns the
    /// per-matrix info codes on the device (0, or the one-based index of the first pivot that is
    /// singular to working precision) and makes no host round trip. Values and gradients of
    /// failed matrices are unspecified. The caller owns <c>Info</c>.
    /// </summary>
    /// <param name="x">[batch, n, n].</param>
    /// <param name="b">[batch, n, q].</param>
    /// <returns>Y [batch, n, q], and Info [X's batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">Dimensions or batches do not agree (raised when recorded).</exception>
    public static (Var<T> Y, DeviceTensor<int> Info) SolveEx<T>(Var<T> x, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(InverseProductNode<T>.SolveName, x, b);
        var shape = InverseProductNode<T>.OutputShape(null, x.Shape, b.Shape);
        var node = new InverseProductNode<T>(InverseProductNode<T>.SolveName, [x, b], shape, throwOnFailure: false);
        var y = tape.Record(node);
        return (y, node.Info!);
    }
}

/// <summary>
/// Y = A·X⁻¹·B (seed §2, "Inverse matrix multiplication"); Solve is the case A = I.
/// With Z = X⁻¹·B (kept from the forward pass): Y = A·Z.
/// Derivative: dY = dA·Z + A·X⁻¹·dB − A·X⁻¹·dX·Z = dA·Z + A·X⁻¹·(dB − dX·Z).
/// Adjoint: Ā = Ȳ·Zᵀ; ⟨Ȳ, A·X⁻¹·dB⟩ = ⟨X⁻ᵀ·Aᵀ·Ȳ, dB⟩ ⇒ B̄ = X⁻ᵀ·Aᵀ·Ȳ;
/// ⟨Ȳ, −A·X⁻¹·dX·X⁻¹·B⟩ = ⟨−X⁻ᵀAᵀȲBᵀX⁻ᵀ, dX⟩ ⇒ X̄ = −X⁻ᵀ·Aᵀ·Ȳ·Bᵀ·X⁻ᵀ = −B̄·Zᵀ:
/// one transposed solve with the saved LU factors and one GEMM.
/// </summary>
internal sealed class InverseProductNode<T> : Node<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string AXInvBName = "AXInvB", SolveName = "Solve";
    private readonly Shape shape;
    private readonly bool hasA;
    private DeviceTensor<T>? lu, z;
    private DeviceTensor<int>? pivots;

    private readonly bool throwOnFailure;

    internal InverseProductNode(string name, Var<T>[] inputs, Shape shape, bool throwOnFailure) : base(name, inputs)
    {
        this.shape = shape;
        this.throwOnFailure = throwOnFailure;
        hasA = inputs.Length == 3;
    }

    /// <summary>The info codes, for the non-throwing variants (owned by their caller).</summary>
    internal DeviceTensor<int>? Info { get; private set; }

    private Var<T>? AVar => hasA ? In[0] : null;
    private Var<T> XVar => In[hasA ? 1 : 0];
    private Var<T> BVar => In[hasA ? 2 : 1];

    internal static Shape OutputShape(Shape? a, Shape x, Shape b)
    {
        string op = a is null ? SolveName : AXInvBName;
        if (!x.IsSquare) throw ShapeErrors.Invalid(op, "X must be square", x);
        if (b.Rows != x.Rows) throw ShapeErrors.Mismatch(op, "B's rows must equal X's order", x, b);
        int batch = ShapeErrors.BroadcastBatch(op, x, b);
        if (a is not Shape sa) return b.WithBatch(batch);
        if (sa.Cols != x.Rows) throw ShapeErrors.Mismatch(op, "A's columns must equal X's order", sa, x);
        batch = ShapeErrors.BroadcastBatch(op, sa, x.WithBatch(batch));
        return new Shape(batch, sa.Rows, b.Cols);
    }

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (hasA && (XVar.RequiresGrad || BVar.RequiresGrad)) yield return AVar!;
        }
    }

    private int Batch => shape.Batch;

    /// <summary>X⁻¹·M (or X⁻ᵀ·M) with the saved factors, into a new tensor.</summary>
    private DeviceTensor<T> SolveX(MatRef<T> m, bool transpose)
    {
        var r = Device.Allocate<T>(new Shape(Batch, m.Rows, m.Cols));
        Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), m.WithBatch(Batch), m.WithBatch(Batch), YAccess.Same, r.Mat);
        Blas.Getrs(Device, Bc(lu!, Batch), pivots!, r.Mat, left: true, transpose);
        return r;
    }

    internal override DeviceTensor<T> Forward()
    {
        var x = XVar.Value;
        lu = x.Clone();
        pivots = Device.Allocate<int>(new Shape(x.Batch, x.Rows, 1));
        var info = Device.Allocate<int>(new Shape(x.Batch, 1, 1));
        Blas.Getrf(Device, lu.Mat, pivots, info);
        Blas.CheckDiagonal(Device, lu.Mat, upper: true, info); // pivots singular to working precision
        if (throwOnFailure)
        {
            var host = info.ToArray();
            info.Dispose();
            for (int i = 0; i < host.Length; i++)
            {
                if (host[i] == 0) continue;
                ReleaseSaved();
                throw new SingularMatrixException(Name, i, host[i]);
            }
        }
        else
        {
            Info = info;
        }
        z = SolveX(Bc(BVar.Value, Batch), transpose: false); // Z = X⁻¹·B
        if (!hasA) return z.Clone();
        var y = Device.Allocate<T>(shape);
        Blas.Gemm(Device, Bc(AVar!.Value, Batch), false, z.Mat, false, y.Mat, T.One, T.Zero);
        return y;
    }

    // dY = dA·Z + A·X⁻¹·(dB − dX·Z)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var (da, dx, db) = hasA ? (t[0], t[1], t[2]) : (null, t[0], t[1]);
        DeviceTensor<T>? w = null; // X⁻¹·(dB − dX·Z), solved in place
        if (dx is not null || db is not null)
        {
            w = Device.Allocate<T>(z!.Shape);
            if (db is not null) Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), Bc(db, Batch), Bc(db, Batch), YAccess.Same, w.Mat);
            else w.Clear();
            if (dx is not null) Blas.Gemm(Device, Bc(dx, Batch), false, z.Mat, false, w.Mat, -T.One, T.One);
            Blas.Getrs(Device, Bc(lu!, Batch), pivots!, w.Mat, left: true, transpose: false);
            if (!hasA) return w; // Solve: dY = X⁻¹·(dB − dX·Y)
        }
        var y = Device.Allocate<T>(shape);
        T beta = T.Zero;
        if (w is not null)
        {
            Blas.Gemm(Device, Bc(AVar!.Value, Batch), false, w.Mat, false, y.Mat, T.One, T.Zero);
            w.Dispose();
            beta = T.One;
        }
        if (da is not null) Blas.Gemm(Device, Bc(da, Batch), false, z!.Mat, false, y.Mat, T.One, beta);
        return y;
    }

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        int ia = 0, ix = hasA ? 1 : 0, ib = hasA ? 2 : 1;
        if (hasA && grads.Needs(ia)) grads.AddGemm(ia, ybar.Mat, false, z!.Mat, true, T.One, Batch); // Ā = Ȳ·Zᵀ
        if (!grads.Needs(ix) && !grads.Needs(ib)) return;
        DeviceTensor<T> bbar;
        if (hasA)
        {
            using var aty = Device.Allocate<T>(z!.Shape);
            Blas.Gemm(Device, Bc(AVar!.Value, Batch), true, ybar.Mat, false, aty.Mat, T.One, T.Zero); // Aᵀ·Ȳ
            bbar = SolveX(aty.Mat, transpose: true);                                                  // B̄ = X⁻ᵀ·Aᵀ·Ȳ
        }
        else
        {
            bbar = SolveX(ybar.Mat, transpose: true);
        }
        if (grads.Needs(ix)) grads.AddGemm(ix, bbar.Mat, false, z!.Mat, true, -T.One, Batch);   // X̄ = −B̄·Zᵀ
        if (grads.Needs(ib)) grads.Add(ib, bbar);
        else bbar.Dispose();
    }

    protected override void ReleaseSaved()
    {
        lu?.Dispose();
        pivots?.Dispose();
        z?.Dispose();
        lu = z = null;
        pivots = null;
    }
}
