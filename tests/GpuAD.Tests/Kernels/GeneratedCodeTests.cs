using System.Diagnostics;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The generated GEMM register tiles (src/Kernels/Generated/GemmMicroTiles.cs) are exactly what their
/// generator (tools/gen_gemm_micro.py) writes: an edit to either alone fails here.
/// </summary>
public sealed class GeneratedCodeTests
{
    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "GpuAD.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no GpuAD.sln above {AppContext.BaseDirectory}");
    }

    [Fact]
    public async Task GemmMicroTilesMatchTheirGenerator()
    {
        string root = RepositoryRoot();
        var start = new ProcessStartInfo("python3", [Path.Combine(root, "tools", "gen_gemm_micro.py")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = root,
        };
        using var python = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
        var stderr = python.StandardError.ReadToEndAsync();
        string generated = await python.StandardOutput.ReadToEndAsync();
        await python.WaitForExitAsync();
        Assert.True(python.ExitCode == 0, $"tools/gen_gemm_micro.py exited {python.ExitCode}: {await stderr}");
        string committed = File.ReadAllText(Path.Combine(root, "src", "Kernels", "Generated", "GemmMicroTiles.cs"));
        if (generated == committed) return;
        var g = generated.Split('\n');
        var c = committed.Split('\n');
        int line = Enumerable.Range(0, Math.Min(g.Length, c.Length)).FirstOrDefault(i => g[i] != c[i], Math.Min(g.Length, c.Length));
        Assert.Fail($"GemmMicroTiles.cs differs from tools/gen_gemm_micro.py's output at line {line + 1}: committed \"{(line < c.Length ? c[line] : "<end>")}\", generated \"{(line < g.Length ? g[line] : "<end>")}\". Regenerate: python3 tools/gen_gemm_micro.py > src/Kernels/Generated/GemmMicroTiles.cs");
    }
}
