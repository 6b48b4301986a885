using System.Diagnostics;
using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Bench;

/// <summary>What the tuning sweep times, how often, and for how long at most.</summary>
internal sealed record TuneOptions
{
    /// <summary>The sweep's default budget (<c>gpuad tune --budget</c>); entries not timed within it keep their defaults.</summary>
    public static readonly TimeSpan DefaultBudget = TimeSpan.FromSeconds(240);

    /// <summary>Wall-clock time the sweep may take; no candidate starts once it would overrun it.</summary>
    public TimeSpan Budget { get; init; } = DefaultBudget;

    /// <summary>Timed runs per candidate (the median is kept), after one untimed run that compiles.</summary>
    public int Repeats { get; init; } = 5;

    /// <summary>Order of the square products that choose the large tilings (enough tiles to fill a GPU).</summary>
    public int GemmOrder { get; init; } = 4096;

    /// <summary>Order of the square products that choose the small tilings (too few tiles to fill a GPU with the large ones).</summary>
    public int GemmSmallOrder { get; init; } = 1024;

    /// <summary>M = N of the split-K product: one tile of the small tiling, the worst case for filling a GPU.</summary>
    public int SplitOrder { get; init; } = 64;

    /// <summary>K of the split-K product.</summary>
    public int SplitK { get; init; } = 8192;

    /// <summary>
    /// Order of the Cholesky that chooses <see cref="TuningTable.PotrfBlock"/>: the largest order it
    /// governs under the default <see cref="TuningTable.PotrfLargeFrom"/> (512).
    /// </summary>
    public int CholeskyOrder { get; init; } = 512;

    /// <summary>Orders of the Cholesky that chooses <see cref="TuningTable.PotrfLargeBlock"/>, timed together.</summary>
    public int[] CholeskyLargeOrders { get; init; } = [1024, 4096];

    /// <summary>
    /// Outer blocks of the two-level Cholesky timed against one level at <see cref="CholeskyLargeOrders"/>
    /// (<see cref="TuningTable.PotrfOuterBlock"/>); those not above the leaf blocks or not below the
    /// largest order are left out.
    /// </summary>
    public int[] CholeskyOuterBlocks { get; init; } = [256, 512, 1024];

    /// <summary>
    /// Orders of the single-matrix Cholesky at which the dataflow path is timed against the blocked
    /// one, from the smallest up (<see cref="TuningTable.PotrfDataflowUpTo"/>: the largest order up
    /// to which it won at every order timed).
    /// </summary>
    public int[] CholeskyDataflowOrders { get; init; } = [256, 1024, 2048];

    /// <summary>Order of the batch of small matrices that chooses <see cref="TuningTable.PotrfWholeLanes"/> (factored whole).</summary>
    public int CholeskySmallOrder { get; init; } = 32;

    /// <summary>Batch of that problem (the suite's 4096×32²).</summary>
    public int CholeskySmallBatch { get; init; } = 4096;

    /// <summary>Order of the one-column triangular solve that chooses <see cref="TuningTable.TrsmNarrowLanes"/> (a GP's L⁻¹y).</summary>
    public int TrsmOrder { get; init; } = 4096;

    /// <summary>The command that ran the sweep, for <see cref="TuningTable.Measured"/>.</summary>
    public string Command { get; init; } = "Tuner.Run";

    /// <summary>
    /// The sizes for a device: a GPU's, or on the emulated GPU (one OS thread per simulated thread)
    /// sizes that take seconds: GEMMs of 96 and 48, a 64×64×512 split-K product, Cholesky at n = 100
    /// (outer blocks of 72 and 96, above every leaf block candidate), the dataflow path at n = 60.
    /// </summary>
    public static TuneOptions For(Device device) => device.Kind == DeviceKind.Cuda
        ? new TuneOptions()
        : new TuneOptions { Repeats = 3, GemmOrder = 96, GemmSmallOrder = 48, SplitK = 512, CholeskyOrder = 100, CholeskyLargeOrders = [100], CholeskyOuterBlocks = [72, 96], CholeskyDataflowOrders = [60], CholeskySmallOrder = 20, CholeskySmallBatch = 2, TrsmOrder = 100 };
}

/// <summary>One timed candidate of the sweep.</summary>
/// <param name="What">The entry and the problem it was timed on, e.g. "gemmF64: f64 4096×4096×4096".</param>
/// <param name="Candidate">The variant, e.g. "128x64k8", "8 splits", "block 64".</param>
/// <param name="MedianMs">Median milliseconds of the timed runs; null when it failed.</param>
/// <param name="Chosen">True for the fastest candidate of a fully timed entry.</param>
/// <param name="Note">Why it failed, if it did.</param>
internal sealed record TuneRow(string What, string Candidate, double? MedianMs, bool Chosen, string? Note = null);

/// <summary>The result of a sweep.</summary>
/// <param name="Table">The tuning table: measured entries, defaults for the rest; validated.</param>
/// <param name="Rows">Every timed candidate, in order.</param>
/// <param name="Measured">The entries measured, e.g. "gemm f64", "split-K".</param>
/// <param name="NotMeasured">The entries left at their defaults, each with why (budget, or the failure).</param>
/// <param name="Elapsed">How long the sweep took.</param>
internal sealed record TuneReport(TuningTable Table, IReadOnlyList<TuneRow> Rows, IReadOnlyList<string> Measured,
    IReadOnlyList<(string Entry, string Why)> NotMeasured, TimeSpan Elapsed);

/// <summary>
/// The tuning sweep behind <c>gpuad tune</c>: times the GPU family's variants on one device and
/// writes down the fastest as a <see cref="TuningTable"/> for that device's name. In order:
/// (a) every GEMM tiling that fits shared memory, float64 and float32, on a product large enough
/// to fill the GPU (the large tilings); (b) the same on a smaller one (the small tilings);
/// (c) split-K counts on a one-tile product with long K; (d) the blocked Cholesky's block sizes
/// (forward and backward, float64) at a mid and a large order, the threads per row of its panel
/// step, look-ahead, and two levels at the large orders (the outer blocks against one level, then
/// the outer panels as a GEMM against the inverse or a TRSM), the threads per row of the
/// whole-matrix kernels on a batch of small matrices, and whether an order at the shared-memory
/// limit is faster whole or blocked; (e) the threads per column of a one-column triangular solve.
/// A Cholesky candidate's factor and gradient must equal the first candidate's to
/// <see cref="CholeskyTolerance{T}"/> before it is timed; one that does not is reported with its
/// error and never chosen. Each candidate runs once untimed (the kernels compile) and then
/// <see cref="TuneOptions.Repeats"/> times through the benchmark engine's timing loop
/// (<see cref="Engine.Time"/>); the median counts. The budget is checked before every candidate (with the
/// previous candidate's time as the estimate of the next); an entry whose candidates were not
/// all timed keeps its default, and <see cref="TuningTable.Measured"/> says which entries were
/// measured.
/// </summary>
internal static class Tuner
{
    /// <summary>Split-K counts tried (as far as K allows whole slices per split).</summary>
    internal static readonly int[] SplitCandidates = [1, 2, 4, 8, 16, 32];

    /// <summary>Threads per row of the blocked Cholesky's panel step tried.</summary>
    internal static readonly int[] PanelLaneCandidates = [1, 2, 4];

    /// <summary>Threads per column of a one-column triangular solve tried.</summary>
    internal static readonly int[] NarrowLaneCandidates = [1, 4, 32];

    /// <summary>Cholesky block sizes tried (those that fit one group's shared memory in float64).</summary>
    internal static readonly int[] BlockCandidates = [32, 48, 64];

    /// <summary>
    /// The shortest K range the table lets one split have, whatever was measured: below four
    /// slices of the longest-sliced tiling the fixed costs of a split (its staged tiles, its
    /// share of the ordered reduction) outweigh its multiply-adds.
    /// </summary>
    internal const int MinSplitKFloor = 64;

    /// <summary>Step of the walk down from the shared-memory limit when blocked beats whole there.</summary>
    internal const int WholeStep = 16;

    /// <summary>Entry names, as <see cref="TuningTable.Measured"/> lists them.</summary>
    internal static class Entries
    {
        public const string GemmF64 = "gemm f64", GemmF32 = "gemm f32", GemmSmallF64 = "gemm small f64", GemmSmallF32 = "gemm small f32";
        public const string SplitK = "split-K", Block = "Cholesky block", LargeBlock = "Cholesky large block", Whole = "Cholesky whole-matrix limit";
        public const string PanelLanes = "Cholesky panel lanes", WholeLanes = "Cholesky whole-matrix lanes", TrsmNarrow = "narrow TRSM lanes";
        public const string LookAhead = "Cholesky look-ahead", OuterBlock = "Cholesky outer block", PanelInverse = "Cholesky panel by inverse", Streams = "Cholesky streams";
        public const string LeftLooking = "Cholesky left-looking", BlockReverse = "Cholesky block reverse by inverse", Dataflow = "Cholesky dataflow limit";
        public static readonly string[] All = [GemmF64, GemmF32, GemmSmallF64, GemmSmallF32, SplitK, Block, LargeBlock, PanelLanes, LookAhead, OuterBlock, PanelInverse, Streams, LeftLooking,
            BlockReverse, Dataflow, WholeLanes, Whole, TrsmNarrow];

        /// <summary>cuBLAS against the ILGPU tilings per GEMM shape class: measured only where cuBLAS loads (not in <see cref="All"/>).</summary>
        public const string Cublas = "GEMM provider";
    }

    /// <summary>Throws unless a candidate's product agrees with the reference tiling's to float64 rounding (relative to the largest element).</summary>
    internal static void SameProduct<T>(GemmTiling tiling, GemmTiling referenceTiling, T[] got, T[] reference) where T : unmanaged, INumber<T> =>
        Agrees($"{tiling}: the product", referenceTiling.ToString(), got, reference, 1e-12 * Math.Sqrt(got.Length));

    /// <summary>
    /// Relative tolerance (to the largest element) of a candidate's Cholesky factor, gradient or
    /// triangular solve of order <paramref name="n"/> against the first candidate's: 1e-8 in float64
    /// and 1e-4 in float32 per 64 rows. Candidates differ in summation order and, with two levels,
    /// in solving the outer panels by an explicit inverse, whose rounding grows with n on the
    /// well-conditioned inputs timed; a candidate that computes wrongly is off by the size of the
    /// elements.
    /// </summary>
    internal static double CholeskyTolerance<T>(int n) where T : unmanaged, INumber<T> =>
        (typeof(T) == typeof(double) ? 1e-8 : 1e-4) * Math.Max(n, 64) / 64;

    /// <summary>
    /// Throws unless <paramref name="got"/> equals <paramref name="reference"/> to <paramref name="tolerance"/>
    /// relative to the largest element (NaN and infinities never agree).
    /// </summary>
    internal static void Agrees<T>(string what, string referenceName, T[] got, T[] reference, double tolerance) where T : unmanaged, INumber<T>
    {
        double scale = 0, error = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double r = double.CreateChecked(reference[i]), g = double.CreateChecked(got[i]);
            scale = Math.Max(scale, Math.Abs(r));
            error = Math.Max(error, double.IsFinite(g) ? Math.Abs(g - r) : double.PositiveInfinity);
        }
        if (!(error <= tolerance * Math.Max(scale, double.Epsilon)))
            throw new GpuADException($"{what} differs from {referenceName}'s by {error:g3} (largest element {scale:g3}); not used");
    }

    /// <summary>Runs the sweep on <paramref name="device"/> and returns the table with the timings.</summary>
    /// <param name="device">A GPU-family device (a CUDA GPU, or the emulated GPU for tests).</param>
    /// <param name="options">Sizes, repeats and budget (<see cref="TuneOptions.For"/>).</param>
    /// <param name="progress">Told about every candidate as it is timed or skipped.</param>
    /// <exception cref="ArgumentException">The device runs the CPU family, which has nothing to tune, or an option is out of range.</exception>
    /// <remarks>The device's <see cref="Device.Tuning"/> is changed while Cholesky candidates run and restored before returning.</remarks>
    public static TuneReport Run(Device device, TuneOptions options, Action<string>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        if (device.Family != KernelFamily.GpuTuned)
            throw new ArgumentException($"Tune: {device} runs the CPU-tuned kernels, which have nothing to tune; use a CUDA GPU or the emulated GPU.");
        if (options.Repeats < 1 || options.Budget < TimeSpan.Zero || options.GemmOrder < 1 || options.GemmSmallOrder < 1 || options.SplitOrder < 1
            || options.SplitK < 1 || options.CholeskyOrder < 1 || options.CholeskyLargeOrders.Length == 0 || options.CholeskyLargeOrders.Any(n => n < 1)
            || options.CholeskyOuterBlocks.Any(b => b < 1) || options.CholeskyDataflowOrders.Any(n => n < 1)
            || options.CholeskySmallOrder < 1 || options.CholeskySmallBatch < 1 || options.TrsmOrder < 1)
            throw new ArgumentException("Tune: repeats and sizes must be positive and the budget not negative.", nameof(options));

        var original = device.Tuning;
        var sweep = new Sweep(device, options, progress);
        try
        {
            sweep.Gemm();
            sweep.SplitK();
            sweep.Providers();
            sweep.Cholesky();
            sweep.TrsmNarrow();
        }
        finally
        {
            device.Tuning = original;
            device.Pool.Trim();
        }
        return sweep.Report();
    }

    /// <summary>
    /// The GEMM-provider entry alone (<see cref="Entries.Cublas"/>), from the defaults: what
    /// <see cref="Run"/> does between split-K and the Cholesky entries, for the tests.
    /// </summary>
    internal static TuneReport RunProviders(Device device, TuneOptions options)
    {
        var original = device.Tuning;
        var sweep = new Sweep(device, options, progress: null);
        try
        {
            sweep.Providers();
        }
        finally
        {
            device.Tuning = original;
        }
        return sweep.Report();
    }

    /// <summary>
    /// The two-level entries alone (<see cref="Entries.OuterBlock"/>, <see cref="Entries.PanelInverse"/>)
    /// from <paramref name="start"/> (its leaf blocks, say), for the tests; <paramref name="readBack"/>
    /// sees each Cholesky candidate's factor and gradient as read back, before they are compared,
    /// and may change them.
    /// </summary>
    internal static TuneReport RunTwoLevels(Device device, TuneOptions options, TuningTable start, Action<string, double[], double[]>? readBack = null)
    {
        var original = device.Tuning;
        var sweep = new Sweep(device, options, progress: null, start, readBack);
        try
        {
            sweep.TwoLevels(options.CholeskyLargeOrders);
        }
        finally
        {
            device.Tuning = original;
            device.Pool.Trim();
        }
        return sweep.Report();
    }

    /// <summary>The state of one sweep: the table so far, the clock, the rows.</summary>
    /// <param name="device">The device timed.</param>
    /// <param name="options">Sizes, repeats and budget.</param>
    /// <param name="progress">Told about every candidate.</param>
    /// <param name="start">The table before the sweep (the defaults for the device's name if null).</param>
    /// <param name="readBack">Sees (and may change) each Cholesky candidate's factor and gradient before they are compared.</param>
    private sealed class Sweep(Device device, TuneOptions options, Action<string>? progress,
        TuningTable? start = null, Action<string, double[], double[]>? readBack = null)
    {
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly List<TuneRow> rows = [];
        private readonly List<string> measured = [];
        private readonly List<(string Entry, string Why)> notMeasured = [];
        private TuningTable table = start ?? TuningTable.Defaults with { Device = device.Name };

        public void Gemm()
        {
            foreach (var (order, small) in new[] { (options.GemmOrder, false), (options.GemmSmallOrder, true) })
            {
                var f64 = GemmTilings<double>(small ? Entries.GemmSmallF64 : Entries.GemmF64, small ? "gemmSmallF64" : "gemmF64", order);
                if (f64 is not null) table = small ? table with { GemmSmallF64 = f64 } : table with { GemmF64 = f64 };
                var f32 = GemmTilings<float>(small ? Entries.GemmSmallF32 : Entries.GemmF32, small ? "gemmSmallF32" : "gemmF32", order);
                if (f32 is not null) table = small ? table with { GemmSmallF32 = f32 } : table with { GemmF32 = f32 };
            }
        }

        /// <summary>Returns the blocks of the entry just timed to the device (a 4096² float64 operand is 128 MiB).</summary>
        private void Release() => device.Pool.Trim();

        /// <summary>
        /// Times every tiling that serves the element type on the device, one n×n×n product; the
        /// fastest's name, or null. The DMMA tilings (inline PTX, fp64 tensor cores) are checked
        /// against the first SIMT tiling's result before they count: one that fails to compile
        /// or differs is reported and skipped, and the others are still compared.
        /// </summary>
        private string? GemmTilings<T>(string entry, string field, int n) where T : unmanaged, INumber<T>
        {
            var tilings = GemmGpu.TilingsFor(device, System.Runtime.CompilerServices.Unsafe.SizeOf<T>()).ToArray();
            string what = $"{field}: {TypeName<T>()} {n}×{n}×{n}";
            if (!HasTime(entry)) return null;
            int? best;
            using (var a = Uniform<T>(n, n, seed: 1))
            using (var b = Uniform<T>(n, n, seed: 2))
            using (var c = device.Zeros<T>(new Shape(1, n, n)))
            {
                T[]? reference = null;
                if (tilings.Any(t => t.Mma))
                {
                    Blas.GemmWith(device, a.Mat, false, b.Mat, false, c.Mat, T.One, T.Zero, tilings[0], splits: 1);
                    reference = c.ToArray();
                }
                best = Fastest(entry, what, tilings.Select(t => t.ToString()).ToArray(), i => Time(
                    prepare: null,
                    run: () => Candidate(tilings[i], () => Blas.GemmWith(device, a.Mat, false, b.Mat, false, c.Mat, T.One, T.Zero, tilings[i], splits: 1)),
                    validate: tilings[i].Mma ? () => SameProduct(tilings[i], tilings[0], c.ToArray(), reference!) : null),
                    skipFailed: true);
            }
            Release();
            return best is int i ? tilings[i].ToString() : null;
        }

        /// <summary>Runs a candidate; a DMMA tiling's failure (its PTX rejected by the driver, say) becomes a <see cref="GpuADException"/>.</summary>
        private void Candidate(GemmTiling tiling, Action run)
        {
            try
            {
                run();
                if (tiling.Mma) device.Synchronize(); // an execution fault surfaces here, inside the try (Time's own sync then costs nothing)
            }
            catch (Exception e) when (tiling.Mma && e is not GpuADException)
            {
                throw new GpuADException($"{tiling} failed on {device.Name}: {e.GetType().Name}: {e.Message}", e);
            }
        }

        /// <summary>
        /// Times split counts on an M×M×K product with the table's small tiling (one tile: nothing
        /// but splitting gives the GPU more groups). The best count is the most splits worth
        /// having (MaxSplits), and the K range each split had there, K/best, the shortest that
        /// still paid for its share of the reduction (MinSplitK, at least <see cref="MinSplitKFloor"/>).
        /// </summary>
        public void SplitK()
        {
            int m = options.SplitOrder, k = options.SplitK;
            var tiling = table.GemmSmall(sizeof(double));
            // A count is tried when K gives each split whole slices and exactly that many splits.
            var counts = SplitCandidates.Where(s => k / s >= tiling.SliceK && GemmPolicy.Split(k, s, tiling.SliceK).Splits == s).ToArray();
            string what = $"maxSplits: f64 {m}×{m}×{k}, {tiling}";
            if (!HasTime(Entries.SplitK)) return;
            int? best;
            using (var a = Uniform<double>(m, k, seed: 3))
            using (var b = Uniform<double>(k, m, seed: 4))
            using (var c = device.Zeros<double>(new Shape(1, m, m)))
            {
                best = Fastest(Entries.SplitK, what, counts.Select(s => s == 1 ? "1 (no split)" : $"{s} splits").ToArray(), i => Time(
                    prepare: null,
                    run: () => Blas.GemmWith(device, a.Mat, false, b.Mat, false, c.Mat, 1.0, 0.0, tiling, counts[i])));
            }
            Release();
            if (best is int bi)
                table = table with { MaxSplits = counts[bi], MinSplitK = Math.Max(MinSplitKFloor, k / counts[bi]) };
        }

        /// <summary>
        /// Where cuBLAS loads: per GEMM shape class, one float64 product of the shapes the Cholesky
        /// issues (large: the GEMM order cubed; k-panel: the trailing update of the largest Cholesky
        /// order, K = the large block; mn-panel: its reverse's M = block updates; small: the batch of
        /// small products), the ILGPU tilings as the table has them against cuBLAS, whose product
        /// must agree with theirs to rounding before it may be chosen. The classes cuBLAS wins go to
        /// <see cref="TuningTable.GemmCublas"/>; the Cholesky entries after it are timed with them.
        /// </summary>
        public void Providers()
        {
            if (device.Cublas is null) return; // nothing to choose: the ILGPU kernels run every product
            int n = options.CholeskyLargeOrders.Max(), nb = table.PotrfLargeBlock, s = options.CholeskySmallOrder;
            var problems = new (GemmShapeClass Class, int M, int N, int K, int Batch)[]
            {
                (GemmShapeClass.Large, options.GemmOrder, options.GemmOrder, options.GemmOrder, 1),
                (GemmShapeClass.KPanel, n, n, nb, 1),
                (GemmShapeClass.MnPanel, nb, n, n, 1),
                (GemmShapeClass.Small, s, s, s, options.CholeskySmallBatch),
            };
            var chosen = new List<string>();
            bool complete = true;
            foreach (var (shape, m, nn, k, batch) in problems)
            {
                string name = GemmShapeClasses.Name(shape);
                string what = $"gemmCublas: {name}, f64 {(batch > 1 ? $"{batch}×" : "")}{m}×{nn}×{k}";
                if (GemmShapeClasses.Of(m, nn, k) != shape) { complete = false; continue; } // the sizes asked for fall in another class
                if (!HasTime(Entries.Cublas)) return;
                int? best;
                using (var a = device.Allocate<double>(new Shape(batch, m, k)))
                using (var b = device.Allocate<double>(new Shape(batch, k, nn)))
                using (var c = device.Zeros<double>(new Shape(batch, m, nn)))
                {
                    HostData.Fill(a, InputKind.General, seed: 7);
                    HostData.Fill(b, InputKind.General, seed: 8);
                    double[]? reference = null;
                    best = Fastest(Entries.Cublas, what, ["ILGPU", "cuBLAS"], i =>
                    {
                        device.Tuning = table with { GemmCublas = i == 1 ? name : "" };
                        return Time(
                            prepare: null,
                            run: () => Blas.Gemm(device, a.Mat, false, b.Mat, false, c.Mat, 1.0, 0.0),
                            validate: () =>
                            {
                                var product = c.ToArray();
                                if (reference is null) reference = product;
                                else Agrees($"cuBLAS ({name}): the product", "ILGPU", product, reference, 1e-12 * Math.Sqrt(product.Length));
                            });
                    }, record: false, skipFailed: true);
                }
                device.Tuning = table;
                Release();
                if (best is null) complete = false;
                else if (best == 1) chosen.Add(name);
            }
            table = table with { GemmCublas = string.Join(",", chosen) };
            if (complete) measured.Add(Entries.Cublas);
        }

        /// <summary>
        /// The Cholesky block sizes, threads per panel row, look-ahead, two levels (<see cref="TwoLevels"/>),
        /// threads per row of the whole-matrix kernels, then the whole-matrix limit. Each candidate is set in the
        /// device's table (block size 0 reads it), blocked forced (potrfWholeUpTo 1) and the
        /// switch between the two block sizes moved past (or before) the orders timed, so that
        /// the candidate is the block every order of the problem uses.
        /// </summary>
        public void Cholesky()
        {
            int max = Blas.PotrfMaxWholeOrder<double>(device);
            var blocks = BlockCandidates.Where(nb => nb <= max).ToArray();
            var names = blocks.Select(nb => $"block {nb}").ToArray();

            int n = options.CholeskyOrder;
            int? best = CholeskyCandidates(Entries.Block, $"potrfBlock: f64 n = {n}", [n], names,
                i => table with { PotrfBlock = blocks[i], PotrfWholeUpTo = 1, PotrfLargeFrom = Math.Max(table.PotrfLargeFrom, n) });
            if (best is int b) table = table with { PotrfBlock = blocks[b] };

            int[] large = options.CholeskyLargeOrders;
            best = CholeskyCandidates(Entries.LargeBlock, $"potrfLargeBlock: f64 n = {string.Join(" + ", large)}", large, names,
                i => table with { PotrfLargeBlock = blocks[i], PotrfWholeUpTo = 1, PotrfLargeFrom = Math.Min(table.PotrfLargeFrom, large.Min() - 1) });
            if (best is int l) table = table with { PotrfLargeBlock = blocks[l] };

            // Threads per panel row, at the large orders with the blocks just chosen.
            best = CholeskyCandidates(Entries.PanelLanes, $"potrfPanelLanes: f64 n = {string.Join(" + ", large)}", large,
                PanelLaneCandidates.Select(x => $"{x} per row").ToArray(),
                i => table with { PotrfPanelLanes = PanelLaneCandidates[i], PotrfWholeUpTo = 1 });
            if (best is int pl) table = table with { PotrfPanelLanes = PanelLaneCandidates[pl] };

            // The forward's trailing updates beside the next panel step (look-ahead) or in launches of their own.
            best = CholeskyCandidates(Entries.LookAhead, $"potrfLookAhead: f64 n = {string.Join(" + ", large)}", large,
                ["look-ahead", "separate updates"], i => table with { PotrfLookAhead = i == 0, PotrfWholeUpTo = 1 });
            if (best is int la) table = table with { PotrfLookAhead = la == 0 };

            TwoLevels(large);
            DataflowLimit(options.CholeskyDataflowOrders);

            // Threads per row of the whole-matrix kernels, on a batch of small matrices factored whole.
            int small = Math.Min(options.CholeskySmallOrder, max);
            best = CholeskyCandidates(Entries.WholeLanes, $"potrfWholeLanes: f64 {options.CholeskySmallBatch}×{small}²", [small],
                PanelLaneCandidates.Select(x => $"{x} per row").ToArray(),
                i => table with { PotrfWholeLanes = PanelLaneCandidates[i], PotrfWholeUpTo = 0 }, batch: options.CholeskySmallBatch);
            if (best is int wl) table = table with { PotrfWholeLanes = PanelLaneCandidates[wl] };

            WholeLimit(max);
        }

        /// <summary>
        /// Threads per column of a left solve with one column (L⁻¹y, L the factor of an SPD matrix of
        /// <see cref="TuneOptions.TrsmOrder"/>): each candidate's solution must match one lane's to
        /// <see cref="CholeskyTolerance{T}"/> before it may be chosen.
        /// </summary>
        public void TrsmNarrow()
        {
            int n = options.TrsmOrder;
            string what = $"trsmNarrowLanes: f64 {n}×{n} lower, one column";
            if (!HasTime(Entries.TrsmNarrow)) return;
            var names = NarrowLaneCandidates.Select(x => $"{x} per column").ToArray();
            int? best;
            using (var l = device.Allocate<double>(new Shape(1, n, n)))
            using (var info = device.Zeros<int>(new Shape(1, 1, 1)))
            using (var y0 = Uniform<double>(n, 1, seed: 8))
            using (var y = device.Zeros<double>(new Shape(1, n, 1)))
            {
                HostData.Fill(l, InputKind.Spd, seed: 7);
                Blas.Potrf(device, l.Mat, info, blockSize: 0);
                double[]? reference = null;
                best = Fastest(Entries.TrsmNarrow, what, names, i =>
                {
                    device.Tuning = table with { TrsmNarrowLanes = NarrowLaneCandidates[i] };
                    return Time(
                        prepare: () => y.CopyFrom(y0),
                        run: () => Blas.Trsm(device, l.Mat, y.Mat, left: true, lower: true, transpose: false, unitDiagonal: false, 1.0),
                        validate: () =>
                        {
                            var x = y.ToArray();
                            if (reference is null) reference = x;
                            else Agrees($"{names[i]}: the solution", names[0], x, reference, CholeskyTolerance<double>(n));
                        });
                }, skipFailed: true);
            }
            Release();
            if (best is int b) table = table with { TrsmNarrowLanes = NarrowLaneCandidates[b] };
        }

        /// <summary>
        /// Two levels at the large orders, with the leaf blocks chosen: one level against each outer
        /// block of <see cref="TuneOptions.CholeskyOuterBlocks"/> above the leaf blocks and below the
        /// largest order (the winner becomes <see cref="TuningTable.PotrfOuterBlock"/>, 0 if one level
        /// wins), then with that outer block the outer panels as a GEMM against the diagonal block's
        /// inverse or as a TRSM in leaf blocks (<see cref="TuningTable.PotrfPanelInverse"/>), at the
        /// orders it splits, one stream against two (<see cref="TuningTable.PotrfStreams"/>), with
        /// those right- against left-looking (<see cref="TuningTable.PotrfLeftLooking"/>), and the
        /// reverse's outer blocks in leaves or by inverse (<see cref="TuningTable.PotrfBlockReverseByInverse"/>). While they are timed <see cref="TuningTable.PotrfOuterFrom"/> is moved
        /// below the smallest order, so that every order takes the candidate's outer blocks; the
        /// table written keeps its own, since orders timed together say which outer block is
        /// fastest there, not from which order two levels pay.
        /// </summary>
        public void TwoLevels(int[] large)
        {
            int leaf = Math.Max(table.PotrfBlock, table.PotrfLargeBlock), largest = large.Max();
            int from = Math.Min(table.PotrfOuterFrom, large.Min() - 1);
            string orders = string.Join(" + ", large);
            var outers = options.CholeskyOuterBlocks.Where(b => b > leaf && b < largest).Distinct().Order().ToArray();
            // The entries timed with the outer block chosen, in order.
            string[] afterOuter = [Entries.PanelInverse, Entries.Streams, Entries.LeftLooking, Entries.BlockReverse];
            // An entry with nothing to time: noted with why, or as the budget's where that is spent too.
            void NotTimed(string entry, string why)
            {
                if (!HasTime(entry)) return;
                progress?.Invoke($"{entry}: {why}; the default kept");
                notMeasured.Add((entry, why));
            }
            if (outers.Length == 0)
            {
                string why = $"no outer block between the leaf blocks ({leaf}) and the largest order ({largest})";
                NotTimed(Entries.OuterBlock, why);
                foreach (string entry in afterOuter) NotTimed(entry, why);
                return;
            }
            int[] candidates = [0, .. outers];
            int? best = CholeskyCandidates(Entries.OuterBlock, $"potrfOuterBlock: f64 n = {orders}", large,
                candidates.Select(b => b == 0 ? "one level" : $"outer {b}").ToArray(),
                i => table with { PotrfOuterBlock = candidates[i], PotrfOuterFrom = from, PotrfWholeUpTo = 1 });
            if (best is int ob) table = table with { PotrfOuterBlock = candidates[ob] };

            int outer = table.PotrfOuterBlock;
            int[] split = large.Where(n => n > outer).ToArray();
            if (outer == 0 || outer <= leaf || split.Length == 0)
            {
                string why = outer == 0 ? "one level chosen: no outer panels" : $"outer blocks of {outer} split no order timed";
                foreach (string entry in afterOuter) NotTimed(entry, why);
                return;
            }
            // Each choice with the outer block chosen, at the orders it splits, with the choices before it in force:
            // candidate i's table is set(table, i), and the winner's stays.
            void Choose(string entry, string field, string[] names, Func<TuningTable, int, TuningTable> set)
            {
                int? chosen = CholeskyCandidates(entry, $"{field}: f64 n = {string.Join(" + ", split)}, outer {outer}", split, names,
                    i => set(table, i) with { PotrfOuterFrom = Math.Min(table.PotrfOuterFrom, split.Min() - 1), PotrfWholeUpTo = 1 });
                if (chosen is int c) table = set(table, c);
            }
            Choose(Entries.PanelInverse, "potrfPanelInverse", ["GEMM against the inverse", "TRSM"], (t, i) => t with { PotrfPanelInverse = i == 0 });
            // The two-level passes' GEMM work beside the chain on a second stream, or all on one.
            Choose(Entries.Streams, "potrfStreams", ["one stream", "two streams"], (t, i) => t with { PotrfStreams = i + 1 });
            // The forward's order: right-looking (the trailing matrix after each block) or left-looking (each block column just before its factor).
            Choose(Entries.LeftLooking, "potrfLeftLooking", ["right-looking", "left-looking"], (t, i) => t with { PotrfLeftLooking = i == 1 });
            // The reverse's outer diagonal blocks: Murray's reverse in leaf blocks, or three GEMMs against the block's inverse.
            Choose(Entries.BlockReverse, "potrfBlockReverseByInverse", ["leaf reverses", "GEMMs against the inverse"], (t, i) => t with { PotrfBlockReverseByInverse = i == 1 });
        }

        /// <summary>
        /// The dataflow path (every tile a task of one persistent launch per pass) against the
        /// blocked path on a single matrix, from the smallest order of <paramref name="orders"/> up:
        /// <see cref="TuningTable.PotrfDataflowUpTo"/> becomes the largest order up to which it won
        /// at every order timed, 0 (off) if the blocked path won at the smallest. Each candidate's
        /// factor and gradient must match the first's before it is timed. When a later order cannot
        /// be timed (the budget, a failure), the limit found at the smaller orders stands.
        /// </summary>
        public void DataflowLimit(int[] orders)
        {
            if (orders.Length == 0)
            {
                if (HasTime(Entries.Dataflow)) notMeasured.Add((Entries.Dataflow, "no orders to time"));
                return;
            }
            int limit = 0;
            bool first = true;
            foreach (int n in orders.Distinct().Order())
            {
                int before = notMeasured.Count;
                int? best = CholeskyCandidates(Entries.Dataflow, $"potrfDataflowUpTo: f64 n = {n}", [n], ["blocked", "dataflow"],
                    i => table with { PotrfDataflowUpTo = i == 0 ? 0 : n, PotrfWholeUpTo = 1 }, record: false);
                if (best is null)
                {
                    if (first) return; // noted as not measured, with why
                    var why = notMeasured.Skip(before).Select(x => x.Why).ToArray();
                    notMeasured.RemoveRange(before, notMeasured.Count - before);
                    progress?.Invoke($"{Entries.Dataflow}: n = {n} not timed ({string.Join("; ", why)}); the limit found below it stands");
                    break;
                }
                first = false;
                if (best == 0) break;
                limit = n;
            }
            if (first) return;
            measured.Add(Entries.Dataflow);
            table = table with { PotrfDataflowUpTo = limit };
        }

        /// <summary>
        /// Whole or blocked at the largest order one group holds: if whole wins, potrfWholeUpTo
        /// stays 0 (whole as far as shared memory allows). Otherwise the walk goes down by
        /// <see cref="WholeStep"/> while blocked wins and above one block; the first order where
        /// whole wins becomes the limit, or one block if blocked won everywhere (a matrix of one
        /// block is whole either way). Measured in float64, the limit also caps float32, whose
        /// whole-matrix kernels reach 110.
        /// </summary>
        private void WholeLimit(int max)
        {
            int block = table.PotrfBlock;
            int? limit = null;
            for (int n = max; ; n -= WholeStep)
            {
                if (n <= block)
                {
                    limit = block;
                    break;
                }
                int? best = CholeskyCandidates(Entries.Whole, $"potrfWholeUpTo: f64 n = {n}", [n], ["whole", $"blocked ({block})"],
                    i => table with { PotrfWholeUpTo = i == 0 ? 0 : 1 }, record: false);
                if (best is null) return;
                if (best == 0)
                {
                    limit = n == max ? 0 : n;
                    break;
                }
            }
            measured.Add(Entries.Whole);
            table = table with { PotrfWholeUpTo = limit.Value };
        }

        /// <summary>
        /// Times Cholesky forward + backward (fp64, symmetrized Ā, block size 0) at the given
        /// orders (batches of <paramref name="batch"/> matrices) under each candidate table; the
        /// fastest candidate's index, or null. The cotangent L̄ is fixed and random. A candidate whose factor
        /// or gradient differs from the first candidate's beyond rounding (<see cref="CholeskyTolerance{T}"/>
        /// at each order), or that fails, is reported with the error and skipped, before it is timed.
        /// </summary>
        private int? CholeskyCandidates(string entry, string what, int[] orders, string[] names, Func<int, TuningTable> tableOf, bool record = true, int batch = 1)
        {
            if (!HasTime(entry)) return null;
            var owned = new List<DeviceTensor<double>>();
            DeviceTensor<double> Matrix(int n)
            {
                var t = device.Allocate<double>(new Shape(batch, n, n));
                owned.Add(t);
                return t;
            }
            using var info = device.Zeros<int>(new Shape(batch, 1, 1));
            try
            {
                var problems = orders.Select(n => (A0: Matrix(n), A: Matrix(n), LBar0: Matrix(n), LBar: Matrix(n))).ToArray();
                foreach (var p in problems)
                {
                    HostData.Fill(p.A0, InputKind.Spd, seed: 5);
                    HostData.Fill(p.LBar0, InputKind.General, seed: 6);
                }
                // The first candidate's factor and gradient (a path the tests check): every later
                // candidate must give them to rounding before it may be chosen.
                (double[] L, double[] Grad)[]? reference = null;
                return Fastest(entry, what, names, i =>
                {
                    device.Tuning = tableOf(i);
                    return Time(
                        prepare: () =>
                        {
                            foreach (var p in problems)
                            {
                                p.A.CopyFrom(p.A0);
                                p.LBar.CopyFrom(p.LBar0);
                            }
                        },
                        run: () =>
                        {
                            foreach (var p in problems)
                            {
                                Blas.Potrf(device, p.A.Mat, info, blockSize: 0);
                                Blas.PotrfBackward(device, p.A.Mat, p.LBar.Mat, blockSize: 0, symmetrize: true);
                            }
                        },
                        validate: () =>
                        {
                            // The inputs are SPD: a failing minor means the candidate computes wrongly.
                            var minors = info.ToArray();
                            int failed = Array.FindIndex(minors, m => m != 0);
                            if (failed >= 0) throw new NotPositiveDefiniteException($"Tune ({names[i]}): Cholesky", failed, minors[failed]);
                            var results = problems.Select(p => (p.A.ToArray(), p.LBar.ToArray())).ToArray();
                            foreach (var (factor, gradient) in results) readBack?.Invoke(names[i], factor, gradient);
                            if (reference is null) reference = results;
                            else
                                for (int k = 0; k < results.Length; k++)
                                {
                                    Agrees($"{names[i]} (n = {orders[k]}): the factor", names[0], results[k].Item1, reference[k].L, CholeskyTolerance<double>(orders[k]));
                                    Agrees($"{names[i]} (n = {orders[k]}): the gradient", names[0], results[k].Item2, reference[k].Grad, CholeskyTolerance<double>(orders[k]));
                                }
                        });
                }, record, skipFailed: true);
            }
            finally
            {
                foreach (var t in owned) t.Dispose();
                Release();
            }
        }

        /// <summary>
        /// Times the candidates of one entry in order; the index of the fastest, or null when the
        /// budget ran out before all were timed or one failed (the entry then keeps its default).
        /// </summary>
        /// <param name="entry">The table entry the candidates compete for (<see cref="Entries"/>).</param>
        /// <param name="what">The entry's field and the problem, for the rows.</param>
        /// <param name="names">The candidates' names.</param>
        /// <param name="time">Times candidate i: its median, ms.</param>
        /// <param name="record">Add the entry to the measured ones when it was fully timed (false: the caller decides).</param>
        /// <param name="skipFailed">
        /// A failed candidate (a <see cref="GpuADException"/>) is reported and skipped, the others
        /// still timed (false: it ends the entry, which keeps its default).
        /// </param>
        private int? Fastest(string entry, string what, string[] names, Func<int, double> time, bool record = true, bool skipFailed = false)
        {
            if (names.Length == 0)
            {
                notMeasured.Add((entry, "no candidate fits the problem"));
                return null;
            }
            var times = new double[names.Length];
            var rowOf = new int[names.Length]; // each candidate's row
            TimeSpan last = TimeSpan.Zero;
            for (int i = 0; i < names.Length; i++)
            {
                if (clock.Elapsed + last > options.Budget)
                {
                    progress?.Invoke($"{what}: {names[i]} not timed, the budget of {options.Budget.TotalSeconds:0} s would be exceeded; {entry} keeps its default");
                    notMeasured.Add((entry, "budget"));
                    return null;
                }
                var started = clock.Elapsed;
                try
                {
                    times[i] = time(i);
                }
                catch (GpuADException e) when (skipFailed)
                {
                    rows.Add(new TuneRow(what, names[i], null, false, $"{names[i]} failed: {e.Message}"));
                    progress?.Invoke($"{what}: {names[i]} failed: {e.Message}; skipped");
                    times[i] = double.PositiveInfinity;
                    rowOf[i] = -1;
                    continue;
                }
                catch (GpuADException e)
                {
                    string why = $"{names[i]} failed: {e.Message}";
                    rows.Add(new TuneRow(what, names[i], null, false, why));
                    progress?.Invoke($"{what}: {why}; {entry} keeps its default");
                    notMeasured.Add((entry, why));
                    return null;
                }
                last = clock.Elapsed - started;
                rowOf[i] = rows.Count;
                rows.Add(new TuneRow(what, names[i], times[i], false));
                progress?.Invoke($"{what}: {names[i]} {times[i]:0.000} ms");
            }
            if (times.All(double.IsPositiveInfinity))
            {
                notMeasured.Add((entry, "every candidate failed"));
                return null;
            }
            int best = Array.IndexOf(times, times.Min());
            rows[rowOf[best]] = rows[rowOf[best]] with { Chosen = true };
            if (record) measured.Add(entry);
            return best;
        }

        /// <summary>False (and the entry noted as not measured) when the budget is already spent.</summary>
        private bool HasTime(string entry)
        {
            if (clock.Elapsed < options.Budget) return true;
            notMeasured.Add((entry, "budget"));
            return false;
        }

        /// <summary>
        /// The engine's timing loop (<see cref="Engine.Time"/>): one untimed run (it compiles and
        /// checks), then the median of <see cref="TuneOptions.Repeats"/> timed runs, ms; no cap (the
        /// budget is checked between candidates).
        /// </summary>
        private double Time(Action? prepare, Action run, Action? validate = null) =>
            Engine.Time(new TimedAction(device, prepare, run, validate), new MeasureSettings(Warmup: 1, Reps: options.Repeats, CapSeconds: double.PositiveInfinity))
                .MedianSeconds * 1e3;

        private DeviceTensor<T> Uniform<T>(int rows, int cols, int seed) where T : unmanaged, INumber<T>
        {
            var t = device.Allocate<T>(new Shape(1, rows, cols));
            try
            {
                HostData.Fill(t, InputKind.General, seed);
                return t;
            }
            catch
            {
                t.Dispose();
                throw;
            }
        }

        private static string TypeName<T>() => typeof(T) == typeof(double) ? "f64" : "f32";

        public TuneReport Report()
        {
            string date = DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
            string what = measured.Count == 0 ? "nothing measured, the defaults kept" : string.Join(", ", measured);
            var missing = notMeasured.GroupBy(x => x.Why).Select(g => $"{string.Join(", ", g.Select(x => x.Entry))} not measured ({g.Key}), defaults kept");
            string note = string.Join("; ", new[] { what }.Concat(measured.Count == 0 ? [] : missing));
            if (measured.Count == 0 && notMeasured.Count > 0) note += $" ({string.Join("; ", notMeasured.Select(x => x.Why).Distinct())})";
            var result = table with { Measured = $"{date}, {options.Command} on {device.Name}: {note}" };
            // What is written must read back: the same checks as a committed or GPUAD_TUNING table.
            result = TuningTable.FromJson(result.ToJson(), $"gpuad tune ({device.Name})");
            return new TuneReport(result, rows, measured, notMeasured, clock.Elapsed);
        }
    }
}
