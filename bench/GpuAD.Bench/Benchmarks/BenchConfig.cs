using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace GpuAD.Bench.Benchmarks;

/// <summary>The BenchmarkDotNet configuration: the GFLOP/s column, and the job.</summary>
internal static class BenchConfig
{
    /// <summary>
    /// Without a <c>--job</c> argument: 2 warm-up and 10 measured iterations in one process (each
    /// case takes milliseconds to seconds, so BenchmarkDotNet's default pilot stage adds nothing but
    /// time). With <paramref name="quick"/>: three single-invocation iterations in process, for a smoke run.
    /// </summary>
    public static IConfig Create(bool quick, bool jobGiven)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddColumn(StatisticColumn.Median, new GflopsColumn())
            .WithOptions(ConfigOptions.JoinSummary);
        if (quick)
            return config.AddJob(Job.Dry.WithIterationCount(3).WithToolchain(InProcessEmitToolchain.Instance).WithId("Quick"));
        if (!jobGiven)
            return config.AddJob(Job.Default.WithLaunchCount(1).WithWarmupCount(2).WithIterationCount(10).WithId("GpuAD"));
        return config;
    }
}

/// <summary>
/// GFLOP/s from the flops the case's algorithm executes (<see cref="Problem.ExecutedFlops"/>) and the median time.
/// </summary>
internal sealed class GflopsColumn : IColumn
{
    public string Id => nameof(GflopsColumn);

    public string ColumnName => "GFLOP/s";

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => true;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => "Executed GFLOP/s from the median: GEMM 2n³, TRSM n³ (n right-hand sides), POTRF n³/3, Cholesky fwd+bwd n³/3 + 2n³/3 (blocked and whole-matrix backward); times batch";

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase) => GetValue(summary, benchmarkCase, SummaryStyle.Default);

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
    {
        var problem = benchmarkCase.Parameters.Items.Select(p => p.Value).OfType<BenchCase>().FirstOrDefault()?.Problem;
        var stats = summary[benchmarkCase]?.ResultStatistics;
        if (problem is null || stats is null || stats.Median <= 0) return "NA";
        double gflops = problem.ExecutedFlops / stats.Median; // flop/ns = GFLOP/s
        return gflops.ToString(gflops < 0.1 ? "F4" : "F2", System.Globalization.CultureInfo.InvariantCulture);
    }

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;
}
