using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of one batched GEMM launch (everything but the views).</summary>
internal struct GemmArgs<T> where T : unmanaged
{
    public MatLayout A, B, C;
    public int M, N, K;
    public int TransA, TransB;
    public T Alpha, Beta;
    public int BatchBase; // first batch element of this launch (launches are chunked over the grid's z limit)
    public int LowerOnly; // C is square: compute only the tiles that reach on or below the diagonal
}

/// <summary>Batched dense matrix products.</summary>
public static partial class Blas
{
    /// <summary>
    /// <c>C = α·op(A)·op(B) + β·C</c> for every matrix of the batch, op ∈ {none, transpose}, in
    /// one launch. op(A) is [m, k], op(B) is [k, n], C is [m, n]. An operand whose batch stride is
    /// 0 broadcasts. With β = 0, C is only written (its old contents, NaN included, are ignored).
    /// </summary>
    /// <exception cref="ArgumentException">The dimensions or batches do not agree.</exception>
    public static void Gemm<T>(Device device, MatRef<T> a, bool transA, MatRef<T> b, bool transB, MatRef<T> c, T alpha, T beta)
        where T : unmanaged, INumber<T> =>
        Gemm(device, a, transA, b, transB, c, alpha, beta, lowerOnly: false);

    /// <summary>
    /// <see cref="Gemm{T}(Device, MatRef{T}, bool, MatRef{T}, bool, MatRef{T}, T, T)"/>, optionally
    /// only for C's lower triangle (a SYRK-like update: a blocked Cholesky's trailing
    /// <c>A22 −= L21·L21ᵀ</c>). With <paramref name="lowerOnly"/>, C must be square; every element on
    /// or below the diagonal is computed, tiles strictly above it are skipped (half the flops), and
    /// the elements above the diagonal are left undefined.
    /// </summary>
    internal static void Gemm<T>(Device device, MatRef<T> a, bool transA, MatRef<T> b, bool transB, MatRef<T> c, T alpha, T beta, bool lowerOnly)
        where T : unmanaged, INumber<T>
    {
        int m = transA ? a.Cols : a.Rows, ka = transA ? a.Rows : a.Cols;
        int kb = transB ? b.Cols : b.Rows, n = transB ? b.Rows : b.Cols;
        if (ka != kb || c.Rows != m || c.Cols != n)
            throw new ArgumentException($"Gemm: op(A) is [{m}, {ka}], op(B) is [{kb}, {n}], C is [{c.Rows}, {c.Cols}]: the dimensions do not agree.");
        if (lowerOnly && m != n)
            throw new ArgumentException($"Gemm: a lower-triangle update needs a square C, got [{m}, {n}].");
        CheckBatch("Gemm", a.Batch, a.BatchStride, c.Batch);
        CheckBatch("Gemm", b.Batch, b.BatchStride, c.Batch);
        if (m == 0 || n == 0 || c.Batch == 0) return;
        if (ka == 0 || alpha == T.Zero)
        {
            Elementwise.ScaleInPlace(device, c, beta);
            return;
        }
        var args = new GemmArgs<T>
        {
            A = a.Layout, B = b.Layout, C = c.Layout,
            M = m, N = n, K = ka,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0,
            Alpha = alpha, Beta = beta,
            LowerOnly = lowerOnly ? 1 : 0,
        };
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned)
            GemmGpu.Launch(device, a.Data, b.Data, c.Data, args, c.Batch);
        else
            GemmCpu.Launch(device, a.Data, b.Data, c.Data, args, c.Batch);
    }

    /// <summary>
    /// <c>C = α·op(A)·op(B) + β·C</c> on whole tensors: A and B may have batch 1 (broadcast) or C's batch.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes or devices do not agree.</exception>
    public static void Gemm<T>(Tensor<T> a, Tensor<T> b, Tensor<T> c, bool transA = false, bool transB = false, T? alpha = null, T? beta = null)
        where T : unmanaged, INumber<T>
    {
        SameDevice("Gemm", a, b, c);
        Gemm(a.Device, Broadcast(a, c.Batch, "Gemm"), transA, Broadcast(b, c.Batch, "Gemm"), transB, c.Mat, alpha ?? T.One, beta ?? T.Zero);
    }

    /// <summary>The tensor as a batch of <paramref name="batch"/> matrices, broadcasting a batch of 1.</summary>
    internal static MatRef<T> Broadcast<T>(Tensor<T> t, int batch, string op) where T : unmanaged, INumber<T>
    {
        if (t.Batch == batch) return t.Mat;
        if (t.Batch == 1) return t.Mat with { BatchStride = 0, Batch = batch };
        throw new ArgumentException($"{op}: an operand of shape {t.Shape} cannot broadcast to a batch of {batch}.");
    }

    internal static void CheckBatch(string op, int operandBatch, long stride, int batch)
    {
        if (operandBatch != batch && !(stride == 0))
            throw new ArgumentException($"{op}: an operand has batch {operandBatch} but the result has batch {batch}.");
    }

    internal static void SameDevice<T>(string op, params Tensor<T>[] tensors) where T : unmanaged, INumber<T>
    {
        foreach (var t in tensors)
            if (t.Device != tensors[0].Device)
                throw new ArgumentException($"{op}: the tensors belong to different devices ({tensors[0].Device} and {t.Device}).");
    }
}
