using System.Runtime.CompilerServices;
using System.Numerics;
using ILGPU;
using ILGPU.Frontend;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned unblocked triangular solve of one diagonal block: one simulated thread per (matrix,
/// chunk of right-hand sides), no barriers, elements addressed through pointers taken once.
/// Left solves work on a chunk of B's columns row by row, so every update is a contiguous
/// row segment (B[i, c..] −= op(T)[i, q]·B[q, c..]); right solves work on a chunk of B's rows,
/// each row substituted along contiguous rows of T (axpy or dot form, by transpose). The inner
/// loops are SIMD (<see cref="Vector{T}"/>).
/// </summary>
internal static class TrsmCpu
{
    /// <summary>
    /// Order of the diagonal blocks: the CPU GEMM's 64×64 tiles, so every update is whole tiles,
    /// while a 64×64 block of T (32 KiB in fp64) and the chunk of B it works on stay in L2.
    /// </summary>
    internal const int BlockSize = 64;

    /// <summary>Right-hand sides (columns of B for left solves, rows for right solves) per thread.</summary>
    private const int ChunkCols = 64, ChunkRows = 16;

    internal static void Launch<T>(Device device, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> args, int batch, bool left)
        where T : unmanaged, INumber<T>
    {
        int chunk = left ? ChunkCols : ChunkRows;
        long tasks = (long)batch * ((args.Count + chunk - 1) / chunk);
        if (tasks > int.MaxValue) throw new ArgumentException($"Trsm: {tasks} blocks exceed one launch.");
        args.BatchBase = 0;
        if (left)
        {
            var kernel = device.Kernel(LeftKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(LeftKernel<T>));
            kernel((int)tasks, t, b, args);
        }
        else
        {
            var kernel = device.Kernel(RightKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(RightKernel<T>));
            kernel((int)tasks, t, b, args);
        }
    }

    /// <summary>op(T)·X = α·B for columns c0..c1−1 of one matrix: X's row i is solved from the rows before it (in solve order).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void LeftKernel<T>(Index1D task, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int chunks = (p.Count + ChunkCols - 1) / ChunkCols;
        int batch = task / chunks;
        int c0 = task % chunks * ChunkCols, c1 = Math.Min(c0 + ChunkCols, p.Count);
        fixed (T* t0 = &t[0L])
        fixed (T* b0 = &b[0L])
            SolveLeftColumns(t0 + p.Tri.Offset + batch * p.Tri.BatchStride, b0 + p.B.Offset + batch * p.B.BatchStride + c0, c1 - c0, p);
    }

    /// <summary>
    /// The left solve for <paramref name="width"/> columns starting at <paramref name="x"/>: row i of X
    /// = (α·B[i] − Σ op(T)[i, q]·X[q]) / op(T)[i, i], each update a SIMD axpy along the row segment.
    /// Opaque to ILGPU's IR ([External]; see <see cref="CpuSimd"/>).
    /// </summary>
    [External("gpuad_trsm_cpu_left")]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SolveLeftColumns<T>(T* tri, T* x, int width, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        long sI = p.Transpose == 0 ? p.Tri.Ld : 1, sQ = p.Transpose == 0 ? 1 : p.Tri.Ld; // op(T)[i, q] = tri[i·sI + q·sQ]
        long ldb = p.B.Ld;
        for (int s = 0; s < p.N; s++)
        {
            int i = p.Forward != 0 ? s : p.N - 1 - s;
            T* xi = x + i * ldb;
            if (p.Alpha != T.One) CpuSimd.Scale(xi, p.Alpha, width);
            for (int r = 0; r < s; r++)
            {
                int q = p.Forward != 0 ? r : p.N - 1 - r;
                CpuSimd.Axpy(xi, x + q * ldb, -tri[i * sI + q * sQ], width);
            }
            if (p.Unit == 0) CpuSimd.Divide(xi, tri[i * sI + i * sQ], width);
        }
    }

    /// <summary>X·op(T) = α·B for rows r0..r1−1 of one matrix.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void RightKernel<T>(Index1D task, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int chunks = (p.Count + ChunkRows - 1) / ChunkRows;
        int batch = task / chunks;
        int r0 = task % chunks * ChunkRows, r1 = Math.Min(r0 + ChunkRows, p.Count);
        fixed (T* t0 = &t[0L])
        fixed (T* b0 = &b[0L])
            SolveRightRows(t0 + p.Tri.Offset + batch * p.Tri.BatchStride, b0 + p.B.Offset + batch * p.B.BatchStride + r0 * (long)p.B.Ld, r1 - r0, p);
    }

    /// <summary>
    /// The right solve for <paramref name="rows"/> rows starting at <paramref name="x0"/>, each on its
    /// own, reading op(T) along stored rows of T. Without transpose, row j of op(T) is a stored row:
    /// once X[r, j] = B[r, j] / op(T)[j, j] is known it is eliminated from the unknowns still to solve,
    /// B[r, q] −= X[r, j]·op(T)[j, q] (a SIMD axpy). With transpose, column j of op(T) is a stored
    /// row: X[r, j] = (B[r, j] − Σ X[r, q]·op(T)[q, j]) / op(T)[j, j] over the solved q (a SIMD dot).
    /// Opaque to ILGPU's IR ([External]; see <see cref="CpuSimd"/>).
    /// </summary>
    [External("gpuad_trsm_cpu_right")]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SolveRightRows<T>(T* tri, T* x0, int rows, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        long ld = p.Tri.Ld;
        int n = p.N;
        bool forward = p.Forward != 0;
        for (int row = 0; row < rows; row++)
        {
            T* x = x0 + row * p.B.Ld;
            if (p.Alpha != T.One) CpuSimd.Scale(x, p.Alpha, n);
            for (int s = 0; s < n; s++)
            {
                int j = forward ? s : n - 1 - s;
                T* tj = tri + j * ld; // stored row j: op(T)[j, ·] without transpose, op(T)[·, j] with it
                if (p.Transpose == 0)
                {
                    T v = p.Unit == 0 ? x[j] / tj[j] : x[j];
                    x[j] = v;
                    if (forward) CpuSimd.Axpy(x + j + 1, tj + j + 1, -v, n - j - 1);
                    else CpuSimd.Axpy(x, tj, -v, j);
                }
                else
                {
                    T v = x[j] - (forward ? CpuSimd.Dot(x, tj, j) : CpuSimd.Dot(x + j + 1, tj + j + 1, n - j - 1));
                    x[j] = p.Unit == 0 ? v / tj[j] : v;
                }
            }
        }
    }
}
