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
    public int LookAhead;  // first apply the previous panel's update (PrevN columns left of the block) to the block's columns
    public int Groups;     // panel groups per matrix (look-ahead launch: the grid's first Groups x indices)
    public int BatchBase;  // first batch element of this launch (look-ahead launch)
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
    /// float64: 63 rows; 38 with the look-ahead's staged slices of the previous panel). More rows
    /// per group mean fewer groups repeating the diagonal factorization.
    /// </summary>
    internal static int PanelRowsFor(int n, int elementSize, bool lookAhead = false)
    {
        int extra = lookAhead ? LookAheadSlice : 0;
        int free = PotrfGpu.SharedBytes / elementSize - PotrfGpu.Packed(n) - extra * n;
        return Math.Max(1, Math.Min(PotrfGpu.GroupSize(n), free / Math.Max(1, n + extra)));
    }

    /// <summary>
    /// Elements of dynamic shared memory: the packed triangle and the group's panel rows (and with
    /// the look-ahead, one slice of the previous panel's columns for the block's rows and the group's).
    /// </summary>
    internal static int SharedElements(int n, int elementSize, bool lookAhead = false)
    {
        int rows = PanelRowsFor(n, elementSize, lookAhead);
        return PotrfGpu.Packed(n) + rows * n + (lookAhead ? LookAheadSlice * (n + rows) : 0);
    }

    /// <summary>Columns of the previous panel the look-ahead update stages at a time.</summary>
    internal const int LookAheadSlice = 16;

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

    /// <summary>
    /// The look-ahead launch (<see cref="LookAheadKernel{T, TMicro, TSlice}"/>): this block's panel
    /// step, with the previous panel's update of its columns when args.LookAhead, and the tiles of
    /// <paramref name="update"/> (M = 0: none; never split along K) under <paramref name="tiling"/>.
    /// </summary>
    internal static void LaunchLookAhead<T>(Device device, ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs args,
        GemmArgs<T> update, GemmTiling tiling, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        bool lookAhead = args.LookAhead != 0;
        args.PanelRows = PanelRowsFor(args.N, size, lookAhead);
        args.Lanes = PotrfGpu.Lanes(device, Math.Max(1, args.Lanes), args.N, "Potrf", GemmGpu.GroupSize);
        args.Groups = 1 + (args.Rows + args.PanelRows - 1) / args.PanelRows;
        update.Splits = 1;
        var launcher = new LookAheadLauncher<T>(device, a, work, info, args, update, batch,
            update.M > 0 ? GemmGpu.Tiles(update, tiling.TileM, tiling.TileN) : 0,
            Math.Max(SharedElements(args.N, size, lookAhead), tiling.SharedElements));
        GemmGpu.Dispatch<T, LookAheadLauncher<T>>(tiling, ref launcher);
    }

    private readonly struct LookAheadLauncher<T>(Device device, ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs args,
        GemmArgs<T> update, int batch, int tiles, int sharedElements) : ITilingLauncher<T>
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        public void Launch<TMicro, TSlice>() where TMicro : struct, IGemmMicroTile<T> where TSlice : struct, IGemmSlice
        {
            var kernel = device.Kernel(LookAheadKernel<T, TMicro, TSlice>,
                acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<int>, PotrfPanelArgs, GemmArgs<T>>(LookAheadKernel<T, TMicro, TSlice>));
            var shared = SharedMemoryConfig.RequestDynamic<T>(sharedElements);
            var p = args;
            var u = update;
            for (int start = 0; start < batch; start += GpuLimits.MaxGridYZ)
            {
                p.BatchBase = u.BatchBase = start;
                var grid = new Index3D(p.Groups + tiles, 1, Math.Min(GpuLimits.MaxGridYZ, batch - start));
                kernel(new KernelConfig(grid, new Index3D(GemmGpu.Threads, GemmGpu.Threads, 1), shared), a, work, info, p, u);
            }
        }
    }


    internal static void Kernel<T>(ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T> =>
        Step(a, work, info, p, Grid.IdxX, Grid.IdxY, Group.IdxX, Group.DimX);

    /// <summary>
    /// The look-ahead launch: the grid's first <see cref="PotrfPanelArgs.Groups"/> x indices run the
    /// panel step (<see cref="Step{T}"/>, with the previous panel's update of the block's columns
    /// when <see cref="PotrfPanelArgs.LookAhead"/>), the others the tiles of the trailing update
    /// <paramref name="u"/> (the previous panel's, right of this block: independent of this panel),
    /// 16×16 threads per group, matrix Grid.IdxZ + BatchBase.
    /// </summary>
    internal static void LookAheadKernel<T, TMicro, TSlice>(ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs p, GemmArgs<T> u)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
        where TMicro : struct, IGemmMicroTile<T>
        where TSlice : struct, IGemmSlice
    {
        TMicro acc = default;
        acc.Declare();
        int x = Grid.IdxX;
        if (x < p.Groups)
        {
            Step(a, work, info, p, Grid.IdxZ + p.BatchBase, x, Group.IdxY * GemmGpu.Threads + Group.IdxX, GemmGpu.GroupSize);
            return;
        }
        x -= p.Groups;
        int cols = (u.N + GemmGpu.Threads * acc.Cols - 1) / (GemmGpu.Threads * acc.Cols);
        GemmGpu.Tile<T, TMicro, TSlice>(a, a, a, a, u, x / cols, x % cols, 0);
    }

    /// <summary>Group <paramref name="g"/> of matrix <paramref name="b"/>'s panel step, thread <paramref name="r"/> of <paramref name="threads"/>.</summary>
    private static void Step<T>(ArrayView<T> a, ArrayView<T> work, ArrayView<int> info, PotrfPanelArgs p, int b, int g, int r, int threads)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int n = p.N, packed = n * (n + 1) / 2;
        var s = shared.SubView(0, packed);               // s[i(i+1)/2 + c] = A[i, c], c ≤ i
        var x = shared.SubView(packed, p.PanelRows * n); // x[c·PanelRows + r] = A21[i0 + r, c]
        int lanes = p.Lanes, row = r / lanes, lane = r - row * lanes; // row's threads: row·lanes … row·lanes + lanes − 1
        long a0 = p.A.Offset + b * p.A.BatchStride, w0 = p.Work.Offset + b * p.Work.BatchStride;
        bool skip = p.Offset > 0 && info[b] != 0; // failed in an earlier block (uniform over the group)
        int panelRows = p.PanelRows, i0 = g > 0 ? (g - 1) * panelRows : 0, rows = g > 0 ? Math.Min(panelRows, p.Rows - i0) : 0;
        long panel = a0 + (long)(n + i0) * p.A.Ld; // A21[i0, 0]

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
            if (p.LookAhead != 0)
            {
                LoadRows(a, panel, p.A.Ld, x, n, panelRows, rows, r, threads);
                Group.Barrier();
                UpdateFromPreviousPanel(a, a0, p, s, x, shared.SubView(packed + panelRows * n), rows, i0, r, threads);
            }
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

        if (!failed)
        {
            if (p.LookAhead == 0)
            {
                LoadRows(a, panel, p.A.Ld, x, n, panelRows, rows, r, threads);
                Group.Barrier();
            }
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

    /// <summary>Stages the group's panel rows: x[c·panelRows + rr] = A21[i0 + rr, c], four loads in flight (unrolled by hand).</summary>
    private static void LoadRows<T>(ArrayView<T> a, long panel, long ld, ArrayView<T> x, int n, int panelRows, int rows, int r, int threads)
        where T : unmanaged, INumber<T>
    {
        int count = rows * n;
        for (int e = r; e < count; e += 4 * threads)
        {
            int e1 = e + threads, e2 = e1 + threads, e3 = e2 + threads;
            T x0 = a[panel + (long)(e / n) * ld + e % n];
            T x1 = e1 < count ? a[panel + (long)(e1 / n) * ld + e1 % n] : T.Zero;
            T x2 = e2 < count ? a[panel + (long)(e2 / n) * ld + e2 % n] : T.Zero;
            T x3 = e3 < count ? a[panel + (long)(e3 / n) * ld + e3 % n] : T.Zero;
            x[e % n * panelRows + e / n] = x0;
            if (e1 < count) x[e1 % n * panelRows + e1 / n] = x1;
            if (e2 < count) x[e2 % n * panelRows + e2 / n] = x2;
            if (e3 < count) x[e3 % n * panelRows + e3 / n] = x3;
        }
    }

    /// <summary>
    /// The look-ahead: the previous panel's update of this block's columns, which the previous
    /// trailing update left out, applied in shared memory before the factor:
    /// A11 −= P·Pᵀ (lower) and the group's rows A21[i0 …] −= Q·Pᵀ, with P the previous panel's
    /// rows in this block and Q its rows in the group's, PrevN columns left of the block, staged
    /// <see cref="LookAheadSlice"/> columns at a time in <paramref name="slice"/>. Ends with a
    /// barrier-free update: the caller's next barrier orders it before the factor.
    /// </summary>
    private static void UpdateFromPreviousPanel<T>(ArrayView<T> a, long a0, PotrfPanelArgs p, ArrayView<T> s, ArrayView<T> x, ArrayView<T> slice,
        int rows, int i0, int r, int threads)
        where T : unmanaged, INumber<T>
    {
        int n = p.N, pr = p.PanelRows, prev = p.PrevN;
        var sp = slice.SubView(0, LookAheadSlice * n);   // sp[qq·n + i] = P[i, q0 + qq]
        var sq = slice.SubView(LookAheadSlice * n);      // sq[qq·pr + rr] = Q[rr, q0 + qq]
        long pBase = a0 - prev, qBase = a0 + (long)(n + i0) * p.A.Ld - prev;
        for (int q0 = 0; q0 < prev; q0 += LookAheadSlice)
        {
            int ks = Math.Min(LookAheadSlice, prev - q0);
            for (int e = r; e < n * ks; e += threads)
            {
                int i = e / ks, qq = e - i * ks;
                sp[qq * n + i] = a[pBase + (long)i * p.A.Ld + q0 + qq];
            }
            for (int e = r; e < rows * ks; e += threads)
            {
                int rr = e / ks, qq = e - rr * ks;
                sq[qq * pr + rr] = a[qBase + (long)rr * p.A.Ld + q0 + qq];
            }
            Group.Barrier();
            for (int e = r; e < n * n; e += threads)
            {
                int i = e / n, c = e - i * n;
                if (c <= i) s[i * (i + 1) / 2 + c] -= SliceDot(sp, i, n, sp, c, n, ks);  // (P·Pᵀ)[i, c]
            }
            for (int e = r; e < rows * n; e += threads)
            {
                int c = e / rows, rr = e - c * rows; // consecutive threads on consecutive rows: x and sq contiguous, sp broadcast
                x[c * pr + rr] -= SliceDot(sq, rr, pr, sp, c, n, ks);                    // (Q·Pᵀ)[rr, c]
            }
            if (q0 + LookAheadSlice < prev) Group.Barrier(); // the next slice overwrites sp and sq
        }
    }

    /// <summary>Σ over qq below count of u[uo + qq·us]·v[vo + qq·vs], in two partial sums (unrolled by hand).</summary>
    private static T SliceDot<T>(ArrayView<T> u, int uo, int us, ArrayView<T> v, int vo, int vs, int count) where T : unmanaged, INumber<T>
    {
        T v0 = T.Zero, v1 = T.Zero;
        int qq = 0;
        for (; qq + 2 <= count; qq += 2)
        {
            v0 += u[uo + qq * us] * v[vo + qq * vs];
            v1 += u[uo + (qq + 1) * us] * v[vo + (qq + 1) * vs];
        }
        if (qq < count) v0 += u[uo + qq * us] * v[vo + qq * vs];
        return v0 + v1;
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
