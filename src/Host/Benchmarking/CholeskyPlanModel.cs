using System.Numerics;
using System.Runtime.CompilerServices;
using GpuAD.Kernels;

namespace GpuAD.Bench;

/// <summary>
/// The kernel times a <see cref="CholeskyPlanModel"/> prices a plan with, in seconds and flop/s.
/// Each comes from a measurement; <see cref="H100{T}"/> gives the H100's and <see cref="Sources"/>
/// says where each was read.
/// </summary>
/// <param name="Launch">The cost of one launch beyond its kernel's time.</param>
/// <param name="PanelForward">One fused forward panel launch (factor + panel solve) per leaf block of <see cref="Leaf"/> columns.</param>
/// <param name="PanelReverse">One reverse panel launch (the block's reverse + C̄ −= (T̄ + T̄ᵀ)·C) per leaf block.</param>
/// <param name="TrsmRight">One right TRSM diagonal-block kernel (X·Lᵀ = B, panel rows in parallel) per leaf block.</param>
/// <param name="TrsmLeft">One left TRSM diagonal-block kernel (L·X = B) per leaf block.</param>
/// <param name="GemmLaunch">A GEMM launch's time that does not grow with its flops (the intercept of the fit).</param>
/// <param name="GemmPanelRate">Flop/s of the panel-shaped products (K, M or N at most 256): the blocked Cholesky's updates.</param>
/// <param name="GemmLargeRate">Flop/s of products with M, N and K above 256.</param>
/// <param name="Reduction">One ordered split-K reduction launch.</param>
/// <param name="ElementwisePerElement">A map over a matrix (copy, fill, tril, symmetrize), per element.</param>
/// <param name="Leaf">The leaf block order the chain times were measured at; other widths scale linearly.</param>
/// <param name="Sources">One line per number: what was measured, where it is recorded.</param>
internal sealed record KernelRates(double Launch, double PanelForward, double PanelReverse, double TrsmRight, double TrsmLeft,
    double GemmLaunch, double GemmPanelRate, double GemmLargeRate, double Reduction, double ElementwisePerElement, int Leaf,
    IReadOnlyList<string> Sources)
{
    private const string Profile = "bench/results/2026-11-27-gpu-logs/run6-h100-profile/profile-final.log";
    private const string Results = "bench/results/2026-11-27-nvidia-h100-80gb-hbm3.md";
    private const string Tune = "bench/results/2026-11-27-gpu-logs/run1-h100/tune.log";

    /// <summary>
    /// The H100 80GB HBM3's numbers for <typeparamref name="T"/> (float64 or float32). The GEMM
    /// panel rate and launch intercept are fitted, t = launches·t₀ + flops/r, to the profile's GEMM
    /// kernel totals of the one-level forward + backward at n = 1024 and 8192; the flops and GEMM
    /// launches of those runs are read from the plans that ran there (look-ahead off, the H100
    /// table, 132 multiprocessors) on <paramref name="planning"/>.
    /// </summary>
    public static KernelRates H100<T>(Device planning) where T : unmanaged, INumber<T>
    {
        bool f64 = Unsafe.SizeOf<T>() == 8;
        string dt = f64 ? "f64" : "f32";
        // Profile (synchronized per launch) 165.231 ms, outside launches 5.445 ms, unsynchronized 151.457 ms, 758 launches.
        double launch = (165.231e-3 - 5.445e-3 - 151.457e-3) / 758;
        double panelF = f64 ? 165.6e-6 : 139.8e-6, panelR = f64 ? 193.8e-6 : 174.9e-6;
        double right = f64 ? 102.6e-6 : 94.8e-6, left = f64 ? 102.4e-6 : 83.7e-6;
        double reduction = f64 ? 24.1e-6 : 19.2e-6;
        double symmetrize = f64 ? 942.2e-6 : 672.8e-6;
        double square = f64 ? 15.5295e-3 : 9.9673e-3;
        double large = 2.0 * 4096.0 * 4096.0 * 4096.0 / square;
        // GEMM kernel totals of cholesky/{dt}/1x1024 and 1x8192 in the profile.
        double t1024 = f64 ? 1.611e-3 : 1.478e-3, t8192 = f64 ? 96.929e-3 : 90.189e-3 + 2.806e-3;
        var (f1, l1) = OneLevelGemms<T>(planning, 1024);
        var (f2, l2) = OneLevelGemms<T>(planning, 8192);
        // l1·t₀ + f1/r = t1024, l2·t₀ + f2/r = t8192.
        double inverseRate = (t8192 - t1024 * l2 / l1) / (f2 - f1 * l2 / l1);
        double t0 = (t1024 - f1 * inverseRate) / l1;
        string[] sources =
        [
            $"launch {launch * 1e6:F1} µs: (165.231 ms profiled with a synchronization per launch − 5.445 ms outside launches − 151.457 ms unsynchronized) / 758 launches, cholesky/fp64/1x8192, {Profile}",
            $"forward panel {panelF * 1e6:F1} µs per block of 64: PotrfPanelGpu<{dt}>, 128 launches at n = 8192, {Profile}",
            $"reverse panel {panelR * 1e6:F1} µs per block of 64: PotrfBackwardPanelGpu<{dt}>, 128 launches at n = 8192, {Profile}",
            $"right TRSM {right * 1e6:F1} µs per block of 64: TrsmGpu.RightKernel<{dt}>, 127 launches at n = 8192, {Profile}; stands in for the reverse panel's fused TRSM (not yet run on a GPU) and each leaf block of an outer panel's TRSM",
            $"left TRSM {left * 1e6:F1} µs per block of 64: TrsmGpu.LeftKernel<{dt}>, trsm/{(f64 ? "fp64" : "fp32")}/1x4096, {Profile}; stands in for each leaf block of InvertBlock's TRTRI (never run on a GPU)",
            $"GEMM, panel shapes: {t0 * 1e6:F1} µs per launch + flops at {1e-12 / inverseRate:F2} TFLOP/s, fitted to {l1} launches in {t1024 * 1e3:F3} ms (n = 1024) and {l2} in {t8192 * 1e3:F3} ms (n = 8192), GemmGpu kernels of cholesky/{(f64 ? "fp64" : "fp32")}, {Profile}; lower-triangular products count M(M+1)K flops",
            $"GEMM, large shapes: {large * 1e-12:F2} TFLOP/s, gemm/{(f64 ? "fp64" : "fp32")}/1x4096 kernel {square * 1e3:F3} ms, {Profile}, plus the same fixed time per launch; 1024³ ran at {(f64 ? 2.0 * 1024 * 1024 * 1024 / 0.314e-3 : 2.0 * 1024 * 1024 * 1024 / 0.270e-3) * 1e-12:F2} TFLOP/s, {Tune}",
            $"split-K reduction {reduction * 1e6:F1} µs: GemmGpu.ReduceKernel<{dt}>, 120 launches at n = 8192, {Profile}",
            $"elementwise {symmetrize * 1e6:F1} µs per 8192² elements: PotrfBackwardGpu.SymmetrizeKernel<{dt}>, {Profile}; stands in for every copy, fill and map",
            $"references at n = 8192 fp64: cuSOLVER forward 9.45 ms, PyTorch backward 49.9 ms; GpuAD one level 45.4 ms forward, 105.5 ms backward (run 5, before look-ahead and the fused reverse TRSM), {Results}",
        ];
        return new KernelRates(launch, panelF, panelR, right, left, t0, 1 / inverseRate, large, reduction, symmetrize / (8192.0 * 8192.0), 64, sources);
    }

    /// <summary>
    /// What if every GEMM ran at cuBLAS's rate (the GEMM-provider path, where the tuning table gives
    /// the shapes to cuBLAS): the large-product rate cuBLAS reached at 4096³ on the H100 of
    /// 2026-11-27 (DGEMM 2.31 ms, SGEMM 2.76 ms with TF32 off), the panel shapes at the same
    /// fraction of it as the ILGPU tilings' (never measured through cuBLAS), a launch's fixed time
    /// the launch cost, and no split-K reductions. Everything else as measured.
    /// </summary>
    public KernelRates WithCublasGemm(bool f64)
    {
        double cublas = 2.0 * 4096.0 * 4096.0 * 4096.0 / (f64 ? 2.31e-3 : 2.76e-3);
        double panel = cublas * GemmPanelRate / GemmLargeRate;
        return this with
        {
            GemmLargeRate = cublas, GemmPanelRate = panel, GemmLaunch = Launch, Reduction = 0,
            Sources = [.. Sources.Where(x => !x.StartsWith("GEMM", StringComparison.Ordinal) && !x.StartsWith("split-K", StringComparison.Ordinal)),
                $"what-if GEMM at cuBLAS's rate: large shapes {cublas * 1e-12:F1} TFLOP/s ({(f64 ? "DGEMM 4096³ 2.31 ms" : "SGEMM 4096³ 2.76 ms")} through PyTorch, {Results}); panel shapes {panel * 1e-12:F1} TFLOP/s "
                + "(the ILGPU tilings' panel/large ratio applied: not measured through cuBLAS); fixed time per launch the launch cost; no split-K reductions"],
        };
    }

    /// <summary>The GEMM flops and GEMM kernel launches (reductions apart) of the one-level plan that the H100 profile ran at order n.</summary>
    private static (double Flops, int Launches) OneLevelGemms<T>(Device planning, int n) where T : unmanaged, INumber<T>
    {
        var table = planning.Tuning;
        try
        {
            planning.Tuning = table with { PotrfLookAhead = false };
            var plan = CholeskyPlan.For<T>(planning, n, 1, CholeskyAlgorithm.Blocked, outerBlockSize: n);
            double flops = 0;
            int launches = 0;
            foreach (var step in plan.Forward.Concat(plan.Backward))
            {
                if (step.Gemm is not { } gemm) continue;
                flops += CholeskyPlanModel.Flops(step.Kind, gemm);
                launches++;
            }
            return (flops, launches);
        }
        finally
        {
            planning.Tuning = table;
        }
    }
}

/// <summary>The model's time of a pass or a step, by where it goes, in seconds.</summary>
/// <param name="Chain">The serial chains of the diagonal-block kernels (panel, reverse panel, TRSM diagonal blocks).</param>
/// <param name="Gemm">GEMM launches and their reductions (beyond the chain where a launch runs both).</param>
/// <param name="Memory">Copies, fills and maps.</param>
/// <param name="Launch">Launch costs.</param>
internal readonly record struct ModelTime(double Chain, double Gemm, double Memory, double Launch)
{
    public double Total => Chain + Gemm + Memory + Launch;

    public static ModelTime operator +(ModelTime a, ModelTime b) =>
        new(a.Chain + b.Chain, a.Gemm + b.Gemm, a.Memory + b.Memory, a.Launch + b.Launch);
}

/// <summary>
/// A critical-path model of a GPU-family <see cref="CholeskyPlan"/>: each step of a pass costs its
/// launches × the launch cost, plus its serial chain of fused diagonal-block kernels, plus its
/// GEMMs (a fixed time per launch + flops / rate, and each split-K reduction), plus its copies;
/// a step worked on by an inner plan costs that plan's steps. One stream, so the pass is the sum
/// of its steps; <see cref="Overlapped"/> bounds what a second stream could save. A batch
/// multiplies the GEMM flops and copies; the chains are taken as one wave of thread groups, so a
/// batch that fills the GPU more than once is priced low.
/// </summary>
internal sealed class CholeskyPlanModel(KernelRates rates)
{
    public KernelRates Rates { get; } = rates;

    /// <summary>The forward's time.</summary>
    public ModelTime Forward(CholeskyPlan plan) => Pass(plan, plan.Forward);

    /// <summary>The reverse's time, symmetrized.</summary>
    public ModelTime Backward(CholeskyPlan plan) => Pass(plan, plan.Backward);

    /// <summary>The sum of the steps' times.</summary>
    public ModelTime Pass(CholeskyPlan plan, IEnumerable<CholeskyStep> steps)
    {
        var total = default(ModelTime);
        foreach (var step in steps) total += Step(plan, step);
        return total;
    }

    /// <summary>
    /// The pass with a second stream: per diagonal block (steps grouped by <see cref="CholeskyStep.J0"/>),
    /// max(its diagonal-block steps, its panel and update GEMMs) instead of their sum; launches
    /// still one after another. A bound: it ignores that the updates need the block's factor.
    /// </summary>
    public double Overlapped(CholeskyPlan plan, IEnumerable<CholeskyStep> steps)
    {
        double launch = 0, global = 0;
        var diagonal = new SortedDictionary<int, double>();
        var updates = new SortedDictionary<int, double>();
        foreach (var step in steps)
        {
            var t = Step(plan, step);
            launch += t.Launch;
            double work = t.Total - t.Launch;
            if (step.Kind is CholeskyStepKind.ClearInfo or CholeskyStepKind.Tril or CholeskyStepKind.Symmetrize) global += work;
            else if (IsDiagonal(step.Kind)) diagonal[step.J0] = diagonal.GetValueOrDefault(step.J0) + work;
            else updates[step.J0] = updates.GetValueOrDefault(step.J0) + work;
        }
        double blocks = 0;
        foreach (int j0 in diagonal.Keys.Union(updates.Keys))
            blocks += Math.Max(diagonal.GetValueOrDefault(j0), updates.GetValueOrDefault(j0));
        return launch + global + blocks;
    }

    /// <summary>
    /// The pass's time on the plan's streams: steps on the default stream one after another, side
    /// steps one after another on the side stream, a Fork starting the side stream no earlier than
    /// the default stream's work so far, a Join holding the default stream until the side stream's
    /// is done (each wait one launch cost). With one stream, <see cref="Pass"/>'s total.
    /// </summary>
    public double Wall(CholeskyPlan plan, IEnumerable<CholeskyStep> steps)
    {
        double main = 0, side = 0;
        foreach (var step in steps)
        {
            switch (step.Kind)
            {
                case CholeskyStepKind.Fork:
                    main += Rates.Launch;
                    side = Math.Max(side, main);
                    break;
                case CholeskyStepKind.Join:
                    main = Math.Max(main, side) + Rates.Launch;
                    break;
                default:
                    double t = Step(plan, step).Total;
                    if (step.Side) side += t;
                    else main += t;
                    break;
            }
        }
        return Math.Max(main, side);
    }

    private static bool IsDiagonal(CholeskyStepKind kind) => kind is CholeskyStepKind.FactorBlock or CholeskyStepKind.InvertBlock
        or CholeskyStepKind.ReverseBlockByInner or CholeskyStepKind.ReverseBlockByInverse or CholeskyStepKind.Panel or CholeskyStepKind.PanelLookAhead
        or CholeskyStepKind.ReversePanel or CholeskyStepKind.FactorWhole or CholeskyStepKind.ReverseWhole;

    /// <summary>One step's time: its launches, and its kernels' (an inner plan's steps for a step worked on in leaf blocks).</summary>
    public ModelTime Step(CholeskyPlan plan, CholeskyStep step)
    {
        if (plan.Family != KernelFamily.GpuTuned)
            throw new ArgumentException($"The plan model prices the GPU family's plans; this one is for the {plan.Family} family.", nameof(plan));
        double launch = step.Launches * Rates.Launch;
        int w = step.Width, leaf = plan.LeafBlockSize, rows = plan.N - step.J0 - step.Width;
        ModelTime work = step.Kind switch
        {
            CholeskyStepKind.ClearInfo => default,
            CholeskyStepKind.FactorWhole or CholeskyStepKind.Panel => Chain(Rates.PanelForward * Scale(w)),
            CholeskyStepKind.ReverseWhole => Chain(Rates.PanelReverse * Scale(w)),
            // The previous panel's update (none before the first block) runs beside the chain in the same launch.
            CholeskyStepKind.PanelLookAhead => Beside(Rates.PanelForward * Scale(w), step.J0 > 0 && step.Gemm is { } g ? Gemm(step.Kind, g, plan.Batch) : 0),
            // The block's reverse and C̄ update, then (unless it is the first block) the TRSM of the block before it.
            CholeskyStepKind.ReversePanel => Chain(Rates.PanelReverse * Scale(w) + (step.J0 > 0 ? Rates.TrsmRight * Scale(Math.Min(leaf, step.J0)) : 0)),
            CholeskyStepKind.TrailingUpdate or CholeskyStepKind.ColumnUpdate or CholeskyStepKind.ReverseUpdates => new(0, Gemm(step.Kind, Require(step), plan.Batch), 0, 0),
            CholeskyStepKind.FactorBlock => Kernels(Inner(step), Inner(step).Forward),
            CholeskyStepKind.ReverseBlockByInner => Kernels(Inner(step), Inner(step).Backward)
                + (step.J0 > 0 ? new ModelTime(0, Gemm(step.Kind, Require(step), plan.Batch), Elementwise((long)w * w * plan.Batch), 0) : default),
            // Three GEMMs of the block's order and four maps (the two triangles copied, Φ*, the lower triangle written back); the correction as above.
            CholeskyStepKind.ReverseBlockByInverse when step.Gemms is { } squares =>
                new ModelTime(0, squares.Sum(g => Gemm(step.Kind, g, plan.Batch)), 4 * Elementwise((long)w * w * plan.Batch), 0)
                + (step.J0 > 0 ? new ModelTime(0, Gemm(step.Kind, Require(step), plan.Batch), Elementwise((long)w * w * plan.Batch), 0) : default),
            // The GPU TRTRI: one leaf launch (priced as one left-TRSM diagonal-block kernel per leaf, a
            // substitution of the same length; never run on a GPU), then the doubling's GEMM launches.
            CholeskyStepKind.InvertBlock when step.Gemms is { } doubling =>
                new(Rates.TrsmLeft * Scale(Math.Min(leaf, w)), doubling.Sum(g => Gemm(step.Kind, g, plan.Batch)), 0, 0),
            CholeskyStepKind.InvertBlock => Trsm(Rates.TrsmLeft, w, leaf, plan.Batch, block => (w - block, w)) + new ModelTime(0, 0, Elementwise((long)w * w * plan.Batch), 0),
            // The host waits for one stream: about a launch's latency.
            CholeskyStepKind.Fork or CholeskyStepKind.Join => default,
            CholeskyStepKind.PanelSolve or CholeskyStepKind.ReversePanelSolve => Trsm(Rates.TrsmRight, w, leaf, plan.Batch, block => (rows, w - block)),
            CholeskyStepKind.PanelByInverse or CholeskyStepKind.ReversePanelByInverse => new(0, Gemm(step.Kind, Require(step), plan.Batch), Elementwise((long)rows * w * plan.Batch), 0),
            CholeskyStepKind.Tril or CholeskyStepKind.Symmetrize => new(0, 0, Elementwise((long)plan.N * plan.N * plan.Batch), 0),
            CholeskyStepKind.FactorDataflow or CholeskyStepKind.ReverseDataflow => throw new ArgumentException(
                $"The plan model has no price for a {step.Kind} step: its persistent launch's chain has no measured kernel time to scale (time it with the cholesky-dataflow bench case).", nameof(step)),
            _ => throw new ArgumentException($"The plan model has no price for a {step.Kind} step (a CPU-family step).", nameof(step)),
        };
        return work with { Launch = work.Launch + launch };
    }

    /// <summary>
    /// The executed flops of a GEMM launch's products: 2MNK, and M(M+1)K for the lower-triangular
    /// ones (the trailing update, the left-looking update's diagonal block and the reverse's
    /// T̄ −= tril(B̄ᵀB), the first product of those two).
    /// </summary>
    public static double Flops(CholeskyStepKind kind, GemmPlan gemm)
    {
        var shapes = gemm.Shapes ?? throw new ArgumentException("The GEMM plan does not list its products.", nameof(gemm));
        double flops = 0;
        for (int i = 0; i < shapes.Length; i++)
        {
            var (m, n, k) = shapes[i];
            bool lower = m == n && (kind is CholeskyStepKind.TrailingUpdate or CholeskyStepKind.PanelLookAhead
                || (kind is CholeskyStepKind.ReverseUpdates or CholeskyStepKind.ColumnUpdate && i == 0));
            flops += lower ? (double)m * (m + 1) * k : 2.0 * m * n * k;
        }
        return flops;
    }

    /// <summary>One GEMM launch over a batch: the fixed time, its flops at the rate of its largest product's class, and its reduction if split.</summary>
    public double Gemm(CholeskyStepKind kind, GemmPlan gemm, int batch)
    {
        var largest = gemm.Shapes!.MaxBy(s => (long)s.M * s.N * s.K);
        double rate = Rate(largest.M, largest.N, largest.K);
        return Rates.GemmLaunch + batch * Flops(kind, gemm) / rate + (gemm.Launches - 1) * Rates.Reduction;
    }

    /// <summary>The rate of an M×N×K product: large when all three exceed 256, else the panel shapes'.</summary>
    public double Rate(int m, int n, int k) =>
        GemmShapeClasses.Of(m, n, k) == GemmShapeClass.Large ? Rates.GemmLargeRate : Rates.GemmPanelRate;

    /// <summary>
    /// A TRSM in leaf blocks: one diagonal-block kernel per leaf (the chain), and after each but the
    /// last a GEMM of the remaining right-hand sides, (rows, columns) = <paramref name="rest"/>(done), K = leaf.
    /// </summary>
    private ModelTime Trsm(double perLeaf, int w, int leaf, int batch, Func<int, (int Rows, int Cols)> rest)
    {
        double chain = 0, gemm = 0;
        for (int b0 = 0; b0 < w; b0 += leaf)
        {
            int lb = Math.Min(leaf, w - b0);
            chain += perLeaf * Scale(lb);
            if (b0 + lb == w) break;
            var (m, n) = rest(b0 + lb);
            gemm += Rates.GemmLaunch + 2.0 * batch * m * n * lb / Rate(m, n, lb);
        }
        return new(chain, gemm, 0, 0);
    }

    /// <summary>An inner plan's kernels, without launches: the outer step counts them.</summary>
    private ModelTime Kernels(CholeskyPlan inner, IEnumerable<CholeskyStep> steps) => Pass(inner, steps) with { Launch = 0 };

    private static CholeskyPlan Inner(CholeskyStep step) =>
        step.Inner ?? throw new ArgumentException($"A {step.Kind} step carries its inner plan.", nameof(step));

    private static GemmPlan Require(CholeskyStep step) =>
        step.Gemm ?? throw new ArgumentException($"A {step.Kind} step on the GPU family carries its GEMM plan.", nameof(step));

    private double Scale(int width) => (double)width / Rates.Leaf;

    private double Elementwise(long elements) => elements * Rates.ElementwisePerElement;

    private static ModelTime Chain(double seconds) => new(seconds, 0, 0, 0);

    /// <summary>A chain and GEMM tiles in one launch: the longer of the two, the GEMM counted for what it adds beyond the chain.</summary>
    private static ModelTime Beside(double chain, double gemm) => new(chain, Math.Max(0, gemm - chain), 0, 0);
}
