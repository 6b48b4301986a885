using System.Numerics;
using System.Runtime.CompilerServices;

namespace GpuAD.Kernels;

/// <summary>What one step of a <see cref="CholeskyPlan"/> does to the diagonal block at rows J0..J0+Width−1.</summary>
internal enum CholeskyStepKind
{
    /// <summary>info ← 0 (the CPU family's blocked forward, and an empty order).</summary>
    ClearInfo,

    /// <summary>Every matrix factored whole by one launch: one thread group (GPU family) or one thread (CPU family) per matrix.</summary>
    FactorWhole,

    /// <summary>CPU family: the unblocked factor of the diagonal block, A11 = L11·L11ᵀ.</summary>
    Factor,

    /// <summary>CPU family: the panel below the block, L21 ← A21·L11⁻ᵀ (a blocked TRSM).</summary>
    PanelSolve,

    /// <summary>The trailing update right of and below the block, A22 −= L21·L21ᵀ on the lower triangle.</summary>
    TrailingUpdate,

    /// <summary>GPU family: the block's factor, its panel solve and the clearing of its rows' upper triangle, in one launch.</summary>
    Panel,

    /// <summary>GPU family: <see cref="Panel"/> beside the previous panel's trailing update (look-ahead), in one launch.</summary>
    PanelLookAhead,

    /// <summary>CPU family: the strict upper triangle cleared.</summary>
    Tril,

    /// <summary>Every matrix differentiated whole by one launch (symmetrized in the same launch when asked).</summary>
    ReverseWhole,

    /// <summary>CPU family: B̄ ← B̄·T⁻¹ for the panel below the block.</summary>
    ReversePanelSolve,

    /// <summary>T̄ −= tril(B̄ᵀ·B), and unless the block is the first D̄ −= B̄·C and C̄ −= B̄ᵀ·D (one grouped launch on the GPU family).</summary>
    ReverseUpdates,

    /// <summary>CPU family: the block's unblocked reverse, and unless it is the first C̄ −= (T̄ + T̄ᵀ)·C.</summary>
    ReverseBlock,

    /// <summary>GPU family: the block's reverse, C̄ −= (T̄ + T̄ᵀ)·C and the panel solve of the block before it, in one launch.</summary>
    ReversePanel,

    /// <summary>L̄ ← ½(Ā + Āᵀ) over the whole matrix (only when the plan is executed with symmetrize).</summary>
    Symmetrize,

    /// <summary>
    /// Two levels, left-looking: the outer block column updated by the columns left of it that the
    /// step names, A[J0:n, J0:J0+Width] −= L[J0:n, KFrom:KTo]·L[J0:J0+Width, KFrom:KTo]ᵀ (the
    /// diagonal block's lower triangle), one grouped GEMM with K = KTo − KFrom.
    /// </summary>
    ColumnUpdate,

    /// <summary>Two levels: the outer diagonal block factored by the step's inner plan in leaf blocks (a failure named by its minor in the whole matrix).</summary>
    FactorBlock,

    /// <summary>
    /// Two levels: the inverse of the outer diagonal block of L into the workspace (TRTRI): on the
    /// GPU family the leaves' inverses in one launch and a doubling of grouped GEMMs
    /// (<see cref="TrtriGpu"/>), on the CPU family I and a left TRSM in leaf blocks.
    /// </summary>
    InvertBlock,

    /// <summary>Two levels: the panel below the outer block, L21 ← A21·L11⁻ᵀ, as one GEMM against <see cref="InvertBlock"/>'s inverse (A21 copied first).</summary>
    PanelByInverse,

    /// <summary>Two levels, reverse: B̄ ← B̄·T⁻¹ as one GEMM against <see cref="InvertBlock"/>'s inverse (B̄ copied first).</summary>
    ReversePanelByInverse,

    /// <summary>Two levels, reverse: T̄ ← the inner plan's reverse of the outer diagonal block, and unless it is the first C̄ −= (T̄ + T̄ᵀ)·C.</summary>
    ReverseBlockByInner,

    /// <summary>
    /// Two levels, reverse: T̄ ← the outer diagonal block's reverse as GEMMs against its inverse
    /// (<see cref="InvertBlock"/>'s), the composed formula on the block,
    /// S = T⁻ᵀ·Φ*(tril(Tᵀ·tril(T̄)))·T⁻¹ and T̄ ← 2·tril(S, −1) + diag(S); unless it is the first,
    /// C̄ −= (T̄ + T̄ᵀ)·C. Three GEMMs of the block's order and four maps, where
    /// <see cref="ReverseBlockByInner"/> is a chain of leaf reverses.
    /// </summary>
    ReverseBlockByInverse,

    /// <summary>Every tile of every matrix factored by one persistent launch after its flags are cleared (<see cref="PotrfDataflowGpu"/>): two launches.</summary>
    FactorDataflow,

    /// <summary>The reverse by tiles (<see cref="PotrfDataflowGpu"/>): flags cleared, M = tril(Lᵀ·L̄), two persistent triangular solves and the symmetric (or lower) gradient: five launches.</summary>
    ReverseDataflow,

    /// <summary>Two streams: the host waits for the default stream, so that the side stream's next step sees what it wrote.</summary>
    Fork,

    /// <summary>Two streams: the host waits for the side stream, so that the default stream's next step sees what it wrote.</summary>
    Join,
}

/// <summary>
/// One step of a Cholesky plan: its kind, the diagonal block it works on (J0, Width), the kernel
/// launches it makes as <see cref="Device.Launches"/> counts them, and for a GEMM-shaped step on
/// the GPU family the GEMM policy's plan of its products (tiling and splits along K).
/// </summary>
/// <remarks>
/// A step of a two-level plan that works on an outer diagonal block in leaf blocks
/// (<see cref="CholeskyStepKind.FactorBlock"/>, <see cref="CholeskyStepKind.ReverseBlockByInner"/>)
/// carries the plan of that block as <see cref="Inner"/>, whose launches it counts; the GPU
/// family's <see cref="CholeskyStepKind.InvertBlock"/> carries the plans of its GEMM launches
/// (<see cref="TrtriGpu.Launches"/>) as <see cref="Gemms"/>. With two streams a
/// <see cref="CholeskyStepKind.TrailingUpdate"/> covers <see cref="Columns"/> columns from its
/// first (0: all of the trailing matrix), and runs on the device's side stream when
/// <see cref="Side"/>; a <see cref="CholeskyStepKind.ColumnUpdate"/> reads the columns
/// [<see cref="KFrom"/>, <see cref="KTo"/>) left of its block.
/// </remarks>
internal readonly record struct CholeskyStep(CholeskyStepKind Kind, int J0, int Width, int Launches, GemmPlan? Gemm = null, CholeskyPlan? Inner = null,
    IReadOnlyList<GemmPlan>? Gemms = null, bool Side = false, int Columns = 0, int KFrom = 0, int KTo = 0);

/// <summary>
/// How a Cholesky of a batch of order-n matrices runs on one device, forward and reverse: the
/// algorithm, the diagonal blocks, the threads per row and look-ahead of the GPU family's kernels,
/// and the step list of each pass with its launches and GEMM plans. Built once
/// (<see cref="For{T}"/>) from the device's kernel family and <see cref="TuningTable"/> and then
/// executed by <see cref="Blas.Potrf{T}(Device, MatRef{T}, DeviceTensor{int}, CholeskyPlan)"/> and
/// <see cref="Blas.PotrfBackward{T}(Device, MatRef{T}, MatRef{T}, CholeskyPlan, bool)"/>; launch
/// counts are read from the steps. Every choice between whole-matrix and blocked kernels, and
/// every block size, is made here.
/// </summary>
/// <remarks>
/// <para>
/// Whole matrices up to <see cref="WholeUpTo{T}"/>: one launch per pass, where the blocked path
/// launches per block one kernel forward (with look-ahead; two without) and two backward on the
/// GPU family, three forward and six backward on the CPU family, plus a reduction for each GEMM
/// update split along K. GPU family: one thread group per matrix with every intermediate in
/// shared memory, as far as a group's 48 KiB allow (<see cref="MaxWholeOrder{T}"/>: 77 in
/// float64, 110 in float32), or the lower <see cref="TuningTable.PotrfWholeUpTo"/> a table sets
/// after timing both. CPU family: one thread per matrix with SIMD rows, up to
/// <see cref="PotrfCpu.WholeUpTo"/>: below it each blocked launch's wake-up of the CPU
/// accelerator's threads costs more than the blocked path's parallel GEMMs save (timed with each
/// algorithm forced: suite cpu-policy of bench/suites.json, bench/results/2026-11-26-cpu-policy.md).
/// </para>
/// <para>
/// Blocked: the GPU family's blocks come from the table (<see cref="TuningTable.PotrfBlock"/>, and
/// <see cref="TuningTable.PotrfLargeBlock"/> beyond <see cref="TuningTable.PotrfLargeFrom"/>: half
/// the launches, and GEMM updates with a longer K), the CPU family's are the CPU GEMM's tiles
/// (<see cref="PotrfCpu.BlockSize"/>).
/// </para>
/// </remarks>
internal sealed class CholeskyPlan
{
    private CholeskyPlan(KernelFamily family, int n, int batch, CholeskyAlgorithm algorithm, int blockSize, int leafBlockSize, bool panelByInverse,
        bool lookAhead, int panelLanes, int wholeLanes, CholeskyStep[] forward, CholeskyStep[] backward, int streams = 1, bool leftLooking = false,
        bool? twoInverses = null)
    {
        Streams = streams;
        TwoInverses = twoInverses ?? backward.Any(s => s.Side);
        LeftLooking = leftLooking;
        BlockReverseByInverse = backward.Any(s => s.Kind == CholeskyStepKind.ReverseBlockByInverse);
        Family = family;
        N = n;
        Batch = batch;
        Algorithm = algorithm;
        BlockSize = blockSize;
        LeafBlockSize = leafBlockSize;
        PanelByInverse = panelByInverse;
        LookAhead = lookAhead;
        PanelLanes = panelLanes;
        WholeLanes = wholeLanes;
        Forward = forward;
        Backward = backward;
    }

    /// <summary>The kernel family the plan was made for.</summary>
    public KernelFamily Family { get; }

    /// <summary>The order of the matrices.</summary>
    public int N { get; }

    /// <summary>The number of matrices.</summary>
    public int Batch { get; }

    /// <summary>The resolved algorithm (never <see cref="CholeskyAlgorithm.Auto"/>).</summary>
    public CholeskyAlgorithm Algorithm { get; }

    /// <summary>The order of the diagonal blocks (at least 1); at least <see cref="N"/> when each matrix is worked on whole.</summary>
    public int BlockSize { get; }

    /// <summary>True when each matrix is factored and differentiated whole, one launch per pass.</summary>
    public bool Whole => BlockSize >= N && Algorithm != CholeskyAlgorithm.Dataflow;

    /// <summary>
    /// The order of the leaf blocks: the diagonal blocks the kernels factor and differentiate in
    /// one thread group (GPU family). Equal to <see cref="BlockSize"/> with one level; smaller with
    /// two, where each outer block of <see cref="BlockSize"/> is worked on in leaf blocks.
    /// </summary>
    public int LeafBlockSize { get; }

    /// <summary>1, or 2 when outer blocks of <see cref="BlockSize"/> are worked on in leaf blocks of <see cref="LeafBlockSize"/>.</summary>
    public int Levels => LeafBlockSize < BlockSize && !Whole ? 2 : 1;

    /// <summary>
    /// 2 when the forward runs GEMM updates on the device's side stream beside the chain of the
    /// outer diagonal blocks (right-looking: each block's trailing update beyond the next block;
    /// left-looking: the next block column's update by the columns already final), and the reverse
    /// the next block's inverse beside the current block (<see cref="TuningTable.PotrfStreams"/>,
    /// two levels only), else 1.
    /// </summary>
    public int Streams { get; }

    /// <summary>
    /// Two levels: the forward is left-looking (<see cref="TuningTable.PotrfLeftLooking"/>): each
    /// outer block column is updated by all the columns left of it just before its diagonal block
    /// is factored (<see cref="CholeskyStepKind.ColumnUpdate"/>, K up to n), where right-looking
    /// updates the whole trailing matrix after each block. The reverse is the same either way.
    /// </summary>
    public bool LeftLooking { get; }

    /// <summary>
    /// Two levels: the reverse differentiates each outer diagonal block by GEMMs against its
    /// inverse (<see cref="CholeskyStepKind.ReverseBlockByInverse"/>,
    /// <see cref="TuningTable.PotrfBlockReverseByInverse"/>), not by Murray's reverse in leaf blocks.
    /// </summary>
    public bool BlockReverseByInverse { get; }

    /// <summary>
    /// The reverse holds two outer blocks' inverses at a time, alternating between two buffers by
    /// the block's parity: when the side stream inverts the next block while the current one's is
    /// in use (and in that plan's one-stream order, <see cref="OnOneStream"/>, whose steps are the same).
    /// </summary>
    public bool TwoInverses { get; }

    /// <summary>Two levels: the outer panels (forward L21 ← A21·L11⁻ᵀ, reverse B̄ ← B̄·T⁻¹) are GEMMs against the inverted diagonal block, not triangular solves.</summary>
    public bool PanelByInverse { get; }

    /// <summary>GPU family, blocked: each block's launch also runs the previous panel's trailing update.</summary>
    public bool LookAhead { get; }

    /// <summary>GPU family: threads per row of the blocked panel kernels (forward and reverse).</summary>
    public int PanelLanes { get; }

    /// <summary>GPU family: threads per row of the whole-matrix kernels.</summary>
    public int WholeLanes { get; }

    /// <summary>The forward's steps, in order.</summary>
    public IReadOnlyList<CholeskyStep> Forward { get; }

    /// <summary>The reverse's steps, in order; the last is <see cref="CholeskyStepKind.Symmetrize"/> when blocked.</summary>
    public IReadOnlyList<CholeskyStep> Backward { get; }

    /// <summary>
    /// The device pool bytes the passes allocate besides L and L̄ at their peak, the larger of
    /// forward (<see cref="ForwardWorkspaceBytes"/>) and reverse (<see cref="BackwardWorkspaceBytes"/>),
    /// each allocation rounded by <paramref name="round"/> (the pool's size class).
    /// </summary>
    public long WorkspaceBytes(int elementSize, Func<long, long> round) =>
        Math.Max(ForwardWorkspaceBytes(elementSize, round), BackwardWorkspaceBytes(elementSize, round));

    /// <summary>
    /// The device pool bytes the forward allocates besides A at its peak: the GPU family's [NB, NB]
    /// work block of the panel kernels; with two levels and panels by inverse also the inverse, the
    /// TRTRI's scratch block (GPU family) and the [n − NB, NB] copy of the panel, held while an
    /// inner plan runs with its own; the dataflow factor's flags.
    /// </summary>
    public long ForwardWorkspaceBytes(int elementSize, Func<long, long> round)
    {
        if (Algorithm == CholeskyAlgorithm.Dataflow)
            return N == 0 || Batch == 0 ? 0 : round(PotrfDataflowGpu.SyncWords(N, Batch, BlockSize) * sizeof(int));
        long inner = Forward.Where(s => s.Inner is not null).Select(s => s.Inner!.ForwardWorkspaceBytes(elementSize, round)).DefaultIfEmpty().Max();
        return (ForwardWorkBlock ? Bytes(BlockSize, BlockSize, elementSize, round) : 0) + InverseBytes(Forward, elementSize, round) + inner;
    }

    /// <summary>
    /// The device pool bytes the reverse allocates besides L and L̄ at its peak: the [NB, NB] work
    /// block (the GPU family's panel kernels, T̄ + T̄ᵀ); with two levels and panels by inverse the
    /// forward's inverse buffers (two inverses alternating with two streams), held while an inner
    /// plan runs with its own; the dataflow reverse's two n² temporaries and its solves' flags.
    /// </summary>
    public long BackwardWorkspaceBytes(int elementSize, Func<long, long> round)
    {
        if (Algorithm == CholeskyAlgorithm.Dataflow)
        {
            if (N == 0 || Batch == 0) return 0;
            long words = PotrfDataflowGpu.SyncWords(N, Batch, BlockSize);
            return 2 * Bytes(N, N, elementSize, round) + round(2 * words * sizeof(int)); // M (then Z) and Y₁, and both solves' flags
        }
        long inner = Backward.Where(s => s.Inner is not null).Select(s => s.Inner!.BackwardWorkspaceBytes(elementSize, round)).DefaultIfEmpty().Max();
        long block = Bytes(BlockSize, BlockSize, elementSize, round);
        long secondInverse = TwoInverses ? block : 0; // the inverses alternate between two buffers
        long composed = BlockReverseByInverse ? 2 * block : 0;      // the block reverse's two squares besides the work block
        return (BackwardWorkBlock ? block : 0) + InverseBytes(Backward, elementSize, round) + secondInverse + composed + inner;
    }

    /// <summary>
    /// Two levels, a pass that inverts its outer blocks: the inverse and the GPU family's TRTRI
    /// scratch block, and with panels by inverse the panel's copy; else 0.
    /// </summary>
    private long InverseBytes(IReadOnlyList<CholeskyStep> steps, int elementSize, Func<long, long> round) => steps.Any(s => s.Kind == CholeskyStepKind.InvertBlock)
        ? Bytes(BlockSize, BlockSize, elementSize, round) * (Family == KernelFamily.GpuTuned ? 2 : 1) + (PanelByInverse ? Bytes(N - BlockSize, BlockSize, elementSize, round) : 0)
        : 0;

    private long Bytes(long rows, long cols, int elementSize, Func<long, long> round) => rows * cols == 0 ? 0 : round(Batch * rows * cols * elementSize);

    /// <summary>True when the forward has GPU-family panel launches, which factor each diagonal block through an [NB, NB] work block.</summary>
    public bool ForwardWorkBlock => Forward.Any(s => s.Kind is CholeskyStepKind.Panel or CholeskyStepKind.PanelLookAhead);

    /// <summary>
    /// True when the reverse has blocked diagonal-block steps, which pass T̄ (GPU family's panel
    /// launches) or T̄ + T̄ᵀ through an [NB, NB] work block.
    /// </summary>
    public bool BackwardWorkBlock => Backward.Any(s => s.Kind is CholeskyStepKind.ReversePanel or CholeskyStepKind.ReverseBlock or CholeskyStepKind.ReverseBlockByInner
        or CholeskyStepKind.ReverseBlockByInverse);

    /// <summary>
    /// The one-stream order of this plan (both passes): the same steps, the side stream's on the default stream
    /// and without the host's waits, so the same kernels on the same operands in an order that
    /// respects every dependency; the result is bitwise the two-stream plan's.
    /// </summary>
    public CholeskyPlan OnOneStream() => Streams == 1 ? this
        : new CholeskyPlan(Family, N, Batch, Algorithm, BlockSize, LeafBlockSize, PanelByInverse, LookAhead, PanelLanes, WholeLanes,
            Forward.Where(s => s.Kind is not (CholeskyStepKind.Fork or CholeskyStepKind.Join)).Select(s => s with { Side = false }).ToArray(),
            Backward.Where(s => s.Kind is not (CholeskyStepKind.Fork or CholeskyStepKind.Join)).Select(s => s with { Side = false }).ToArray(), streams: 1,
            LeftLooking, TwoInverses);

    /// <summary>The launches of the forward.</summary>
    public int ForwardLaunches => Forward.Sum(s => s.Launches);

    /// <summary>The launches of the reverse, with or without the final symmetrization.</summary>
    public int BackwardLaunches(bool symmetrize) =>
        Backward.Where(s => symmetrize || s.Kind != CholeskyStepKind.Symmetrize).Sum(s => s.Launches);

    /// <summary>
    /// The plan for a batch of order-n matrices of <typeparamref name="T"/> on <paramref name="device"/>.
    /// </summary>
    /// <param name="device">The device whose kernel family and tuning table decide.</param>
    /// <param name="n">The order of the matrices.</param>
    /// <param name="batch">The number of matrices.</param>
    /// <param name="algorithm">
    /// The requested algorithm; <see cref="CholeskyAlgorithm.Auto"/> chooses whole matrices up to
    /// <see cref="WholeUpTo{T}"/> and blocks above.
    /// </param>
    /// <param name="blockSize">The requested diagonal blocks (0: the automatic ones); ignored for whole matrices. With two levels, the leaf blocks.</param>
    /// <param name="op">The op named in errors.</param>
    /// <param name="paramName">The argument named in errors about the block size.</param>
    /// <param name="outerBlockSize">
    /// Two levels, outer blocks of this order worked on in leaf blocks of the diagonal block size
    /// (it must exceed them; at least n: one level). 0: the tuning table's
    /// <see cref="TuningTable.PotrfOuterBlock"/> beyond <see cref="TuningTable.PotrfOuterFrom"/> on
    /// the GPU family, one level on the CPU family.
    /// </param>
    /// <exception cref="ArgumentException">
    /// <see cref="CholeskyAlgorithm.Whole"/> on the GPU family with n above <see cref="MaxWholeOrder{T}"/>.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// An unknown algorithm, a negative block size, on the GPU family diagonal blocks,
    /// min(blockSize, n), above <see cref="MaxWholeOrder{T}"/>, or outer blocks that do not exceed
    /// the diagonal blocks.
    /// </exception>
    public static CholeskyPlan For<T>(Device device, int n, int batch, CholeskyAlgorithm algorithm = CholeskyAlgorithm.Auto,
        int blockSize = 0, string op = "Cholesky", string paramName = "blockSize", int outerBlockSize = 0) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(device);
        if (!Enum.IsDefined(algorithm))
            throw new ArgumentOutOfRangeException(nameof(algorithm), algorithm, $"{op}: unknown algorithm.");
        if (blockSize < 0)
            throw new ArgumentOutOfRangeException(paramName, blockSize, $"{op}: the block size must be positive (or 0 to choose it), got {blockSize}.");
        if (outerBlockSize < 0)
            throw new ArgumentOutOfRangeException(nameof(outerBlockSize), outerBlockSize, $"{op}: the outer block size must be positive (or 0 to choose it), got {outerBlockSize}.");
        int max = MaxWholeOrder<T>(device);
        if (algorithm == CholeskyAlgorithm.Auto)
            algorithm = n <= WholeUpTo<T>(device) ? CholeskyAlgorithm.Whole
                : DataflowPays(device, n, batch) ? CholeskyAlgorithm.Dataflow
                : CholeskyAlgorithm.Blocked;
        if (algorithm == CholeskyAlgorithm.Dataflow)
            return DataflowPlan(device, n, batch, blockSize == 0 ? PotrfDataflowGpu.Tile : blockSize, op, paramName);
        int nb;
        if (algorithm == CholeskyAlgorithm.Whole)
        {
            if (n > max)
                throw ShapeErrors.Invalid(op,
                    $"the whole-matrix algorithm handles n ≤ {max} for {typeof(T).Name} on {device.Name} (one thread group's shared memory)", new Shape(batch, n, n));
            nb = Math.Max(n, 1);
        }
        else
        {
            nb = blockSize == 0 ? BlockedBlockSize(device, n) : blockSize;
            if (Math.Min(nb, n) > max)
                throw new ArgumentOutOfRangeException(paramName, blockSize,
                    $"{op}: diagonal blocks of order {Math.Min(nb, n)} do not fit one thread group's shared memory on {device.Name}: at most {max} for {typeof(T).Name}.");
        }
        var family = device.Family;
        var table = device.Tuning;
        bool lookAhead = family == KernelFamily.GpuTuned && table.PotrfLookAhead;
        int outer = algorithm == CholeskyAlgorithm.Whole ? 0 : outerBlockSize > 0 ? outerBlockSize : AutomaticOuterBlock(device, n);
        if (outerBlockSize > 0 && outer <= nb && nb < n)
            throw new ArgumentOutOfRangeException(nameof(outerBlockSize), outerBlockSize,
                $"{op}: outer blocks of order {outer} must exceed the diagonal blocks of order {nb} they are factored in.");
        if (outer > nb && outer < n)
        {
            bool byInverse = table.PotrfPanelInverse, left = table.PotrfLeftLooking;
            int streams = table.PotrfStreams;
            return new CholeskyPlan(family, n, batch, algorithm, outer, nb, byInverse, lookAhead, table.PotrfPanelLanes, table.PotrfWholeLanes,
                left ? LeftLookingForwardSteps<T>(device, n, batch, outer, nb, lookAhead, byInverse, streams)
                    : OuterForwardSteps<T>(device, n, batch, outer, nb, lookAhead, byInverse, streams),
                OuterBackwardSteps<T>(device, n, batch, outer, nb, lookAhead, byInverse, streams, table.PotrfBlockReverseByInverse), streams, left);
        }
        return new CholeskyPlan(family, n, batch, algorithm, nb, nb, false, lookAhead, table.PotrfPanelLanes, table.PotrfWholeLanes,
            ForwardSteps<T>(device, n, batch, nb, lookAhead, inner: false), BackwardSteps<T>(device, n, batch, nb, inner: false));
    }

    /// <summary>
    /// True when <see cref="CholeskyAlgorithm.Dataflow"/> can run a batch of order-n matrices in
    /// tiles of <paramref name="tile"/>: the GPU family, and every index of the batch within int
    /// (the kernels' element and flag indices).
    /// </summary>
    private static bool DataflowFits(Device device, int n, int batch, int tile) =>
        device.Family == KernelFamily.GpuTuned && (long)batch * n * n <= int.MaxValue
        && PotrfDataflowGpu.SyncWords(n, 1, tile) * (long)batch * 2 <= int.MaxValue;

    /// <summary>
    /// The automatic choice of <see cref="CholeskyAlgorithm.Dataflow"/>: n up to the table's
    /// <see cref="TuningTable.PotrfDataflowUpTo"/> (timed on single matrices), in a batch whose
    /// rows, batch·n, are at most that order. The dataflow path wins where the blocked path's
    /// launches are latency-bound, short of parallel work; the blocked launches' parallel work
    /// grows with the rows of the batch's panels, so a batch with more rows than the largest
    /// single matrix at which dataflow won fills them, and there the blocked path's GEMM updates
    /// and its (2/3)·n³ reverse (against (7/3)·n³ by tiles) win.
    /// </summary>
    private static bool DataflowPays(Device device, int n, int batch) =>
        (long)batch * n <= device.Tuning.PotrfDataflowUpTo && DataflowFits(device, n, batch, PotrfDataflowGpu.Tile);

    /// <summary>
    /// Why <paramref name="algorithm"/> cannot run on <paramref name="device"/>'s kernel family, or
    /// null: the dataflow algorithm has GPU-family kernels only (its point is a GPU's launch latency).
    /// </summary>
    public static string? Unsupported(Device device, CholeskyAlgorithm algorithm) =>
        algorithm == CholeskyAlgorithm.Dataflow && device.Family != KernelFamily.GpuTuned
            ? $"the dataflow algorithm runs on the GPU family's kernels; {device.Name} runs the CPU family's"
            : null;

    /// <summary>The dataflow plan: one forward step of two launches, one reverse step of five.</summary>
    private static CholeskyPlan DataflowPlan(Device device, int n, int batch, int tile, string op, string paramName)
    {
        if (Unsupported(device, CholeskyAlgorithm.Dataflow) is { } why)
            throw new ArgumentException($"{op}: {why} (use Blocked or Whole).", paramName);
        if (!PotrfDataflowGpu.IsTile(tile))
            throw new ArgumentOutOfRangeException(paramName, tile, $"{op}: the dataflow algorithm's tiles are of order 8, 16 or 32, not {tile}.");
        if (!DataflowFits(device, n, batch, tile))
            throw ShapeErrors.Invalid(op, "the dataflow algorithm indexes a batch with 32-bit integers: batch·n² must stay below 2³¹", new Shape(batch, n, n));
        var table = device.Tuning;
        CholeskyStep[] forward = batch == 0 ? [] : n == 0 ? [new(CholeskyStepKind.ClearInfo, 0, 0, 1)] : [new(CholeskyStepKind.FactorDataflow, 0, n, 2)];
        CholeskyStep[] backward = batch == 0 || n == 0 ? [] : [new(CholeskyStepKind.ReverseDataflow, 0, n, 5)];
        return new CholeskyPlan(device.Family, n, batch, CholeskyAlgorithm.Dataflow, tile, tile, false, false, table.PotrfPanelLanes, table.PotrfWholeLanes, forward, backward);
    }

    /// <summary>
    /// The outer blocks the automatic choice takes for a blocked pass of order n: the table's
    /// <see cref="TuningTable.PotrfOuterBlock"/> beyond <see cref="TuningTable.PotrfOuterFrom"/> on
    /// the GPU family (0: one level), none on the CPU family, whose blocks are its GEMM's tiles.
    /// </summary>
    public static int AutomaticOuterBlock(Device device, int n) =>
        device.Family == KernelFamily.GpuTuned && device.Tuning.PotrfOuterBlock > 0 && n > device.Tuning.PotrfOuterFrom
            ? device.Tuning.PotrfOuterBlock : 0;

    /// <summary>
    /// The plan of a kernel-level call that gives only a block size
    /// (<see cref="Blas.Potrf{T}(Device, MatRef{T}, DeviceTensor{int}, int)"/>,
    /// <see cref="Blas.PotrfBackward{T}(Device, MatRef{T}, MatRef{T}, int, bool)"/>): blocks of that
    /// order (each matrix whole when it is at least n), or for 0 the automatic choice.
    /// </summary>
    public static CholeskyPlan ForBlockSize<T>(Device device, int n, int batch, int blockSize, string op = "Potrf") where T : unmanaged, INumber<T> =>
        For<T>(device, n, batch, blockSize == 0 ? CholeskyAlgorithm.Auto : CholeskyAlgorithm.Blocked, blockSize, op);

    /// <summary>
    /// The largest order one kernel factors or differentiates whole: on the GPU family the largest n
    /// whose two packed triangles, n(n+1)·sizeof(T) bytes, fit a group's 48 KiB of shared memory
    /// (77 in float64, 110 in float32); unlimited on the CPU family (one thread per matrix, in place).
    /// </summary>
    public static int MaxWholeOrder<T>(Device device) where T : unmanaged, INumber<T> =>
        device.Family == KernelFamily.GpuTuned ? PotrfGpu.MaxOrder(Unsafe.SizeOf<T>()) : int.MaxValue;

    /// <summary>
    /// The largest order the automatic choice works on whole: on the GPU family
    /// <see cref="MaxWholeOrder{T}"/>, or the table's <see cref="TuningTable.PotrfWholeUpTo"/> when
    /// smaller; on the CPU family <see cref="PotrfCpu.WholeUpTo"/>.
    /// </summary>
    public static int WholeUpTo<T>(Device device) where T : unmanaged, INumber<T> =>
        device.Family != KernelFamily.GpuTuned ? PotrfCpu.WholeUpTo
        : device.Tuning.PotrfWholeUpTo > 0 ? Math.Min(device.Tuning.PotrfWholeUpTo, MaxWholeOrder<T>(device))
        : MaxWholeOrder<T>(device);

    /// <summary>
    /// The automatic diagonal blocks of a blocked pass of order n (also the GPU triangular solve's
    /// default blocks): the table's on the GPU family, <see cref="PotrfCpu.BlockSize"/> on the CPU family.
    /// </summary>
    public static int BlockedBlockSize(Device device, int n) =>
        device.Family == KernelFamily.CpuTuned ? PotrfCpu.BlockSize
        : n > device.Tuning.PotrfLargeFrom ? device.Tuning.PotrfLargeBlock : device.Tuning.PotrfBlock;

    /// <summary>
    /// The forward's steps in blocks of <paramref name="nb"/>. An <paramref name="inner"/> plan (an
    /// outer diagonal block's) never works on its matrix whole, which would reset info, and leaves
    /// info's clearing and the upper triangle to the outer plan.
    /// </summary>
    private static CholeskyStep[] ForwardSteps<T>(Device device, int n, int batch, int nb, bool lookAhead, bool inner) where T : unmanaged, INumber<T>
    {
        var steps = new List<CholeskyStep>();
        if (batch == 0) return [];
        if (n == 0) return [new(CholeskyStepKind.ClearInfo, 0, 0, 1)];
        if (nb >= n && !inner) return [new(CholeskyStepKind.FactorWhole, 0, n, 1)];
        bool gpu = device.Family == KernelFamily.GpuTuned;
        if (!gpu && !inner) steps.Add(new(CholeskyStepKind.ClearInfo, 0, 0, 1));
        for (int k0 = 0; k0 < n; k0 += nb)
        {
            int w = Math.Min(nb, n - k0), k1 = k0 + w;
            if (gpu && lookAhead)
            {
                // The previous panel's update runs inside this block's launch (its tiles have the
                // shape of the part right of this block), unless the table gives its shape to cuBLAS:
                // then it ran as a step of its own after that panel, and this block's panel runs alone.
                bool previousByCublas = k0 > 0 && ByCublas<T>(device, batch, n - k0, nb);
                steps.Add(previousByCublas
                    ? new(CholeskyStepKind.Panel, k0, w, 1)
                    : new(CholeskyStepKind.PanelLookAhead, k0, w, 1, Gemm<T>(device, batch, ilgpu: true, (n - k1, n - k1, nb))));
                if (k1 < n && ByCublas<T>(device, batch, n - k1, w))
                    steps.Add(Update<T>(device, batch, CholeskyStepKind.TrailingUpdate, k0, w, (n - k1, n - k1, w)));
                continue;
            }
            if (gpu) steps.Add(new(CholeskyStepKind.Panel, k0, w, 1));
            else steps.Add(new(CholeskyStepKind.Factor, k0, w, 1));
            if (k1 == n) break;
            if (!gpu) steps.Add(new(CholeskyStepKind.PanelSolve, k0, w, Blas.TrsmLaunches(device, w, 0)));
            steps.Add(Update<T>(device, batch, CholeskyStepKind.TrailingUpdate, k0, w, (n - k1, n - k1, w)));
        }
        if (!gpu && !inner) steps.Add(new(CholeskyStepKind.Tril, 0, n, 1));
        return [.. steps];
    }

    /// <summary>The reverse's steps in blocks of <paramref name="nb"/>; an <paramref name="inner"/> plan leaves the symmetrization to the outer plan.</summary>
    private static CholeskyStep[] BackwardSteps<T>(Device device, int n, int batch, int nb, bool inner) where T : unmanaged, INumber<T>
    {
        if (n == 0 || batch == 0) return [];
        if (nb >= n) return [new(CholeskyStepKind.ReverseWhole, 0, n, 1)];
        bool gpu = device.Family == KernelFamily.GpuTuned;
        var steps = new List<CholeskyStep>();
        for (int j0 = (n - 1) / nb * nb; j0 >= 0; j0 -= nb)
        {
            int jb = Math.Min(nb, n - j0), below = n - j0 - jb;
            if (below > 0)
            {
                if (!gpu) steps.Add(new(CholeskyStepKind.ReversePanelSolve, j0, jb, Blas.TrsmLaunches(device, jb, jb)));
                steps.Add(j0 > 0
                    ? Update<T>(device, batch, CholeskyStepKind.ReverseUpdates, j0, jb, (jb, jb, below), (below, j0, jb), (jb, j0, below))
                    : Update<T>(device, batch, CholeskyStepKind.ReverseUpdates, j0, jb, (jb, jb, below)));
            }
            steps.Add(gpu ? new(CholeskyStepKind.ReversePanel, j0, jb, 1) : new(CholeskyStepKind.ReverseBlock, j0, jb, j0 == 0 ? 1 : 2));
        }
        if (!inner) steps.Add(new(CholeskyStepKind.Symmetrize, 0, n, 1));
        return [.. steps];
    }

    /// <summary>The plan of one outer diagonal block of order <paramref name="w"/>: leaf blocks of <paramref name="nb"/>, never whole, nothing cleared or symmetrized.</summary>
    private static CholeskyPlan InnerPlan<T>(Device device, int w, int batch, int nb, bool lookAhead) where T : unmanaged, INumber<T>
    {
        var table = device.Tuning;
        int leaf = Math.Min(nb, w);
        return new CholeskyPlan(device.Family, w, batch, CholeskyAlgorithm.Blocked, leaf, leaf, false, lookAhead, table.PotrfPanelLanes, table.PotrfWholeLanes,
            ForwardSteps<T>(device, w, batch, leaf, lookAhead, inner: true), BackwardSteps<T>(device, w, batch, leaf, inner: true));
    }

    /// <summary>
    /// Two levels, forward: right-looking over outer blocks of <paramref name="outer"/>, each
    /// diagonal block factored by its inner plan in leaf blocks of <paramref name="nb"/>, the panel
    /// below it solved (a GEMM against the block's inverse, or a TRSM in leaf blocks), and the
    /// trailing matrix updated by one GEMM with K = <paramref name="outer"/>.
    /// </summary>
    /// <remarks>
    /// With two <paramref name="streams"/>, block k's trailing update is split: the next block's
    /// columns on the default stream, the rest on the side stream (unless its GEMM is split along K,
    /// whose workspace the pool would hand out again before the side stream ran it) beside block
    /// k + 1's factor, inverse and panel; the host waits for the default stream before the side
    /// stream's update (Fork) and for the side stream before the next update (Join).
    /// </remarks>
    private static CholeskyStep[] OuterForwardSteps<T>(Device device, int n, int batch, int outer, int nb, bool lookAhead, bool byInverse, int streams)
        where T : unmanaged, INumber<T>
    {
        if (batch == 0) return [];
        var steps = new List<CholeskyStep> { new(CholeskyStepKind.ClearInfo, 0, 0, 1) };
        bool sidePending = false;
        for (int k0 = 0; k0 < n; k0 += outer)
        {
            int w = Math.Min(outer, n - k0), k1 = k0 + w;
            var inner = InnerPlan<T>(device, w, batch, nb, lookAhead);
            steps.Add(new(CholeskyStepKind.FactorBlock, k0, w, inner.ForwardLaunches, Inner: inner));
            if (k1 == n) break;
            steps.AddRange(OuterPanel<T>(device, batch, k0, w, n - k1, nb, byInverse, reverse: false));
            int k2 = Math.Min(k1 + outer, n);
            if (streams == 1 || k2 == n)
            {
                if (sidePending) steps.Add(new(CholeskyStepKind.Join, k0, w, 0));
                sidePending = false;
                steps.Add(Update<T>(device, batch, CholeskyStepKind.TrailingUpdate, k0, w, (n - k1, n - k1, w)));
                continue;
            }
            if (sidePending) steps.Add(new(CholeskyStepKind.Join, k0, w, 0));
            // The next block's columns: its diagonal block (lower triangle) and the rows below it, one grouped launch.
            var next = Update<T>(device, batch, CholeskyStepKind.TrailingUpdate, k0, w, (k2 - k1, k2 - k1, w), (n - k2, k2 - k1, w));
            steps.Add(next with { Columns = k2 - k1 });
            var rest = Update<T>(device, batch, CholeskyStepKind.TrailingUpdate, k0, w, (n - k2, n - k2, w));
            bool side = rest.Gemm is not { } g || g.Splits.All(x => x <= 1);
            if (side) steps.Add(new(CholeskyStepKind.Fork, k0, w, 0));
            steps.Add(rest with { Columns = -(k2 - k1), Side = side });
            sidePending = side;
        }
        if (sidePending) steps.Add(new(CholeskyStepKind.Join, n, 0, 0));
        steps.Add(new(CholeskyStepKind.Tril, 0, n, 1));
        return [.. steps];
    }

    /// <summary>
    /// Two levels, forward, left-looking over outer blocks of <paramref name="outer"/> (MAGMA's
    /// dpotrf_gpu order): each block column is first updated by every column left of it (one GEMM
    /// with K up to n, its N the outer order), then its diagonal block factored by its inner plan in
    /// leaf blocks of <paramref name="nb"/> and the panel below it solved as on the right-looking
    /// path. The trailing matrix is written once per block column, not once per block before it.
    /// </summary>
    /// <remarks>
    /// With two <paramref name="streams"/>, the next block column's update is split along K: the
    /// columns already final before this block (K = k0) on the side stream beside this block's
    /// update, factor, inverse and panel, and this block's own columns (K = the outer order) after
    /// it on the default stream. The host waits for the default stream before the side stream's
    /// part (Fork: the previous panel it reads is written) and for the side stream before the
    /// second part (Join). Both orders add the two parts in turn, so one stream and two give the
    /// same bits. A part whose GEMM splits along K stays on the default stream, for the reason the
    /// right-looking path gives.
    /// </remarks>
    private static CholeskyStep[] LeftLookingForwardSteps<T>(Device device, int n, int batch, int outer, int nb, bool lookAhead, bool byInverse, int streams)
        where T : unmanaged, INumber<T>
    {
        if (batch == 0) return [];
        var steps = new List<CholeskyStep> { new(CholeskyStepKind.ClearInfo, 0, 0, 1) };
        int done = 0; // the columns left of the current block whose update the side stream has applied
        for (int k0 = 0; k0 < n; k0 += outer)
        {
            int w = Math.Min(outer, n - k0), k1 = k0 + w, k2 = Math.Min(k1 + outer, n);
            if (done > 0) steps.Add(new(CholeskyStepKind.Join, k0, w, 0));
            if (k0 > 0) steps.Add(ColumnUpdate<T>(device, batch, n, k0, w, done, k0));
            done = 0;
            if (streams == 2 && k0 > 0 && k1 < n)
            {
                var early = ColumnUpdate<T>(device, batch, n, k1, k2 - k1, 0, k0);
                if (early.Gemm is not { } g || g.Splits.All(x => x <= 1))
                {
                    steps.Add(new(CholeskyStepKind.Fork, k0, w, 0));
                    steps.Add(early with { Side = true });
                    done = k0;
                }
            }
            var inner = InnerPlan<T>(device, w, batch, nb, lookAhead);
            steps.Add(new(CholeskyStepKind.FactorBlock, k0, w, inner.ForwardLaunches, Inner: inner));
            if (k1 == n) break;
            steps.AddRange(OuterPanel<T>(device, batch, k0, w, n - k1, nb, byInverse, reverse: false));
        }
        steps.Add(new(CholeskyStepKind.Tril, 0, n, 1));
        return [.. steps];
    }

    /// <summary>The left-looking update of the block column at <paramref name="j0"/> of <paramref name="w"/> columns by the columns [<paramref name="kFrom"/>, <paramref name="kTo"/>).</summary>
    private static CholeskyStep ColumnUpdate<T>(Device device, int batch, int n, int j0, int w, int kFrom, int kTo) where T : unmanaged, INumber<T>
    {
        int k = kTo - kFrom, below = n - j0 - w;
        var step = below > 0
            ? Update<T>(device, batch, CholeskyStepKind.ColumnUpdate, j0, w, (w, w, k), (below, w, k))
            : Update<T>(device, batch, CholeskyStepKind.ColumnUpdate, j0, w, (w, w, k));
        return step with { KFrom = kFrom, KTo = kTo };
    }

    /// <summary>
    /// Two levels, reverse: Murray's blocked reverse over outer blocks of <paramref name="outer"/>,
    /// the panel's B̄·T⁻¹ against the block's inverse (or a TRSM in leaf blocks), the three updates
    /// as one grouped GEMM, and each diagonal block's reverse by its inner plan in leaf blocks, or
    /// with <paramref name="blockByInverse"/> by GEMMs against its inverse (every block inverted
    /// once: for its panel, or for its reverse alone).
    /// </summary>
    /// <remarks>
    /// With two <paramref name="streams"/> and the panels by inverse, each block's inverse (it reads
    /// only L) is computed on the side stream while the default stream works on the block after it
    /// in the walk: after block j's panel GEMM the host waits for the default stream (Fork, so the
    /// inverse buffer that the previous panel read is free; two buffers alternate), the side stream
    /// inverts block j − 1, and before block j − 1's panel GEMM the host waits for it (Join). Unless
    /// an inverse's GEMMs split along K (their workspace would go back to the pool before the side
    /// stream ran them): then every inverse runs in order on the default stream.
    /// </remarks>
    private static CholeskyStep[] OuterBackwardSteps<T>(Device device, int n, int batch, int outer, int nb, bool lookAhead, bool byInverse, int streams,
        bool blockByInverse) where T : unmanaged, INumber<T>
    {
        if (batch == 0) return [];
        var panels = new Dictionary<int, CholeskyStep[]>();
        for (int j0 = (n - 1) / outer * outer; j0 >= 0; j0 -= outer)
        {
            int jb = Math.Min(outer, n - j0), below = n - j0 - jb;
            if (below > 0) panels[j0] = OuterPanel<T>(device, batch, j0, jb, below, nb, byInverse, reverse: true).ToArray();
        }
        bool ahead = streams == 2 && byInverse && panels.Count > 0
            && panels.Values.All(p => p[0].Gemms is not { } gemms || gemms.All(g => g.Splits.All(x => x <= 1)));
        var steps = new List<CholeskyStep>();
        int last = (n - 1) / outer * outer;
        if (blockByInverse && !panels.ContainsKey(last))
        {
            // The last block has no panel to invert it for: its block reverse inverts it first, before
            // the side stream's first inverse (the two would share the TRTRI's scratch block).
            steps.Add(Invert<T>(device, batch, last, n - last, nb));
            if (ahead) steps.Add(new(CholeskyStepKind.Fork, last, n - last, 0));
        }
        if (ahead)
        {
            var first = panels[panels.Keys.Max()][0];
            steps.Add(first with { Side = true });
        }
        for (int j0 = (n - 1) / outer * outer; j0 >= 0; j0 -= outer)
        {
            int jb = Math.Min(outer, n - j0), below = n - j0 - jb;
            if (below > 0)
            {
                if (ahead)
                {
                    steps.Add(new(CholeskyStepKind.Join, j0, jb, 0));
                    steps.Add(panels[j0][1]);
                    if (panels.TryGetValue(j0 - outer, out var next))
                    {
                        steps.Add(new(CholeskyStepKind.Fork, j0, jb, 0));
                        steps.Add(next[0] with { Side = true });
                    }
                }
                else
                    steps.AddRange(panels[j0]);
                steps.Add(j0 > 0
                    ? Update<T>(device, batch, CholeskyStepKind.ReverseUpdates, j0, jb, (jb, jb, below), (below, j0, jb), (jb, j0, below))
                    : Update<T>(device, batch, CholeskyStepKind.ReverseUpdates, j0, jb, (jb, jb, below)));
            }
            GemmPlan? correction = null;
            int corrections = 0;
            if (j0 > 0)
            {
                // W = T̄ + T̄ᵀ (one map), then C̄ −= W·C.
                correction = device.Family == KernelFamily.GpuTuned ? Gemm<T>(device, batch, ilgpu: false, (jb, j0, jb)) : null;
                corrections = 1 + (correction?.Launches ?? 1);
            }
            if (blockByInverse)
            {
                if (!byInverse && below > 0) steps.Add(Invert<T>(device, batch, j0, jb, nb));
                // tril(T) and tril(T̄) copied, Tᵀ·T̄, Φ*, T⁻ᵀ·, ·T⁻¹, the lower triangle written back: four maps and three GEMMs.
                var squares = device.Family == KernelFamily.GpuTuned
                    ? Enumerable.Range(0, 3).Select(_ => Gemm<T>(device, batch, ilgpu: false, (jb, jb, jb))).ToArray()
                    : null;
                int launches = 4 + (squares?.Sum(g => g.Launches) ?? 3) + corrections;
                steps.Add(new(CholeskyStepKind.ReverseBlockByInverse, j0, jb, launches, correction, Gemms: squares));
                continue;
            }
            var inner = InnerPlan<T>(device, jb, batch, nb, lookAhead);
            steps.Add(new(CholeskyStepKind.ReverseBlockByInner, j0, jb, inner.BackwardLaunches(symmetrize: false) + corrections, correction, inner));
        }
        steps.Add(new(CholeskyStepKind.Symmetrize, 0, n, 1));
        return [.. steps];
    }

    /// <summary>
    /// The outer panel's solve against the diagonal block at <paramref name="j0"/> of order
    /// <paramref name="w"/> with <paramref name="rows"/> rows below: the inverse and one GEMM, or a
    /// TRSM in leaf blocks (forward L21·L11⁻ᵀ, reverse B̄·T⁻¹).
    /// </summary>
    private static IEnumerable<CholeskyStep> OuterPanel<T>(Device device, int batch, int j0, int w, int rows, int nb, bool byInverse, bool reverse)
        where T : unmanaged, INumber<T>
    {
        if (!byInverse)
        {
            yield return new(reverse ? CholeskyStepKind.ReversePanelSolve : CholeskyStepKind.PanelSolve, j0, w, Blas.TrsmLaunches(device, w, Math.Min(nb, w)));
            yield break;
        }
        yield return Invert<T>(device, batch, j0, w, nb);
        var kind = reverse ? CholeskyStepKind.ReversePanelByInverse : CholeskyStepKind.PanelByInverse;
        if (device.Family != KernelFamily.GpuTuned)
        {
            yield return new(kind, j0, w, 2);
            yield break;
        }
        var gemm = Gemm<T>(device, batch, ilgpu: false, (rows, w, w));
        yield return new(kind, j0, w, 1 + gemm.Launches, gemm);
    }

    /// <summary>The inverse of the outer diagonal block at <paramref name="j0"/> of order <paramref name="w"/> (TRTRI in leaves of <paramref name="nb"/>).</summary>
    private static CholeskyStep Invert<T>(Device device, int batch, int j0, int w, int nb) where T : unmanaged
    {
        if (device.Family != KernelFamily.GpuTuned)
            return new(CholeskyStepKind.InvertBlock, j0, w, 1 + Blas.TrsmLaunches(device, w, Math.Min(nb, w)));
        var plans = TrtriGpu.Launches(w, Math.Min(nb, w)).Select(l => Gemm<T>(device, batch, ilgpu: false, TrtriGpu.Shapes(l))).ToArray();
        return new(CholeskyStepKind.InvertBlock, j0, w, 1 + plans.Sum(g => g.Launches), Gemms: plans);
    }

    /// <summary>A GEMM-shaped step of (M, N, K) products: one grouped launch (+ its split-K reduction) on the GPU family, one launch per product on the CPU family.</summary>
    private static CholeskyStep Update<T>(Device device, int batch, CholeskyStepKind kind, int j0, int width, params (int M, int N, int K)[] products)
        where T : unmanaged, INumber<T>
    {
        if (device.Family != KernelFamily.GpuTuned) return new(kind, j0, width, products.Length);
        var gemm = Gemm<T>(device, batch, ilgpu: false, products);
        return new(kind, j0, width, gemm.Launches, gemm);
    }

    /// <summary>True when cuBLAS runs a trailing update of order <paramref name="order"/> with K = <paramref name="k"/>.</summary>
    private static bool ByCublas<T>(Device device, int batch, int order, int k) where T : unmanaged =>
        Gemm<T>(device, batch, ilgpu: false, (order, order, k)).Provider == GemmProvider.Cublas;

    /// <summary>The GEMM policy's plan of (M, N, K) products; with <paramref name="ilgpu"/>, of the ILGPU tilings only.</summary>
    private static GemmPlan Gemm<T>(Device device, int batch, bool ilgpu, params (int M, int N, int K)[] products) where T : unmanaged
    {
        var args = products.Select(p => new GemmArgs<T> { M = p.M, N = p.N, K = p.K }).ToArray();
        return GemmPolicy.Choose<T>(device.Tuning, device.Multiprocessors, args, batch, device.SupportsDmma, cublas: !ilgpu && device.Cublas is not null);
    }
}
