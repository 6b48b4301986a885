using System.CommandLine;
using GpuAD.Kernels;

namespace GpuAD.Tool.Cli;

/// <summary>The command line asks for something that does not exist or is malformed (exit code 2).</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>The command cannot go on, for a reason already worded for the user (exit code 1).</summary>
internal sealed class ToolFailureException(string message) : Exception(message);

/// <summary>Turns every failure into one line on stderr and an exit code; never a stack trace.</summary>
internal static class Report
{
    /// <summary>Wraps a command's action so that whatever it throws becomes one line and an exit code.</summary>
    public static Func<ParseResult, int> Guard(Func<ParseResult, int> action) => parseResult =>
    {
        try
        {
            return action(parseResult);
        }
        catch (Exception e)
        {
            var (code, message) = Classify(e);
            Error(message);
            return code;
        }
    };

    /// <summary>Writes "gpuad: note: MESSAGE" to stderr on one line: advice, not a failure.</summary>
    public static void Note(string message)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"gpuad: note: {OneLine(message)}");
    }

    /// <summary>Writes "gpuad: MESSAGE" to stderr on one line.</summary>
    public static void Error(string message)
    {
        Console.Out.Flush();
        Console.Error.WriteLine($"gpuad: {OneLine(message)}");
    }

    /// <summary>The exit code and message for an exception.</summary>
    public static (int Code, string Message) Classify(Exception e) => e switch
    {
        UsageException => (ExitCodes.Usage, e.Message),
        ToolFailureException => (ExitCodes.Failure, e.Message),
        // The library's numerical errors name the op and the batch element already.
        LinAlgException => (ExitCodes.Failure, e.Message),
        DeviceUnavailableException or DeviceOutOfMemoryException => (ExitCodes.Failure, e.Message),
        GpuADException => (ExitCodes.Failure, e.Message),
        NpyFormatException => (ExitCodes.Failure, e.Message),
        FileNotFoundException f => (ExitCodes.Failure, $"{f.FileName ?? "file"}: no such file."),
        DirectoryNotFoundException or UnauthorizedAccessException or IOException => (ExitCodes.Failure, e.Message),
        // Shape rules of the ops raise ArgumentException naming the op and both shapes.
        ArgumentException => (ExitCodes.Failure, e.Message),
        AggregateException { InnerExceptions.Count: 1 } a => Classify(a.InnerExceptions[0]),
        _ => (ExitCodes.Failure, $"unexpected {e.GetType().Name}: {e.Message}"),
    };

    /// <summary>Collapses line breaks and runs of white space so a message stays on one line.</summary>
    public static string OneLine(string message) =>
        string.Join(' ', message.Split((char[])['\r', '\n', '\t'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
