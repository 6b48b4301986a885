using GpuAD.Kernels;

namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = op(A)·op(B)</c>, op(M) = Mᵀ when its flag is set. A batch of 1 broadcasts (its
    /// gradient is summed over the batch).
    /// </summary>
    /// <param name="a">[batch or 1, m, k] (or [.., k, m] transposed).</param>
    /// <param name="b">[batch or 1, k, n] (or [.., n, k] transposed).</param>
    /// <param name="transposeA">Use Aᵀ.</param>
    /// <param name="transposeB">Use Bᵀ.</param>
    /// <returns>[batch, m, n].</returns>
    /// <exception cref="ArgumentException">Inner dimensions or batches do not agree (raised when recorded).</exception>
    public static Var<T> MatMul<T>(Var<T> a, Var<T> b, bool transposeA = false, bool transposeB = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(MatMulNode<T>.OpName, a, b);
        var shape = MatMulNode<T>.OutputShape(a.Shape, b.Shape, transposeA, transposeB);
        return tape.Record(new MatMulNode<T>(a, b, transposeA, transposeB, shape));
    }
}

/// <summary>
/// Matrix product Y = op(A)·op(B) (seed §1 with one factor the identity).
/// Derivative: dY = op(dA)·op(B) + op(A)·op(dB).
/// Adjoint: ⟨Ȳ, op(dA)·op(B)⟩ = ⟨Ȳ·op(B)ᵀ, op(dA)⟩ and ⟨Ȳ, op(A)·op(dB)⟩ = ⟨op(A)ᵀ·Ȳ, op(dB)⟩, so
/// Ā = Ȳ·op(B)ᵀ (or its transpose, op(B)·Ȳᵀ, when A enters transposed) and
/// B̄ = op(A)ᵀ·Ȳ (or Ȳᵀ·op(A) when B enters transposed).
/// </summary>
internal sealed class MatMulNode<T>(Var<T> a, Var<T> b, bool transA, bool transB, Shape shape) : Node<T>(OpName, a, b)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "MatMul";

    internal static Shape OutputShape(Shape a, Shape b, bool transA, bool transB)
    {
        int m = transA ? a.Cols : a.Rows, ka = transA ? a.Rows : a.Cols;
        int kb = transB ? b.Cols : b.Rows, n = transB ? b.Rows : b.Cols;
        if (ka != kb)
            throw ShapeErrors.Mismatch(OpName, $"the inner dimensions differ (op(A) has {ka} columns, op(B) has {kb} rows)", a, b);
        return new Shape(ShapeErrors.BroadcastBatch(OpName, a, b), m, n);
    }

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In[1].RequiresGrad) yield return In[0];
            if (In[0].RequiresGrad) yield return In[1];
        }
    }

    private MatRef<T> A(DeviceTensor<T> t) => Blas.Broadcast(t, shape.Batch, OpName);

    internal override DeviceTensor<T> Forward()
    {
        var y = Device.Allocate<T>(shape);
        Blas.Gemm(Device, A(In[0].Value), transA, A(In[1].Value), transB, y.Mat, T.One, T.Zero);
        return y;
    }

    // dY = op(dA)·op(B) + op(A)·op(dB)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var y = Device.Allocate<T>(shape);
        T beta = T.Zero;
        if (t[0] is { } da)
        {
            Blas.Gemm(Device, A(da), transA, A(In[1].Value), transB, y.Mat, T.One, beta);
            beta = T.One;
        }
        if (t[1] is { } db)
            Blas.Gemm(Device, A(In[0].Value), transA, A(db), transB, y.Mat, T.One, beta);
        return y;
    }

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        int batch = shape.Batch;
        if (grads.Needs(0))
        {
            var b = A(In[1].Value);
            if (!transA) grads.AddGemm(0, ybar.Mat, false, b, !transB, T.One, batch); // Ā = Ȳ·op(B)ᵀ
            else grads.AddGemm(0, b, transB, ybar.Mat, true, T.One, batch);          // Ā = op(B)·Ȳᵀ
        }
        if (grads.Needs(1))
        {
            var a = A(In[0].Value);
            if (!transB) grads.AddGemm(1, a, !transA, ybar.Mat, false, T.One, batch); // B̄ = op(A)ᵀ·Ȳ
            else grads.AddGemm(1, ybar.Mat, true, a, transA, T.One, batch);          // B̄ = Ȳᵀ·op(A)
        }
    }
}
