using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of one fused diagonal-factor and panel-solve launch of a blocked Cholesky.</summary>
internal struct PotrfPanelArgs
{
    public MatLayout A;    // the diagonal block: its (0, 0) is the block's corner; the panel is below it
    public MatLayout Work; // [N, N] per matrix: the factored diagonal block, moved into place by the next launch
    public MatLayout Prev; // the previous diagonal block (PrevN > 0): copied from Work before Work is rewritten
    public int N;          // order of the diagonal block
    public int PrevN;      // order of the previous diagonal block, 0 for the first
    public int Rows;       // rows of the panel below the block (and columns right of it, cleared)
    public int Offset;     // the block's first row in the whole matrix: a failure at local column j is minor Offset + j + 1
    public int PanelRows;  // panel rows one group solves (PotrfPanelGpu.PanelRowsFor)
    public int Lanes;      // threads per row (1, 2 or 4) in the factor and the panel solve
}

/// <summary>
/// GPU-tuned step of a blocked Cholesky, one launch per diagonal block: the block's factor
/// L11, the panel L21 = A21·L11⁻ᵀ below it, and the zeros above the diagonal in its rows.
/// Group (b, 0) of matrix b factors the diagonal block (as <see cref="PotrfGpu"/>) and records
/// info; each group (b, g ≥ 1) factors it too, redundantly in its own shared memory — the serial
/// chain costs the same time in every group, and no second launch waits for the first — then
/// solves up to one row per thread of the panel (<see cref="PanelRowsFor"/>: forward substitution
/// against L11 in shared memory) and clears the columns of the block's rows that mirror them.
/// With <see cref="PotrfPanelArgs.Lanes"/> = 2 or 4 (the tuning table's <c>potrfPanelLanes</c>)
/// each row has that many consecutive threads: the factor's row updates are split between them
/// (the same factor, bitwise), and each substitution's sum is split and added with warp shuffles,
/// so the serial chains that bound this kernel on a GPU get shorter and the group more warps.
/// </summary>
/// <remarks>
/// Every group reads A11 as it was before the launch, so group 0 cannot overwrite it: it leaves
/// L11 in a [N, N] workspace, and the next launch's group 0 copies it into place (the last block
/// has no panel, so it writes its factor directly). A matrix that failed in an earlier block
/// (info ≠ 0) is skipped — its later blocks keep their values — but its upper triangle is still
/// cleared. A group that reads info while group 0 records a failure in the same launch either
/// skips or fails the same way: the outcome does not depend on timing.
/// </remarks>
internal static class PotrfPanelGpu
{
    /// <summary>
    /// Panel rows one group solves for diagonal blocks of order n: one per thread of the group, as
    /// far as the packed triangle and the rows fit the 48 KiB of shared memory (blocks of 64 in
    /// float64: 63 rows). More rows per group mean fewer groups repeating the diagonal factorization.
    /// </summary>
    internal static int PanelRowsFor(int n, int elementSize) =>
        Math.Max(1, Math.Min(PotrfGpu.GroupSize(n), (PotrfGpu.SharedBytes / elementSize - PotrfGpu.Packed(n)) / Math.Max(1, n)));

    /// <summary>Elements of dynamic shared memory: the packed triangle and the group's panel rows.</summary>
    internal static int SharedElements(int n, int elementSize) => PotrfGpu.Packed(n) + PanelRowsFor(n, elementSize) * n;

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs args, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<int>, PotrfPanelArgs>(Kernel<T>));
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        args.PanelRows = PanelRowsFor(args.N, size);
        args.Lanes = PotrfGpu.Lanes(device, Math.Max(1, args.Lanes), args.N, "Potrf");
        var grid = new Index3D(batch, 1 + (args.Rows + args.PanelRows - 1) / args.PanelRows, 1);
        var group = new Index3D(PotrfGpu.GroupSize(args.N) * args.Lanes, 1, 1);
        kernel(new KernelConfig(grid, group, SharedMemoryConfig.RequestDynamic<T>(SharedElements(args.N, size))), a, work, info, args);
    }

    internal static void Kernel<T>(ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int n = p.N, packed = n * (n + 1) / 2;
        var s = shared.SubView(0, packed);               // s[i(i+1)/2 + c] = A[i, c], c ≤ i
        var x = shared.SubView(packed, p.PanelRows * n); // x[c·PanelRows + r] = A21[i0 + r, c]
        int r = Group.IdxX, threads = Group.DimX, b = Grid.IdxX, g = Grid.IdxY;
        int lanes = p.Lanes, row = r / lanes, lane = r - row * lanes; // row's threads: row·lanes … row·lanes + lanes − 1
        long a0 = p.A.Offset + b * p.A.BatchStride, w0 = p.Work.Offset + b * p.Work.BatchStride;
        bool skip = p.Offset > 0 && info[b] != 0; // failed in an earlier block (uniform over the group)

        if (g == 0 && p.PrevN > 0)
        {
            // The previous block's factor, left in the workspace by the previous launch.
            PotrfGpu.CopyLower(work, w0, p.Work.Ld, a, p.Prev.Offset + b * p.Prev.BatchStride, p.Prev.Ld, p.PrevN, r, threads);
            Group.Barrier();
        }

        bool failed = skip;
        if (!skip)
        {
            PotrfGpu.LoadLowerPacked(a, a0, p.A.Ld, n, s, r, threads);
            Group.Barrier();
            int failedColumn = PotrfGpu.Factor(s, n, row, lane, lanes);
            failed = failedColumn >= 0;
            if (failed && g == 0 && r == 0) info[b] = p.Offset + failedColumn + 1;
            if (!failed && g == 0 && r == 0 && p.Offset == 0)
                info[b] = 0;
            Group.Barrier();
        }

        if (g == 0)
        {
            for (int e = r; e < n * n; e += threads)
            {
                int i = e / n, c = e % n;
                if (c > i)
                    a[a0 + (long)i * p.A.Ld + c] = T.Zero;
                else if (!skip && p.Rows == 0)
                    a[a0 + (long)i * p.A.Ld + c] = s[i * (i + 1) / 2 + c];
                else if (!skip)
                    work[w0 + (long)i * p.Work.Ld + c] = s[i * (i + 1) / 2 + c];
            }
            return;
        }

        int panelRows = p.PanelRows, i0 = (g - 1) * panelRows, rows = Math.Min(panelRows, p.Rows - i0);
        long panel = a0 + (long)(n + i0) * p.A.Ld; // A21[i0, 0]
        if (!failed)
        {
            int count = rows * n;
            for (int e = r; e < count; e += 4 * threads) // four loads in flight, unrolled by hand
            {
                int e1 = e + threads, e2 = e1 + threads, e3 = e2 + threads;
                T x0 = a[panel + (long)(e / n) * p.A.Ld + e % n];
                T x1 = e1 < count ? a[panel + (long)(e1 / n) * p.A.Ld + e1 % n] : T.Zero;
                T x2 = e2 < count ? a[panel + (long)(e2 / n) * p.A.Ld + e2 % n] : T.Zero;
                T x3 = e3 < count ? a[panel + (long)(e3 / n) * p.A.Ld + e3 % n] : T.Zero;
                x[e % n * panelRows + e / n] = x0;
                if (e1 < count) x[e1 % n * panelRows + e1 / n] = x1;
                if (e2 < count) x[e2 % n * panelRows + e2 / n] = x2;
                if (e3 < count) x[e3 % n * panelRows + e3 / n] = x3;
            }
            Group.Barrier();
            if (lanes == 1)
            {
                if (r < rows)
                {
                    // x·L11ᵀ = a21: x_j = (a_j − Σ_{q<j} x_q·L[j, q]) / L[j, j], the sum in four partial sums
                    for (int j = 0; j < n; j++)
                    {
                        int rj = j * (j + 1) / 2;
                        T v0 = x[j * panelRows + r], v1 = T.Zero, v2 = T.Zero, v3 = T.Zero;
                        int q = 0;
                        for (; q + 4 <= j; q += 4)
                        {
                            v0 -= x[q * panelRows + r] * s[rj + q];
                            v1 -= x[(q + 1) * panelRows + r] * s[rj + q + 1];
                            v2 -= x[(q + 2) * panelRows + r] * s[rj + q + 2];
                            v3 -= x[(q + 3) * panelRows + r] * s[rj + q + 3];
                        }
                        for (; q < j; q++)
                            v0 -= x[q * panelRows + r] * s[rj + q];
                        x[j * panelRows + r] = ((v0 + v1) + (v2 + v3)) / s[rj + j];
                    }
                }
            }
            else
                SolveRowsInLanes(x, s, n, panelRows, rows, row, lane, lanes);
            Group.Barrier();
            for (int e = r; e < rows * n; e += threads)
            {
                int rr = e / n, c = e % n;
                a[panel + (long)rr * p.A.Ld + c] = x[c * panelRows + rr];
            }
        }

        // The mirror of these panel rows above the diagonal: A[0..N, N + i0 .. N + i0 + rows] = 0.
        for (int e = r; e < n * rows; e += threads)
        {
            int i = e / rows, c = e % rows;
            a[a0 + (long)i * p.A.Ld + n + i0 + c] = T.Zero;
        }
    }

    /// <summary>
    /// The panel solve x·L11ᵀ = a21 with <paramref name="lanes"/> consecutive threads per row
    /// (<see cref="RowLanes.Dot"/>); lane j mod lanes, which alone reads x_j later, writes it. Every
    /// thread runs every step (a shuffle needs the whole warp), the rows past the panel on a row
    /// that exists and without writing.
    /// </summary>
    private static void SolveRowsInLanes<T>(ArrayView<T> x, ArrayView<T> s, int n, int panelRows, int rows, int row, int lane, int lanes)
        where T : unmanaged, INumber<T>
    {
        bool active = row < rows;
        int rr = Math.Min(row, rows - 1);
        for (int j = 0; j < n; j++)
        {
            T v = RowLanes.Dot(s, j, x, rr, panelRows, 0, j, lane, lanes); // Σ_{q<j} L[j, q]·x_q
            if (active && lane == j % lanes)
                x[j * panelRows + rr] = (x[j * panelRows + rr] - v) / s[j * (j + 1) / 2 + j];
        }
    }
}
