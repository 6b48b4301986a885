using System.Diagnostics;
using System.Numerics;
using GpuAD.Graph;
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
/// One problem set up on a device, run by the BenchmarkDotNet benchmarks and by the self-timed
/// runner alike. <see cref="Run"/> queues the work and waits for the device, so a wall-clock
/// time around it is the device time of the operation. <see cref="Prepare"/> restores the inputs
/// of an in-place operation; it is not part of the measurement.
/// </summary>
internal abstract class Workload : IDisposable
{
    protected Workload(Device device, Problem problem)
    {
        Device = device;
        Problem = problem;
    }

    public Device Device { get; }

    public Problem Problem { get; }

    /// <summary>Names of the phases <see cref="Run"/> laps.</summary>
    public virtual IReadOnlyList<string> Phases { get; } = ["op"];

    /// <summary>Peak pool bytes of the last run, where the workload measures it.</summary>
    public long? PeakBytes { get; protected set; }

    /// <summary>Restores in-place inputs (untimed) and waits for the device.</summary>
    public virtual void Prepare() { }

    /// <summary>Runs the operation once and synchronizes the device after each phase.</summary>
    public abstract void Run(PhaseTimer? timer);

    /// <summary>Throws when the last run produced a result that would make its timing meaningless.</summary>
    public virtual void Validate() { }

    public abstract void Dispose();

    /// <summary>Allocates and uploads the inputs of <paramref name="problem"/> (seeded, reproducible).</summary>
    public static Workload Create(Device device, Problem problem, int seed = 1) => problem.DType == DType.Fp32
        ? Create<float>(device, problem, seed)
        : Create<double>(device, problem, seed);

    private static Workload Create<T>(Device device, Problem p, int seed) where T : unmanaged, IFloatingPointIeee754<T> => p.Op switch
    {
        BenchOp.Gemm => new GemmWorkload<T>(device, p, seed),
        BenchOp.Trsm => new TrsmWorkload<T>(device, p, seed),
        BenchOp.Potrf => new PotrfWorkload<T>(device, p, seed),
        BenchOp.CholeskyComposed => new CholeskyWorkload<T>(device, p, seed, sigma => Op.Cholesky(sigma, CholeskyAlgorithm.Composed)),
        BenchOp.CholeskyBlocked => new CholeskyWorkload<T>(device, p, seed, sigma => Op.Cholesky(sigma, CholeskyAlgorithm.Blocked)),
        BenchOp.CholeskyWhole => new CholeskyWorkload<T>(device, p, seed, sigma => Op.Cholesky(sigma, CholeskyAlgorithm.SmallBatched)),
        _ => new CholeskyWorkload<T>(device, p, seed, sigma => Op.Cholesky(sigma)),
    };

    protected Tensor<T> Upload<T>(T[] data) where T : unmanaged, INumber<T> =>
        Device.Upload<T>(data, new Shape(Problem.Batch, Problem.N, Problem.N));
}

/// <summary>C = A·B.</summary>
internal sealed class GemmWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> a, b, c;

    public GemmWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        a = Upload(HostData.Uniform<T>(p.Batch, p.N, p.N, seed));
        b = Upload(HostData.Uniform<T>(p.Batch, p.N, p.N, seed + 1));
        c = device.Allocate<T>(a.Shape);
    }

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        Blas.Gemm(Device, a.Mat, transA: false, b.Mat, transB: false, c.Mat, T.One, T.Zero);
        Device.Synchronize();
        timer?.Lap(0);
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
    private readonly Tensor<T> l, b0, b;

    public TrsmWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        l = Upload(HostData.LowerTriangular<T>(p.Batch, p.N, seed));
        b0 = Upload(HostData.Uniform<T>(p.Batch, p.N, p.N, seed + 1));
        b = b0.Clone();
    }

    public override void Prepare()
    {
        b.CopyFrom(b0);
        Device.Synchronize();
    }

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        Blas.Trsm(Device, l.Mat, b.Mat, left: true, lower: true, transpose: false, unitDiagonal: false, T.One);
        Device.Synchronize();
        timer?.Lap(0);
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
    private readonly Tensor<T> a0, a;
    private readonly Tensor<int> info;

    public PotrfWorkload(Device device, Problem p, int seed) : base(device, p)
    {
        a0 = Upload(HostData.Spd<T>(p.Batch, p.N, seed));
        a = a0.Clone();
        info = device.Allocate<int>(new Shape(p.Batch, 1, 1));
    }

    public override void Prepare()
    {
        a.CopyFrom(a0);
        Device.Synchronize();
    }

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        Blas.Potrf(Device, a.Mat, info);
        Device.Synchronize();
        timer?.Lap(0);
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
/// codes that Op.Cholesky makes) and backward. The peak is the pool's during the backward pass,
/// which holds the inputs Σ and L̄, the factor L and the backward's temporaries.
/// </summary>
internal sealed class CholeskyWorkload<T> : Workload where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Tensor<T> sigma, lbar;
    private readonly Func<Var<T>, Var<T>> factor;

    /// <param name="device">The device.</param>
    /// <param name="p">The problem.</param>
    /// <param name="seed">Seed of the inputs.</param>
    /// <param name="factor">The recorded factorization (Op.Cholesky, or a variant of its backward algorithm).</param>
    public CholeskyWorkload(Device device, Problem p, int seed, Func<Var<T>, Var<T>> factor) : base(device, p)
    {
        sigma = Upload(HostData.Spd<T>(p.Batch, p.N, seed));
        lbar = Upload(HostData.Uniform<T>(p.Batch, p.N, p.N, seed + 1));
        this.factor = factor;
    }

    public override IReadOnlyList<string> Phases { get; } = ["forward", "backward"];

    public override void Run(PhaseTimer? timer)
    {
        timer?.Start();
        using var tape = new Tape(Device);
        var l = factor(tape.Variable(sigma));
        Device.Synchronize();
        timer?.Lap(0);
        tape.Backward(l, lbar);
        Device.Synchronize();
        timer?.Lap(1);
        PeakBytes = tape.LastBackwardPeakBytes;
    }

    public override void Dispose()
    {
        sigma.Dispose();
        lbar.Dispose();
    }
}
