using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of one unblocked triangular-solve launch: one diagonal block of T against B.</summary>
internal struct TrsmArgs<T> where T : unmanaged
{
    public MatLayout Tri;   // the diagonal block: its (0, 0) is the block's corner
    public MatLayout B;     // left: the block's rows of B; right: its columns
    public int N;           // order of the diagonal block
    public int Count;       // columns (left) or rows (right) of B: the independent right-hand sides
    public int Transpose;   // op(T)[i, q] = T[q, i]
    public int Unit;        // the diagonal is taken as 1 and not read
    public int Forward;     // unknowns solved in increasing order (else decreasing)
    public T Alpha;
    public int BatchBase;   // first batch element of this launch
    public int Lanes;       // GPU family: threads per right-hand side (right solves: 1, 2 or 4; left: a power of two up to 32)
}

internal static partial class Blas
{
    /// <summary>
    /// <c>B := α·op(T)⁻¹·B</c> (left) or <c>B := α·B·op(T)⁻¹</c> (right), in place in B, for every
    /// matrix of the batch. T is square, lower or upper triangular: only that triangle is read, and
    /// with <paramref name="unitDiagonal"/> the diagonal is not read either and taken as 1.
    /// op(T) = Tᵀ when <paramref name="transpose"/>. A T with batch stride 0 broadcasts over B's batch.
    /// T is [n, n]; B is [n, m] (left) or [m, n] (right). With α = 0, B is set to zero without being read.
    /// </summary>
    /// <param name="device">The device holding both operands.</param>
    /// <param name="t">The triangular matrices, [n, n] each.</param>
    /// <param name="b">The right-hand sides, overwritten by the solutions.</param>
    /// <param name="left">Solve op(T)·X = α·B (true) or X·op(T) = α·B (false).</param>
    /// <param name="lower">T is lower (true) or upper (false) triangular.</param>
    /// <param name="transpose">Use Tᵀ in place of T.</param>
    /// <param name="unitDiagonal">T has ones on its diagonal (not read).</param>
    /// <param name="alpha">The scale α of the right-hand side.</param>
    /// <exception cref="ArgumentException">T is not square, B's size does not match it, or the batches do not agree.</exception>
    /// <remarks>
    /// Blocked: each diagonal block of op(T) is solved by an unblocked kernel, then the unknowns it
    /// produced are eliminated from the rows (left) or columns (right) still to solve with one
    /// batched GEMM, walking the blocks in the order the triangle of op(T) requires. A singular T
    /// gives infinities or NaN, as in BLAS; nothing is checked.
    /// </remarks>
    public static void Trsm<T>(Device device, MatRef<T> t, MatRef<T> b, bool left, bool lower, bool transpose, bool unitDiagonal, T alpha)
        where T : unmanaged, INumber<T> =>
        Trsm(device, t, b, left, lower, transpose, unitDiagonal, alpha, blockSize: 0);

    /// <summary>
    /// <see cref="Trsm{T}(Device, MatRef{T}, MatRef{T}, bool, bool, bool, bool, T)"/> with diagonal
    /// blocks of <paramref name="blockSize"/> (0: the family's default): a blocked Cholesky passes
    /// its panel width, so each of its panels is solved in one launch. On the GPU family a block
    /// is at most <see cref="TrsmGpu.MaxBlockSize"/>.
    /// </summary>
    internal static void Trsm<T>(Device device, MatRef<T> t, MatRef<T> b, bool left, bool lower, bool transpose, bool unitDiagonal, T alpha, int blockSize, int lanes = 1)
        where T : unmanaged, INumber<T>
    {
        int n = t.Rows;
        if (t.Cols != n)
            throw new ArgumentException($"Trsm: T must be square, got [{t.Rows}, {t.Cols}] (B is [{b.Rows}, {b.Cols}]).");
        if ((left ? b.Rows : b.Cols) != n)
            throw new ArgumentException(
                $"Trsm: T is [{n}, {n}] and B is [{b.Rows}, {b.Cols}]: a {(left ? "left" : "right")} solve needs B with {n} {(left ? "rows" : "columns")}.");
        CheckBatch("Trsm", t.Batch, t.BatchStride, b.Batch);
        if (b.Rows == 0 || b.Cols == 0 || b.Batch == 0) return;
        if (alpha == T.Zero)
        {
            Elementwise.Map(device, new Maps.Fill<T>(T.Zero), b, b);
            return;
        }
        t = t.WithBatch(b.Batch);

        // op(T) is lower when exactly one of (lower, transpose) holds. A left solve with a lower
        // op(T) (forward substitution), or a right solve with an upper one, runs from the first
        // unknown to the last; the other cases run backwards.
        bool forward = left == (lower != transpose);
        int nb = TrsmBlockSize<T>(device, blockSize, n);
        int blocks = (n + nb - 1) / nb;
        using var _ = device.Enter();
        T scale = alpha; // applied by the first block's solve and update; B is fully scaled after them
        for (int s = 0; s < blocks; s++)
        {
            int k = forward ? s : blocks - 1 - s;
            int k0 = k * nb, k1 = Math.Min(n, k0 + nb), w = k1 - k0;
            var xk = left ? b.Block(k0, 0, w, b.Cols) : b.Block(0, k0, b.Rows, w);
            SolveDiagonalBlock(device, t.Block(k0, k0, w, w), xk, left, transpose, unitDiagonal, forward, scale, lanes);

            // The unknowns r0..r1−1 still to solve depend on block k through op(T)'s off-diagonal
            // block: left B[r, :] −= op(T)[r, k]·X_k, right B[:, r] −= X_k·op(T)[k, r].
            int r0 = forward ? k1 : 0, r1 = forward ? n : k0;
            if (r1 > r0)
            {
                if (left)
                    Gemm(device, OpBlock(t, transpose, r0, k0, r1 - r0, w), transpose, xk, transB: false,
                        b.Block(r0, 0, r1 - r0, b.Cols), -T.One, scale);
                else
                    Gemm(device, xk, transA: false, OpBlock(t, transpose, k0, r0, w, r1 - r0), transpose,
                        b.Block(0, r0, b.Rows, r1 - r0), -T.One, scale);
            }
            scale = T.One;
        }
    }

    /// <summary>
    /// <c>B := α·op(T)⁻¹·B</c> (left) or <c>B := α·B·op(T)⁻¹</c> (right) on whole tensors, in place in
    /// <paramref name="b"/>. T is [batch or 1, n, n] (a batch of 1 broadcasts); B is [batch, n, m]
    /// (left) or [batch, m, n] (right). Only T's <paramref name="lower"/> or upper triangle is read.
    /// </summary>
    /// <param name="t">The triangular matrices.</param>
    /// <param name="b">The right-hand sides, overwritten by the solutions.</param>
    /// <param name="left">Solve op(T)·X = α·B (true) or X·op(T) = α·B (false).</param>
    /// <param name="lower">T is lower (true) or upper (false) triangular.</param>
    /// <param name="transpose">Use Tᵀ in place of T.</param>
    /// <param name="unitDiagonal">T has ones on its diagonal (not read).</param>
    /// <param name="alpha">The scale α of the right-hand side (default 1).</param>
    /// <exception cref="ArgumentException">The shapes, batches or devices do not agree.</exception>
    public static void Trsm<T>(DeviceTensor<T> t, DeviceTensor<T> b, bool left, bool lower, bool transpose, bool unitDiagonal, T? alpha = null)
        where T : unmanaged, INumber<T>
    {
        SameDevice("Trsm", t, b);
        if (!t.Shape.IsSquare)
            throw ShapeErrors.Mismatch("Trsm", "T must be square", t.Shape, b.Shape);
        if ((left ? b.Rows : b.Cols) != t.Rows)
            throw ShapeErrors.Mismatch("Trsm", $"a {(left ? "left" : "right")} solve needs B's {(left ? "rows" : "columns")} to equal T's order", t.Shape, b.Shape);
        if (t.Batch != b.Batch && t.Batch != 1)
            throw ShapeErrors.Mismatch("Trsm", "T's batch must be B's or 1", t.Shape, b.Shape);
        Trsm(t.Device, Broadcast(t, b.Batch, "Trsm"), b.Mat, left, lower, transpose, unitDiagonal, alpha ?? T.One);
    }

    /// <summary>
    /// The diagonal blocks of a triangular solve of order n: <paramref name="requested"/>, or for 0
    /// the family's default. GPU family: the blocked Cholesky's blocks from the tuning table (32, and
    /// 64 beyond n = 512 by default), within what one group solves: each block costs two launches,
    /// so at n = 16384 blocks of 64 save 512 of them, while one block's serial chain grows to NB²/2.
    /// </summary>
    private static int TrsmBlockSize<T>(Device device, int requested, int n) where T : unmanaged, INumber<T>
    {
        if (requested < 0)
            throw new ArgumentOutOfRangeException(nameof(requested), requested, "Trsm: the block size must be positive (or 0 for the default).");
        if (device.Family == KernelFamily.CpuTuned)
            return requested == 0 ? TrsmCpu.BlockSize : requested;
        int max = TrsmGpu.MaxBlockSize(System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        if (requested > max)
            throw new ArgumentOutOfRangeException(nameof(requested), requested, $"Trsm: diagonal blocks of order {requested} exceed the {max} one thread group solves in shared memory.");
        return requested == 0 ? Math.Min(max, CholeskyPlan.BlockedBlockSize(device, n)) : requested;
    }

    /// <summary>
    /// The launches of a triangular solve of order <paramref name="n"/> with the given block size
    /// (0: default): one per diagonal block and one GEMM update between consecutive blocks.
    /// </summary>
    internal static int TrsmLaunches(Device device, int n, int blockSize)
    {
        int nb = blockSize > 0 ? blockSize
            : device.Family == KernelFamily.GpuTuned ? Math.Min(TrsmGpu.MaxBlockSize(sizeof(double)), CholeskyPlan.BlockedBlockSize(device, n))
            : TrsmCpu.BlockSize;
        int blocks = (n + nb - 1) / nb;
        return n == 0 ? 0 : 2 * blocks - 1;
    }

    /// <summary>
    /// Threads per column of a left solve on the GPU family: with fewer than 32 columns (a GP's
    /// y, one column) a group's idle threads join the columns it has, up to the tuning table's
    /// <see cref="TuningTable.TrsmNarrowLanes"/>; 1 with 32 columns or more, and on the CPU family.
    /// </summary>
    internal static int NarrowLanes(Device device, int columns)
    {
        if (device.Family != KernelFamily.GpuTuned || columns >= 32) return 1;
        int lanes = 1;
        while (lanes * 2 <= device.Tuning.TrsmNarrowLanes && lanes * 2 * columns <= 32) lanes *= 2;
        return lanes;
    }

    /// <summary>The block op(T)[r0.., c0..] of size rows×cols, as stored (to be read transposed when <paramref name="transpose"/>).</summary>
    private static MatRef<T> OpBlock<T>(MatRef<T> t, bool transpose, int r0, int c0, int rows, int cols) where T : unmanaged =>
        transpose ? t.Block(c0, r0, cols, rows) : t.Block(r0, c0, rows, cols);

    /// <summary>Solves one diagonal block in place with the family's unblocked kernel.</summary>
    private static void SolveDiagonalBlock<T>(Device device, MatRef<T> tri, MatRef<T> x, bool left, bool transpose, bool unitDiagonal, bool forward, T alpha, int lanes)
        where T : unmanaged, INumber<T>
    {
        var args = new TrsmArgs<T>
        {
            Tri = tri.Layout, B = x.Layout,
            N = tri.Rows, Count = left ? x.Cols : x.Rows,
            Transpose = transpose ? 1 : 0, Unit = unitDiagonal ? 1 : 0, Forward = forward ? 1 : 0,
            Alpha = alpha, Lanes = left ? NarrowLanes(device, x.Cols) : lanes,
        };
        if (device.Family == KernelFamily.GpuTuned)
            TrsmGpu.Launch(device, tri.Data, x.Data, args, x.Batch, left);
        else
            TrsmCpu.Launch(device, tri.Data, x.Data, args, x.Batch, left);
    }
}
