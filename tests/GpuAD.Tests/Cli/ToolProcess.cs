using System.Diagnostics;

namespace GpuAD.Tests.Cli;

/// <summary>What one run of the gpuad tool did.</summary>
public sealed record ToolRun(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Starts the gpuad tool as a separate process, as a user would. The test project references the
/// tool's project, so its build output (GpuAD.Tool.dll with its runtimeconfig and deps files)
/// lies next to the test assembly; it runs under the same dotnet host as the tests.
/// </summary>
public static class ToolProcess
{
    private static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(120);

    public static string ToolDll => Path.Combine(AppContext.BaseDirectory, "GpuAD.Tool.dll");

    private static string DotnetHost =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self
        : "dotnet";

    public static ToolRun Run(params string[] args) => RunIn(Path.GetTempPath(), args);

    public static ToolRun RunIn(string workingDirectory, params string[] args) => RunWith(workingDirectory, environment: null, args);

    /// <summary>Runs the tool with environment variables set (a null value removes one).</summary>
    public static ToolRun RunWith(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, params string[] args) =>
        RunWith(workingDirectory, environment, DefaultTimeout, args);

    /// <summary>Runs the tool with environment variables set, allowing it <paramref name="timeout"/> (a long sweep).</summary>
    public static ToolRun RunWith(string workingDirectory, IReadOnlyDictionary<string, string?>? environment, TimeSpan timeout, params string[] args)
    {
        Assert.True(File.Exists(ToolDll), $"The tool is not next to the tests: {ToolDll}");
        var info = new ProcessStartInfo(DotnetHost);
        info.ArgumentList.Add(ToolDll);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment.Remove("GPUAD_TUNING"); // the tests that want a table give it
        foreach (var (name, value) in environment ?? new Dictionary<string, string?>())
        {
            if (value is null) info.Environment.Remove(name);
            else info.Environment[name] = value;
        }
        return Start(info, workingDirectory, string.Join(' ', args), timeout);
    }

    /// <summary>
    /// Runs a bash command line in which <c>gpuad</c> is the tool (for shell features such as
    /// process substitution, <c>&lt;(cat a.npy)</c>).
    /// </summary>
    public static ToolRun RunBash(string workingDirectory, string commandLine)
    {
        Assert.True(File.Exists(ToolDll), $"The tool is not next to the tests: {ToolDll}");
        var info = new ProcessStartInfo("bash");
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add($"gpuad() {{ '{DotnetHost}' '{ToolDll}' \"$@\"; }}; {commandLine}");
        return Start(info, workingDirectory, commandLine, DefaultTimeout);
    }

    private static ToolRun Start(ProcessStartInfo info, string workingDirectory, string what, TimeSpan timeout)
    {
        info.RedirectStandardOutput = true;
        info.RedirectStandardError = true;
        info.UseShellExecute = false;
        info.WorkingDirectory = workingDirectory;
        info.Environment.Remove("GPUAD_DEVICE"); // the tests say --device themselves
        info.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"gpuad {what} did not finish in {timeout.TotalSeconds} s");
        }
        return new ToolRun(process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>A temporary directory, deleted on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "gpuad-cli-" + Guid.NewGuid().ToString("N"));

    public string this[string name] => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
