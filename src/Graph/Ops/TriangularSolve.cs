namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// Solves with a triangular matrix: <c>Y = op(T)⁻¹·B</c> (<paramref name="left"/>) or
    /// <c>Y = B·op(T)⁻¹</c>, op(T) = Tᵀ when <paramref name="transpose"/>, like
    /// <c>torch.linalg.solve_triangular</c>. Only the <paramref name="lower"/> (or upper) triangle of T
    /// is read, without its diagonal when <paramref name="unitDiagonal"/> (taken as 1); T's gradient is
    /// projected onto that triangle. T or B with batch 1 broadcasts.
    /// </summary>
    /// <param name="t">Triangular [batch, n, n].</param>
    /// <param name="b">[batch, n, k] (left) or [batch, k, n] (right).</param>
    /// <param name="lower">T is lower (true) or upper triangular.</param>
    /// <param name="left">Solve op(T)·Y = B (true) or Y·op(T) = B.</param>
    /// <param name="transpose">Use Tᵀ.</param>
    /// <param name="unitDiagonal">T's diagonal is 1 and not read.</param>
    /// <exception cref="ArgumentException">T is not square, or its order does not match B (raised when recorded).</exception>
    /// <exception cref="SingularMatrixException">
    /// T is singular to working precision (unless <paramref name="unitDiagonal"/>): a diagonal
    /// entry T[k,k] is zero, or at most n·ε times the largest finite entry of column k
    /// of the triangle read (see <see cref="Blas.CheckDiagonal{T}"/>); names the batch element and k,
    /// as LAPACK's trtrs reports it.
    /// </exception>
    public static Var<T> TriangularSolve<T>(Var<T> t, Var<T> b, bool lower, bool left = true, bool transpose = false, bool unitDiagonal = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(TriangularSolveNode<T>.OpName, t, b);
        var shape = TriangularSolveNode<T>.OutputShape(t.Shape, b.Shape, left);
        var flags = new TriangularSolveNode<T>.Flags(lower, left, transpose, unitDiagonal);
        return tape.Record(new TriangularSolveNode<T>(t, b, flags, shape, throwOnFailure: true));
    }

    /// <summary>
    /// <see cref="TriangularSolve{T}"/> without the check: returns the per-matrix info codes on the
    /// device (0, or the one-based index k of the first diagonal entry T[k,k] that is singular to
    /// working precision; always 0 with <paramref name="unitDiagonal"/>) and makes no host round
    /// trip. Values and gradients of failed matrices are unspecified (typically ±Inf or NaN). The
    /// caller owns <c>Info</c>.
    /// </summary>
    /// <param name="t">Triangular [batch, n, n].</param>
    /// <param name="b">[batch, n, k] (left) or [batch, k, n] (right).</param>
    /// <param name="lower">T is lower (true) or upper triangular.</param>
    /// <param name="left">Solve op(T)·Y = B (true) or Y·op(T) = B.</param>
    /// <param name="transpose">Use Tᵀ.</param>
    /// <param name="unitDiagonal">T's diagonal is 1 and not read.</param>
    /// <returns>Y, and Info [T's batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">T is not square, or its order does not match B (raised when recorded).</exception>
    public static (Var<T> Y, DeviceTensor<int> Info) TriangularSolveEx<T>(Var<T> t, Var<T> b, bool lower, bool left = true, bool transpose = false, bool unitDiagonal = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(TriangularSolveNode<T>.OpName, t, b);
        var shape = TriangularSolveNode<T>.OutputShape(t.Shape, b.Shape, left);
        var node = new TriangularSolveNode<T>(t, b, new TriangularSolveNode<T>.Flags(lower, left, transpose, unitDiagonal), shape, throwOnFailure: false);
        var y = tape.Record(node);
        return (y, node.Info!);
    }
}

/// <summary>
/// Triangular solve. Left: op(T)·Y = B. Differentiating, op(dT)·Y + op(T)·dY = dB, so
///   dY = op(T)⁻¹·(dB − op(dT)·Y)                         (JVP, with dT projected on the read triangle).
/// Adjoint: ⟨Ȳ, op(T)⁻¹·dB⟩ = ⟨op(T)⁻ᵀ·Ȳ, dB⟩ ⇒ B̄ = op(T)⁻ᵀ·Ȳ, and
///   ⟨Ȳ, −op(T)⁻¹·op(dT)·Y⟩ = −⟨B̄·Yᵀ, op(dT)⟩ ⇒ T̄ = −P(B̄·Yᵀ), or −P(Y·B̄ᵀ) when op is a transpose,
/// where P projects onto the triangle T's value is read from (the strict triangle for a unit diagonal).
/// Right: Y·op(T) = B ⇒ dY = (dB − Y·op(dT))·op(T)⁻¹, B̄ = Ȳ·op(T)⁻ᵀ, T̄ = −P(Yᵀ·B̄) or −P(B̄ᵀ·Y).
/// </summary>
internal sealed class TriangularSolveNode<T>(Var<T> t, Var<T> b, TriangularSolveNode<T>.Flags f, Shape shape, bool throwOnFailure)
    : Node<T>(OpName, t, b) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "TriangularSolve";

    /// <summary>The info codes, for the non-throwing variant (owned by its caller).</summary>
    internal DeviceTensor<int>? Info { get; private set; }

    internal readonly record struct Flags(bool Lower, bool Left, bool Transpose, bool Unit);

    internal static Shape OutputShape(Shape t, Shape b, bool left)
    {
        if (!t.IsSquare) throw ShapeErrors.Invalid(OpName, "T must be square", t);
        int n = left ? b.Rows : b.Cols;
        if (n != t.Rows)
            throw ShapeErrors.Mismatch(OpName, left ? "B's rows must equal T's order" : "B's columns must equal T's order", t, b);
        return b.WithBatch(ShapeErrors.BroadcastBatch(OpName, t, b));
    }

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            yield return In[0];
            if (In[0].RequiresGrad) yield return Out;
        }
    }

    private MatRef<T> Tm => Bc(In[0].Value, shape.Batch);

    private DeviceTensor<T> Solve(MatRef<T> rhs, bool transposed) =>
        TrsmNew(Tm, rhs, shape.Batch, f.Left, f.Lower, f.Transpose ^ transposed, f.Unit);

    /// <summary>P: the projection onto the triangle T is read from, scaled by α.</summary>
    private DeviceTensor<T> Project(DeviceTensor<T> x, T alpha) => f.Lower
        ? MapNew(new Maps.Tril<T>(f.Unit ? -1 : 0, alpha), x)
        : MapNew(new Maps.Triu<T>(f.Unit ? 1 : 0, alpha), x);

    internal override DeviceTensor<T> Forward()
    {
        // The singularity check: one info read, as Cholesky's; none in the JVP or the backward.
        var t = In[0].Value;
        if (!throwOnFailure || !f.Unit)
        {
            var info = Device.Allocate<int>(new Shape(t.Batch, 1, 1));
            info.Clear();
            if (!f.Unit) Blas.CheckDiagonal(Device, t.Mat, upper: !f.Lower, info);
            if (!throwOnFailure)
            {
                Info = info;
            }
            else
            {
                int[] host = info.ToArray();
                info.Dispose();
                for (int i = 0; i < host.Length; i++)
                {
                    if (host[i] != 0) throw new SingularMatrixException(OpName, i, host[i],
                        $"the diagonal entry T[{host[i]},{host[i]}] (one-based) is zero or no more than n·ε times the largest entry of its column in the triangle read");
                }
            }
        }
        return Solve(Bc(In[1].Value, shape.Batch), transposed: false);
    }

    // dY = op(T)⁻¹·(dB − op(P dT)·Y)  (left),  dY = (dB − Y·op(P dT))·op(T)⁻¹  (right)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] tangents)
    {
        var rhs = Device.Allocate<T>(shape);
        if (tangents[1] is { } db)
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), Bc(db, shape.Batch), Bc(db, shape.Batch), YAccess.Same, rhs.Mat);
        else
            rhs.Clear();
        if (tangents[0] is { } dt)
        {
            using var pdt = Project(dt, T.One);
            var y = Out.Value.Mat;
            if (f.Left) Blas.Gemm(Device, Bc(pdt, shape.Batch), f.Transpose, y, false, rhs.Mat, -T.One, T.One);
            else Blas.Gemm(Device, y, false, Bc(pdt, shape.Batch), f.Transpose, rhs.Mat, -T.One, T.One);
        }
        Blas.Trsm(Device, Tm, rhs.Mat, f.Left, f.Lower, f.Transpose, f.Unit, T.One);
        return rhs;
    }

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        // B̄ = op(T)⁻ᵀ·Ȳ (left) or Ȳ·op(T)⁻ᵀ (right)
        var bbar = Solve(ybar.Mat, transposed: true);
        if (grads.Needs(0))
        {
            var y = Out.Value;
            var g = Device.Allocate<T>(In[0].Shape.WithBatch(shape.Batch));
            if (f.Left && !f.Transpose) Blas.Gemm(Device, bbar.Mat, false, y.Mat, true, g.Mat, T.One, T.Zero);   // B̄·Yᵀ
            else if (f.Left) Blas.Gemm(Device, y.Mat, false, bbar.Mat, true, g.Mat, T.One, T.Zero);            // Y·B̄ᵀ
            else if (!f.Transpose) Blas.Gemm(Device, y.Mat, true, bbar.Mat, false, g.Mat, T.One, T.Zero);     // Yᵀ·B̄
            else Blas.Gemm(Device, bbar.Mat, true, y.Mat, false, g.Mat, T.One, T.Zero);                      // B̄ᵀ·Y
            grads.Add(0, Project(g, -T.One));
            g.Dispose();
        }
        if (grads.Needs(1)) grads.Add(1, bbar);
        else bbar.Dispose();
    }
}
