using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// A GPU GEMM group's accumulators, as one thread holds them; the tile's shape is a compile-time
/// property of the struct. The SIMT tiles (<c>MicroRxC</c>) give each thread a register tile of
/// rows ty + 16·r and columns tx + 16·c and step K one element at a time; the tensor-core tiles
/// (<c>MmaRxC</c>, float64 only) give each warp a block of 8×8 DMMA tiles and step K four at a time.
/// </summary>
internal interface IGemmMicroTile<T> where T : unmanaged, INumber<T>
{
    /// <summary>The group's tile is 16·Rows rows of C.</summary>
    int Rows { get; }

    /// <summary>The group's tile is 16·Cols columns of C.</summary>
    int Cols { get; }

    /// <summary>K elements one <see cref="Update"/> consumes.</summary>
    int KStep { get; }

    /// <summary>Padding of a staged row of the shared slices (against bank conflicts of this tile's reads).</summary>
    int Pad { get; }

    /// <summary>This thread's first read in the staged A slice (rows by k, row stride <paramref name="strideA"/>).</summary>
    int AOffset(int strideA);

    /// <summary>This thread's first read in the staged B slice.</summary>
    int BOffset(int strideB);

    /// <summary>
    /// First statement of the kernel: declares what the tile keeps outside ILGPU's values (the DMMA
    /// tiles' named PTX registers, which must precede their uses in the PTX text, and the entry
    /// block comes first).
    /// </summary>
    void Declare();

    /// <summary>Before the first <see cref="Update"/>: clears the accumulators.</summary>
    void Begin();

    /// <summary>Accumulates <see cref="KStep"/> steps of k, reading the slices from s[ra…] and s[rb…].</summary>
    void Update(ArrayView<T> s, int ra, int rb);

    /// <summary>Writes α·acc (+ β·d) to d[dBase + row·ld + col] for the tile at (i0, j0), rows below m and columns past n skipped.</summary>
    void Store(ArrayView<T> d, long dBase, long ld, int i0, int j0, int m, int n, T alpha, T beta);
}

/// <summary>Something launched with a GEMM tiling's structs (<see cref="GemmGpu.Dispatch{T, TLauncher}"/>).</summary>
internal interface ITilingLauncher<T> where T : unmanaged, INumber<T>
{
    void Launch<TMicro, TSlice>() where TMicro : struct, IGemmMicroTile<T> where TSlice : struct, IGemmSlice;
}

/// <summary>The k-slice a GPU GEMM stages per step, a compile-time property of the struct.</summary>
internal interface IGemmSlice
{
    int K { get; }
}

internal struct Slice8 : IGemmSlice { public readonly int K => 8; }
internal struct Slice16 : IGemmSlice { public readonly int K => 16; }
internal struct Slice32 : IGemmSlice { public readonly int K => 32; }

/// <summary>
/// One shape of the GPU GEMM: 16×16 threads compute a (16·MicroRows)×(16·MicroCols) tile of C,
/// staging slices of <see cref="SliceK"/> along K. SIMT tilings give each thread a
/// MicroRows×MicroCols register tile; <see cref="Mma"/> tilings (float64 only, sm_80 and later) run
/// the same tile on the fp64 tensor cores (DMMA m8n8k4), eight warps of 4×2. Written "128x64k8",
/// "128x128k8mma".
/// </summary>
internal readonly record struct GemmTiling(int MicroRows, int MicroCols, int SliceK, bool Mma = false)
{
    /// <summary>Rows of C per thread group.</summary>
    public int TileM => GemmGpu.Threads * MicroRows;

    /// <summary>Columns of C per thread group.</summary>
    public int TileN => GemmGpu.Threads * MicroCols;

    /// <summary>
    /// Padding of a staged row: one element (SIMT: the stores spread over banks, the reads are
    /// broadcast or consecutive), four for DMMA (a half-warp's fragment reads, rows k..k+3 by 4
    /// consecutive elements, then fall in 16 different 8-byte banks).
    /// </summary>
    public int Pad => Mma ? GemmMma.Pad : 1;

    /// <summary>Shared memory of one group: two buffers (double buffering) of the padded A and B slices.</summary>
    public int SharedElements => 2 * SliceK * (TileM + Pad + TileN + Pad);

    /// <summary>True when the group's shared memory fits the 48 KiB a CUDA group gets by default.</summary>
    public bool FitsSharedMemory(int elementSize) => SharedElements * elementSize <= GpuLimits.SharedBytes;

    /// <summary>True when the tiling can run products of this element size: it fits shared memory, and DMMA only in float64.</summary>
    public bool Serves(int elementSize) => FitsSharedMemory(elementSize) && (!Mma || elementSize == sizeof(double));

    /// <summary>The SIMT tiling of the same shape (itself when not <see cref="Mma"/>).</summary>
    public GemmTiling Simt => this with { Mma = false };

    /// <inheritdoc/>
    public override string ToString() => $"{TileM}x{TileN}k{SliceK}{(Mma ? "mma" : "")}";

    /// <summary>Parses "128x64k8" or "128x128k8mma"; null when it is not one of <see cref="GemmGpu.Tilings"/>.</summary>
    public static GemmTiling? Parse(string text) =>
        GemmGpu.Tilings.Select(t => (GemmTiling?)t).FirstOrDefault(t => string.Equals(t.ToString(), text, StringComparison.OrdinalIgnoreCase));
}

/// <summary>
/// GPU-tuned batched GEMM. Each 16×16 thread group computes one tile of C whose shape is a
/// compile-time choice (<see cref="GemmTiling"/>: a tile struct and a k-slice struct, so every
/// variant is its own specialized kernel), walking K in slices staged through shared memory: two
/// buffers, the next slice loaded while this one is multiplied, one barrier per slice. Rows of the
/// shared tiles are padded against bank conflicts. The SIMT tiles' register updates are unrolled
/// by hand (generated): ILGPU 1.5.3 does not unroll loops.
/// </summary>
/// <remarks>
/// <para>
/// One launch runs up to <see cref="MaxGroup"/> products (the grid's x index walks the first
/// product's tiles, then the second's, then the third's) and each product may be split along K
/// (split-K): split s multiplies K range [s·SplitK, (s+1)·SplitK) into a workspace, and a second
/// launch (<see cref="ReduceKernel{T}"/>) sums the splits in order s = 0, 1, … and applies α and β,
/// so results are bitwise reproducible run to run. For a lower-triangle update, groups whose tile
/// lies strictly above the diagonal return at once. Vector loads are not used: ILGPU 1.5.3 emits
/// vector loads only for struct elements of views with known alignment, and the register tiles
/// read shared memory at a stride of 16 (conflict-free, not contiguous per thread).
/// </para>
/// <para>
/// The DMMA tilings (<c>Mma*</c> tiles, float64) run the same staging on the fp64 tensor cores:
/// each warp issues <c>mma.sync.aligned.m8n8k4.row.col.f64</c> through ILGPU's inline PTX
/// (<c>CudaAsm</c>), with its accumulators in named PTX registers declared in the kernel's first
/// block (an inline-PTX output would pass through local memory: only the once-per-tile read-out
/// does). On the emulated GPU the same tiles run the instruction's warp semantics, each lane's
/// product summed from the other lanes' fragments read where those lanes read them in shared memory, so
/// the fragment indexing (A: row lane/4, k lane%4; B: k lane%4, column lane/4; D: row lane/4,
/// columns 2·(lane%4) + 0, 1) is checked by the tests without a GPU; the sweep checks each DMMA
/// tiling's product against a SIMT tiling's on the GPU before it may be chosen.
/// </para>
/// </remarks>
internal static class GemmGpu
{
    /// <summary>Threads per group side.</summary>
    internal const int Threads = 16;

    internal const int GroupSize = Threads * Threads;


    /// <summary>Most products of one grouped launch.</summary>
    internal const int MaxGroup = 3;

    /// <summary>Every compiled shape, SIMT then DMMA, smallest tile first; a shape serves an element type when <see cref="GemmTiling.Serves"/>.</summary>
    internal static readonly GemmTiling[] Tilings =
    [
        new(4, 4, 16), // 64×64, one barrier per slice
        new(4, 4, 32), // 64×64, longer slices (float32 only: 66 KB in float64)
        new(8, 4, 8),  // 128×64
        new(8, 4, 16), // 128×64, longer slices (float32 only)
        new(8, 8, 8),  // 128×128, 8×8 per thread
        new(4, 4, 16, Mma: true), // 64×64 on the fp64 tensor cores: warps of 16×32
        new(8, 4, 8, Mma: true),  // 128×64: warps of 32×32
        new(8, 8, 8, Mma: true),  // 128×128: warps of 32×64
    ];

    /// <summary>The tiling of a kernel instantiation, from its register-tile and slice types (tests and diagnostics).</summary>
    internal static GemmTiling TilingOf(Type micro, Type slice)
    {
        var m = System.Text.RegularExpressions.Regex.Match(micro.Name, @"^(Micro|Mma)(\d+)x(\d+)");
        var k = System.Text.RegularExpressions.Regex.Match(slice.Name, @"^Slice(\d+)$");
        if (!m.Success || !k.Success) throw new ArgumentException($"{micro.Name}, {slice.Name}: not a GEMM tiling.");
        return new GemmTiling(int.Parse(m.Groups[2].Value), int.Parse(m.Groups[3].Value), int.Parse(k.Groups[1].Value), m.Groups[1].Value == "Mma");
    }

    /// <summary>The tilings that serve an element type (<see cref="GemmTiling.Serves"/>).</summary>
    internal static IEnumerable<GemmTiling> TilingsFor(int elementSize) => Tilings.Where(t => t.Serves(elementSize));

    /// <summary>The tilings that serve an element type on a device: DMMA ones only where it has fp64 tensor cores (or emulates them).</summary>
    internal static IEnumerable<GemmTiling> TilingsFor(Device device, int elementSize) =>
        TilingsFor(elementSize).Where(t => !t.Mma || device.SupportsDmma);

    /// <summary>Tiles of one product (one split) under a tiling.</summary>
    internal static int Tiles<T>(GemmArgs<T> p, int tileM, int tileN) where T : unmanaged =>
        ((p.N + tileN - 1) / tileN) * ((p.M + tileM - 1) / tileM);

    /// <summary>
    /// Runs up to three products over one batch with one tiling: one launch, plus one reduction
    /// launch when any product is split along K (its workspace comes from the device pool).
    /// </summary>
    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmGroupArgs<T> args, int batch, GemmTiling tiling)
        where T : unmanaged, INumber<T>
    {
        long workElements = 0;
        for (int i = 0; i < args.Count; i++)
        {
            var p = args.Get(i);
            p.Batch = batch;
            if (p.Splits > 1)
            {
                p.WorkOffset = workElements;
                workElements += (long)p.Splits * batch * p.M * p.N;
            }
            args.Set(i, p);
        }
        using var work = workElements > 0 ? device.Allocate<T>(new Shape(1, 1, checked((int)workElements))) : null;
        var workView = work?.View ?? c.SubView(0, 0);
        if (tiling.Mma && !device.SupportsDmma)
            throw new ArgumentException($"Gemm: the tiling {tiling} needs fp64 tensor cores (sm_80 or later); {device.Name} has none.");
        var launcher = new GemmLauncher<T>(device, a, b, c, workView, args, batch, tiling);
        Dispatch<T, GemmLauncher<T>>(tiling, ref launcher);
        if (work is null) return;
        var reduce = device.Kernel(ReduceKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, GemmGroupArgs<T>>(ReduceKernel<T>));
        long largest = 0;
        for (int i = 0; i < args.Count; i++)
            if (args.Get(i).Splits > 1) largest = Math.Max(largest, (long)batch * args.Get(i).M * args.Get(i).N);
        int groups = (int)Math.Min((largest + GroupSize - 1) / GroupSize, GpuLimits.MaxGridYZ); // grid-stride beyond it
        reduce(new KernelConfig(new Index3D(groups, args.Count, 1), new Index3D(GroupSize, 1, 1)), c, work.View, args);
    }

    /// <summary>
    /// Calls <paramref name="launcher"/> with the tile and slice structs of <paramref name="tiling"/>:
    /// the one place a tiling becomes a kernel instantiation (the GEMM's launches and the blocked
    /// Cholesky's look-ahead launch, which runs GEMM tiles beside its panel step).
    /// </summary>
    /// <exception cref="ArgumentException">No kernel has this tiling.</exception>
    internal static void Dispatch<T, TLauncher>(GemmTiling tiling, ref TLauncher launcher)
        where T : unmanaged, INumber<T>
        where TLauncher : struct, ITilingLauncher<T>
    {
        switch ((tiling.MicroRows, tiling.MicroCols, tiling.SliceK, tiling.Mma))
        {
            case (4, 4, 16, false): launcher.Launch<Micro4x4<T>, Slice16>(); break;
            case (4, 4, 32, false): launcher.Launch<Micro4x4<T>, Slice32>(); break;
            case (8, 4, 8, false): launcher.Launch<Micro8x4<T>, Slice8>(); break;
            case (8, 4, 16, false): launcher.Launch<Micro8x4<T>, Slice16>(); break;
            case (8, 8, 8, false): launcher.Launch<Micro8x8<T>, Slice8>(); break;
            case (4, 4, 16, true): launcher.Launch<Mma4x4<T>, Slice16>(); break;
            case (8, 4, 8, true): launcher.Launch<Mma8x4<T>, Slice8>(); break;
            case (8, 8, 8, true): launcher.Launch<Mma8x8<T>, Slice8>(); break;
            default: throw new ArgumentException($"Gemm: no kernel has the tiling {tiling}.");
        }
    }

    private readonly struct GemmLauncher<T>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, ArrayView<T> work, GemmGroupArgs<T> args, int batch, GemmTiling tiling)
        : ITilingLauncher<T> where T : unmanaged, INumber<T>
    {
        public void Launch<TMicro, TSlice>() where TMicro : struct, IGemmMicroTile<T> where TSlice : struct, IGemmSlice =>
            GemmGpu.Launch<T, TMicro, TSlice>(device, a, b, c, work, args, batch, tiling);
    }

    private static void Launch<T, TMicro, TSlice>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, ArrayView<T> work, GemmGroupArgs<T> args, int batch, GemmTiling tiling)
        where T : unmanaged, INumber<T>
        where TMicro : struct, IGemmMicroTile<T>
        where TSlice : struct, IGemmSlice
    {
        int size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        if (!tiling.FitsSharedMemory(size))
            throw new ArgumentException($"Gemm: the tiling {tiling} needs {tiling.SharedElements * size} B of shared memory for {typeof(T).Name}, over {GpuLimits.SharedBytes} B.");
        if (!tiling.Serves(size))
            throw new ArgumentException($"Gemm: the tiling {tiling} runs on the fp64 tensor cores, float64 only, not {typeof(T).Name}.");
        var kernel = device.Kernel(Kernel<T, TMicro, TSlice>,
            acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmGroupArgs<T>>(Kernel<T, TMicro, TSlice>));
        int groups = 0;
        for (int i = 0; i < args.Count; i++)
            groups += Tiles(args.Get(i), tiling.TileM, tiling.TileN) * Math.Max(1, args.Get(i).Splits);
        var shared = SharedMemoryConfig.RequestDynamic<T>(tiling.SharedElements);
        for (int start = 0; start < batch; start += GpuLimits.MaxGridYZ)
        {
            args.P0.BatchBase = args.P1.BatchBase = args.P2.BatchBase = start;
            kernel(new KernelConfig(new Index3D(groups, 1, Math.Min(GpuLimits.MaxGridYZ, batch - start)), new Index3D(Threads, Threads, 1), shared), a, b, c, work, args);
        }
    }

    /// <summary>One group: finds its product, split and tile from the grid's x index, and computes that tile.</summary>
    internal static void Kernel<T, TMicro, TSlice>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, ArrayView<T> work, GemmGroupArgs<T> g)
        where T : unmanaged, INumber<T>
        where TMicro : struct, IGemmMicroTile<T>
        where TSlice : struct, IGemmSlice
    {
        TMicro acc = default;
        acc.Declare();
        int tileM = Threads * acc.Rows, tileN = Threads * acc.Cols;
        int x = Grid.IdxX;
        int t0 = Tiles(g.P0, tileM, tileN) * Math.Max(1, g.P0.Splits);
        int t1 = g.Count > 1 ? Tiles(g.P1, tileM, tileN) * Math.Max(1, g.P1.Splits) : 0;
        var p = x < t0 ? g.P0 : x < t0 + t1 ? g.P1 : g.P2;
        x = x < t0 ? x : x < t0 + t1 ? x - t0 : x - t0 - t1;
        int tiles = Tiles(p, tileM, tileN), cols = (p.N + tileN - 1) / tileN;
        int split = x / tiles;
        x -= split * tiles;
        Tile<T, TMicro, TSlice>(a, b, c, work, p, x / cols, x % cols, split);
    }

    /// <summary>
    /// One tile of C (or of split <paramref name="split"/>'s partial product), of matrix Grid.IdxZ +
    /// BatchBase, by a 16×16 group (also the GEMM tiles of <see cref="PotrfPanelGpu.LookAheadKernel{T, TMicro, TSlice}"/>).
    /// </summary>
    internal static void Tile<T, TMicro, TSlice>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, ArrayView<T> work, GemmArgs<T> p, int tileRow, int tileCol, int split)
        where T : unmanaged, INumber<T>
        where TMicro : struct, IGemmMicroTile<T>
        where TSlice : struct, IGemmSlice
    {
        TMicro acc = default;
        int tileM = Threads * acc.Rows, tileN = Threads * acc.Cols, tileK = default(TSlice).K;
        int i0 = tileRow * tileM, j0 = tileCol * tileN;
        if (p.LowerOnly != 0 && j0 > i0 + tileM - 1)
            return; // the whole tile lies above the diagonal (uniform over the group, before any barrier)
        var s = SharedMemory.GetDynamic<T>();
        int strideA = tileM + acc.Pad, strideB = tileN + acc.Pad, kStep = acc.KStep;
        int bufA = tileK * strideA, buffer = bufA + tileK * strideB; // one buffer: [A slice | B slice]
        int tid = Group.IdxY * Threads + Group.IdxX;
        int batch = Grid.IdxZ + p.BatchBase;
        long aBase = p.A.Offset + batch * p.A.BatchStride;
        long bBase = p.B.Offset + batch * p.B.BatchStride;
        int kBegin = p.Splits > 1 ? split * p.SplitK : 0;
        int kEnd = p.Splits > 1 ? Math.Min(p.K, kBegin + p.SplitK) : p.K;
        int slices = (kEnd - kBegin + tileK - 1) / tileK;
        int aOffset = acc.AOffset(strideA), bOffset = bufA + acc.BOffset(strideB);
        acc.Begin();

        if (slices > 0)
            Stage(a, b, p, aBase, bBase, s, 0, strideA, strideB, bufA, tileM, tileN, tileK, i0, j0, kBegin, kEnd, tid);
        Group.Barrier();
        for (int slice = 0; slice < slices; slice++)
        {
            int cur = (slice & 1) * buffer;
            if (slice + 1 < slices) // the other buffer, last read before the previous barrier
                Stage(a, b, p, aBase, bBase, s, buffer - cur, strideA, strideB, bufA, tileM, tileN, tileK, i0, j0, kBegin + (slice + 1) * tileK, kEnd, tid);
            int ra = cur + aOffset, rb = cur + bOffset;
            for (int kk = 0; kk < tileK; kk += kStep)
            {
                acc.Update(s, ra, rb);
                ra += kStep * strideA;
                rb += kStep * strideB;
            }
            Group.Barrier();
        }

        // One store site (a split's partial product goes to the workspace, unscaled).
        var target = c;
        long targetBase = p.C.Offset + batch * p.C.BatchStride, ld = p.C.Ld;
        T alpha = p.Alpha, beta = p.Beta;
        if (p.Splits > 1)
        {
            target = work;
            targetBase = p.WorkOffset + ((long)split * p.Batch + batch) * p.M * p.N;
            ld = p.N;
            alpha = T.One;
            beta = T.Zero;
        }
        acc.Store(target, targetBase, ld, i0, j0, p.M, p.N, alpha, beta);
    }

    /// <summary>
    /// Stages op(A)[i0.., k0..] and op(B)[k0.., j0..] into one shared buffer at <paramref name="at"/>:
    /// s[at + kk·strideA + ii] and s[at + bufA + kk·strideB + jj], zero past the matrix or past
    /// <paramref name="kEnd"/>. op(B) is staged as op(B)ᵀ[j0.., k0..], so both are "rows by k".
    /// </summary>
    private static void Stage<T>(ArrayView<T> a, ArrayView<T> b, GemmArgs<T> p, long aBase, long bBase, ArrayView<T> s, int at,
        int strideA, int strideB, int bufA, int tileM, int tileN, int tileK, int i0, int j0, int k0, int kEnd, int tid)
        where T : unmanaged, INumber<T>
    {
        StageRows(a, aBase, p.A.Ld, kContiguous: p.TransA == 0, p.M, tileM, s, at, strideA, tileK, i0, k0, kEnd, tid);
        StageRows(b, bBase, p.B.Ld, kContiguous: p.TransB != 0, p.N, tileN, s, at + bufA, strideB, tileK, j0, k0, kEnd, tid);
    }

    /// <summary>
    /// Rows r0.. (up to <paramref name="rows"/>) of an operand by k0..: s[at + kk·stride + rr] =
    /// X[r0 + rr, k0 + kk], where X is stored with k contiguous (X[r, k] at r·ld + k) or rows
    /// contiguous (at k·ld + r); consecutive threads read consecutive addresses either way.
    /// </summary>
    private static void StageRows<T>(ArrayView<T> x, long xBase, long ld, bool kContiguous, int rows, int tileRows,
        ArrayView<T> s, int at, int stride, int tileK, int r0, int k0, int kEnd, int tid)
        where T : unmanaged, INumber<T>
    {
        for (int e = tid; e < tileRows * tileK; e += GroupSize)
        {
            int rr, kk;
            if (kContiguous) { kk = e % tileK; rr = e / tileK; }
            else { rr = e % tileRows; kk = e / tileRows; }
            int gr = r0 + rr, gk = k0 + kk;
            T v = T.Zero;
            if (gr < rows && gk < kEnd)
                v = x[kContiguous ? xBase + (long)gr * ld + gk : xBase + (long)gk * ld + gr];
            s[at + kk * stride + rr] = v;
        }
    }

    /// <summary>
    /// The split-K reduction: for product Grid.IdxY, if split, C = α·Σ_s W_s + β·C with the splits
    /// added in order (deterministic); a lower-triangle update writes only on and below the diagonal.
    /// </summary>
    internal static void ReduceKernel<T>(ArrayView<T> c, ArrayView<T> work, GemmGroupArgs<T> g) where T : unmanaged, INumber<T>
    {
        var p = Grid.IdxY == 0 ? g.P0 : Grid.IdxY == 1 ? g.P1 : g.P2;
        if (p.Splits <= 1) return;
        long mn = (long)p.M * p.N, total = p.Batch * mn, step = (long)Grid.DimX * Group.DimX;
        for (long e = (long)Grid.IdxX * Group.DimX + Group.IdxX; e < total; e += step)
        {
            long bIdx = e / mn, rem = e - bIdx * mn;
            int i = (int)(rem / p.N), j = (int)(rem - (long)i * p.N);
            if (p.LowerOnly != 0 && j > i) continue;
            T sum = T.Zero;
            for (int split = 0; split < p.Splits; split++)
                sum += work[p.WorkOffset + split * total + e];
            long idx = p.C.Offset + bIdx * p.C.BatchStride + (long)i * p.C.Ld + j;
            c[idx] = p.Beta == T.Zero ? p.Alpha * sum : p.Alpha * sum + p.Beta * c[idx];
        }
    }
}
