using GpuAD.Tool.Cli;

namespace GpuAD.Tool.Bench;

/// <summary>
/// Checks the bench's output paths before any work, so a sweep never runs for nothing: a
/// directory option must name a directory (existing or creatable) whose result files can be
/// written, a file option a writable file that is not a directory. A failed check is a usage
/// error naming the option, the path and why.
/// </summary>
internal static class OutputPaths
{
    /// <summary>Creates <paramref name="dir"/> if needed and checks that <paramref name="files"/> can be written in it.</summary>
    /// <exception cref="UsageException">The path is a file, cannot be created, or is not writable.</exception>
    public static void Directory(string option, string dir, params string[] files)
    {
        if (string.IsNullOrWhiteSpace(dir)) throw new UsageException($"{option} is empty: give a directory.");
        if (System.IO.File.Exists(dir)) throw new UsageException($"{option} {dir}: is a file, not a directory.");
        try
        {
            System.IO.Directory.CreateDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new UsageException($"{option} {dir}: cannot create the directory: {Report.OneLine(e.Message)}");
        }
        foreach (var name in files)
            if (System.IO.Directory.Exists(Path.Combine(dir, name)))
                throw new UsageException($"{option} {dir}: {name} there is a directory, so the result cannot be written.");
        Probe(option, dir, dir);
    }

    /// <summary>Checks that <paramref name="file"/> can be written (its directory is created if needed).</summary>
    /// <exception cref="UsageException">The path is a directory, its directory cannot be created, or it is not writable.</exception>
    public static void File(string option, string file)
    {
        if (string.IsNullOrWhiteSpace(file)) throw new UsageException($"{option} is empty: give a file.");
        if (System.IO.Directory.Exists(file) || file.EndsWith('/')) throw new UsageException($"{option} {file}: is a directory, not a file.");
        string parent = Path.GetDirectoryName(Path.GetFullPath(file)) ?? ".";
        if (System.IO.File.Exists(parent)) throw new UsageException($"{option} {file}: {parent} is a file, not a directory.");
        try
        {
            System.IO.Directory.CreateDirectory(parent);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new UsageException($"{option} {file}: cannot create its directory: {Report.OneLine(e.Message)}");
        }
        if (System.IO.File.Exists(file))
        {
            try
            {
                using (System.IO.File.Open(file, FileMode.Open, FileAccess.Write, FileShare.ReadWrite)) { }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new UsageException($"{option} {file}: not writable: {Report.OneLine(e.Message)}");
            }
        }
        else
        {
            Probe(option, file, parent);
        }
    }

    /// <summary>Creates and deletes a scratch file in <paramref name="dir"/>.</summary>
    private static void Probe(string option, string path, string dir)
    {
        string probe = Path.Combine(dir, $".gpuad-write-check-{Environment.ProcessId}");
        try
        {
            using (new FileStream(probe, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"{option} {path}: not writable: {Report.OneLine(e.Message)}");
        }
    }
}
