using System.CommandLine;
using System.Globalization;
using System.Text;
using GpuAD.Bench;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Spectre.Console;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad tune</c>: times the GPU family's variants on the chosen GPU (<see cref="Tuner"/>) and
/// writes the fastest as a tuning table for GPUs of its name.
/// </summary>
internal static class TuneCommand
{
    /// <summary>Most seconds --budget accepts: an hour.</summary>
    private const int MaxBudgetSeconds = 3600;

    public const string DefaultOut = "gpuad-tuning.json";

    public static Command Create()
    {
        var device = CommonOptions.Device();
        var budget = new Option<int>("--budget")
        {
            HelpName = "SECONDS",
            Description = "Most seconds the sweep may take; entries not measured in time keep their defaults",
            DefaultValueFactory = _ => (int)TuneOptions.DefaultBudget.TotalSeconds,
        };
        var outFile = new Option<string>("--out") { HelpName = "FILE", Description = "The tuning table to write (JSON)", DefaultValueFactory = _ => DefaultOut };
        var repeat = new Option<int?>("--repeat") { HelpName = "N", Description = "Timed runs per candidate, after one untimed run [default: 5 on a GPU, 3 on emulated-gpu]" };
        var gpu = new TuneOptions();
        var command = new Command("tune", $"""
            Times the GPU kernels' variants on the chosen GPU and writes the fastest as a tuning
            table for GPUs of its name: every GEMM tile shape in float64 and float32 on a large
            product ({gpu.GemmOrder}³) and a small one ({gpu.GemmSmallOrder}³), split-K counts on a {gpu.SplitOrder}×{gpu.SplitOrder}×{gpu.SplitK} product,
            the blocked Cholesky's block sizes (forward and backward, float64, at n = {gpu.CholeskyOrder} and at
            n = {string.Join(" + ", gpu.CholeskyLargeOrders)}), the threads per row of its panel steps, look-ahead, two
            levels at n = {string.Join(" + ", gpu.CholeskyLargeOrders)} (outer blocks of {string.Join(", ", gpu.CholeskyOuterBlocks)} against one level,
            then the outer panels as a GEMM against the inverse or a TRSM), and whether the largest
            order one thread group holds is faster whole or blocked; each Cholesky candidate's factor
            and gradient must equal the first candidate's before it is timed, and one that does not is
            reported and never chosen. Each candidate runs once untimed (compiling its kernels), then --repeat
            times between device synchronizations; the median counts. Within --budget seconds: what
            is not measured in time keeps its default, and the table says so. On emulated-gpu the
            sizes are tiny (a test of the sweep, not a measurement). The CPU-tuned kernels have
            nothing to tune. Use the table with {TuningTable.EnvironmentVariable}=FILE, or commit it as
            src/Kernels/Tuning/NAME.json to make it the table of every GPU of that name; 'gpuad
            devices' says which table each device uses.
            """) { device, budget, outFile, repeat };
        command.SetAction(Report.Guard(parse =>
        {
            int seconds = CommonOptions.Positive("--budget", parse.GetValue(budget), min: 0, max: MaxBudgetSeconds);
            int? repeats = parse.GetValue(repeat) is int r ? CommonOptions.Positive("--repeat", r, max: 1000) : null;
            string? given = parse.GetValue(device);
            var (choice, index) = CommonOptions.ParseDevice(given);
            var selection = Devices.Resolve(choice, index, requestedBy: given is null ? null : $"--device {given}");
            if (selection.Choice == DeviceChoice.Cpu)
                throw new UsageException($"tune: the device is the CPU accelerator ({selection.Reason}), and the CPU family has nothing to tune: its kernels read no tiling or block-size table. Use --device cuda, or --device emulated-gpu to try the sweep.");
            string file = parse.GetValue(outFile)!;
            using var output = Prepare(file);

            using var dev = CommonOptions.OpenDevice(given);
            var options = TuneOptions.For(dev) with
            {
                Budget = TimeSpan.FromSeconds(seconds),
                Command = $"gpuad tune --budget {seconds}",
            };
            if (repeats is int n) options = options with { Repeats = n };
            Terminal.Line($"Tuning {CommonOptions.Describe(dev)} within {seconds} s (the table in force: {dev.Tuning.Source}).");
            Terminal.Line($"Each candidate: one untimed run, then the median of {options.Repeats} timed run{(options.Repeats == 1 ? "" : "s")}.");
            var report = Tuner.Run(dev, options, line => Terminal.Line("  " + line));

            if (report.Rows.Count > 0)
            {
                var table = Terminal.Table("Entry: problem", "Candidate", "Median ms", "Chosen");
                foreach (var row in report.Rows)
                    table.Row(row.What, row.Candidate, row.MedianMs is double ms ? ms.ToString("0.000", CultureInfo.InvariantCulture) : row.Note ?? "failed", row.Chosen ? "✓" : "");
                AnsiConsole.Write(table);
            }
            output.Write(Path.GetFileName(file), s => s.Write(Encoding.UTF8.GetBytes(report.Table.ToJson() + "\n")));
            output.Commit();
            Terminal.Line($"Measured: {report.Table.Measured} ({report.Elapsed.TotalSeconds:0.0} s).");
            Terminal.Line($"Wrote {file}. Use it with {TuningTable.EnvironmentVariable}={file} (every GPU of the process), or commit it as");
            Terminal.Line($"src/Kernels/Tuning/{FileName(dev.Name)} to make it the table of every GPU named '{dev.Name}'.");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>Checks --out before any work and opens its temporary file beside it (written all or nothing).</summary>
    private static OutputFiles Prepare(string file)
    {
        if (string.IsNullOrWhiteSpace(file)) throw new UsageException("--out is empty; give the file the table goes to.");
        if (Directory.Exists(file) || file.EndsWith('/'))
            throw new UsageException($"--out {file}: is a directory; give a file, e.g. {Path.Combine(file, DefaultOut)}.");
        string directory = Path.GetDirectoryName(Path.GetFullPath(file))!;
        return OutputFiles.Prepare("--out", directory, [Path.GetFileName(file)], []);
    }

    /// <summary>A file name for a device's table: "NVIDIA H100 80GB HBM3" → "nvidia-h100-80gb-hbm3.json".</summary>
    internal static string FileName(string deviceName)
    {
        var slug = new StringBuilder();
        foreach (char c in deviceName.ToLowerInvariant())
        {
            if (char.IsAsciiLetterOrDigit(c)) slug.Append(c);
            else if (slug.Length > 0 && slug[^1] != '-') slug.Append('-');
        }
        return slug.ToString().Trim('-') + ".json";
    }
}
