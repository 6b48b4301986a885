using GpuAD.Kernels;

namespace GpuAD.Bench.Benchmarks;

/// <summary>
/// A BenchmarkDotNet parameter: the kernel family (the CPU accelerator running the CPU-tuned
/// kernels, or emulating a GPU for the GPU-tuned ones) and the problem, which carries its executed
/// flop count for the GFLOP/s column.
/// </summary>
public sealed record BenchCase(KernelFamily Family, Problem Problem)
{
    /// <summary>Set (to 1) by <c>--quick</c>; inherited by the processes BenchmarkDotNet starts.</summary>
    public const string QuickVariable = "GPUAD_BENCH_QUICK";

    private static bool Quick => Environment.GetEnvironmentVariable(QuickVariable) == "1";

    /// <summary>GEMM, TRSM or POTRF: GPU-tuned at n = 64, 128 (emulated, slow), CPU-tuned at n = 256, 512, 1024.</summary>
    public static IEnumerable<BenchCase> Kernel(BenchOp op, DType dtype)
    {
        int[] gpu = Quick ? [64] : [64, 128];
        int[] cpu = Quick ? [256] : [256, 512, 1024];
        foreach (int n in gpu) yield return new(KernelFamily.GpuTuned, new Problem(op, dtype, 1, n));
        foreach (int n in cpu) yield return new(KernelFamily.CpuTuned, new Problem(op, dtype, 1, n));
    }

    /// <summary>Cholesky forward + backward through the graph, CPU-tuned: 256×64², 64×128², n = 256, 512, 1024.</summary>
    public static IEnumerable<BenchCase> Cholesky(DType dtype)
    {
        (int Batch, int N)[] sizes = Quick ? [(256, 64), (1, 256)] : [(256, 64), (64, 128), (1, 256), (1, 512), (1, 1024)];
        foreach (var (batch, n) in sizes)
            yield return new(KernelFamily.CpuTuned, new Problem(BenchOp.Cholesky, dtype, batch, n));
    }

    /// <inheritdoc/>
    public override string ToString() =>
        $"{(Family == KernelFamily.GpuTuned ? "gpu-emul" : "cpu")} {Problem.Batch}x{Problem.N}";
}
