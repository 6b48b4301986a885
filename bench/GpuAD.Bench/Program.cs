using System.Runtime.CompilerServices;
using BenchmarkDotNet.Running;
using GpuAD.Bench.Benchmarks;
using GpuAD.Bench.Runner;

namespace GpuAD.Bench;

/// <summary>
/// <c>GpuAD.Bench [BenchmarkDotNet arguments] [--quick]</c>: BenchmarkDotNet on the CPU accelerator.
/// <c>GpuAD.Bench run --suite gpu|cpu --out DIR [...]</c>: the self-timed runner (see <see cref="SuiteRunner"/>).
/// <c>GpuAD.Bench diagnose --out DIR</c>: what ILGPU sees of CUDA, and one GEMM (see <see cref="Diagnose"/>).
/// <c>GpuAD.Bench gp-wall [--cap-mib M]</c>: the largest n of the exact GP likelihood, fused and composed (see <see cref="GpWall"/>).
/// <c>GpuAD.Bench plan [--n N,...] [--dtype f64|f32] [--batch B]</c>: the Cholesky designs' times on an H100, modelled from its measured kernels (see <see cref="PlanModel"/>).
/// </summary>
internal static class Program
{
    private static int Main(string[] args) => args.Length > 0 && args[0] == "run" ? SuiteRunner.Run(args[1..])
        : args.Length > 0 && args[0] == "diagnose" ? Diagnose.Run(args[1..])
        : args.Length > 0 && args[0] == "gp-wall" ? GpWall.Run(args[1..])
        : args.Length > 0 && args[0] == "plan" ? PlanModel.Run(args[1..])
        : RunBenchmarkDotNet(args);

    /// <summary>
    /// Kept out of <see cref="Main"/> so that the runner never loads BenchmarkDotNet: the package
    /// sent to the GPU machine leaves BenchmarkDotNet and its dependencies out.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static int RunBenchmarkDotNet(string[] args)
    {
        bool quick = args.Contains("--quick");
        if (quick)
        {
            args = args.Where(a => a != "--quick").ToArray();
            Environment.SetEnvironmentVariable(BenchCase.QuickVariable, "1");
        }
        bool jobGiven = args.Any(a => a is "--job" or "-j" || a.StartsWith("--job=", StringComparison.Ordinal));
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, BenchConfig.Create(quick, jobGiven));
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
