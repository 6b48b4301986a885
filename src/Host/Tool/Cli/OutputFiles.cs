namespace GpuAD.Tool.Cli;

/// <summary>
/// The files one command writes into an output directory, checked before any work and written
/// all or nothing.
/// </summary>
/// <remarks>
/// <see cref="Prepare"/> validates the directory and every output path (creating the directory
/// if it is missing) and opens one temporary file per output in that directory, which proves it
/// writable. <see cref="Write"/> fills a temporary file; <see cref="Commit"/> renames them all
/// onto their final names. Until then nothing the user had is replaced; disposing without a
/// commit deletes the temporary files and any directory <see cref="Prepare"/> created. A rename
/// replaces a directory entry, so an output never writes through a link into another file: the
/// one way to lose an input is an output path that is the input's own resolved path, and
/// <see cref="Prepare"/> refuses that.
/// </remarks>
internal sealed class OutputFiles : IDisposable
{
    private readonly Dictionary<string, (string Path, string TempPath, FileStream? Temp)> files = new(StringComparer.Ordinal);
    private readonly List<string> createdDirectories = [];
    private bool committed;

    private OutputFiles()
    {
    }

    /// <summary>The final path of an output.</summary>
    public string PathOf(string name) => files[name].Path;

    /// <summary>
    /// Validates <paramref name="directory"/> (the value of <paramref name="option"/>) and the
    /// outputs <paramref name="names"/> in it, and opens their temporary files.
    /// </summary>
    /// <param name="option">The option that names the directory, for messages (<c>--out</c>).</param>
    /// <param name="directory">The output directory; created if missing.</param>
    /// <param name="names">The outputs' file names, e.g. <c>y.npy</c>.</param>
    /// <param name="inputs">The command's input files, each with how it was given (<c>--input t</c>).</param>
    /// <exception cref="UsageException">
    /// The directory is empty, is a file, cannot be created or written, an output path is a
    /// directory, or an output would replace one of the inputs.
    /// </exception>
    public static OutputFiles Prepare(string option, string directory, IEnumerable<string> names, IEnumerable<(string What, string Path)> inputs)
    {
        var outputs = new OutputFiles();
        try
        {
            outputs.PrepareDirectory(option, directory);
            var resolvedInputs = inputs.Select(i => (i.What, i.Path, Resolved: Resolve(i.Path))).ToList();
            string resolvedDirectory = Resolve(directory);
            foreach (string name in names)
            {
                string path = Path.Combine(directory, name);
                if (Directory.Exists(path))
                    throw new UsageException($"{option} {directory} is unusable: the output {path} is an existing directory; remove it or choose another {option}.");
                string resolved = Path.Combine(resolvedDirectory, name);
                foreach (var input in resolvedInputs)
                {
                    if (string.Equals(resolved, input.Resolved, PathComparison))
                        throw new UsageException($"{option} {directory} is unusable: the output {path} would overwrite the input {input.What} ({input.Path}); choose another {option}.");
                }
                outputs.files.Add(name, (path, "", null));
            }
            foreach (string name in outputs.files.Keys.ToList())
            {
                string path = outputs.files[name].Path;
                string temp = Path.Combine(directory, $".{name}.{Guid.NewGuid():N}.tmp");
                FileStream stream;
                try
                {
                    stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw new UsageException($"{option} {directory} is unusable: cannot create a file in it ({Reason(e)}).");
                }
                outputs.files[name] = (path, temp, stream);
            }
            return outputs;
        }
        catch
        {
            outputs.Dispose();
            throw;
        }
    }

    /// <summary>Writes an output's content into its temporary file.</summary>
    /// <exception cref="ToolFailureException">The write failed (e.g. the disk is full); nothing was replaced.</exception>
    public void Write(string name, Action<Stream> write)
    {
        var (path, _, stream) = files[name];
        try
        {
            write(stream!);
            stream!.Flush(flushToDisk: true);
        }
        // A full disk gives IOException; a file-size limit (EFBIG) ArgumentOutOfRangeException.
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ToolFailureException($"cannot write {path} ({Reason(e)}); no output was written or replaced.");
        }
    }

    /// <summary>Moves every written output onto its final name.</summary>
    public void Commit()
    {
        foreach (var (_, temp, stream) in files.Values) stream!.Dispose();
        foreach (var (path, temp, _) in files.Values) File.Move(temp, path, overwrite: true);
        committed = true;
    }

    /// <summary>Deletes what an uncommitted run left: temporary files and the directories it created.</summary>
    public void Dispose()
    {
        if (committed) return;
        foreach (var (_, temp, stream) in files.Values)
        {
            // Closing flushes what is buffered, which fails again where the write failed.
            if (stream is not null) TryDelete(stream.Dispose);
            if (temp.Length > 0) TryDelete(() => File.Delete(temp));
        }
        for (int i = createdDirectories.Count - 1; i >= 0; i--)
        {
            string dir = createdDirectories[i];
            if (Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any()) TryDelete(() => Directory.Delete(dir));
        }
    }

    private void PrepareDirectory(string option, string directory)
    {
        if (string.IsNullOrWhiteSpace(directory))
            throw new UsageException($"{option} is empty; give the directory the outputs go to.");
        if (File.Exists(directory))
            throw new UsageException($"{option} {directory} is unusable: it is an existing file, not a directory.");
        if (Directory.Exists(directory)) return;

        // Walk up to the nearest existing ancestor: it must be a directory.
        var missing = new List<string>();
        string? current = Path.GetFullPath(directory);
        while (current is not null && !Directory.Exists(current))
        {
            if (File.Exists(current))
                throw new UsageException($"{option} {directory} is unusable: {current} is a file, not a directory.");
            missing.Add(current);
            current = Path.GetDirectoryName(current);
        }
        for (int i = missing.Count - 1; i >= 0; i--)
        {
            try
            {
                Directory.CreateDirectory(missing[i]);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                string parent = Path.GetDirectoryName(missing[i]) ?? missing[i];
                throw new UsageException(
                    $"{option} {directory} is unusable: cannot create the directory {missing[i]}: {parent} does not accept a new directory ({Reason(e)}).");
            }
            createdDirectories.Add(missing[i]);
        }
    }

    private static StringComparison PathComparison =>
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;

    /// <summary>
    /// The absolute path with every symbolic link along it resolved (as POSIX realpath, for the
    /// components that exist); "." and ".." are resolved lexically first.
    /// </summary>
    internal static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        for (int hops = 0; hops < 40; hops++)
        {
            string root = Path.GetPathRoot(full)!;
            string[] parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
            string current = root;
            string? relinked = null;
            for (int i = 0; i < parts.Length && relinked is null; i++)
            {
                string next = Path.Combine(current, parts[i]);
                string? target = LinkTarget(next);
                if (target is null)
                {
                    current = next;
                    continue;
                }
                string rest = string.Join(Path.DirectorySeparatorChar, parts[(i + 1)..]);
                relinked = Path.GetFullPath(Path.Combine(Path.GetFullPath(target, current), rest));
            }
            if (relinked is null) return current;
            full = relinked;
        }
        return full; // a cycle of links: compare as given
    }

    private static string? LinkTarget(string path)
    {
        try
        {
            FileSystemInfo info = Directory.Exists(path) ? new DirectoryInfo(path) : new FileInfo(path);
            return info.Exists ? info.LinkTarget : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        ArgumentOutOfRangeException => "the file is larger than the file system or a file-size limit allows",
        _ => e.Message.TrimEnd('.'),
    };

    private static void TryDelete(Action delete)
    {
        try
        {
            delete();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
        }
    }
}
