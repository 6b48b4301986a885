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
/// A block's solve is latency-bound: written plainly, the staging loops would wait for one global
/// load per iteration (ILGPU 1.5.3 does not unroll) and each substitution would be one dependent
/// chain of NB²/2 multiply-adds (see "Where the time goes" in
/// bench/results/2026-11-27-nvidia-h100-80gb-hbm3.md). So the staging loops
/// keep <see cref="InFlight"/> loads in flight per thread, and each substitution sums into four
/// independent partial sums (unrolled by hand) before it divides.
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

    /// <summary>Global loads each thread keeps in flight in the staging loops (unrolled by hand).</summary>
    private const int InFlight = 4;

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
    private static int Packed(int i, int q) => RowLanes.Packed(i, q);

    internal static void Launch<T>(Device device, ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> args, int batch, bool left)
        where T : unmanaged, INumber<T>
    {
        var kernel = left
            ? device.Kernel(LeftKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(LeftKernel<T>))
            : device.Kernel(RightKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrsmArgs<T>>(RightKernel<T>));
        var group = new Index3D(Threads, 1, 1);
        var shared = SharedMemoryConfig.RequestDynamic<T>(SharedElements(args.N));
        args.Lanes = Math.Max(1, args.Lanes);
        if (left ? args.Lanes is not (1 or 2 or 4 or 8 or 16 or 32) : args.Lanes is not (1 or 2 or 4))
            throw new ArgumentException($"Trsm: {args.Lanes} threads per {(left ? "column" : "row")}; {(left ? "a power of two up to 32" : "1, 2 or 4")}.");
        int perGroup = Threads / args.Lanes; // right-hand sides per group
        for (int start = 0; start < batch; start += GpuLimits.MaxGridYZ)
        {
            args.BatchBase = start;
            var grid = new Index3D((args.Count + perGroup - 1) / perGroup, Math.Min(GpuLimits.MaxGridYZ, batch - start), 1);
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
        StageTriangle(t, sT, p, batch, tid, Threads, left: true);
        Group.Barrier();
        if (p.Lanes > 1)
        {
            SolveColumnsInLanes(b, sT, sX, p, batch, tid / p.Lanes, tid % p.Lanes, p.Lanes);
            return;
        }
        if (col >= p.Count) return;

        long x0 = p.B.Offset + batch * p.B.BatchStride + col;
        int i4 = 0;
        for (; i4 + InFlight <= p.N; i4 += InFlight) // InFlight = 4 loads in flight, unrolled by hand
        {
            T v0 = b[x0 + (long)i4 * p.B.Ld], v1 = b[x0 + (long)(i4 + 1) * p.B.Ld];
            T v2 = b[x0 + (long)(i4 + 2) * p.B.Ld], v3 = b[x0 + (long)(i4 + 3) * p.B.Ld];
            sX[i4 * Threads + tid] = p.Alpha * v0;
            sX[(i4 + 1) * Threads + tid] = p.Alpha * v1;
            sX[(i4 + 2) * Threads + tid] = p.Alpha * v2;
            sX[(i4 + 3) * Threads + tid] = p.Alpha * v3;
        }
        for (; i4 < p.N; i4++)
            sX[i4 * Threads + tid] = p.Alpha * b[x0 + (long)i4 * p.B.Ld];
        for (int s = 0; s < p.N; s++)
        {
            int i = p.Forward != 0 ? s : p.N - 1 - s;
            int qBegin = p.Forward != 0 ? 0 : i + 1, qEnd = p.Forward != 0 ? i : p.N;
            // v = X[i] − Σ_q op(T)[i, q]·X[q] in four partial sums. Row i of op(T) lies along a
            // packed row (stride 1) for a lower op(T), down a packed column otherwise.
            T v0 = sX[i * Threads + tid], v1 = T.Zero, v2 = T.Zero, v3 = T.Zero;
            int q = qBegin;
            for (; q + 4 <= qEnd; q += 4)
            {
                v0 -= sT[Packed(i, q)] * sX[q * Threads + tid];
                v1 -= sT[Packed(i, q + 1)] * sX[(q + 1) * Threads + tid];
                v2 -= sT[Packed(i, q + 2)] * sX[(q + 2) * Threads + tid];
                v3 -= sT[Packed(i, q + 3)] * sX[(q + 3) * Threads + tid];
            }
            for (; q < qEnd; q++)
                v0 -= sT[Packed(i, q)] * sX[q * Threads + tid];
            T v = (v0 + v1) + (v2 + v3);
            if (p.Unit == 0) v /= sT[Packed(i, i)];
            sX[i * Threads + tid] = v;
            b[x0 + (long)i * p.B.Ld] = v;
        }
    }

    /// <summary>
    /// The left solve with <paramref name="lanes"/> consecutive threads per column of B (narrow
    /// B: a group's idle threads join its columns): lane l stages the rows i ≡ l (mod lanes) of its
    /// column and sums op(T)[i, q]·X[q] over q ≡ l, two partial sums; the lanes' sums are added with
    /// butterfly shuffles, and lane i mod lanes writes X[i], so every X[q] is read only by the lane
    /// that wrote it after the staging barrier. Every thread runs every step (the shuffles need the
    /// whole warp), the slots past B's columns on a column that exists and without writing.
    /// </summary>
    private static void SolveColumnsInLanes<T>(ArrayView<T> b, ArrayView<T> sT, ArrayView<T> sX, TrsmArgs<T> p, int batch, int slot, int lane, int lanes)
        where T : unmanaged, INumber<T>
    {
        int perGroup = Threads / lanes, col = Grid.IdxX * perGroup + slot;
        bool active = col < p.Count;
        long x0 = p.B.Offset + batch * p.B.BatchStride + Math.Min(col, p.Count - 1);
        for (int i = lane; i < p.N; i += lanes)
            sX[i * Threads + slot] = p.Alpha * b[x0 + (long)i * p.B.Ld];
        Group.Barrier();
        for (int s = 0; s < p.N; s++)
        {
            int i = p.Forward != 0 ? s : p.N - 1 - s;
            int qBegin = p.Forward != 0 ? 0 : i + 1, qEnd = p.Forward != 0 ? i : p.N;
            T v = sX[i * Threads + slot] - RowLanes.Dot(sT, i, sX, slot, Threads, qBegin, qEnd, lane, lanes); // Σ_q op(T)[i, q]·X[q]
            if (p.Unit == 0) v /= sT[Packed(i, i)];
            if (active && lane == i % lanes)
            {
                sX[i * Threads + slot] = v;
                b[x0 + (long)i * p.B.Ld] = v;
            }
        }
    }

    /// <summary>X·op(T) = α·B: group Grid.IdxX solves rows Grid.IdxX·(32 / p.Lanes) … of B, p.Lanes threads per row.</summary>
    internal static void RightKernel<T>(ArrayView<T> t, ArrayView<T> b, TrsmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int rows = Threads / p.Lanes;
        SolveRightRows(t, b, SharedMemory.GetDynamic<T>(), p, Grid.IdxY + p.BatchBase, Grid.IdxX * rows, rows, Group.IdxX, Threads);
    }

    /// <summary>
    /// One group's part of a right solve X·op(T) = α·B: rows <paramref name="row0"/> … row0 +
    /// <paramref name="rows"/> − 1 of B (those that exist; at most 32, the staged rows) of matrix
    /// <paramref name="batch"/>, with p.Lanes threads per row, <paramref name="threads"/> threads
    /// staging (the group's, at least rows · p.Lanes). <paramref name="shared"/> holds
    /// <see cref="SharedElements"/>(p.N) elements. Also run by the blocked Cholesky reverse's fused
    /// step (<see cref="PotrfBackwardPanelGpu"/>) for its panel TRSM. Ends with a barrier before the
    /// stores, none after: a caller reusing the shared memory puts one first.
    /// </summary>
    internal static void SolveRightRows<T>(ArrayView<T> t, ArrayView<T> b, ArrayView<T> shared, TrsmArgs<T> p, int batch, int row0, int rows, int tid, int threads)
        where T : unmanaged, INumber<T>
    {
        int packed = p.N * (p.N + 1) / 2, stride = p.N + 1; // padded rows: no bank conflicts on strided access
        var sT = shared.SubView(0, packed);                 // sT[Packed(q, j)] = op(T)[q, j]
        var sX = shared.SubView(packed, Threads * stride);  // sX[r·stride + j] = X[row0 + r, j]
        int lanes = p.Lanes, perGroup = rows;
        long x0 = p.B.Offset + batch * p.B.BatchStride;
        StageTriangle(t, sT, p, batch, tid, threads, left: false);
        rows = Math.Max(0, Math.Min(perGroup, p.Count - row0));
        int count = rows * p.N;
        for (int e = tid; e < count; e += InFlight * threads) // InFlight = 4 loads in flight, unrolled by hand
        {
            int e1 = e + threads, e2 = e1 + threads, e3 = e2 + threads;
            T v0 = b[x0 + (long)(row0 + e / p.N) * p.B.Ld + e % p.N];
            T v1 = e1 < count ? b[x0 + (long)(row0 + e1 / p.N) * p.B.Ld + e1 % p.N] : T.Zero;
            T v2 = e2 < count ? b[x0 + (long)(row0 + e2 / p.N) * p.B.Ld + e2 % p.N] : T.Zero;
            T v3 = e3 < count ? b[x0 + (long)(row0 + e3 / p.N) * p.B.Ld + e3 % p.N] : T.Zero;
            sX[e / p.N * stride + e % p.N] = p.Alpha * v0;
            if (e1 < count) sX[e1 / p.N * stride + e1 % p.N] = p.Alpha * v1;
            if (e2 < count) sX[e2 / p.N * stride + e2 % p.N] = p.Alpha * v2;
            if (e3 < count) sX[e3 / p.N * stride + e3 % p.N] = p.Alpha * v3;
        }
        Group.Barrier();

        if (lanes > 1)
        {
            if (rows > 0) SubstituteRowsInLanes(sT, sX, p, stride, rows, tid / lanes, tid % lanes, lanes);
        }
        else if (tid < rows)
        {
            int xr = tid * stride;
            for (int s = 0; s < p.N; s++)
            {
                int j = p.Forward != 0 ? s : p.N - 1 - s;
                int qBegin = p.Forward != 0 ? 0 : j + 1, qEnd = p.Forward != 0 ? j : p.N;
                // v = X[r, j] − Σ_q X[r, q]·op(T)[q, j] in four partial sums.
                T v0 = sX[xr + j], v1 = T.Zero, v2 = T.Zero, v3 = T.Zero;
                int q = qBegin;
                for (; q + 4 <= qEnd; q += 4)
                {
                    v0 -= sX[xr + q] * sT[Packed(q, j)];
                    v1 -= sX[xr + q + 1] * sT[Packed(q + 1, j)];
                    v2 -= sX[xr + q + 2] * sT[Packed(q + 2, j)];
                    v3 -= sX[xr + q + 3] * sT[Packed(q + 3, j)];
                }
                for (; q < qEnd; q++)
                    v0 -= sX[xr + q] * sT[Packed(q, j)];
                T v = (v0 + v1) + (v2 + v3);
                if (p.Unit == 0) v /= sT[Packed(j, j)];
                sX[xr + j] = v;
            }
        }
        Group.Barrier();

        for (int e = tid; e < count; e += threads)
        {
            int r = e / p.N, j = e % p.N;
            b[x0 + (long)(row0 + r) * p.B.Ld + j] = sX[r * stride + j];
        }
    }

    /// <summary>
    /// The right solve's substitution with <paramref name="lanes"/> consecutive threads per row of
    /// B: lane l sums X[r, q]·op(T)[q, j] over q ≡ l (mod lanes), two partial sums, the lanes' sums
    /// added with butterfly shuffles; lane j mod lanes writes X[r, j], so every X[r, q] is read
    /// only by the lane that wrote it. Every thread runs every step (the shuffles need the whole
    /// warp), the rows past B's on a row that exists and without writing.
    /// </summary>
    private static void SubstituteRowsInLanes<T>(ArrayView<T> sT, ArrayView<T> sX, TrsmArgs<T> p, int stride, int rows, int r, int lane, int lanes)
        where T : unmanaged, INumber<T>
    {
        bool active = r < rows;
        int xr = Math.Min(r, rows - 1) * stride;
        for (int s = 0; s < p.N; s++)
        {
            int j = p.Forward != 0 ? s : p.N - 1 - s;
            int qBegin = p.Forward != 0 ? 0 : j + 1, qEnd = p.Forward != 0 ? j : p.N;
            T v = sX[xr + j] - RowLanes.Dot(sT, j, sX, xr, 1, qBegin, qEnd, lane, lanes); // Σ_q X[r, q]·op(T)[q, j]
            if (p.Unit == 0) v /= sT[Packed(j, j)];
            if (active && lane == j % lanes) sX[xr + j] = v;
        }
    }

    /// <summary>
    /// Copies the entries of op(T) the solve reads into sT[Packed(i, q)] = op(T)[i, q]: the
    /// off-diagonal entries coupling an unknown to those solved before it (all in one triangle of
    /// op(T), so the packed index is unambiguous), and the diagonal unless it is a unit diagonal.
    /// Nothing else of T is read. Consecutive threads read consecutive stored elements.
    /// </summary>
    private static void StageTriangle<T>(ArrayView<T> t, ArrayView<T> sT, TrsmArgs<T> p, int batch, int tid, int threads, bool left)
        where T : unmanaged, INumber<T>
    {
        long t0 = p.Tri.Offset + batch * p.Tri.BatchStride;
        int count = p.N * p.N;
        for (int e = tid; e < count; e += InFlight * threads) // InFlight = 4 loads in flight, unrolled by hand
        {
            bool k0 = Needed(p, left, e, out int d0, out long s0), k1 = Needed(p, left, e + threads, out int d1, out long s1);
            bool k2 = Needed(p, left, e + 2 * threads, out int d2, out long s2), k3 = Needed(p, left, e + 3 * threads, out int d3, out long s3);
            T v0 = k0 ? t[t0 + s0] : T.Zero, v1 = k1 ? t[t0 + s1] : T.Zero;
            T v2 = k2 ? t[t0 + s2] : T.Zero, v3 = k3 ? t[t0 + s3] : T.Zero;
            if (k0) sT[d0] = v0;
            if (k1) sT[d1] = v1;
            if (k2) sT[d2] = v2;
            if (k3) sT[d3] = v3;
        }
    }

    /// <summary>
    /// Whether element e of the stored block, T[e / N, e % N], is one the solve reads, and where
    /// it goes (its packed index as op(T)[i, q]) and comes from (its offset in the block).
    /// </summary>
    private static bool Needed<T>(TrsmArgs<T> p, bool left, int e, out int packed, out long source) where T : unmanaged, INumber<T>
    {
        int r = e / p.N, c = e % p.N;                                    // stored T[r, c]
        int i = p.Transpose != 0 ? c : r, q = p.Transpose != 0 ? r : c;  // = op(T)[i, q]
        // Left: X[i] needs op(T)[i, q] for q solved before i; right: X[:, q] needs op(T)[i, q] for i solved before q.
        int first = left ? q : i, second = left ? i : q;
        packed = Packed(i, q);
        source = (long)r * p.Tri.Ld + c;
        return e < p.N * p.N && (i == q ? p.Unit == 0 : p.Forward != 0 ? first < second : first > second);
    }
}
