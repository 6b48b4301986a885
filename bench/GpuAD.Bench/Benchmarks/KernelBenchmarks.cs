using System.Numerics;
using BenchmarkDotNet.Attributes;
using GpuAD.Kernels;

namespace GpuAD.Bench.Benchmarks;

/// <summary>C = A·B, [n, n] each.</summary>
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class GemmBenchmarks<T> : WorkloadBenchmark
{
    /// <summary>The cases: both families.</summary>
    public static IEnumerable<BenchCase> Cases => BenchCase.Kernel(BenchOp.Gemm, Types.Of<T>());

    /// <inheritdoc/>
    [ParamsSource(nameof(Cases))]
    public override BenchCase Case { get; set; } = null!;

    /// <summary>One GEMM.</summary>
    [Benchmark]
    public void Gemm() => RunOnce();
}

/// <summary>B := L⁻¹·B in place, L [n, n] lower triangular, n right-hand sides; B restored before each invocation.</summary>
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class TrsmBenchmarks<T> : WorkloadBenchmark
{
    /// <summary>The cases: both families.</summary>
    public static IEnumerable<BenchCase> Cases => BenchCase.Kernel(BenchOp.Trsm, Types.Of<T>());

    /// <inheritdoc/>
    [ParamsSource(nameof(Cases))]
    public override BenchCase Case { get; set; } = null!;

    /// <summary>Restores B.</summary>
    [IterationSetup]
    public void Restore() => Prepare();

    /// <summary>One TRSM.</summary>
    [Benchmark]
    public void Trsm() => RunOnce();
}

/// <summary>In-place Cholesky factorization of an SPD [n, n]; A restored before each invocation.</summary>
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class PotrfBenchmarks<T> : WorkloadBenchmark
{
    /// <summary>The cases: both families.</summary>
    public static IEnumerable<BenchCase> Cases => BenchCase.Kernel(BenchOp.Potrf, Types.Of<T>());

    /// <inheritdoc/>
    [ParamsSource(nameof(Cases))]
    public override BenchCase Case { get; set; } = null!;

    /// <summary>Restores A.</summary>
    [IterationSetup]
    public void Restore() => Prepare();

    /// <summary>One POTRF.</summary>
    [Benchmark]
    public void Potrf() => RunOnce();
}

/// <summary>
/// Cholesky forward and backward through the graph: L = Op.Cholesky(Σ) on a fresh tape, then
/// Tape.Backward(L, L̄) with a random L̄. CPU-tuned family only. The factorization is recorded by
/// <see cref="Factor"/>: a choice of backward algorithm becomes a [Params] property read there.
/// </summary>
[GenericTypeArguments(typeof(float))]
[GenericTypeArguments(typeof(double))]
public class CholeskyBenchmarks<T> : WorkloadBenchmark where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The cases.</summary>
    public static IEnumerable<BenchCase> Cases => BenchCase.Cholesky(Types.Of<T>());

    /// <inheritdoc/>
    [ParamsSource(nameof(Cases))]
    public override BenchCase Case { get; set; } = null!;

    /// <summary>One forward and backward pass.</summary>
    [Benchmark]
    public void CholeskyForwardBackward() => RunOnce();

    private protected override Workload CreateWorkload(Device device, Problem problem) =>
        new CholeskyWorkload<T>(device, problem, seed: 1);
}

/// <summary>Maps the benchmark's type argument to its <see cref="DType"/>.</summary>
internal static class Types
{
    public static DType Of<T>() => typeof(T) == typeof(float) ? DType.Fp32
        : typeof(T) == typeof(double) ? DType.Fp64
        : throw new NotSupportedException($"no benchmarks for {typeof(T).Name}");
}
