using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of one dataflow launch (<see cref="PotrfDataflowGpu"/>).</summary>
internal struct DataflowArgs
{
    public MatLayout A;     // factor: the matrices, factored in place; product and solves: L
    public MatLayout B;     // product: L̄; solves: the right-hand sides M (HalfSymmetric) or Y₁ (read transposed)
    public MatLayout X;     // product: M; solves: the solution
    public int N;           // order of the matrices
    public int Tile;        // order of the tiles (8, 16 or 32)
    public int Tiles;       // tiles per side, ⌈N / Tile⌉
    public int Batch;       // matrices
    public int Tasks;       // tasks of the launch: Batch · (tiles of one matrix)
    public int HalfSymmetric; // solves: B[p, q] = ½·M[max(p, q), min(p, q)], else B = Y₁ᵀ
    public int Spins;       // polls of a flag before a wait gives up
    public int Lower;       // finish: write Ā's lower triangle (Ā[i, j] = Z[i, j] + Z[j, i], i > j), else ½(Z + Zᵀ) everywhere
}

/// <summary>
/// GPU-tuned Cholesky and its reverse for single matrices and small batches of moderate order, in a
/// handful of launches: every tile of the matrices is a task, and one persistent launch runs all of
/// a pass's tasks, each group taking the next task from a ticket counter and waiting on the done
/// flags of the tiles it reads. Tickets are handed out in an order in which every task comes after
/// the tasks it waits on, so a group only ever waits on a task that a running group holds: the
/// launch cannot deadlock, whatever number of groups the device keeps resident.
/// </summary>
/// <remarks>
/// <para>
/// Forward, left-looking by tiles (one launch, after the flags are cleared): task (i, j), i ≥ j,
/// in the order of columns j and then rows i, computes
/// L[i, j] = (A[i, j] − Σ_{k &lt; j} L[i, k]·L[j, k]ᵀ)·L[j, j]⁻ᵀ, or factors the diagonal tile
/// (i = j) in shared memory. It reads each tile L[·, k] as soon as that tile's flag is set, so the
/// chain from one diagonal tile to the next is one triangular solve, one tile product and one tile
/// factor: a chain of 3·Tile barrier steps per Tile columns, against the blocked path's launches
/// and panel kernels.
/// </para>
/// <para>
/// Reverse (PyTorch's formula, <see cref="CholeskyAlgorithm.Composed"/>'s):
/// Σ̄ = L⁻ᵀ·π*(tril(Lᵀ·L̄))·L⁻¹ with π*(G) = ½(G + tril(G, −1)ᵀ), as
/// M = tril(Lᵀ·tril(L̄)) (one launch), Y₁ = L⁻ᵀ·π*(M) and Z = L⁻ᵀ·Y₁ᵀ = Σ̄ᵀ (one dataflow
/// launch each: tile rows from the last up, each waiting on the tiles below it), and Σ̄ = ½(Z + Zᵀ)
/// or Ā's lower triangle (one launch), after one clearing of the flags: five launches.
/// </para>
/// <para>
/// Memory order: a task's threads write its tile, fence at device scope and meet at a barrier
/// before thread 0 sets the tile's flag; a waiting thread 0 reads the flag atomically, and the
/// group fences again before reading the tile. A wait is bounded (<see cref="MaxSpins"/>), so a
/// scheduling error shows as a wrong result, never as a hang.
/// </para>
/// <para>
/// Only the lower triangles of A, L and L̄ are read; the forward clears the strict upper triangle.
/// Info is written by the first diagonal task and then only on a failure, with the first failing
/// minor: a failing diagonal tile's later tiles run on NaNs and still signal, so the launch ends.
/// </para>
/// </remarks>
internal static class PotrfDataflowGpu
{
    /// <summary>The tile order when the plan gives none: 32, a warp per tile row.</summary>
    internal const int Tile = 32;

    /// <summary>The largest tile: three tiles of it with a padded row, 3·32·33 elements, fill a group's static shared memory (25 KiB in float64).</summary>
    internal const int MaxTile = 32;

    /// <summary>Threads of every group: two warps, each thread owning Tile²/64 elements of a tile.</summary>
    internal const int GroupSize = 64;

    /// <summary>Groups per multiprocessor of a persistent launch (each holds 25 KiB of shared memory at most).</summary>
    internal const int GroupsPerMultiprocessor = 8;

    /// <summary>
    /// Polls of a done flag before a wait gives up, so a scheduling error shows as a wrong result,
    /// not a hang: about a minute of polling on a GPU; on the CPU accelerator, whose groups are OS
    /// threads that a barrier costs milliseconds, as many as an int counts.
    /// </summary>
    internal static int MaxSpins(Device device) => device.Accelerator.AcceleratorType == AcceleratorType.CPU ? int.MaxValue : 1 << 26;

    private const int Stride = MaxTile + 1; // padded shared-memory rows: a column of a tile spans 32 banks

    /// <summary>True when <paramref name="tile"/> is an order the kernels take: 8, 16 or 32.</summary>
    internal static bool IsTile(int tile) => tile is 8 or 16 or 32;

    /// <summary>Tiles per side of an order-n matrix.</summary>
    internal static int TilesOf(int n, int tile) => (n + tile - 1) / tile;

    /// <summary>The sync words of one dataflow launch: the ticket counter and one done flag per tile of every matrix.</summary>
    internal static int SyncWords(int n, int batch, int tile) => 1 + batch * TilesOf(n, tile) * TilesOf(n, tile);

    /// <summary>Factors the matrices in place (two launches: the flags cleared, then every tile's task).</summary>
    internal static void Factor<T>(Device device, MatRef<T> a, DeviceTensor<int> info, int tile) where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        int n = a.Rows, tiles = TilesOf(n, tile);
        using var sync = device.Allocate<int>(new Shape(1, 1, SyncWords(n, a.Batch, tile)));
        sync.Clear();
        var args = new DataflowArgs { A = a.Layout, N = n, Spins = MaxSpins(device), Tile = tile, Tiles = tiles, Batch = a.Batch, Tasks = a.Batch * tiles * (tiles + 1) / 2 };
        var kernel = device.Kernel(FactorKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<int>, ArrayView<int>, DataflowArgs>(FactorKernel<T>));
        kernel(Persistent(device, args.Tasks), a.Data, info.View, sync.View, args);
    }

    /// <summary>
    /// Overwrites L̄ with the gradient (five launches): the symmetric Σ̄ in all of L̄ when
    /// <paramref name="symmetrize"/>, else Ā in its lower triangle (Ā[i, j] = 2·Σ̄[i, j] below the
    /// diagonal, Σ̄[i, i] on it; the strict upper triangle left as it was).
    /// </summary>
    internal static void Reverse<T>(Device device, MatRef<T> l, MatRef<T> lbar, int tile, bool symmetrize) where T : unmanaged, INumber<T>
    {
        int n = lbar.Rows, batch = lbar.Batch, tiles = TilesOf(n, tile), words = SyncWords(n, batch, tile);
        var shape = new Shape(batch, n, n);
        using var m = device.Allocate<T>(shape);  // M, then Z
        using var y = device.Allocate<T>(shape);  // Y₁
        using var sync = device.Allocate<int>(new Shape(1, 1, 2 * words));
        sync.Clear();
        var args = new DataflowArgs { Spins = MaxSpins(device), A = l.Layout, B = lbar.Layout, X = m.Mat.Layout, N = n, Tile = tile, Tiles = tiles, Batch = batch };

        var product = device.Kernel(ProductKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, DataflowArgs>(ProductKernel<T>));
        args.Tasks = batch * tiles * (tiles + 1) / 2;
        product(new KernelConfig(new Index3D(args.Tasks, 1, 1), new Index3D(GroupSize, 1, 1)), l.Data, lbar.Data, m.View, args);

        var solve = device.Kernel(SolveKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<int>, DataflowArgs>(SolveKernel<T>));
        args.Tasks = batch * tiles * tiles;
        args.B = m.Mat.Layout;
        args.X = y.Mat.Layout;
        args.HalfSymmetric = 1;
        solve(Persistent(device, args.Tasks), l.Data, m.View, y.View, sync.View.SubView(0, words), args);
        args.B = y.Mat.Layout;
        args.X = m.Mat.Layout;
        args.HalfSymmetric = 0;
        solve(Persistent(device, args.Tasks), l.Data, y.View, m.View, sync.View.SubView(words, words), args);

        var finish = device.Kernel(FinishKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, DataflowArgs>(FinishKernel<T>));
        args.B = m.Mat.Layout;
        args.X = lbar.Layout;
        args.Lower = symmetrize ? 0 : 1;
        finish(checked(batch * n * n), m.View, lbar.Data, args);
    }

    /// <summary>A persistent launch: as many groups as the device keeps resident, at most one per task.</summary>
    private static KernelConfig Persistent(Device device, int tasks) =>
        new(new Index3D(Math.Max(1, Math.Min(tasks, device.Multiprocessors * GroupsPerMultiprocessor)), 1, 1), new Index3D(GroupSize, 1, 1));

    // ---- device code ------------------------------------------------------------------------

    /// <summary>Thread 0 takes the next ticket; every thread returns it.</summary>
    private static int NextTicket(ArrayView<int> sync, ArrayView<int> ticket)
    {
        if (Group.IdxX == 0) ticket[0] = Atomic.Add(ref sync[0], 1);
        Group.Barrier();
        int t = ticket[0];
        Group.Barrier(); // everyone has read it before thread 0 takes the next
        return t;
    }

    /// <summary>The group waits until the flags at <paramref name="f1"/> and <paramref name="f2"/> are set, then sees what their tasks wrote.</summary>
    private static void WaitFor(ArrayView<int> sync, long f1, long f2, int maxSpins)
    {
        if (Group.IdxX == 0)
        {
            for (int spins = 0; spins < maxSpins && Atomic.CompareExchange(ref sync[f1], 0, 0) == 0; spins++) { }
            for (int spins = 0; spins < maxSpins && Atomic.CompareExchange(ref sync[f2], 0, 0) == 0; spins++) { }
            MemoryFence.DeviceLevel();
        }
        Group.Barrier();
        MemoryFence.DeviceLevel();
    }

    /// <summary>Publishes the group's writes and sets the flag at <paramref name="flag"/>.</summary>
    private static void Signal(ArrayView<int> sync, long flag)
    {
        MemoryFence.DeviceLevel();
        Group.Barrier();
        if (Group.IdxX == 0) Atomic.Exchange(ref sync[flag], 1);
    }

    /// <summary>Column j and row i ≥ j of the q-th task of a matrix in the forward's order (columns, then rows).</summary>
    private static int LowerTask(int q, int tiles, out int i)
    {
        int j = 0, count = tiles;
        while (q >= count)
        {
            q -= count;
            j++;
            count = tiles - j;
        }
        i = j + q;
        return j;
    }

    /// <summary>
    /// C[r, c] −= Σ_kk P[r, kk]·Q[c, kk] over this thread's elements (row r = thread mod tile, a run
    /// of columns per part), the lower triangle only when <paramref name="lower"/>.
    /// </summary>
    private static void SubtractRowProducts<T>(ArrayView<T> c, ArrayView<T> p, ArrayView<T> q, int tile, int width, bool lower) where T : unmanaged, INumber<T>
    {
        int t = Group.IdxX, r = t % tile, per = tile * tile / GroupSize, c0 = t / tile * per;
        for (int col = c0; col < c0 + per; col++)
        {
            if (lower && col > r) continue;
            T s = T.Zero;
            for (int kk = 0; kk < width; kk++)
                s += p[r * Stride + kk] * q[col * Stride + kk];
            c[r * Stride + col] -= s;
        }
    }

    /// <summary>
    /// R[p, q] += sign·Σ_kk P[kk, p]·Q[kk, q] over this thread's elements (column q = thread mod
    /// tile, a run of rows per part).
    /// </summary>
    private static void AddColumnProducts<T>(ArrayView<T> r, ArrayView<T> p, ArrayView<T> q, int tile, int height, bool subtract) where T : unmanaged, INumber<T>
    {
        int t = Group.IdxX, col = t % tile, per = tile * tile / GroupSize, r0 = t / tile * per;
        for (int row = r0; row < r0 + per; row++)
        {
            T s = T.Zero;
            for (int kk = 0; kk < height; kk++)
                s += p[kk * Stride + row] * q[kk * Stride + col];
            r[row * Stride + col] = subtract ? r[row * Stride + col] - s : r[row * Stride + col] + s;
        }
    }

    /// <summary>One task per tile of the lower triangle of every matrix, left-looking (see the class remarks).</summary>
    internal static void FactorKernel<T>(ArrayView<T> a, ArrayView<int> info, ArrayView<int> sync, DataflowArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var c = SharedMemory.Allocate<T>(MaxTile * Stride);
        var lp = SharedMemory.Allocate<T>(MaxTile * Stride);
        var lq = SharedMemory.Allocate<T>(MaxTile * Stride);
        var ticket = SharedMemory.Allocate<int>(1);
        int t = Group.IdxX, tile = p.Tile, tiles = p.Tiles, n = p.N, ld = p.A.Ld;
        int per = tile * tile / GroupSize, own = t % tile, part0 = t / tile * per;
        while (true)
        {
            int task = NextTicket(sync, ticket);
            if (task >= p.Tasks) return;
            int b = task % p.Batch, j = LowerTask(task / p.Batch, tiles, out int i);
            int i0 = i * tile, j0 = j * tile, mi = Math.Min(tile, n - i0), mj = Math.Min(tile, n - j0);
            long a0 = p.A.Offset + b * p.A.BatchStride, flags = 1 + (long)b * tiles * tiles;
            bool diagonal = i == j;

            for (int e = t; e < tile * tile; e += GroupSize)
            {
                int r = e / tile, col = e % tile;
                c[r * Stride + col] = r < mi && col < mj && (!diagonal || col <= r) ? a[a0 + (long)(i0 + r) * ld + j0 + col] : T.Zero;
            }
            Group.Barrier();
            for (int k = 0; k < j; k++)
            {
                WaitFor(sync, flags + (long)i * tiles + k, flags + (long)j * tiles + k, p.Spins);
                int k0 = k * tile;
                for (int e = t; e < tile * tile; e += GroupSize)
                {
                    int r = e / tile, kk = e % tile;
                    lp[r * Stride + kk] = r < mi ? a[a0 + (long)(i0 + r) * ld + k0 + kk] : T.Zero;
                    lq[r * Stride + kk] = r < mj ? a[a0 + (long)(j0 + r) * ld + k0 + kk] : T.Zero;
                }
                Group.Barrier();
                SubtractRowProducts(c, lp, lq, tile, tile, diagonal);
                Group.Barrier();
            }

            if (diagonal)
            {
                // Right-looking with the scaling of column col deferred: its update reads the unscaled
                // column (divided by the pivot on the fly), so one barrier per column.
                int failed = -1;
                for (int col = 0; col < mj; col++)
                {
                    T d = c[col * Stride + col];
                    if (failed < 0 && (!(d > T.Zero) || !T.IsFinite(d))) failed = col;
                    for (int cc = Math.Max(part0, col + 1); cc < part0 + per; cc++)
                        if (cc <= own && own < mj) c[own * Stride + cc] -= c[own * Stride + col] * c[cc * Stride + col] / d;
                    Group.Barrier();
                    if (col >= part0 && col < part0 + per && own >= col && own < mj)
                        c[own * Stride + col] = own == col ? T.Sqrt(d) : c[own * Stride + col] / T.Sqrt(d);
                }
                if (t == 0)
                {
                    if (j == 0) Atomic.Exchange(ref info[b], failed < 0 ? 0 : failed + 1);
                    else if (failed >= 0) Atomic.CompareExchange(ref info[b], 0, j0 + failed + 1);
                }
                Group.Barrier();
                for (int e = t; e < mj * (n - j0); e += GroupSize)
                {
                    int r = e / (n - j0), col = e % (n - j0); // the tile's rows, right to the end: L, then zeros
                    a[a0 + (long)(j0 + r) * ld + j0 + col] = col <= r ? c[r * Stride + col] : T.Zero;
                }
            }
            else
            {
                WaitFor(sync, flags + (long)j * tiles + j, flags + (long)j * tiles + j, p.Spins);
                for (int e = t; e < tile * tile; e += GroupSize)
                {
                    int r = e / tile, col = e % tile;
                    lq[r * Stride + col] = r < mj && col <= r ? a[a0 + (long)(j0 + r) * ld + j0 + col] : T.Zero;
                }
                Group.Barrier();
                // X·L[j, j]ᵀ = C, column by column; column col's scaling deferred as in the factor.
                for (int col = 0; col < mj; col++)
                {
                    T d = lq[col * Stride + col];
                    for (int cc = Math.Max(part0, col + 1); cc < part0 + per; cc++)
                        if (cc < mj) c[own * Stride + cc] -= c[own * Stride + col] / d * lq[cc * Stride + col];
                    Group.Barrier();
                    if (col >= part0 && col < part0 + per) c[own * Stride + col] /= d;
                }
                Group.Barrier();
                for (int e = t; e < mi * mj; e += GroupSize)
                {
                    int r = e / mj, col = e % mj;
                    a[a0 + (long)(i0 + r) * ld + j0 + col] = c[r * Stride + col];
                }
            }
            Signal(sync, flags + (long)i * tiles + j);
        }
    }

    /// <summary>M = tril(Lᵀ·tril(L̄)): one group per tile (i, j), i ≥ j, of every matrix; M[i, j] = Σ_{k ≥ i} L[k, i]·L̄[k, j].</summary>
    internal static void ProductKernel<T>(ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> m, DataflowArgs p) where T : unmanaged, INumber<T>
    {
        var r = SharedMemory.Allocate<T>(MaxTile * Stride);
        var lp = SharedMemory.Allocate<T>(MaxTile * Stride);
        var lq = SharedMemory.Allocate<T>(MaxTile * Stride);
        int t = Group.IdxX, tile = p.Tile, tiles = p.Tiles, n = p.N;
        int task = Grid.IdxX, b = task % p.Batch, j = LowerTask(task / p.Batch, tiles, out int i);
        int i0 = i * tile, j0 = j * tile;
        long l0 = p.A.Offset + b * p.A.BatchStride, g0 = p.B.Offset + b * p.B.BatchStride, m0 = p.X.Offset + b * p.X.BatchStride;
        for (int e = t; e < tile * tile; e += GroupSize)
            r[e / tile * Stride + e % tile] = T.Zero;
        for (int k = i; k < tiles; k++)
        {
            int k0 = k * tile;
            Group.Barrier();
            for (int e = t; e < tile * tile; e += GroupSize)
            {
                int kk = e / tile, x = e % tile, row = k0 + kk;
                lp[kk * Stride + x] = row < n && i0 + x < n && row >= i0 + x ? l[l0 + (long)row * p.A.Ld + i0 + x] : T.Zero;
                lq[kk * Stride + x] = row < n && j0 + x < n && row >= j0 + x ? lbar[g0 + (long)row * p.B.Ld + j0 + x] : T.Zero;
            }
            Group.Barrier();
            AddColumnProducts(r, lp, lq, tile, tile, subtract: false);
        }
        Group.Barrier();
        for (int e = t; e < tile * tile; e += GroupSize)
        {
            int x = e / tile, y = e % tile;
            if (i0 + x < n && j0 + y <= i0 + x) m[m0 + (long)(i0 + x) * p.X.Ld + j0 + y] = r[x * Stride + y];
        }
    }

    /// <summary>
    /// X = L⁻ᵀ·B by tiles, B = π*(M) read from M's lower triangle or B = Y₁ᵀ: task (i, c) in the
    /// order of tile rows from the last up, then tile columns; it waits on X[k, c], k &gt; i.
    /// </summary>
    internal static void SolveKernel<T>(ArrayView<T> l, ArrayView<T> bv, ArrayView<T> x, ArrayView<int> sync, DataflowArgs p) where T : unmanaged, INumber<T>
    {
        var r = SharedMemory.Allocate<T>(MaxTile * Stride);
        var lp = SharedMemory.Allocate<T>(MaxTile * Stride);
        var lq = SharedMemory.Allocate<T>(MaxTile * Stride);
        var ticket = SharedMemory.Allocate<int>(1);
        int t = Group.IdxX, tile = p.Tile, tiles = p.Tiles, n = p.N;
        int per = tile * tile / GroupSize, own = t % tile, part0 = t / tile * per;
        T half = T.One / (T.One + T.One);
        while (true)
        {
            int task = NextTicket(sync, ticket);
            if (task >= p.Tasks) return;
            int b = task % p.Batch, q = task / p.Batch, i = tiles - 1 - q / tiles, cT = q % tiles;
            int i0 = i * tile, c0 = cT * tile, mi = Math.Min(tile, n - i0), mc = Math.Min(tile, n - c0);
            long l0 = p.A.Offset + b * p.A.BatchStride, b0 = p.B.Offset + b * p.B.BatchStride, x0 = p.X.Offset + b * p.X.BatchStride;
            long flags = 1 + (long)b * tiles * tiles;

            for (int e = t; e < tile * tile; e += GroupSize)
            {
                int y = e / tile, z = e % tile, gi = i0 + y, gc = c0 + z;
                T v = T.Zero;
                if (y < mi && z < mc)
                    v = p.HalfSymmetric != 0
                        ? half * bv[b0 + (long)Math.Max(gi, gc) * p.B.Ld + Math.Min(gi, gc)]
                        : bv[b0 + (long)gc * p.B.Ld + gi];
                r[y * Stride + z] = v;
            }
            for (int k = tiles - 1; k > i; k--)
            {
                WaitFor(sync, flags + (long)k * tiles + cT, flags + (long)k * tiles + cT, p.Spins);
                int k0 = k * tile, mk = Math.Min(tile, n - k0);
                for (int e = t; e < tile * tile; e += GroupSize)
                {
                    int kk = e / tile, z = e % tile;
                    lp[kk * Stride + z] = kk < mk && z < mi ? l[l0 + (long)(k0 + kk) * p.A.Ld + i0 + z] : T.Zero;
                    lq[kk * Stride + z] = kk < mk && z < mc ? x[x0 + (long)(k0 + kk) * p.X.Ld + c0 + z] : T.Zero;
                }
                Group.Barrier();
                AddColumnProducts(r, lp, lq, tile, mk, subtract: true);
                Group.Barrier();
            }

            for (int e = t; e < tile * tile; e += GroupSize)
            {
                int y = e / tile, z = e % tile;
                lp[y * Stride + z] = y < mi && z <= y ? l[l0 + (long)(i0 + y) * p.A.Ld + i0 + z] : T.Zero;
            }
            Group.Barrier();
            // L[i, i]ᵀ·y = R from the last row up; row row's scaling deferred: the update of the rows
            // above divides it by the pivot on the fly, so one barrier per row.
            for (int row = mi - 1; row >= 0; row--)
            {
                T d = lp[row * Stride + row];
                for (int above = part0; above < Math.Min(row, part0 + per); above++)
                    r[above * Stride + own] -= lp[row * Stride + above] * (r[row * Stride + own] / d);
                Group.Barrier();
                if (row >= part0 && row < part0 + per) r[row * Stride + own] /= d;
            }
            Group.Barrier();
            for (int e = t; e < mi * mc; e += GroupSize)
            {
                int y = e / mc, z = e % mc;
                x[x0 + (long)(i0 + y) * p.X.Ld + c0 + z] = r[y * Stride + z];
            }
            Signal(sync, flags + (long)i * tiles + cT);
        }
    }

    /// <summary>One element (i, j) of Z = Σ̄ᵀ: the symmetric gradient ½(Z + Zᵀ), or Ā's lower triangle.</summary>
    internal static void FinishKernel<T>(Index1D e, ArrayView<T> z, ArrayView<T> lbar, DataflowArgs p) where T : unmanaged, INumber<T>
    {
        int n = p.N, b = e / (n * n), i = e % (n * n) / n, j = e % n;
        if (p.Lower != 0 && j > i) return;
        long zb = p.B.Offset + b * p.B.BatchStride;
        T s = z[zb + (long)i * p.B.Ld + j] + z[zb + (long)j * p.B.Ld + i];
        T v = i == j ? s / (T.One + T.One) : p.Lower != 0 ? s : s / (T.One + T.One);
        lbar[p.X.Offset + b * p.X.BatchStride + (long)i * p.X.Ld + j] = v;
    }
}
