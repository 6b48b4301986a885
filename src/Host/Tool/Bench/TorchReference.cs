using System.Diagnostics;
using System.Globalization;
using System.Text.Json;

namespace GpuAD.Tool.Bench;

/// <summary>
/// Runs the PyTorch reference script of the benchmark engine (bench/torch_ref.py, shipped as
/// Scripts/torch_ref.py next to the tool; the bench suites run the same script) on the same
/// cases and timing rules, where a Python with torch is found.
/// </summary>
internal static class TorchReference
{
    public const string ScriptName = "torch_ref.py";

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

    /// <summary>Runs the script on the cases and returns its timings by case id, and its description of the run.</summary>
    /// <exception cref="InvalidOperationException">The script failed or printed something else than its JSON.</exception>
    public static (Dictionary<string, TorchTiming> Timings, string Description) Run(
        string python, IEnumerable<string> caseIds, int repeat, bool cuda, TimeSpan timeout)
    {
        if (!File.Exists(ScriptPath)) throw new InvalidOperationException($"the PyTorch script is missing: {ScriptPath}");
        var (code, stdout, stderr) = RunProcess(python,
        [
            ScriptPath, "--cases", string.Join(',', caseIds), "--stdout", "--warmup", "1",
            "--reps", repeat.ToString(CultureInfo.InvariantCulture), "--device", cuda ? "cuda" : "cpu",
        ], timeout);
        if (code != 0)
        {
            string last = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? $"exit code {code}";
            throw new InvalidOperationException($"the PyTorch reference failed: {last}");
        }
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        var timings = new Dictionary<string, TorchTiming>();
        foreach (var r in root.GetProperty("cases").EnumerateArray())
        {
            if (r.GetProperty("status").GetString() is not ("ok" or "capped")) continue;
            var phases = r.GetProperty("phases");
            double Phase(string name) => phases.TryGetProperty(name, out var p) ? p.GetProperty("median_ms").GetDouble() : 0;
            double forward = phases.TryGetProperty("forward", out _) ? Phase("forward") : Phase("op");
            timings[r.GetProperty("id").GetString()!] = new TorchTiming(forward, Phase("backward"), r.GetProperty("median_ms").GetDouble());
        }
        var device = root.GetProperty("device");
        string threads = device.TryGetProperty("threads", out var t) ? $", {t.GetInt32()} CPU thread(s)" : "";
        string description = $"PyTorch {root.GetProperty("torch").GetString()} on {device.GetProperty("name").GetString()}{threads}";
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
