using System.Diagnostics;
using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Bench;

/// <summary>Splits one run into phases: <see cref="Start"/>, then <see cref="Lap"/> after each phase.</summary>
internal sealed class PhaseTimer(int phases)
{
    private long last;

    /// <summary>Seconds of each phase of the last run.</summary>
    public double[] Seconds { get; } = new double[phases];

    /// <summary>Sum of the phases.</summary>
    public double Total => Seconds.Sum();

    public void Start() => last = Stopwatch.GetTimestamp();

    public void Lap(int phase)
    {
        long now = Stopwatch.GetTimestamp();
        Seconds[phase] = (now - last) / (double)Stopwatch.Frequency;
        last = now;
    }
}

/// <summary>
/// What the engine's timing loop (<see cref="Engine.Time"/>) runs: <see cref="Prepare"/> restores
/// the inputs of an in-place operation (untimed) and waits for the device; <see cref="Run"/> queues
/// the work and ends each phase with <see cref="EndPhase"/>, which waits for the device before the
/// lap is read — the one place a timed run synchronizes — so a wall-clock time around a phase is
/// its device time.
/// </summary>
internal abstract class TimedRun(Device device)
{
    public Device Device { get; } = device;

    /// <summary>Names of the phases <see cref="Run"/> laps.</summary>
    public virtual IReadOnlyList<string> Phases { get; } = ["op"];

    /// <summary>Restores in-place inputs (untimed) and waits for the device.</summary>
    public void Prepare()
    {
        Restore();
        Device.Synchronize();
    }

    /// <summary>Restores in-place inputs; <see cref="Prepare"/> then waits for the device.</summary>
    protected virtual void Restore() { }

    /// <summary>Runs the operation once, ending each phase with <see cref="EndPhase"/>.</summary>
    public abstract void Run(PhaseTimer? timer);

    /// <summary>Throws when the last run produced a result that would make its timing meaningless.</summary>
    public virtual void Validate() { }

    /// <summary>Waits for the device, then laps phase <paramref name="phase"/>.</summary>
    protected void EndPhase(PhaseTimer? timer, int phase)
    {
        Device.Synchronize();
        timer?.Lap(phase);
    }
}

/// <summary>
/// One problem set up on a device, run by the BenchmarkDotNet benchmarks and by the self-timed
/// runner alike (see <see cref="TimedRun"/> for what Prepare and Run promise).
/// </summary>
internal abstract class Workload : TimedRun, IDisposable
{
    protected Workload(Device device, Problem problem) : base(device) => Problem = problem;

    public Problem Problem { get; }

    /// <summary>The algorithm path that runs, where the op has several (Cholesky).</summary>
    public virtual string? Path => null;

    /// <summary>Peak pool bytes of the last run, where the workload measures it.</summary>
    public long? PeakBytes { get; protected set; }

    public abstract void Dispose();

    /// <summary>Executed flops of one run's phases (see <see cref="Flops"/>), the whole batch.</summary>
    public virtual double[] PhaseFlops
    {
        get
        {
            var (forward, backward) = Flops.Of(Problem.Op, Problem.N);
            return [Problem.Batch * forward];
        }
    }

    /// <summary>
    /// Why <paramref name="problem"/> has no run on <paramref name="device"/> (a suite skips it,
    /// saying why), or null: a Cholesky case whose forced algorithm the device's kernel family does
    /// not have (<see cref="CholeskyPlan.Unsupported"/>).
    /// </summary>
    public static string? CannotRun(Device device, Problem problem) =>
        Problem.ForcedCholesky(problem.Op) is { } algorithm ? CholeskyPlan.Unsupported(device, algorithm) : null;

    /// <summary>
    /// Allocates and fills the inputs of <paramref name="problem"/> (seeded, reproducible).
    /// </summary>
    /// <exception cref="DeviceOutOfMemoryException">The inputs do not fit on the device (checked before any host data is made).</exception>
    public static Workload Create(Device device, Problem problem, int seed = 1) => problem.DType == DType.Fp32
        ? Create<float>(device, problem, seed)
        : Create<double>(device, problem, seed);

    private static Workload Create<T>(Device device, Problem p, int seed) where T : unmanaged, IFloatingPointIeee754<T> => p.Op switch
    {
        BenchOp.Gemm => new GemmWorkload<T>(device, p, seed),
        BenchOp.Trsm => new TrsmWorkload<T>(device, p, seed),
        BenchOp.Potrf => new PotrfWorkload<T>(device, p, seed),
        BenchOp.CholeskyOneLevel => new CholeskyWorkload<T>(device, p, seed, outerBlockSize: p.N),
        // The two-level designs: right-looking with Murray's reverse in leaf blocks, streams as the table says, unless the case forces otherwise.
        BenchOp.CholeskyTwoLevel => new CholeskyWorkload<T>(device, p, seed, TwoLevelOuter(device, p.N), t => TwoLevelBase(t)),
        BenchOp.CholeskyTwoStreams => new CholeskyWorkload<T>(device, p, seed, TwoLevelOuter(device, p.N), t => TwoLevelBase(t) with { PotrfStreams = 2 }),
        BenchOp.CholeskyLeftLooking => new CholeskyWorkload<T>(device, p, seed, TwoLevelOuter(device, p.N), t => TwoLevelBase(t) with { PotrfLeftLooking = true }),
        BenchOp.CholeskyReverseByInverse => new CholeskyWorkload<T>(device, p, seed, TwoLevelOuter(device, p.N), t => TwoLevelBase(t) with { PotrfBlockReverseByInverse = true }),
        _ when Problem.ForcedCholesky(p.Op) is not null => new CholeskyWorkload<T>(device, p, seed),
        BenchOp.GpNll => new GpWorkload<T>(device, p, seed),
        _ => new GraphWorkload<T>(device, p, seed),
    };

    /// <summary>The baseline of the forced two-level designs: right-looking, the outer blocks' reverse in leaf blocks.</summary>
    private static TuningTable TwoLevelBase(TuningTable table) => table with { PotrfLeftLooking = false, PotrfBlockReverseByInverse = false };

    /// <summary>
    /// The outer blocks of the forced two-level cases: the device table's, or 512 where it takes one
    /// level; half the order where that would cover it (the quick suites' small orders).
    /// </summary>
    private static int TwoLevelOuter(Device device, int n)
    {
        int outer = device.Tuning.PotrfOuterBlock > 0 ? device.Tuning.PotrfOuterBlock : 512;
        return outer < n ? outer : n / 2;
    }

    /// <summary>
    /// Checks that <paramref name="count"/> [batch, n, n] tensors fit, then allocates and fills one
    /// per kind (the rest are left uninitialized for the workload to use).
    /// </summary>
    protected DeviceTensor<T>[] Inputs<T>(int seed, int count, params InputKind[] kinds) where T : unmanaged, INumber<T>
    {
        var shape = new Shape(Problem.Batch, Problem.N, Problem.N);
        Device.EnsureFits<T>([.. Enumerable.Repeat(shape, count)]);
        var tensors = new DeviceTensor<T>[count];
        try
        {
            for (int i = 0; i < count; i++)
            {
                tensors[i] = Device.Allocate<T>(shape);
                if (i < kinds.Length) HostData.Fill(tensors[i], kinds[i], seed + i);
            }
            return tensors;
        }
        catch
        {
            foreach (var t in tensors) t?.Dispose();
            throw;
        }
    }
}

/// <summary>C = A·B.</summary>
internal sealed class GemmWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceTensor<T> a, b, c;

    public GemmWorkload(Device device, Problem p, int seed) : base(device, p) =>
        (a, b, c) = Inputs<T>(seed, 3, InputKind.General, InputKind.General) is var t ? (t[0], t[1], t[2]) : default;

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        Blas.Gemm(Device, a.Mat, transA: false, b.Mat, transB: false, c.Mat, T.One, T.Zero);
        EndPhase(timer, 0);
    }

    public override void Dispose()
    {
        a.Dispose();
        b.Dispose();
        c.Dispose();
    }
}

/// <summary>B := L⁻¹·B in place (left, lower, no transpose); B is restored from a copy before each run.</summary>
internal sealed class TrsmWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceTensor<T> l, b0, b;

    public TrsmWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        (l, b0, b) = Inputs<T>(seed, 3, InputKind.Lower, InputKind.General) is var t ? (t[0], t[1], t[2]) : default;
        b.CopyFrom(b0);
    }

    protected override void Restore() => b.CopyFrom(b0);

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        Blas.Trsm(Device, l.Mat, b.Mat, left: true, lower: true, transpose: false, unitDiagonal: false, T.One);
        EndPhase(timer, 0);
    }

    public override void Dispose()
    {
        l.Dispose();
        b0.Dispose();
        b.Dispose();
    }
}

/// <summary>In-place Cholesky of A with device-side info; A is restored from a copy before each run.</summary>
internal sealed class PotrfWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceTensor<T> a0, a;
    private readonly DeviceTensor<int> info;

    public PotrfWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        (a0, a) = Inputs<T>(seed, 2, InputKind.Spd) is var t ? (t[0], t[1]) : default;
        a.CopyFrom(a0);
        info = device.Allocate<int>(new Shape(p.Batch, 1, 1));
    }

    protected override void Restore() => a.CopyFrom(a0);

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        Blas.Potrf(Device, a.Mat, info);
        EndPhase(timer, 0);
    }

    public override void Validate()
    {
        var codes = info.ToArray();
        int bad = Array.FindIndex(codes, c => c != 0);
        if (bad >= 0) throw new InvalidOperationException($"{Problem.Id}: POTRF reported info {codes[bad]} for matrix {bad} of an SPD input.");
    }

    public override void Dispose()
    {
        a0.Dispose();
        a.Dispose();
        info.Dispose();
    }
}

/// <summary>
/// Cholesky forward and backward through the graph: a fresh tape per run, L = factor(Σ), then
/// Tape.Backward(L, L̄). Phases: forward (factorization, including the host check of the info
/// codes that Op.Cholesky makes) and backward. L̄ is made afresh before each run (untimed) and
/// handed to the tape (<see cref="BackwardOptions.TakeOwnership"/>), which computes Σ̄ in it, as a training loop would; the
/// peak is the pool's over the whole run: Σ, L̄, the factor L and the backward's temporaries.
/// </summary>
internal sealed class CholeskyWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceTensor<T> sigma;
    private readonly int lbarSeed;
    private DeviceTensor<T>? lbar;
    private readonly CholeskyAlgorithm algorithm;
    private readonly CholeskyOptions options;
    private readonly Func<TuningTable, TuningTable>? design;

    /// <param name="device">The device.</param>
    /// <param name="p">The problem.</param>
    /// <param name="seed">Seed of the inputs.</param>
    /// <param name="outerBlockSize">Two levels in outer blocks of this order (at least n: one level); 0: the table's choice.</param>
    /// <param name="design">The change to the tuning table while a run records its plan (null: the table as it is).</param>
    /// <remarks>The algorithm asked for is the one the problem's op forces (<see cref="Problem.ForcedCholesky"/>; Auto: the policy's choice).</remarks>
    public CholeskyWorkload(Device device, Problem p, int seed, int outerBlockSize = 0, Func<TuningTable, TuningTable>? design = null) : base(device, p)
    {
        (sigma, lbar) = Inputs<T>(seed, 2, InputKind.Spd, InputKind.General) is var t ? (t[0], t[1]) : default;
        lbarSeed = seed + 1;
        algorithm = Problem.ForcedCholesky(p.Op) ?? throw new ArgumentException($"CholeskyWorkload: {p.Op} is not a Cholesky case.", nameof(p));
        options = new CholeskyOptions { Algorithm = algorithm, OuterBlockSize = outerBlockSize };
        this.design = design;
    }

    /// <summary>The plan a run records (the table as the case's design sets it).</summary>
    private CholeskyPlan Plan => WithTable(() => CholeskyPolicy.Plan<T>(Device, sigma.Shape, options));

    private TResult WithTable<TResult>(Func<TResult> f)
    {
        var table = Device.Tuning;
        if (design is not null) Device.Tuning = design(table);
        try
        {
            return f();
        }
        finally
        {
            Device.Tuning = table;
        }
    }

    /// <summary>A fresh L̄ where the last run consumed it; the pool's peak starts here.</summary>
    protected override void Restore()
    {
        if (lbar is null)
        {
            lbar = Device.Allocate<T>(sigma.Shape);
            HostData.Fill(lbar, InputKind.General, lbarSeed);
        }
        Device.Pool.ResetPeak();
    }

    public override IReadOnlyList<string> Phases { get; } = ["forward", "backward"];

    /// <summary>The algorithm that runs: the one forced, or the policy's choice for this device and shape.</summary>
    public CholeskyAlgorithm Resolved => CholeskyPolicy.Resolve<T>(Device, sigma.Shape, algorithm);

    public override double[] PhaseFlops
    {
        get
        {
            var (forward, backward) = Flops.Of(Problem.Op, Problem.N, Resolved);
            var plan = Plan;
            double extra = plan.Levels == 2 ? Flops.TwoLevelExtra(Problem.N, plan.BlockSize) : 0; // the inverses and the panels' GEMMs
            double blocks = plan.BlockReverseByInverse ? Flops.BlockReverseExtra(Problem.N, plan.BlockSize) : 0; // the blocks' reverse by GEMMs
            return [Problem.Batch * (forward + extra), Problem.Batch * (backward + (Resolved == CholeskyAlgorithm.Composed ? 0 : extra + blocks))];
        }
    }

    public override string? Path
    {
        get
        {
            var plan = Plan;
            return plan.Levels == 2
                ? $"{Resolved}, two levels (outer {plan.BlockSize}, leaves {plan.LeafBlockSize}, {plan.Streams} stream{(plan.Streams > 1 ? "s" : "")}"
                    + $"{(plan.LeftLooking ? ", left-looking" : "")}{(plan.BlockReverseByInverse ? ", blocks' reverse by inverse" : "")})"
                : Resolved.ToString();
        }
    }

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        using var tape = new Tape(Device);
        var l = WithTable(() => Op.Cholesky(tape.Variable(sigma), options));
        EndPhase(timer, 0);
        var cotangent = lbar ?? throw new InvalidOperationException("CholeskyWorkload: Run without Prepare.");
        lbar = null; // the tape owns it now and returns it to the pool with the graph
        tape.Backward(l, cotangent, new BackwardOptions { TakeOwnership = true });
        EndPhase(timer, 1);
        PeakBytes = Device.Pool.PeakBytes;
    }

    public override void Dispose()
    {
        sigma.Dispose();
        lbar?.Dispose();
    }
}

/// <summary>
/// An op of the graph other than Cholesky, forward and backward (every input's gradient) with a
/// random cotangent: a fresh tape per run; phases forward and backward; the pool's peak during
/// the backward pass.
/// </summary>
internal sealed class GraphWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly OpInfo op;
    private readonly DeviceTensor<T>[] inputs;
    private readonly DeviceTensor<T> cotangent;

    /// <summary>The op of the catalogue whose kebab name is the problem's key, every input [batch, n, n] of the entry's kind, flags at their defaults.</summary>
    public GraphWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        op = Catalogue.All.FindKebab(p.OpKey) ?? throw new ArgumentException($"{p.Op} is not a graph op of the engine");
        InputKind[] kinds = [.. op.Inputs.Select(i => i.Kind)];
        // The cotangent: n×n, or 1×1 for log det; checked together with the inputs.
        var all = Inputs<T>(seed, kinds.Length + (p.Op == BenchOp.LogDet ? 0 : 1), [.. kinds, InputKind.General]);
        inputs = all[..kinds.Length];
        if (p.Op == BenchOp.LogDet)
        {
            cotangent = device.Allocate<T>(new Shape(p.Batch, 1, 1));
            HostData.Fill(cotangent, InputKind.General, seed + 99);
        }
        else
        {
            cotangent = all[^1];
        }
    }

    public override IReadOnlyList<string> Phases { get; } = ["forward", "backward"];

    public override double[] PhaseFlops
    {
        get
        {
            var (forward, backward) = Flops.Of(Problem.Op, Problem.N);
            return [Problem.Batch * forward, Problem.Batch * backward];
        }
    }

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        using var tape = new Tape(Device);
        var y = op.Apply([.. inputs.Select(t => tape.Variable(t))]);
        EndPhase(timer, 0);
        tape.Backward(y, cotangent);
        EndPhase(timer, 1);
        PeakBytes = tape.LastBackwardPeakBytes;
    }

    public override void Dispose()
    {
        foreach (var t in inputs) t.Dispose();
        cotangent.Dispose();
    }
}

/// <summary>
/// A Gaussian process end to end, as bench/torch_ref.py times GPyTorch's exact marginal log
/// likelihood: points xᵢ uniform in [0, 10] (one dimension), targets sin(x) + 0.1·noise; per run a
/// fresh tape, Σ = s²·exp(−D/(2ℓ²)) + σ²·I from the pairwise squared distances D (computed once,
/// untimed) at ℓ = 1, s² = 1, σ² = 0.01, the negative log marginal likelihood, then its gradient
/// with respect to log ℓ, log s², log σ². Phases forward and backward.
/// </summary>
internal sealed class GpWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceTensor<T> distances, targets;
    private readonly T[] theta = [T.Zero, T.Zero, T.CreateChecked(Math.Log(0.01))];

    public GpWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        int n = p.N;
        device.EnsureFits<T>(new Shape(p.Batch, n, n), new Shape(p.Batch, n, n), new Shape(p.Batch, n, n));
        var x = new double[p.Batch, n];
        var y = new double[p.Batch * n];
        for (int b = 0; b < p.Batch; b++)
            for (int i = 0; i < n; i++)
            {
                x[b, i] = 10 * HostData.Unit(seed, b, i, 0);
                double u1 = HostData.Unit(seed + 1, b, i, 0), u2 = HostData.Unit(seed + 2, b, i, 0);
                y[b * n + i] = Math.Sin(x[b, i]) + 0.1 * Math.Sqrt(-2 * Math.Log(1 - u1)) * Math.Cos(2 * Math.PI * u2);
            }
        distances = device.Allocate<T>(new Shape(p.Batch, n, n));
        try
        {
            HostData.Fill(distances, (b, i, j) => (x[b, i] - x[b, j]) * (x[b, i] - x[b, j]));
            targets = device.Upload<T>(y.Select(T.CreateChecked).ToArray(), new Shape(p.Batch, n, 1));
        }
        catch
        {
            distances.Dispose();
            throw;
        }
    }

    public override IReadOnlyList<string> Phases { get; } = ["forward", "backward"];

    public override double[] PhaseFlops => [double.NaN, double.NaN];

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        using var tape = new Tape(Device);
        var one = new Shape(1, 1, 1);
        var p = theta.Select(t => tape.Variable(new[] { t }, one)).ToArray();
        var sigma = GaussianProcess.RbfCovariance(tape.Constant(distances), p[0], p[1], p[2]);
        var nll = Op.SumBatch(GaussianProcess.NegativeLogMarginalLikelihood(sigma, tape.Constant(targets)));
        EndPhase(timer, 0);
        tape.Backward(nll);
        EndPhase(timer, 1);
        PeakBytes = tape.LastBackwardPeakBytes;
    }

    public override void Validate()
    {
        using var tape = new Tape(Device);
        var one = new Shape(1, 1, 1);
        var p = theta.Select(t => tape.Variable(new[] { t }, one)).ToArray();
        var nll = Op.SumBatch(GaussianProcess.NegativeLogMarginalLikelihood(GaussianProcess.RbfCovariance(tape.Constant(distances), p[0], p[1], p[2]), tape.Constant(targets)));
        tape.Backward(nll);
        if (!p.All(v => v.Grad!.ToArray().All(T.IsFinite)))
            throw new InvalidOperationException($"{Problem.Id}: the hyperparameters' gradient is not finite.");
    }

    public override void Dispose()
    {
        distances.Dispose();
        targets.Dispose();
    }
}
