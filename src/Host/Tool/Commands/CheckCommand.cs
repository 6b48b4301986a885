using System.CommandLine;
using System.Diagnostics;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using GpuAD.Tool.Ops;
using Spectre.Console;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad check</c>: gradcheck and the adjoint test of every op on the chosen device, the
/// first command to run on a new GPU or driver.
/// </summary>
internal static class CheckCommand
{
    public static Command Create()
    {
        var device = CommonOptions.Device();
        var filter = new Option<string?>("--filter") { Description = "Run only the cases whose op name contains this text (case-insensitive)", HelpName = "TEXT" };
        var defaults = new GradcheckOptions();
        var command = new Command("check", $"""
            Verifies every op's derivatives on the chosen device, like torch.autograd.gradcheck: in
            float64, for random directions u and a random cotangent v it compares the JVP J·u and the
            VJP Jᵀ·v with Richardson-extrapolated central differences (h = {defaults.Step:0e+00} and h/2), each held
            to what the difference can resolve, its truncation plus its rounding noise measured along
            u, and the two with each other through the adjoint identity ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ (relative
            {defaults.AdjointTolerance:0e+00}). Small sizes, batch 2, every triangular-solve flag, factorizations past the
            kernels' block size; then the blocked path users run, at n = {string.Join(" and ", CheckCases.BlockedOrders)} (blocks of 32, and
            of 64 beyond 512, on a GPU), in float64 and in float32, whose value, JVP and VJP must agree
            with float64 on the same device within 10·(n+1)·ε₃₂ (a Cholesky's rounding-error bound).
            The table shows each case's worst relative error and the allowance it was held to.
            A minute or so on a GPU or the CPU, a few minutes on emulated-gpu, where the float32
            order-600 case is left out (float32 blocked at 120 and float64 at 600 remain).
            Exit code 3 if any case fails.
            """) { device, filter };
        command.SetAction(Report.Guard(parse =>
        {
            string? text = parse.GetValue(filter);
            if (!CheckCases.All().Any(c => text is null || c.Op.Contains(text, StringComparison.OrdinalIgnoreCase)))
                throw new UsageException($"--filter '{text}' matches no op; the ops are {string.Join(", ", CheckCases.All().Select(c => c.Op).Distinct())}.");

            using var dev = CommonOptions.OpenDevice(parse.GetValue(device));
            bool emulated = dev.Kind == DeviceKind.Cpu && dev.Family == KernelFamily.GpuTuned;
            var cases = CheckCases.All(emulated, gpuFamily: dev.Family == KernelFamily.GpuTuned).Where(c => text is null || c.Op.Contains(text, StringComparison.OrdinalIgnoreCase)).ToList();
            Terminal.Line($"Checking {cases.Count} cases on {CommonOptions.Describe(dev)} (float64: up to {defaults.Directions} random directions each against Richardson differences; float32: against float64).");
            var clock = Stopwatch.StartNew();
            var results = new List<(CheckCase Case, GradcheckResult? Result, string? Error, double Seconds)>();
            Terminal.Progress("gradcheck", cases, c => $"{c.Op} {c.Detail} {c.DType}", c =>
            {
                // A case that throws (a factorization failing on a broken device, say) is a failure
                // of that case; the others still run, so one table shows everything that is wrong.
                var started = Stopwatch.StartNew();
                try
                {
                    var outcome = Check(dev, c);
                    results.Add((c, outcome, null, started.Elapsed.TotalSeconds));
                }
                catch (Exception e) when (e is GpuADException or ArgumentException or InvalidOperationException)
                {
                    results.Add((c, null, Report.OneLine(e.Message), started.Elapsed.TotalSeconds));
                }
            });

            var table = Terminal.Table("Op", "Case", "Type", "Value error", "VJP error", "JVP error", "Adjoint error", "Worst / allowance", "Seconds", "Result");
            foreach (var (c, r, error, seconds) in results)
            {
                bool passed = r?.Passed ?? false;
                static Text Err(double? e) => new(e is double v && !double.IsNaN(v) ? Terminal.Err(v) : "—");
                var worst = r?.Worst();
                table.AddRow(new Text(c.Op), new Text(c.Detail), new Text(c.DType),
                    Err(r?.ValueError), Err(r?.VjpError), Err(r?.JvpError), Err(r?.AdjointError),
                    new Text(worst is null ? "—" : $"{worst.Kind} {Terminal.Err(worst.RelativeError)} / {Terminal.Err(worst.RelativeAllowance)}"),
                    new Text($"{seconds:F1}"),
                    new Text(passed ? "pass" : error is null ? "FAIL" : $"FAIL: {error}", new Style(passed ? Color.Green : Color.Red)));
            }
            AnsiConsole.Write(table);
            var failures = results.Where(r => !(r.Result?.Passed ?? false)).Select(r => $"{r.Case.Op} {r.Case.Detail} {r.Case.DType}").ToList();
            int failed = failures.Count;
            Terminal.Verdict(failed == 0, failed == 0
                ? $"All {results.Count} cases pass ({clock.Elapsed.TotalSeconds:F1} s)."
                : $"{failed} of {results.Count} cases FAIL ({clock.Elapsed.TotalSeconds:F1} s): {string.Join(", ", failures)}.");
            return failed == 0 ? ExitCodes.Success : ExitCodes.CheckFailed;
        }));
        return command;
    }

    /// <summary>One case: float64 against Richardson differences, or float32 against float64 (one direction, as the float64 check covers the derivatives).</summary>
    internal static GradcheckResult Check(Device device, CheckCase c) => c.F32 is { } f32
        ? Gradcheck.RunFloat32(device, f32, c.F, c.Inputs, c.Order, c.Options with { Directions = 1 })
        : Gradcheck.Run(device, c.F, c.Inputs, c.Options);
}
