using System.Diagnostics;
using GpuAD.Tests.Cli;

namespace GpuAD.Tests.Distributed;

/// <summary>
/// Starts a .NET program on N ranks with Open MPI's <c>mpirun</c> (as root in CI, more ranks than
/// cores), with no standard input, and waits at most two minutes: a rank that hangs fails the
/// test instead of the suite.
/// </summary>
public static class MpiRun
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(120);

    /// <summary>The mpirun on PATH; fails the test with the install line where there is none.</summary>
    public static string Mpirun
    {
        get
        {
            var found = (Environment.GetEnvironmentVariable("PATH") ?? "")
                .Split(':', StringSplitOptions.RemoveEmptyEntries)
                .Select(dir => Path.Combine(dir, "mpirun"))
                .FirstOrDefault(File.Exists);
            Assert.True(found is not null, "mpirun is not on PATH: install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev); .ci/run does.");
            return found!;
        }
    }

    /// <summary>The rank program's build output, next to the tests.</summary>
    public static string RanksDll => Path.Combine(AppContext.BaseDirectory, "GpuAD.MpiRanks.dll");

    /// <summary>Runs <c>dotnet DLL ARGS…</c> on <paramref name="ranks"/> ranks, with environment variables set (a null value removes one).</summary>
    public static ToolRun Run(int ranks, string dll, IReadOnlyDictionary<string, string?>? environment, params string[] args)
    {
        Assert.True(File.Exists(dll), $"not built next to the tests: {dll}");
        var info = new ProcessStartInfo(Mpirun)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "-np", ranks.ToString(), DotnetHost, dll }) info.ArgumentList.Add(a);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("GPUAD_DEVICE");
        info.Environment["NO_COLOR"] = "1";
        // Containers often forbid the cross-process memory attach of Open MPI's shared-memory transport.
        info.Environment["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none";
        // Every rank runs on this machine: no remote shell is needed, and a machine without ssh
        // would otherwise make Open MPI refuse to start.
        info.Environment["OMPI_MCA_plm_rsh_agent"] = "false";
        foreach (var (k, v) in environment ?? new Dictionary<string, string?>())
        {
            if (v is null) info.Environment.Remove(k);
            else info.Environment[k] = v;
        }
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"mpirun -np {ranks} {Path.GetFileName(dll)} {string.Join(' ', args)} did not finish in {Timeout.TotalSeconds} s: a rank hangs");
        }
        return new ToolRun(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs <c>dotnet DLL ARGS…</c> as one plain process, not under mpirun.</summary>
    public static ToolRun RunAlone(string dll, IReadOnlyDictionary<string, string>? environment, params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("GPUAD_DEVICE");
        info.Environment["NO_COLOR"] = "1";
        foreach (var v in new[] { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE" }) info.Environment.Remove(v);
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) info.Environment[k] = v;
        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{Path.GetFileName(dll)} {string.Join(' ', args)} did not finish in {Timeout.TotalSeconds} s");
        }
        return new ToolRun(process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>The lines of a stream that start with a prefix.</summary>
    public static string[] Lines(string text, string prefix) =>
        text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).ToArray();

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";
}
