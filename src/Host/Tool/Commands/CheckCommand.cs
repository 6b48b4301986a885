using System.CommandLine;
using System.Diagnostics;
using GpuAD.Graph;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using GpuAD.Tool.Ops;
using Spectre.Console;

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
            Verifies every op's derivatives on the chosen device, in float64, like torch.autograd.gradcheck:
            for random directions u and a random cotangent v it compares the JVP J·u and the VJP Jᵀ·v with
            central finite differences (relative error ≤ {defaults.Tolerance:0e+00}), and the two with each other
            through the adjoint identity ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ (≤ {defaults.AdjointTolerance:0e+00}). Small sizes,
            batch 2, every triangular-solve flag, factorizations past the kernels' block size.
            Exit code 3 if any case fails.
            """) { device, filter };
        command.SetAction(Report.Guard(parse =>
        {
            string? text = parse.GetValue(filter);
            var cases = CheckCases.All().Where(c => text is null || c.Op.Contains(text, StringComparison.OrdinalIgnoreCase)).ToList();
            if (cases.Count == 0) throw new UsageException($"--filter '{text}' matches no op; the ops are {string.Join(", ", CheckCases.All().Select(c => c.Op).Distinct())}.");

            using var dev = CommonOptions.OpenDevice(parse.GetValue(device));
            Terminal.Line($"Checking {cases.Count} cases on {CommonOptions.Describe(dev)} (float64, {defaults.Directions} random directions each).");
            var clock = Stopwatch.StartNew();
            var results = new List<(CheckCase Case, GradcheckResult? Result, string? Error)>();
            Terminal.Progress("gradcheck", cases, c => $"{c.Op} {c.Detail}", c =>
            {
                // A case that throws (a factorization failing on a broken device, say) is a failure
                // of that case; the others still run, so one table shows everything that is wrong.
                try
                {
                    results.Add((c, Gradcheck.Run(dev, c.F, c.Inputs, defaults), null));
                }
                catch (Exception e) when (e is GpuADException or ArgumentException or InvalidOperationException)
                {
                    results.Add((c, null, Report.OneLine(e.Message)));
                }
            });

            var table = Terminal.Table("Op", "Case", "VJP error", "JVP error", "Adjoint error", "Result");
            foreach (var (c, r, error) in results)
            {
                bool passed = r?.Passed ?? false;
                table.AddRow(new Text(c.Op), new Text(c.Detail),
                    new Text(r is null ? "—" : Terminal.Err(r.VjpError)), new Text(r is null ? "—" : Terminal.Err(r.JvpError)),
                    new Text(r is null ? "—" : Terminal.Err(r.AdjointError)),
                    new Text(passed ? "pass" : error is null ? "FAIL" : $"FAIL: {error}", new Style(passed ? Color.Green : Color.Red)));
            }
            AnsiConsole.Write(table);
            var failures = results.Where(r => !(r.Result?.Passed ?? false)).Select(r => $"{r.Case.Op} {r.Case.Detail}").ToList();
            int failed = failures.Count;
            Terminal.Verdict(failed == 0, failed == 0
                ? $"All {results.Count} cases pass ({clock.Elapsed.TotalSeconds:F1} s)."
                : $"{failed} of {results.Count} cases FAIL ({clock.Elapsed.TotalSeconds:F1} s): {string.Join(", ", failures)}.");
            return failed == 0 ? ExitCodes.Success : ExitCodes.CheckFailed;
        }));
        return command;
    }
}
