using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of one fused diagonal-reverse and C̄-update launch of a blocked Cholesky reverse.</summary>
internal struct PotrfBackwardPanelArgs
{
    public MatLayout L;    // the diagonal block T of L
    public MatLayout LBar; // the same block T̄ of the cotangent
    public MatLayout C;    // L's block left of T: [N, Cols]
    public MatLayout CBar; // the cotangent's block left of T̄, updated C̄ −= (T̄ + T̄ᵀ)·C
    public MatLayout Work; // [N, N] per matrix: the reversed T̄, moved into place by the next launch
    public MatLayout Prev; // the previously reversed diagonal block of the cotangent (PrevN > 0)
    public int N;          // order of the diagonal block
    public int PrevN;      // order of the previous block, 0 for none
    public int Cols;       // columns of C (the block's first row), 0 for the first block
    public int Lanes;      // threads per row of the block's reverse and of the panel solve (1, 2 or 4)
    public MatLayout Tri;  // the panel solve's triangle: L's previous diagonal block (the one above and left of T), SolveN > 0
    public MatLayout Solve; // the cotangent's panel below Tri, from this block's first row: B̄ ← B̄·Tri⁻¹; its first N rows are C̄'s last SolveN columns
    public int SolveN;     // order of Tri (the last SolveN columns of C̄ are the panel's), 0: no panel solve
    public int SolveRows;  // rows of Solve: from this block's first row to the matrix's last
}

/// <summary>
/// GPU-tuned step of the blocked Cholesky reverse, one launch per diagonal block: the unblocked
/// reverse of the block (<see cref="PotrfBackwardGpu.Reverse{T}"/>) and C̄ −= (T̄ + T̄ᵀ)·C. Group
/// (b, 0) of matrix b reverses the block and keeps T̄; each group (b, g ≥ 1) reverses it too,
/// redundantly in its own shared memory (the serial chain takes the same time in every group),
/// then updates 32 columns of C̄ with W = T̄ + T̄ᵀ read from its packed Ā and a tile of C staged
/// in shared memory, consecutive threads on consecutive columns. With
/// <see cref="PotrfBackwardPanelArgs.Lanes"/> = 2 or 4 (the tuning table's <c>potrfPanelLanes</c>)
/// the reverse has that many threads per row (<see cref="PotrfBackwardGpu.ReverseInLanes{T}"/>) and
/// the C̄ update as many more threads.
/// <para>
/// The launch also solves the previous block's panel, B̄ ← B̄·T₋₁⁻¹ (T₋₁ the diagonal block above
/// and left of T, <see cref="PotrfBackwardPanelArgs.SolveN"/> > 0), which would otherwise be a
/// TRSM launch of its own between this one and the next GEMM update: its rows below this block are
/// final when the launch starts (the last GEMM update wrote them) and are solved by groups of
/// <see cref="SolveChunk"/> rows (<see cref="TrsmGpu.SolveRightRows{T}"/>) beside the reverse;
/// its rows in this block are C̄'s last SolveN columns, final only after C̄ −= (T̄ + T̄ᵀ)·C, so each
/// "tail" group of SolveChunk of those rows reverses the block, updates its rows of those columns
/// and then solves them. One launch per block instead of two, with the same chain per group.
/// </para>
/// </summary>
/// <remarks>
/// Every group reads T̄ as it was before the launch, so group 0 leaves the reversed block in a
/// workspace when other groups exist; the next launch's group 0 moves it into place (no launch in
/// between reads or writes that block). The first block (no C) has one group and writes directly.
/// </remarks>
internal static class PotrfBackwardPanelGpu
{
    /// <summary>Columns of C̄ one group updates.</summary>
    internal const int PanelCols = 32;

    /// <summary>Rows of the panel solve one group solves (the rows a <see cref="TrsmGpu.SolveRightRows{T}"/> group stages).</summary>
    internal const int SolveChunk = 32;

    /// <summary>Groups per matrix updating C̄'s columns left of the panel solve's (PanelCols each).</summary>
    private static int CGroups(PotrfBackwardPanelArgs p) => (p.Cols - p.SolveN + PanelCols - 1) / PanelCols;

    /// <summary>Groups per matrix updating and solving the panel's rows in this block ("tail" groups).</summary>
    private static int TailGroups(PotrfBackwardPanelArgs p) => p.SolveN > 0 ? (p.N + SolveChunk - 1) / SolveChunk : 0;

    /// <summary>Groups per matrix solving the panel's rows below this block.</summary>
    private static int SolveGroups(PotrfBackwardPanelArgs p) => p.SolveN > 0 ? (p.SolveRows - p.N + SolveChunk - 1) / SolveChunk : 0;

    /// <summary>Where the staged C tile starts: over L's packed triangle (no longer needed) when it fits there.</summary>
    private static int TileOffset(int n) => PanelCols * n <= PotrfGpu.Packed(n) ? 0 : 2 * PotrfGpu.Packed(n);

    /// <summary>Elements of dynamic shared memory: two packed triangles, and the C tile unless it fits over the first.</summary>
    internal static int SharedElements(int n) => Math.Max(2 * PotrfGpu.Packed(n), TileOffset(n) + PanelCols * n);

    /// <summary>Elements of dynamic shared memory with a panel solve against a triangle of order <paramref name="solveN"/> (0: none).</summary>
    internal static int SharedElements(int n, int solveN) => Math.Max(SharedElements(n), solveN > 0 ? TrsmGpu.SharedElements(solveN) : 0);

    internal static void Launch<T>(Device device, ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> work, PotrfBackwardPanelArgs args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, PotrfBackwardPanelArgs, int>(Kernel<T>));
        args.Lanes = PotrfGpu.Lanes(device, Math.Max(1, args.Lanes), args.N, "PotrfBackward");
        if (args.SolveN < 0 || args.SolveN > args.Cols || (args.SolveN > 0 && args.SolveRows < args.N))
            throw new ArgumentException($"PotrfBackward: a panel solve of order {args.SolveN} and {args.SolveRows} rows does not fit a block of order {args.N} with {args.Cols} columns left of it.");
        var grid = new Index3D(batch, 1 + CGroups(args) + TailGroups(args) + SolveGroups(args), 1);
        var group = new Index3D(PotrfGpu.GroupSize(args.N) * args.Lanes, 1, 1);
        kernel(new KernelConfig(grid, group, SharedMemoryConfig.RequestDynamic<T>(SharedElements(args.N, args.SolveN))), l, lbar, work, args, TileOffset(args.N));
    }

    internal static void Kernel<T>(ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> work, PotrfBackwardPanelArgs p, int tileOffset)
        where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int n = p.N, packed = n * (n + 1) / 2;
        var sl = shared.SubView(0, packed);                    // sl[P(i, q)] = L[i, q]
        var sa = shared.SubView(packed, packed);               // sa[P(i, q)] = T̄, then Ā
        var sc = shared.SubView(tileOffset, PanelCols * n);    // sc[q·PanelCols + c] = C[q, c0 + c], after the reverse
        int t = Group.IdxX, threads = Group.DimX, b = Grid.IdxX, g = Grid.IdxY;
        int cGroups = CGroups(p), tail = 1 + cGroups, below = tail + TailGroups(p);
        var solve = new TrsmArgs<T> { Tri = p.Tri, B = p.Solve, N = p.SolveN, Count = p.SolveRows, Alpha = T.One, Lanes = p.Lanes }; // B̄·T₋₁⁻¹: lower, backward
        if (g >= below)
        {
            // The panel's rows below this block: final before the launch, independent of the reverse.
            TrsmGpu.SolveRightRows(l, lbar, shared, solve, b, n + (g - below) * SolveChunk, SolveChunk, t, threads);
            return;
        }
        long l0 = p.L.Offset + b * p.L.BatchStride, a0 = p.LBar.Offset + b * p.LBar.BatchStride;
        long w0 = p.Work.Offset + b * p.Work.BatchStride;

        if (g == 0 && p.PrevN > 0)
        {
            PotrfGpu.CopyLower(work, w0, p.Work.Ld, lbar, p.Prev.Offset + b * p.Prev.BatchStride, p.Prev.Ld, p.PrevN, t, threads);
            Group.Barrier();
        }

        PotrfGpu.LoadLowerPacked(l, l0, p.L.Ld, n, sl, t, threads);
        PotrfGpu.LoadLowerPacked(lbar, a0, p.LBar.Ld, n, sa, t, threads);
        Group.Barrier();
        if (p.Lanes == 1) PotrfBackwardGpu.Reverse(sl, sa, n, t);
        else PotrfBackwardGpu.ReverseInLanes(sl, sa, n, t / p.Lanes, t % p.Lanes, p.Lanes);

        if (g == 0)
        {
            for (int e = t; e < n * n; e += threads)
            {
                int i = e / n, q = e % n;
                if (q > i) continue;
                if (p.Cols == 0) lbar[a0 + (long)i * p.LBar.Ld + q] = sa[i * (i + 1) / 2 + q];
                else work[w0 + (long)i * p.Work.Ld + q] = sa[i * (i + 1) / 2 + q];
            }
            return;
        }

        if (g < tail)
        {
            int c0 = (g - 1) * PanelCols;
            UpdateCBar(l, lbar, sa, sc, p, b, c0, Math.Min(PanelCols, p.Cols - p.SolveN - c0), 0, n, t, threads);
            return;
        }

        // A tail group: rows i0 … i1 − 1 of the panel's last SolveN columns of C̄, updated, then solved.
        int i0 = (g - tail) * SolveChunk, i1 = Math.Min(n, i0 + SolveChunk);
        for (int c0 = p.Cols - p.SolveN; c0 < p.Cols; c0 += PanelCols)
        {
            UpdateCBar(l, lbar, sa, sc, p, b, c0, Math.Min(PanelCols, p.Cols - c0), i0, i1, t, threads);
            Group.Barrier(); // the updated rows are read below, and the next pass restages the C tile
        }
        TrsmGpu.SolveRightRows(l, lbar, shared, solve, b, i0, i1 - i0, t, threads);
    }

    /// <summary>
    /// C̄[i, c0 + c] −= ((T̄ + T̄ᵀ)·C)[i, c0 + c] for rows <paramref name="iBegin"/> … iEnd − 1 and
    /// <paramref name="cols"/> ≤ PanelCols columns, with W = T̄ + T̄ᵀ read from the packed Ā in
    /// <paramref name="sa"/> and the tile of C staged in <paramref name="sc"/>, consecutive threads on
    /// consecutive columns. Starts with a barrier-ended staging; no barrier at the end.
    /// </summary>
    private static void UpdateCBar<T>(ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> sa, ArrayView<T> sc, PotrfBackwardPanelArgs p,
        int b, int c0, int cols, int iBegin, int iEnd, int t, int threads)
        where T : unmanaged, INumber<T>
    {
        int n = p.N;
        long cl = p.C.Offset + b * p.C.BatchStride + c0, cb = p.CBar.Offset + b * p.CBar.BatchStride + c0;
        int tile = n * PanelCols;
        for (int e = t; e < tile; e += 4 * threads) // four loads in flight, unrolled by hand
        {
            int e1 = e + threads, e2 = e1 + threads, e3 = e2 + threads;
            bool k0 = e % PanelCols < cols, k1 = e1 < tile && e1 % PanelCols < cols;
            bool k2 = e2 < tile && e2 % PanelCols < cols, k3 = e3 < tile && e3 % PanelCols < cols;
            T x0 = k0 ? l[cl + (long)(e / PanelCols) * p.C.Ld + e % PanelCols] : T.Zero;
            T x1 = k1 ? l[cl + (long)(e1 / PanelCols) * p.C.Ld + e1 % PanelCols] : T.Zero;
            T x2 = k2 ? l[cl + (long)(e2 / PanelCols) * p.C.Ld + e2 % PanelCols] : T.Zero;
            T x3 = k3 ? l[cl + (long)(e3 / PanelCols) * p.C.Ld + e3 % PanelCols] : T.Zero;
            sc[e] = x0;
            if (e1 < tile) sc[e1] = x1;
            if (e2 < tile) sc[e2] = x2;
            if (e3 < tile) sc[e3] = x3;
        }
        Group.Barrier();

        int col = t % PanelCols;
        if (col >= cols) return;
        T two = T.One + T.One;
        for (int i = iBegin + t / PanelCols; i < iEnd; i += threads / PanelCols)
        {
            // (W·C)[i, col], W[i, q] = Ā[max, min], doubled on the diagonal.
            // Two partial sums per part, unrolled by hand: half the dependent chain.
            T acc0 = T.Zero, acc1 = T.Zero;
            int ri = i * (i + 1) / 2;
            int q = 0;
            for (; q + 2 <= i; q += 2)
            {
                acc0 += sa[ri + q] * sc[q * PanelCols + col];
                acc1 += sa[ri + q + 1] * sc[(q + 1) * PanelCols + col];
            }
            if (q < i) acc0 += sa[ri + q] * sc[q * PanelCols + col];
            acc1 += two * sa[ri + i] * sc[i * PanelCols + col];
            int qi = (i + 1) * (i + 2) / 2 + i; // Ā[q, i], stepping down column i
            q = i + 1;
            for (; q + 2 <= n; q += 2)
            {
                int qi1 = qi + q + 1;
                acc0 += sa[qi] * sc[q * PanelCols + col];
                acc1 += sa[qi1] * sc[(q + 1) * PanelCols + col];
                qi = qi1 + q + 2;
            }
            if (q < n) acc0 += sa[qi] * sc[q * PanelCols + col];
            long o = cb + (long)i * p.CBar.Ld + col;
            lbar[o] -= acc0 + acc1;
        }
    }
}
