using GpuAD.Tests.Cli;

namespace GpuAD.Tests.Distributed;

/// <summary>
/// What <c>gpuad demo</c> writes on its ranks under <c>mpirun -np 2</c> with its output captured:
/// plain text as from one redirected process, device advice in the CLI's words, and the note that
/// ranks without <c>--distributed</c> each run the whole batch. The smallest demo of the other
/// distributed tests (4 windows of 32 weeks, 3 steps).
/// </summary>
[Collection("Mpi")]
[Trait("Tier", "Slow")]
public sealed class RankOutputTests
{
    private static readonly string[] SmallDemo = ["demo", "--batch", "4", "--n", "32", "--steps", "3", "--seed", "1"];

    /// <summary>
    /// mpirun gives each rank a terminal whatever the output of mpirun itself is: the ranks must
    /// still write neither colours nor terminal modes. A terminal type is set and NO_COLOR is not,
    /// as at a user's shell, so that .NET's console would write its sequences if it were asked to;
    /// the heading (bold) and the verdict (green) are styled text, and both are printed.
    /// </summary>
    [Fact]
    public void RedirectedOutputOfTheRanksHoldsNoEscapeSequence()
    {
        using var dir = new TempDir();
        var run = MpiRun.Run(2, ToolProcess.ToolDll, new Dictionary<string, string?> { ["NO_COLOR"] = null, ["TERM"] = "xterm" },
            [.. SmallDemo, "--distributed", "--device", "cpu", "--plot", dir["fit.png"]]);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("GpuAD demo: batched Gaussian-process regression", run.Stdout);
        Assert.Contains("Derivative check (float64), start θ of window 0: PASS", run.Stdout);
        Assert.False(run.Stdout.Contains('\u001b'), $"ESC on stdout: {run.Stdout.Replace("\u001b", "<ESC>")}");
        Assert.False(run.Stderr.Contains('\u001b'), $"ESC on stderr: {run.Stderr.Replace("\u001b", "<ESC>")}");
    }

    /// <summary>
    /// <c>--device cuda</c> on ranks that find no GPU (CUDA_VISIBLE_DEVICES is empty, so on any
    /// machine): every rank ends with rank 0's error, which advises the values of <c>--device</c>,
    /// not the API's <c>DeviceChoice</c>.
    /// </summary>
    [Fact]
    public void ARankWithoutTheGpuAskedForAdvisesDeviceCpu()
    {
        var run = MpiRun.Run(2, ToolProcess.ToolDll, new Dictionary<string, string?> { ["CUDA_VISIBLE_DEVICES"] = "" },
            [.. SmallDemo, "--distributed", "--device", "cuda"]);
        Assert.True(run.ExitCode == 1, run.ToString());
        var lines = MpiRun.Lines(run.Stderr, "gpuad: ");
        Assert.True(lines.Length == 2, run.ToString());
        Assert.All(lines, l =>
        {
            Assert.StartsWith("gpuad: rank 0 of 2: CUDA device requested (asked for by --device cuda) but ILGPU finds no CUDA GPU", l);
            Assert.EndsWith("Use --device cpu for the CPU accelerator, or --device emulated-gpu to run the GPU kernels on it.", l);
            Assert.DoesNotContain("DeviceChoice", l);
        });
    }

    /// <summary>
    /// Two processes under mpirun without <c>--distributed</c>: the note that each runs the whole
    /// batch comes once per run, from the process of launcher rank 0 (Ranks.Single), not once per rank.
    /// </summary>
    [Fact]
    public void RanksWithoutDistributedSayOnceThatEachRunsTheWholeBatch()
    {
        using var dir = new TempDir();
        var run = MpiRun.Run(2, ToolProcess.ToolDll, null, [.. SmallDemo, "--device", "cpu", "--plot", dir["fit.png"]]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var notes = MpiRun.Lines(run.Stderr, "gpuad: note: ");
        Assert.Equal(
            ["gpuad: note: started by mpirun as one of 2 processes without --distributed: every process runs the whole batch. Add --distributed to give each rank a part of it."],
            notes);
        // Both processes ran the whole batch: each printed the fit of window 3.
        Assert.Equal(2, MpiRun.Lines(run.Stdout, "  window 3: ").Length);
    }
}
