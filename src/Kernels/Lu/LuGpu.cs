using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// GPU-tuned LU kernels. The panel is factored by one group of up to 256 threads per matrix;
/// the pivot search is a fixed-order two-level reduction in shared memory (32 lanes fold up to
/// 8 partials each, then every thread folds the 32 lanes, so all threads hold the pivot without
/// a broadcast step). Each column costs three barriers: interchange and scaling, rank-1 update
/// (which also gathers the next column's pivot candidates), and the lane fold. Interchanges
/// outside the panel and the U12 solve run one thread per column, L11 staged in shared memory.
/// </summary>
internal static class LuGpu
{
    internal const int PanelWidth = 32;
    private const int PanelGroup = 256, Lanes = 32;
    private const int SolveGroup = 128;

    internal static void Panel<T>(Device device, ArrayView<T> a, ArrayView<int> pivots, ArrayView<int> info, LuArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(PanelKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<int>, ArrayView<int>, LuArgs<T>>(PanelKernel<T>));
        // As many whole warps as the panel has rows, up to 256: a short panel wastes no threads
        // (and its barriers cost less).
        int rows = args.N - args.K0;
        int group = Math.Min(PanelGroup, (rows + Lanes - 1) / Lanes * Lanes);
        kernel(new KernelConfig(new Index3D(batch, 1, 1), new Index3D(group, 1, 1)), a, pivots, info, args);
    }

    /// <summary>
    /// Factors the panel rows [K0, N) × columns [K0, K0 + Nb) of matrix Grid.IdxX, swapping rows
    /// inside the panel only. Logical row i of the panel is global row K0 + i.
    /// </summary>
    internal static void PanelKernel<T>(ArrayView<T> a, ArrayView<int> pivots, ArrayView<int> info, LuArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        var partialV = SharedMemory.Allocate<T>(PanelGroup);
        var partialI = SharedMemory.Allocate<int>(PanelGroup);
        var laneV = SharedMemory.Allocate<T>(Lanes);
        var laneI = SharedMemory.Allocate<int>(Lanes);
        var diagonal = SharedMemory.Allocate<T>(1); // (c, c) before column c's interchange
        int t = Group.IdxX, g = Group.DimX, b = Grid.IdxX;
        int m = p.N - p.K0, nb = p.Nb;
        long ld = p.A.Ld;
        long top = p.A.At(b, p.K0, p.K0);
        long pivotBase = (long)b * p.N + p.K0;

        T bestV = T.Zero;
        int bestI = LuPivot.None;
        for (int i = t; i < m; i += g)
        {
            T v = a[top + i * ld];
            if (LuPivot.Better(v, i, bestV, bestI, p.MaxFinite)) { bestV = v; bestI = i; }
        }
        if (t == 0) diagonal[0] = a[top];
        partialV[t] = bestV;
        partialI[t] = bestI;
        Group.Barrier();

        for (int c = 0; c < nb; c++)
        {
            if (t < Lanes)
            {
                T v = partialV[t];
                int vi = partialI[t];
                for (int r = 1; r < g / Lanes; r++)
                {
                    T u = partialV[t + r * Lanes];
                    int ui = partialI[t + r * Lanes];
                    if (LuPivot.Better(u, ui, v, vi, p.MaxFinite)) { v = u; vi = ui; }
                }
                laneV[t] = v;
                laneI[t] = vi;
            }
            Group.Barrier();
            T pv = laneV[0];
            int pi = laneI[0];
            for (int r = 1; r < Lanes; r++)
            {
                T u = laneV[r];
                int ui = laneI[r];
                if (LuPivot.Better(u, ui, pv, pi, p.MaxFinite)) { pv = u; pi = ui; }
            }
            T oldDiagonal = diagonal[0];
            bool zero = pv == T.Zero;
            if (t == 0)
            {
                pivots[pivotBase + c] = p.K0 + pi;
                if (info[b] == 0 && LuPivot.Singular(pv, p.MaxFinite)) info[b] = p.K0 + c + 1;
                a[top + c * ld + c] = pv;
            }
            // Interchange rows c and pi off column c; entry (pi, c) takes the old (c, c) in the
            // scaling loop, so no element is both read and written by different threads here.
            if (pi != c && t < nb && t != c)
            {
                long rc = top + c * ld + t, rp = top + pi * ld + t;
                T x = a[rc];
                a[rc] = a[rp];
                a[rp] = x;
            }
            for (int i = c + 1 + t; i < m; i += g)
            {
                long e = top + i * ld + c;
                T v = i == pi ? oldDiagonal : a[e];
                a[e] = zero ? v : v / pv; // a zero pivot has a zero column below it: leave it
            }
            Group.Barrier();

            // Rank-1 update of rows (c, m) × columns (c, nb) by a rowsPerPass × w thread grid;
            // column c + 1's new values are the next pivot's candidates.
            int w = nb - c - 1;
            bestV = T.Zero;
            bestI = LuPivot.None;
            if (w > 0)
            {
                int rowsPerPass = g / w, tr = t / w, j = c + 1 + t % w;
                if (tr < rowsPerPass)
                {
                    T u = a[top + c * ld + j];
                    for (int i = c + 1 + tr; i < m; i += rowsPerPass)
                    {
                        long row = top + i * ld;
                        T v = a[row + j] - a[row + c] * u;
                        a[row + j] = v;
                        if (j == c + 1)
                        {
                            if (LuPivot.Better(v, i, bestV, bestI, p.MaxFinite)) { bestV = v; bestI = i; }
                            if (i == c + 1) diagonal[0] = v;
                        }
                    }
                }
            }
            partialV[t] = bestV;
            partialI[t] = bestI;
            Group.Barrier();
        }
    }

    internal static void SwapAndSolveRows<T>(Device device, ArrayView<T> a, ArrayView<int> pivots, LuArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        int columns = args.N - args.Nb;
        int blocks = (columns + SolveGroup - 1) / SolveGroup;
        if ((long)blocks * batch > GpuLimits.MaxGridX) throw new ArgumentException($"Getrf: {(long)blocks * batch} thread groups exceed one launch.");
        var kernel = device.Kernel(SwapAndSolveKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<int>, LuArgs<T>, int>(SwapAndSolveKernel<T>));
        kernel(new KernelConfig(new Index3D(blocks * batch, 1, 1), new Index3D(SolveGroup, 1, 1)), a, pivots, args, blocks);
    }

    /// <summary>
    /// One thread per column j outside the panel: applies the panel's interchanges to column j
    /// and, right of the panel, solves L11·x = column j's rows [K0, K0 + Nb) (U12 = L11⁻¹·A12).
    /// L11 and the column are staged in shared memory (the column transposed: thread-major, so
    /// the threads of a warp touch consecutive words).
    /// </summary>
    internal static void SwapAndSolveKernel<T>(ArrayView<T> a, ArrayView<int> pivots, LuArgs<T> p, int blocks)
        where T : unmanaged, INumber<T>
    {
        var l11 = SharedMemory.Allocate<T>(PanelWidth * PanelWidth);
        var x = SharedMemory.Allocate<T>(PanelWidth * SolveGroup); // x[q·SolveGroup + t] = row q of thread t's column
        var pivot = SharedMemory.Allocate<int>(PanelWidth);
        int t = Group.IdxX, b = Grid.IdxX / blocks, block = Grid.IdxX % blocks;
        int nb = p.Nb, k0 = p.K0, m = p.N - k0;
        long ld = p.A.Ld;
        long top = p.A.At(b, k0, k0);
        for (int e = t; e < nb * nb; e += SolveGroup)
        {
            int i = e / nb, q = e % nb;
            l11[i * PanelWidth + q] = a[top + i * ld + q];
        }
        if (t < nb) pivot[t] = pivots[(long)b * p.N + k0 + t] - k0;
        Group.Barrier();

        int jj = block * SolveGroup + t;
        if (jj >= p.N - nb) return;
        int j = jj < k0 ? jj : jj + nb;
        long column = p.A.At(b, k0, j);
        for (int c = 0; c < nb; c++)
        {
            int r = pivot[c];
            if (r > c && r < m)
            {
                T v = a[column + c * ld];
                a[column + c * ld] = a[column + r * ld];
                a[column + r * ld] = v;
            }
        }
        if (j < k0) return;

        for (int q = 0; q < nb; q++) x[q * SolveGroup + t] = a[column + q * ld];
        for (int i = 1; i < nb; i++)
        {
            T s = x[i * SolveGroup + t];
            for (int q = 0; q < i; q++) s -= l11[i * PanelWidth + q] * x[q * SolveGroup + t];
            x[i * SolveGroup + t] = s;
            a[column + i * ld] = s;
        }
    }

    internal static void Laswp<T>(Device device, ArrayView<T> x, ArrayView<int> pivots, SwapArgs args, int batch)
        where T : unmanaged, INumber<T>
    {
        long count = (long)batch * args.Lines;
        if (count > int.MaxValue) throw new ArgumentException($"Laswp: {count} lines exceed one launch.");
        var kernel = device.Kernel(LaswpKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, SwapArgs>(LaswpKernel<T>));
        kernel((int)count, x, pivots, args);
    }

    /// <summary>
    /// One thread per line (a column of X for row interchanges, consecutive threads on
    /// consecutive addresses; a row of X for column interchanges), applying the interchanges in order.
    /// </summary>
    internal static void LaswpKernel<T>(Index1D index, ArrayView<T> x, ArrayView<int> pivots, SwapArgs p)
        where T : unmanaged, INumber<T>
    {
        int line = index % p.Lines, b = index / p.Lines;
        long start = p.Columns == 0 ? p.X.At(b, 0, line) : p.X.At(b, line, 0);
        long step = p.Columns == 0 ? p.X.Ld : 1;
        long pivotBase = b * p.PivotStride;
        for (int s = p.K1; s < p.K2; s++)
        {
            int k = p.Backward == 0 ? s : p.K1 + p.K2 - 1 - s;
            int r = pivots[pivotBase + k];
            if (r == k || r < 0 || r >= p.Order) continue;
            long ek = start + k * step, er = start + r * step;
            T v = x[ek];
            x[ek] = x[er];
            x[er] = v;
        }
    }
}
