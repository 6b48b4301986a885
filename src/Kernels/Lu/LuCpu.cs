using System.Runtime.CompilerServices;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned LU kernels: no barriers, raw pointers taken once per thread. The panel is
/// factored by one thread per matrix in a single sweep per column (scale, update the row,
/// and gather the next column's pivot candidate while the row is in cache); interchanges and
/// the U12 solve run one thread per block of columns; the trailing update is the CPU GEMM.
/// </summary>
internal static class LuCpu
{
    internal const int PanelWidth = 64;
    private const int ColumnBlock = 64;

    internal static void Panel<T>(Device device, ArrayView<T> a, ArrayView<int> pivots, ArrayView<int> info, LuArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(PanelKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, ArrayView<int>, LuArgs<T>>(PanelKernel<T>));
        kernel(batch, a, pivots, info, args);
    }

    /// <summary>Factors the panel rows [K0, N) × columns [K0, K0 + Nb) of matrix b (unblocked, right-looking).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PanelKernel<T>(Index1D index, ArrayView<T> a, ArrayView<int> pivots, ArrayView<int> info, LuArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int b = index;
        fixed (T* a0 = &a[0L])
        fixed (int* pivots0 = &pivots[0L])
        fixed (int* info0 = &info[0L])
        {
            long ld = p.A.Ld;
            T* top = a0 + p.A.At(b, p.K0, p.K0);
            int* pivot = pivots0 + (long)b * p.N + p.K0;
            int m = p.N - p.K0, nb = p.Nb;

            int best = LuPivot.None;
            T bestV = T.Zero;
            for (int i = 0; i < m; i++)
            {
                T v = top[i * ld];
                if (LuPivot.Better(v, i, bestV, best, p.MaxFinite)) { bestV = v; best = i; }
            }
            for (int c = 0; c < nb; c++)
            {
                int pi = best;
                T pv = bestV;
                pivot[c] = p.K0 + pi;
                if (info0[b] == 0 && LuPivot.Singular(pv, p.MaxFinite)) info0[b] = p.K0 + c + 1;
                T* rc = top + c * ld;
                if (pi != c)
                {
                    T* rp = top + pi * ld;
                    for (int j = 0; j < nb; j++)
                    {
                        T x = rc[j];
                        rc[j] = rp[j];
                        rp[j] = x;
                    }
                }
                bool zero = pv == T.Zero; // then the column below is zero: leave it
                best = LuPivot.None;
                bestV = T.Zero;
                for (int i = c + 1; i < m; i++)
                {
                    T* ri = top + i * ld;
                    T l = zero ? ri[c] : ri[c] / pv;
                    ri[c] = l;
                    for (int j = c + 1; j < nb; j++) ri[j] = ri[j] - l * rc[j];
                    if (c + 1 < nb && LuPivot.Better(ri[c + 1], i, bestV, best, p.MaxFinite)) { bestV = ri[c + 1]; best = i; }
                }
            }
        }
    }

    internal static void SwapAndSolveRows<T>(Device device, ArrayView<T> a, ArrayView<int> pivots, LuArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        int leftBlocks = (args.K0 + ColumnBlock - 1) / ColumnBlock;
        int rightBlocks = (args.N - args.K0 - args.Nb + ColumnBlock - 1) / ColumnBlock;
        int blocks = leftBlocks + rightBlocks;
        long tasks = (long)blocks * batch;
        if (tasks > int.MaxValue) throw new ArgumentException($"Getrf: {tasks} column blocks exceed one launch.");
        var kernel = device.Kernel(SwapAndSolveKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, LuArgs<T>, int, int>(SwapAndSolveKernel<T>));
        kernel((int)tasks, a, pivots, args, leftBlocks, blocks);
    }

    /// <summary>
    /// One thread per block of up to 64 columns outside the panel of matrix b: applies the
    /// panel's interchanges to those columns and, right of the panel, solves U12 = L11⁻¹·A12
    /// row by row (row i −= L11[i, q]·row q, q &lt; i, contiguous row segments).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SwapAndSolveKernel<T>(Index1D task, ArrayView<T> a, ArrayView<int> pivots, LuArgs<T> p, int leftBlocks, int blocks)
        where T : unmanaged, INumber<T>
    {
        int b = task / blocks, block = task % blocks;
        int k0 = p.K0, nb = p.Nb, m = p.N - k0;
        bool left = block < leftBlocks;
        int j0 = left ? block * ColumnBlock : k0 + nb + (block - leftBlocks) * ColumnBlock;
        int j1 = Math.Min(j0 + ColumnBlock, left ? k0 : p.N);
        fixed (T* a0 = &a[0L])
        fixed (int* pivots0 = &pivots[0L])
        {
            long ld = p.A.Ld;
            T* top = a0 + p.A.At(b, k0, 0);
            int* pivot = pivots0 + (long)b * p.N + k0;
            for (int c = 0; c < nb; c++)
            {
                int r = pivot[c] - k0;
                if (r <= c || r >= m) continue;
                T* x = top + c * ld;
                T* y = top + r * ld;
                for (int j = j0; j < j1; j++)
                {
                    T v = x[j];
                    x[j] = y[j];
                    y[j] = v;
                }
            }
            if (left) return;
            T* l11 = top + k0;
            for (int i = 1; i < nb; i++)
            {
                T* xi = top + i * ld;
                for (int q = 0; q < i; q++)
                {
                    T l = l11[i * ld + q];
                    T* xq = top + q * ld;
                    for (int j = j0; j < j1; j++) xi[j] = xi[j] - l * xq[j];
                }
            }
        }
    }

    internal static void Laswp<T>(Device device, ArrayView<T> x, ArrayView<int> pivots, SwapArgs args, int batch)
        where T : unmanaged, INumber<T>
    {
        int blocksPerMatrix = (args.Lines + ColumnBlock - 1) / ColumnBlock;
        long tasks = (long)blocksPerMatrix * batch;
        if (tasks > int.MaxValue) throw new ArgumentException($"Laswp: {tasks} blocks exceed one launch.");
        var kernel = device.Kernel(LaswpKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, SwapArgs, int>(LaswpKernel<T>));
        kernel((int)tasks, x, pivots, args, blocksPerMatrix);
    }

    /// <summary>
    /// One thread per block of up to 64 lines of matrix b. Row interchanges swap contiguous row
    /// segments; column interchanges walk each row of the block through the whole sequence.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void LaswpKernel<T>(Index1D task, ArrayView<T> x, ArrayView<int> pivots, SwapArgs p, int blocksPerMatrix)
        where T : unmanaged, INumber<T>
    {
        int b = task / blocksPerMatrix, l0 = task % blocksPerMatrix * ColumnBlock;
        int l1 = Math.Min(l0 + ColumnBlock, p.Lines);
        fixed (T* x0 = &x[0L])
        fixed (int* pivots0 = &pivots[0L])
        {
            long ld = p.X.Ld;
            T* m = x0 + p.X.At(b, 0, 0);
            int* pivot = pivots0 + b * p.PivotStride;
            if (p.Columns == 0)
            {
                for (int s = p.K1; s < p.K2; s++)
                {
                    int k = p.Backward == 0 ? s : p.K1 + p.K2 - 1 - s;
                    int r = pivot[k];
                    if (r == k || r < 0 || r >= p.Order) continue;
                    T* rk = m + k * ld;
                    T* rr = m + r * ld;
                    for (int j = l0; j < l1; j++)
                    {
                        T v = rk[j];
                        rk[j] = rr[j];
                        rr[j] = v;
                    }
                }
            }
            else
            {
                for (int i = l0; i < l1; i++)
                {
                    T* row = m + i * ld;
                    for (int s = p.K1; s < p.K2; s++)
                    {
                        int k = p.Backward == 0 ? s : p.K1 + p.K2 - 1 - s;
                        int r = pivot[k];
                        if (r == k || r < 0 || r >= p.Order) continue;
                        T v = row[k];
                        row[k] = row[r];
                        row[r] = v;
                    }
                }
            }
        }
    }
}
