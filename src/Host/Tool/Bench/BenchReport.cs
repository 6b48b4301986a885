using GpuAD.Tool.Cli;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuAD.Tool.Bench;

/// <summary>What a sweep ran on, for the report headers.</summary>
/// <param name="Device">The device's description.</param>
/// <param name="DType">f32 or f64.</param>
/// <param name="Batch">Matrices per operand.</param>
/// <param name="Repeat">Timed runs per case.</param>
/// <param name="Torch">The PyTorch reference's description, or why it did not run.</param>
internal sealed record BenchContext(string Device, [property: JsonPropertyName("dtype")] string DType, int Batch, int Repeat, string Torch);

/// <summary>Writes a sweep's results as markdown, JSON and a PNG chart of GFLOP/s against n.</summary>
internal static class BenchReport
{
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The files <see cref="Write"/> writes into its directory.</summary>
    public static readonly string[] FileNames = ["bench.md", "bench.json", "bench.png"];

    /// <summary>Writes bench.md, bench.json and bench.png through <paramref name="files"/> (prepared with <see cref="FileNames"/>) and commits them.</summary>
    public static string[] Write(OutputFiles files, BenchContext context, IReadOnlyList<BenchResult> results)
    {
        files.Write("bench.md", stream => stream.Write(Encoding.UTF8.GetBytes(Markdown(context, results))));
        files.Write("bench.json", stream => JsonSerializer.Serialize(stream, new { context, results }, Json));
        var png = Chart(context, results);
        files.Write("bench.png", stream => stream.Write(png));
        files.Commit();
        return FileNames.Select(files.PathOf).ToArray();
    }

    private static string Markdown(BenchContext c, IReadOnlyList<BenchResult> results)
    {
        var inv = CultureInfo.InvariantCulture;
        bool torch = results.Any(r => r.Torch is not null);
        var sb = new StringBuilder();
        sb.AppendLine("# gpuad bench").AppendLine();
        sb.AppendLine(inv, $"- Device: {c.Device}");
        sb.AppendLine(inv, $"- Element type: {c.DType}; batch {c.Batch}; every operand n×n; median of {c.Repeat} runs after one untimed run that compiles the kernels");
        sb.AppendLine("- Forward and backward are each timed between device synchronizations; backward computes every input's gradient");
        sb.AppendLine(inv, $"- Reference: {c.Torch}");
        sb.AppendLine("- GFLOP/s: the flops the algorithm that ran executes (its path in parentheses where an op has several), over the median time: " + string.Join("; ",
            results.Select(r => (r.Op, r.Path)).Distinct().Select(x => Counts(x.Op, x.Path))));
        sb.AppendLine("- Peak: the device pool's peak bytes during the backward pass, inputs included");
        sb.AppendLine();
        sb.Append("| op | n | forward ms | backward ms | total ms | forward GFLOP/s | backward GFLOP/s | peak MiB |");
        sb.AppendLine(torch ? " PyTorch forward ms | PyTorch backward ms | PyTorch total ms | speed-up vs PyTorch |" : "");
        sb.Append("|---|---:|---:|---:|---:|---:|---:|---:|");
        sb.AppendLine(torch ? "---:|---:|---:|---:|" : "");
        foreach (var r in results)
        {
            sb.Append(inv, $"| {r.Op}{(r.Path is null ? "" : $" ({r.Path})")} | {r.N} | {r.ForwardMs:0.000} | {r.BackwardMs:0.000} | {r.TotalMs:0.000} | {r.ForwardGflops:0.00} | {r.BackwardGflops:0.00} | {(r.PeakBytes is long p ? (p / 1048576.0).ToString("0.0", inv) : "")} |");
            if (torch)
            {
                sb.Append(r.Torch is { } t
                    ? string.Create(inv, $" {t.ForwardMs:0.000} | {t.BackwardMs:0.000} | {t.TotalMs:0.000} | {r.SpeedupVsTorch:0.00}× |")
                    : " | | | |");
            }
            sb.AppendLine();
        }
        if (torch) sb.AppendLine().AppendLine("Speed-up: PyTorch's forward + backward time over GpuAD's (above 1: GpuAD is faster).");
        return sb.ToString();
    }

    // "matmul forward 2n³, backward 4n³": the executed counts per matrix, as fractions of n³, of
    // the Cholesky algorithm the path names first ("Dataflow", "Blocked, two levels (…)").
    internal static string Counts(string op, string? path)
    {
        var ran = Enum.TryParse<CholeskyAlgorithm>(path?.Split(',')[0], out var named) ? named : CholeskyAlgorithm.Auto;
        var (forward, backward) = GpuAD.Bench.Flops.Of(GpuAD.Bench.Problem.ParseOp(op), 1, ran);
        return $"{op}{(path is null ? "" : $" ({path})")} forward {Cubic(forward)}" + (backward > 0 ? $", backward {Cubic(backward)}" : "");
    }

    // "2n³", "n³/3", "14n³/3": the coefficient of n³ as a fraction with denominator 1 or 3.
    private static string Cubic(double c)
    {
        int thirds = (int)Math.Round(3 * c);
        return thirds % 3 == 0 ? $"{(thirds / 3 == 1 ? "" : (thirds / 3).ToString(CultureInfo.InvariantCulture))}n³" : $"{(thirds == 1 ? "" : thirds.ToString(CultureInfo.InvariantCulture))}n³/3";
    }

    private static byte[] Chart(BenchContext c, IReadOnlyList<BenchResult> results)
    {
        var plot = new ScottPlot.Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var sizes = results.Select(r => r.N).Distinct().Order().ToArray();
        int colour = 0;
        foreach (var group in results.GroupBy(r => r.Op))
        {
            var color = palette.GetColor(colour++);
            var rows = group.OrderBy(r => r.N).ToArray();
            double[] x = rows.Select(r => Math.Log2(r.N)).ToArray();
            var forward = plot.Add.Scatter(x, rows.Select(r => r.ForwardGflops ?? double.NaN).ToArray());
            forward.LegendText = $"{group.Key} forward";
            forward.Color = color;
            forward.LineWidth = 2;
            var backward = plot.Add.Scatter(x, rows.Select(r => r.BackwardGflops ?? double.NaN).ToArray());
            backward.LegendText = $"{group.Key} backward";
            backward.Color = color;
            backward.LineWidth = 2;
            backward.LinePattern = ScottPlot.LinePattern.Dashed;
        }
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            sizes.Select(n => Math.Log2(n)).ToArray(), sizes.Select(n => n.ToString(CultureInfo.InvariantCulture)).ToArray());
        plot.XLabel("n (every operand n×n)");
        plot.YLabel("GFLOP/s");
        plot.Title($"gpuad bench: {c.Device}, {c.DType}, batch {c.Batch}");
        plot.Legend.Alignment = ScottPlot.Alignment.UpperLeft;
        plot.ShowLegend();
        plot.Axes.Margins(bottom: 0);
        return plot.GetImageBytes(1000, 600, ScottPlot.ImageFormat.Png);
    }
}
