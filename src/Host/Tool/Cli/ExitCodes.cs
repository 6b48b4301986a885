namespace GpuAD.Tool.Cli;

/// <summary>The tool's exit codes, as <c>gpuad --help</c> documents them.</summary>
internal static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>The command ran and failed: missing or malformed file, bad shapes, a numerical failure, no device.</summary>
    public const int Failure = 1;

    /// <summary>The command line is wrong: unknown command, op, option or input name, or a malformed value.</summary>
    public const int Usage = 2;

    /// <summary>A derivative check failed (<c>check</c>, or <c>demo</c>'s finite-difference spot check).</summary>
    public const int CheckFailed = 3;

    /// <summary>The exit-code table for the help text.</summary>
    public const string HelpText = """
        Exit codes:
          0  success
          1  the command failed: a file is missing or is not a readable .npy array, shapes do not
             fit the op, a matrix is not positive-definite or is singular, no such device, out of memory
          2  usage error: unknown command, op, option or input name, or a malformed option value
          3  a derivative check failed (check, and demo's finite-difference spot check)
        """;
}
