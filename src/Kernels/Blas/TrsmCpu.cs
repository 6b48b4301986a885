using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned unblocked triangular solve of one diagonal block: one simulated thread per (matrix,
/// chunk of right-hand sides), no barriers, elements addressed through pointers taken once.
/// Left solves work on a chunk of B's columns row by row, so every update is a contiguous
/// row segment (B[i, c..] −= op(T)[i, q]·B[q, c..]); right solves work on a chunk of B's rows,
/// each row substituted with dot products along the row.
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
    private static unsafe void LeftKernel<T>(Index1D task, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int chunks = (p.Count + ChunkCols - 1) / ChunkCols;
        int batch = task / chunks;
        int c0 = task % chunks * ChunkCols, c1 = Math.Min(c0 + ChunkCols, p.Count);
        fixed (T* t0 = &t[0L])
        fixed (T* b0 = &b[0L])
        {
            T* tri = t0 + p.Tri.Offset + batch * p.Tri.BatchStride;
            T* x = b0 + p.B.Offset + batch * p.B.BatchStride;
            long sI = p.Transpose == 0 ? p.Tri.Ld : 1, sQ = p.Transpose == 0 ? 1 : p.Tri.Ld; // op(T)[i, q] = tri[i·sI + q·sQ]
            long ldb = p.B.Ld;
            for (int s = 0; s < p.N; s++)
            {
                int i = p.Forward != 0 ? s : p.N - 1 - s;
                T* xi = x + i * ldb;
                if (p.Alpha != T.One)
                    for (int c = c0; c < c1; c++) xi[c] *= p.Alpha;
                for (int r = 0; r < s; r++)
                {
                    int q = p.Forward != 0 ? r : p.N - 1 - r;
                    T tiq = tri[i * sI + q * sQ];
                    T* xq = x + q * ldb;
                    for (int c = c0; c < c1; c++) xi[c] -= tiq * xq[c];
                }
                if (p.Unit == 0)
                {
                    T d = tri[i * sI + i * sQ];
                    for (int c = c0; c < c1; c++) xi[c] /= d;
                }
            }
        }
    }

    /// <summary>X·op(T) = α·B for rows r0..r1−1 of one matrix: X[r, j] = (α·B[r, j] − Σ X[r, q]·op(T)[q, j]) / op(T)[j, j] over solved q.</summary>
    private static unsafe void RightKernel<T>(Index1D task, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int chunks = (p.Count + ChunkRows - 1) / ChunkRows;
        int batch = task / chunks;
        int r0 = task % chunks * ChunkRows, r1 = Math.Min(r0 + ChunkRows, p.Count);
        fixed (T* t0 = &t[0L])
        fixed (T* b0 = &b[0L])
        {
            T* tri = t0 + p.Tri.Offset + batch * p.Tri.BatchStride;
            long sQ = p.Transpose == 0 ? p.Tri.Ld : 1, sJ = p.Transpose == 0 ? 1 : p.Tri.Ld; // op(T)[q, j] = tri[q·sQ + j·sJ]
            for (int row = r0; row < r1; row++)
            {
                T* x = b0 + p.B.Offset + batch * p.B.BatchStride + row * p.B.Ld;
                for (int s = 0; s < p.N; s++)
                {
                    int j = p.Forward != 0 ? s : p.N - 1 - s;
                    T v = p.Alpha * x[j];
                    T* tj = tri + j * sJ;
                    if (p.Forward != 0)
                        for (int q = 0; q < j; q++) v -= x[q] * tj[q * sQ];
                    else
                        for (int q = j + 1; q < p.N; q++) v -= x[q] * tj[q * sQ];
                    x[j] = p.Unit == 0 ? v / tj[j * sQ] : v;
                }
            }
        }
    }
}
