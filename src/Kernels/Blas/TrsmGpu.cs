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
/// 32 rows through shared memory with coalesced loads and stores. The block of op(T) is kept as a
/// packed triangle in dynamic shared memory, so blocks up to 77 (fp64) fit a group.
/// </summary>
/// <remarks>
/// The substitution loops are not unrolled: they are a small part of a blocked solve (O(n·NB)
/// of its O(n²) work per right-hand side) and their length changes from row to row.
/// </remarks>
internal static class TrsmGpu
{
    /// <summary>
    /// Order of the diagonal blocks of the tests' explicit blocked cases. Each thread's substitution
    /// is a serial chain of NB²/2 multiply-adds and the GEMM updates do the bulk of the work; the
    /// default block follows the blocked Cholesky's (Trsm's block-size choice), and a blocked
    /// Cholesky asks for its panel width (up to <see cref="MaxBlockSize"/>), one launch per panel.
    /// </summary>
    internal const int BlockSize = 32;

    private const int Threads = 32;                // right-hand sides per group: one warp
    private const int MaxGridY = 65535;

    /// <summary>
    /// The largest diagonal block one group solves: its packed triangle and 32 right-hand sides,
    /// (NB(NB+1)/2 + 32·(NB+1)) elements, within the 48 KiB of shared memory (up to 77 in fp64).
    /// </summary>
    internal static int MaxBlockSize(int elementSize)
    {
        int nb = 1;
        while (SharedElements(nb + 1) * elementSize <= PotrfGpu.SharedBytes) nb++;
        return nb;
    }

    /// <summary>Shared elements for a block of order nb: the packed triangle, then the right-hand sides (rows padded to nb + 1).</summary>
    internal static int SharedElements(int nb) => nb * (nb + 1) / 2 + Threads * (nb + 1);

    /// <summary>Index of op(T)[i, q] in the packed triangle: the solve reads one triangle of op(T), stored as P(max, min).</summary>
    private static int Packed(int i, int q) => i >= q ? i * (i + 1) / 2 + q : q * (q + 1) / 2 + i;

    internal static void Launch<T>(Device device, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> args, int batch, bool left)
        where T : unmanaged, INumber<T>
    {
        var kernel = left
            ? device.Kernel(LeftKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(LeftKernel<T>))
            : device.Kernel(RightKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(RightKernel<T>));
        var group = new Index3D(Threads, 1, 1);
        var shared = SharedMemoryConfig.RequestDynamic<T>(SharedElements(args.N));
        for (int start = 0; start < batch; start += MaxGridY)
        {
            args.BatchBase = start;
            var grid = new Index3D((args.Count + Threads - 1) / Threads, Math.Min(MaxGridY, batch - start), 1);
            kernel(new KernelConfig(grid, group, shared), t, b, args);
        }
    }

    /// <summary>op(T)·X = α·B: thread tid owns column Grid.IdxX·32 + tid of B.</summary>
    internal static void LeftKernel<T>(ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int packed = p.N * (p.N + 1) / 2;
        var sT = shared.SubView(0, packed);                 // sT[Packed(i, q)] = op(T)[i, q]
        var sX = shared.SubView(packed, p.N * Threads);     // sX[i·Threads + tid] = X[i, col]
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
                v -= sT[Packed(i, q)] * sX[q * Threads + tid];
            if (p.Unit == 0) v /= sT[Packed(i, i)];
            sX[i * Threads + tid] = v;
            b[x0 + (long)i * p.B.Ld] = v;
        }
    }

    /// <summary>X·op(T) = α·B: thread tid owns row Grid.IdxX·32 + tid of B.</summary>
    internal static void RightKernel<T>(ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int packed = p.N * (p.N + 1) / 2, stride = p.N + 1; // padded rows: no bank conflicts on strided access
        var sT = shared.SubView(0, packed);                 // sT[Packed(q, j)] = op(T)[q, j]
        var sX = shared.SubView(packed, Threads * stride);  // sX[r·stride + j] = X[row0 + r, j]
        int tid = Group.IdxX, batch = Grid.IdxY + p.BatchBase;
        int row0 = Grid.IdxX * Threads;
        long x0 = p.B.Offset + batch * p.B.BatchStride;
        StageTriangle(t, sT, p, batch, tid, left: false);
        for (int e = tid; e < Threads * p.N; e += Threads)
        {
            int r = e / p.N, j = e % p.N;
            if (row0 + r < p.Count)
                sX[r * stride + j] = p.Alpha * b[x0 + (long)(row0 + r) * p.B.Ld + j];
        }
        Group.Barrier();

        if (row0 + tid < p.Count)
        {
            int xr = tid * stride;
            for (int s = 0; s < p.N; s++)
            {
                int j = p.Forward != 0 ? s : p.N - 1 - s;
                T v = sX[xr + j];
                int qBegin = p.Forward != 0 ? 0 : j + 1, qEnd = p.Forward != 0 ? j : p.N;
                for (int q = qBegin; q < qEnd; q++)
                    v -= sX[xr + q] * sT[Packed(q, j)];
                if (p.Unit == 0) v /= sT[Packed(j, j)];
                sX[xr + j] = v;
            }
        }
        Group.Barrier();

        for (int e = tid; e < Threads * p.N; e += Threads)
        {
            int r = e / p.N, j = e % p.N;
            if (row0 + r < p.Count)
                b[x0 + (long)(row0 + r) * p.B.Ld + j] = sX[r * stride + j];
        }
    }

    /// <summary>
    /// Copies the entries of op(T) the solve reads into sT[Packed(i, q)] = op(T)[i, q]: the
    /// off-diagonal entries coupling an unknown to those solved before it (all in one triangle of
    /// op(T), so the packed index is unambiguous), and the diagonal unless it is a unit diagonal.
    /// Nothing else of T is read. Consecutive threads read consecutive stored elements.
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
                sT[Packed(i, q)] = t[t0 + (long)r * p.Tri.Ld + c];
        }
    }
}
