using System.CommandLine;
using System.Text.Json;
using GpuAD.Kernels;
using GpuAD.Tool.Bench;
using GpuAD.Tool.Cli;
using GpuAD.Tool.Ops;
using Spectre.Console;
using BenchOp = GpuAD.Bench.BenchOp;
using Device = GpuAD.Device;
using Problem = GpuAD.Bench.Problem;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad bench</c>: forward and backward times of the ops over a sweep of sizes (markdown,
/// JSON, PNG chart, PyTorch reference where available), or of one case for scripts.
/// </summary>
internal static class BenchCommand
{
    private static readonly string[] DefaultOps = ["matmul", "cholesky", "triangular-solve", "a-xinv-b"];
    private static readonly string OpNames = string.Join(", ", Problem.OpKeys);
    private static readonly int[] CpuSizes = [64, 128, 256, 512];
    private static readonly int[] GpuSizes = [256, 512, 1024, 2048, 4096];
    private static readonly TimeSpan TorchTimeout = TimeSpan.FromMinutes(30);

    public static Command Create()
    {
        var ops = new Option<string?>("--ops") { Description = $"Ops to sweep, comma-separated, from: {OpNames} [default: {string.Join(',', DefaultOps)}]", HelpName = "LIST" };
        var sizes = new Option<string?>("--sizes") { Description = $"Orders n to sweep, comma-separated [default: {string.Join(',', CpuSizes)} on the CPU, {string.Join(',', GpuSizes)} on a GPU]", HelpName = "LIST" };
        var batch = new Option<int>("--batch") { HelpName = "N", Description = "Matrices per operand", DefaultValueFactory = _ => 1 };
        var repeat = new Option<int>("--repeat") { HelpName = "N", Description = "Timed runs per case (the median is reported), after one untimed run", DefaultValueFactory = _ => 5 };
        var outDir = new Option<string>("--out") { Description = "Directory for bench.md, bench.json and bench.png", HelpName = "DIR", DefaultValueFactory = _ => "gpuad-bench" };
        var python = new Option<string?>("--python") { Description = "A Python with torch for the reference timings [default: python3, then /usr/bin/python3, whichever imports torch]", HelpName = "PATH" };
        var noTorch = new Option<bool>("--no-torch") { Description = "Skip the PyTorch reference" };
        var op = new Option<string?>("--op") { Description = "Single case: time this op only (with --n), print the medians, no files but --json", HelpName = "OP" };
        var n = new Option<int?>("--n") { HelpName = "N", Description = "Single case: the order n [default: 1024]" };
        var json = new Option<string?>("--json") { Description = "Single case: also write the medians to this JSON file", HelpName = "FILE" };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var seed = CommonOptions.Seed();

        var command = new Command("bench", $"""
            Times the forward and backward passes (every input's gradient) of the ops over a sweep of
            sizes, every operand n×n, with a progress bar; reports the median of --repeat runs after one
            untimed run that compiles the kernels, each pass timed between device synchronizations.
            The same engine and cases as the bench suites (bench/suites.json). GFLOP/s count the flops
            the algorithm that ran executes. Writes DIR/bench.md, DIR/bench.json and DIR/bench.png
            (GFLOP/s against n); the paths are checked before any work. Where a Python with torch is
            found (or given by --python), runs the PyTorch reference script ({TorchReference.ScriptName},
            next to the tool) on the same cases and prints the speed-up. Kernel ops (gemm, trsm, potrf)
            have one phase, reported as forward.

            Single case, for scripts: gpuad bench --op cholesky --n 1024 --batch 1 --dtype f64 --repeat 5 --json FILE
            prints (and writes) the median milliseconds of forward, backward, and both, the executed
            GFLOP/s, the algorithm path and the pool's peak bytes (peak_bytes).
            """) { ops, sizes, batch, repeat, outDir, python, noTorch, op, n, json, device, dtype, seed };

        command.SetAction(Report.Guard(parse =>
        {
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            int b = CommonOptions.Positive("--batch", parse.GetValue(batch), max: 1 << 20);
            int r = CommonOptions.Positive("--repeat", parse.GetValue(repeat), max: 10_000);
            int s = parse.GetValue(seed);
            string? single = parse.GetValue(op);
            if (single is null)
            {
                foreach (var o in new Option[] { n, json })
                    if (parse.Given(o)) throw new UsageException($"{o.Name} belongs to the single-case form: add --op OP.");
                var opList = (parse.GetValue(ops) is { } list ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : DefaultOps)
                    .Select(FindOp).ToArray();
                if (opList.Length == 0) throw new UsageException("--ops is empty.");
                int[]? sizeList = parse.GetValue(sizes) is { } text ? CommonOptions.ParseSizes("--sizes", text) : null;
                var sweep = new Sweep(opList, sizeList, b, r, s, parse.GetValue(outDir)!, parse.GetValue(noTorch), parse.GetValue(python));
                using var files = OutputFiles.Prepare("--out", sweep.OutDir, BenchReport.FileNames, inputs: []);
                using var dev = CommonOptions.OpenDevice(parse.GetValue(device));
                return RunSweep(dev, sweep, type, files);
            }
            foreach (var o in new Option[] { ops, sizes, python, noTorch })
                if (parse.Given(o)) throw new UsageException($"{o.Name} belongs to the sweep, not to the single-case form (--op).");
            var benchOp = FindOp(single);
            int order = CommonOptions.Positive("--n", parse.GetValue(n) ?? 1024, max: 1 << 16);
            using var output = OutputFiles.PrepareFiles([("--json", parse.GetValue(json))], inputs: []);
            using (var dev = CommonOptions.OpenDevice(parse.GetValue(device)))
            {
                var result = BenchRunner.Measure(dev, new Problem(benchOp, Engine(type), b, order), r, s, new HashSet<(BenchOp, GpuAD.Bench.DType)>());
                Terminal.Line($"{result.Op} n={result.N} batch={result.Batch} {result.DType} on {CommonOptions.Describe(dev)}, median of {r}{(result.Path is null ? "" : $", {result.Path} path")}:");
                Terminal.Line($"forward_ms {result.ForwardMs:F4}  backward_ms {result.BackwardMs:F4}  total_ms {result.TotalMs:F4}  forward_gflops {result.ForwardGflops:F3}  backward_gflops {result.BackwardGflops:F3}  peak_bytes {result.PeakBytes}");
                if (output.Has("--json"))
                {
                    output.Write("--json", stream => JsonSerializer.Serialize(stream, new { device = CommonOptions.Describe(dev), result }, BenchReport.Json));
                    output.Commit();
                    Terminal.Line($"→ {output.PathOf("--json")}");
                }
            }
            return ExitCodes.Success;
        }));
        return command;
    }

    private sealed record Sweep(BenchOp[] Ops, int[]? Sizes, int Batch, int Repeat, int Seed, string OutDir, bool NoTorch, string? Python);

    private static BenchOp FindOp(string name)
    {
        try
        {
            return Problem.ParseOp(name);
        }
        catch (ArgumentException)
        {
            throw new UsageException($"unknown op '{name}'; the ops are {OpNames}.");
        }
    }

    private static GpuAD.Bench.DType Engine(DType type) => type == DType.F32 ? GpuAD.Bench.DType.Fp32 : GpuAD.Bench.DType.Fp64;

    private static int RunSweep(Device device, Sweep s, DType type, OutputFiles outputs)
    {
        int[] sizes = s.Sizes ?? (device.Kind == DeviceKind.Cuda ? GpuSizes : CpuSizes);
        string dtype = type == DType.F32 ? "f32" : "f64";
        var problems = s.Ops.SelectMany(o => sizes.Select(n => new Problem(o, Engine(type), s.Batch, n))).ToList();
        Terminal.Line($"Benchmarking {string.Join(", ", problems.Select(p => p.OpKey).Distinct())} at n = {string.Join(", ", sizes)}, batch {s.Batch}, {dtype}, on {CommonOptions.Describe(device)}.");
        var results = new List<BenchResult>();
        var loaded = new HashSet<(BenchOp, GpuAD.Bench.DType)>();
        Terminal.Progress("GpuAD", problems, p => $"{p.OpKey} n={p.N}", p =>
        {
            var result = BenchRunner.Measure(device, p, s.Repeat, s.Seed, loaded);
            results.Add(result);
            if (!Terminal.Interactive) Terminal.Line($"  {p.OpKey} n={p.N}: forward {Terminal.Ms(result.ForwardMs)} ms, backward {Terminal.Ms(result.BackwardMs)} ms");
        });

        string torchNote = "PyTorch reference not run (--no-torch)";
        if (!s.NoTorch)
        {
            var found = TorchReference.Find(s.Python);
            if (found is null)
            {
                torchNote = s.Python is null
                    ? "PyTorch reference not run: neither python3 nor /usr/bin/python3 imports torch (give one with --python PATH)"
                    : $"PyTorch reference not run: {s.Python} does not import torch";
            }
            else
            {
                Terminal.Line($"Running the PyTorch reference ({found.Value.Python}, torch {found.Value.Version}) on the same sizes...");
                try
                {
                    var (timings, description) = TorchReference.Run(found.Value.Python, problems.Select(p => p.Id), s.Repeat,
                        cuda: device.Kind == DeviceKind.Cuda, TorchTimeout);
                    for (int i = 0; i < results.Count; i++)
                        if (timings.TryGetValue(results[i].Id, out var t)) results[i] = results[i] with { Torch = t };
                    torchNote = description;
                }
                catch (Exception e) when (e is InvalidOperationException or JsonException or KeyNotFoundException)
                {
                    torchNote = $"PyTorch reference failed: {Report.OneLine(e.Message)}";
                }
            }
        }

        bool torch = results.Any(x => x.Torch is not null);
        var columns = new List<string> { "Op", "n", "Forward ms", "Backward ms", "Total ms", "Fwd GFLOP/s", "Bwd GFLOP/s", "Peak MiB" };
        if (torch) columns.AddRange(["PyTorch total ms", "Speed-up"]);
        var table = Terminal.Table([.. columns]);
        foreach (var x in results)
        {
            var cells = new List<string> { x.Op + (x.Path is null ? "" : $" ({x.Path})"), x.N.ToString(), Terminal.Ms(x.ForwardMs), Terminal.Ms(x.BackwardMs), Terminal.Ms(x.TotalMs),
                $"{x.ForwardGflops:F2}", x.BackwardGflops is double g ? $"{g:F2}" : "—", x.PeakBytes is long p ? $"{p / 1048576.0:F1}" : "—" };
            if (torch) cells.AddRange(x.Torch is { } t ? [Terminal.Ms(t.TotalMs), $"{x.SpeedupVsTorch:F2}×"] : ["—", "—"]);
            table.Row([.. cells]);
        }
        AnsiConsole.Write(table);
        Terminal.Line("GFLOP/s: the flops the algorithm that ran executes, over its median time.");
        Terminal.Line(torchNote + (torch ? "; speed-up = PyTorch's total time / GpuAD's (above 1: GpuAD is faster)." : "."));
        var files = BenchReport.Write(outputs, new BenchContext(CommonOptions.Describe(device), dtype, s.Batch, s.Repeat, torchNote), results);
        Terminal.Line($"Wrote {string.Join(", ", files)}.");
        return ExitCodes.Success;
    }
}
