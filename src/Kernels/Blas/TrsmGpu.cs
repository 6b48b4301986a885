using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// GPU-tuned unblocked triangular solve of one diagonal block. One warp-sized group per (matrix,
/// 32 right-hand sides): the block of op(T) it needs is staged in shared memory once, then every
/// thread substitutes its own right-hand side (a column of B for left solves, a row for right
/// solves) in shared memory without further barriers. Left solves load and store B directly
/// (consecutive threads own consecutive columns, so accesses coalesce); right solves stage their
/// 32 rows through shared memory with coalesced loads and stores.
/// </summary>
/// <remarks>
/// The substitution loops are not unrolled: they are a small part of a blocked solve (O(n·NB)
/// of its O(n²) work per right-hand side) and their length changes from row to row.
/// </remarks>
internal static class TrsmGpu
{
    /// <summary>
    /// Order of the diagonal blocks. Each thread's substitution is a serial chain of NB²/2
    /// multiply-adds, so NB is kept small; 32 keeps the staged op(T) block and 32 right-hand
    /// sides within 17 KiB of shared memory in fp64, and the GEMM updates do the bulk of the work.
    /// </summary>
    internal const int BlockSize = 32;

    private const int Threads = 32;                // right-hand sides per group: one warp
    private const int Stride = BlockSize + 1;      // padded rows of shared tiles: no bank conflicts on strided access
    private const int MaxGridY = 65535;

    internal static void Launch<T>(Device device, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> args, int batch, bool left)
        where T : unmanaged, INumber<T>
    {
        var kernel = left
            ? device.Kernel(LeftKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(LeftKernel<T>))
            : device.Kernel(RightKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(RightKernel<T>));
        var group = new Index3D(Threads, 1, 1);
        for (int start = 0; start < batch; start += MaxGridY)
        {
            args.BatchBase = start;
            var grid = new Index3D((args.Count + Threads - 1) / Threads, Math.Min(MaxGridY, batch - start), 1);
            kernel(new KernelConfig(grid, group), t, b, args);
        }
    }

    /// <summary>op(T)·X = α·B: thread tid owns column Grid.IdxX·32 + tid of B.</summary>
    internal static void LeftKernel<T>(ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        var sT = SharedMemory.Allocate<T>(BlockSize * Stride); // sT[i·Stride + q] = op(T)[i, q]
        var sX = SharedMemory.Allocate<T>(BlockSize * Threads); // sX[i·Threads + tid] = X[i, col]
        int tid = Group.IdxX, batch = Grid.IdxY + p.BatchBase;
        int col = Grid.IdxX * Threads + tid;
        StageTriangle(t, sT, p, batch, tid, left: true);
        Group.Barrier();
        if (col >= p.Count) return;

        long x0 = p.B.Offset + batch * p.B.BatchStride + col;
        for (int i = 0; i < p.N; i++)
            sX[i * Threads + tid] = p.Alpha * b[x0 + (long)i * p.B.Ld];
        for (int s = 0; s < p.N; s++)
        {
            int i = p.Forward != 0 ? s : p.N - 1 - s;
            T v = sX[i * Threads + tid];
            int qBegin = p.Forward != 0 ? 0 : i + 1, qEnd = p.Forward != 0 ? i : p.N;
            for (int q = qBegin; q < qEnd; q++)
                v -= sT[i * Stride + q] * sX[q * Threads + tid];
            if (p.Unit == 0) v /= sT[i * Stride + i];
            sX[i * Threads + tid] = v;
            b[x0 + (long)i * p.B.Ld] = v;
        }
    }

    /// <summary>X·op(T) = α·B: thread tid owns row Grid.IdxX·32 + tid of B.</summary>
    internal static void RightKernel<T>(ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        var sT = SharedMemory.Allocate<T>(BlockSize * Stride); // sT[q·Stride + j] = op(T)[q, j]
        var sX = SharedMemory.Allocate<T>(Threads * Stride);   // sX[r·Stride + j] = X[row0 + r, j]
        int tid = Group.IdxX, batch = Grid.IdxY + p.BatchBase;
        int row0 = Grid.IdxX * Threads;
        long x0 = p.B.Offset + batch * p.B.BatchStride;
        StageTriangle(t, sT, p, batch, tid, left: false);
        for (int e = tid; e < Threads * p.N; e += Threads)
        {
            int r = e / p.N, j = e % p.N;
            if (row0 + r < p.Count)
                sX[r * Stride + j] = p.Alpha * b[x0 + (long)(row0 + r) * p.B.Ld + j];
        }
        Group.Barrier();

        if (row0 + tid < p.Count)
        {
            int xr = tid * Stride;
            for (int s = 0; s < p.N; s++)
            {
                int j = p.Forward != 0 ? s : p.N - 1 - s;
                T v = sX[xr + j];
                int qBegin = p.Forward != 0 ? 0 : j + 1, qEnd = p.Forward != 0 ? j : p.N;
                for (int q = qBegin; q < qEnd; q++)
                    v -= sX[xr + q] * sT[q * Stride + j];
                if (p.Unit == 0) v /= sT[j * Stride + j];
                sX[xr + j] = v;
            }
        }
        Group.Barrier();

        for (int e = tid; e < Threads * p.N; e += Threads)
        {
            int r = e / p.N, j = e % p.N;
            if (row0 + r < p.Count)
                b[x0 + (long)(row0 + r) * p.B.Ld + j] = sX[r * Stride + j];
        }
    }

    /// <summary>
    /// Copies the entries of op(T) the solve reads into sT[i·Stride + q] = op(T)[i, q]: the
    /// off-diagonal entries coupling an unknown to those solved before it, and the diagonal unless
    /// it is a unit diagonal. Nothing else of T is read. Consecutive threads read consecutive
    /// stored elements.
    /// </summary>
    private static void StageTriangle<T>(ArrayView<T> t, ArrayView<T> sT, TrsmArgs<T> p, int batch, int tid, bool left)
        where T : unmanaged, INumber<T>
    {
        long t0 = p.Tri.Offset + batch * p.Tri.BatchStride;
        for (int e = tid; e < p.N * p.N; e += Threads)
        {
            int r = e / p.N, c = e % p.N;                       // stored T[r, c]
            int i = p.Transpose != 0 ? c : r, q = p.Transpose != 0 ? r : c; // = op(T)[i, q]
            // Left: X[i] needs op(T)[i, q] for q solved before i; right: X[:, q] needs op(T)[i, q] for i solved before q.
            int first = left ? q : i, second = left ? i : q;
            bool needed = i == q ? p.Unit == 0 : p.Forward != 0 ? first < second : first > second;
            if (needed)
                sT[i * Stride + q] = t[t0 + (long)r * p.Tri.Ld + c];
        }
    }
}
