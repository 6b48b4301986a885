using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace GpuAD.Tool.Bench;

/// <summary>
/// Runs the PyTorch reference script (Scripts/torch_reference_bench.py, next to the tool) on
/// the same ops, sizes and timing rules, where a Python with torch is found.
/// </summary>
internal static class TorchReference
{
    public const string ScriptName = "torch_reference_bench.py";

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(120);

    /// <summary>The first Python among the candidates that imports torch, with torch's version; null if none.</summary>
    /// <param name="explicitPython">--python, or null to try python3 on PATH, then /usr/bin/python3.</param>
    public static (string Python, string Version)? Find(string? explicitPython)
    {
        string[] candidates = explicitPython is not null ? [explicitPython] : ["python3", "/usr/bin/python3"];
        foreach (var python in candidates.Distinct())
        {
            var (code, stdout, _) = RunProcess(python, ["-c", "import torch; print(torch.__version__)"], ProbeTimeout);
            if (code == 0) return (python, stdout.Trim());
        }
        return null;
    }

    /// <summary>Where the script lies: next to the tool's assembly.</summary>
    public static string ScriptPath => Path.Combine(AppContext.BaseDirectory, "Scripts", ScriptName);

    /// <summary>Runs the script and returns its timings by (op, n), and its description of the run.</summary>
    /// <exception cref="InvalidOperationException">The script failed or printed something else than its JSON.</exception>
    public static (Dictionary<(string Op, int N), TorchTiming> Timings, string Description) Run(
        string python, IEnumerable<string> ops, IEnumerable<int> sizes, int batch, string dtype, int repeat, bool cuda, TimeSpan timeout)
    {
        if (!File.Exists(ScriptPath)) throw new InvalidOperationException($"the PyTorch script is missing: {ScriptPath}");
        var (code, stdout, stderr) = RunProcess(python,
        [
            ScriptPath, "--ops", string.Join(',', ops), "--sizes", string.Join(',', sizes),
            "--batch", batch.ToString(CultureInfo.InvariantCulture), "--dtype", dtype,
            "--repeat", repeat.ToString(CultureInfo.InvariantCulture), "--device", cuda ? "cuda" : "cpu",
        ], timeout);
        if (code != 0)
        {
            string last = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? $"exit code {code}";
            throw new InvalidOperationException($"the PyTorch reference failed: {last}");
        }
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        var timings = new Dictionary<(string, int), TorchTiming>();
        foreach (var r in root.GetProperty("results").EnumerateArray())
        {
            timings[(r.GetProperty("op").GetString()!, r.GetProperty("n").GetInt32())] = new TorchTiming(
                r.GetProperty("forward_ms").GetDouble(), r.GetProperty("backward_ms").GetDouble(), r.GetProperty("total_ms").GetDouble());
        }
        string description = $"PyTorch {root.GetProperty("torch").GetString()} on {root.GetProperty("device").GetString()}, {root.GetProperty("threads").GetInt32()} CPU thread(s)";
        return (timings, description);
    }

    private static (int Code, string Stdout, string Stderr) RunProcess(string file, string[] args, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return (-1, "", $"{file}: not found");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, "", $"{file} did not finish in {timeout.TotalSeconds:F0} s");
            }
            return (process.ExitCode, stdout.Result, stderr.Result);
        }
    }
}
