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
    /// <param name="names">The outputs' file names, e.g. <c>y.npy</c>; each is also the output's name for <see cref="Write"/>.</param>
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
            outputs.PrepareDirectory(option, directory, directory, create: true);
            var resolvedInputs = ResolveInputs(inputs);
            foreach (string name in names)
                outputs.Add(name, option, Path.Combine(directory, name), $"{option} {directory} is unusable: the output {Path.Combine(directory, name)}", resolvedInputs);
            outputs.OpenTemporaries();
            return outputs;
        }
        catch
        {
            outputs.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Validates outputs that options name one file each (<c>--json FILE</c>, <c>--plot FILE</c>),
    /// and opens their temporary files beside them. Their names for <see cref="Write"/> are the options.
    /// </summary>
    /// <param name="files">Each output's option and path; a null path is no output.</param>
    /// <param name="inputs">The command's input files, each with how it was given.</param>
    /// <param name="createDirectories">Create a missing folder of a file (else its absence is an error).</param>
    /// <exception cref="UsageException">
    /// A path is empty or a directory, its folder is missing (or cannot be created) or not writable,
    /// two options name the same file, or an output would replace one of the inputs.
    /// </exception>
    public static OutputFiles PrepareFiles(IEnumerable<(string Option, string? Path)> files, IEnumerable<(string What, string Path)> inputs, bool createDirectories = true)
    {
        var outputs = new OutputFiles();
        try
        {
            var resolvedInputs = ResolveInputs(inputs);
            foreach (var (option, path) in files)
            {
                if (path is null) continue;
                if (string.IsNullOrWhiteSpace(path)) throw new UsageException($"{option} is empty; give a file name.");
                if (Directory.Exists(path) || Path.EndsInDirectorySeparator(path))
                    throw new UsageException($"{option} {path}: is a directory; give a file name.");
                string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
                if (!createDirectories && !Directory.Exists(folder))
                    throw new UsageException($"{option} {path}: the folder {folder} does not exist.");
                outputs.PrepareDirectory(option, path, folder, create: createDirectories);
                outputs.Add(option, option, path, $"{option} {path}:", resolvedInputs);
            }
            outputs.OpenTemporaries();
            return outputs;
        }
        catch
        {
            outputs.Dispose();
            throw;
        }
    }

    /// <summary>True when an output of this name was prepared.</summary>
    public bool Has(string name) => files.ContainsKey(name);

    private static List<(string What, string Path, string Resolved)> ResolveInputs(IEnumerable<(string What, string Path)> inputs) =>
        inputs.Select(i => (i.What, i.Path, Resolve(i.Path))).ToList();

    private void Add(string name, string option, string path, string prefix, List<(string What, string Path, string Resolved)> inputs)
    {
        if (Directory.Exists(path))
            throw new UsageException($"{prefix} is a directory; remove it or choose another {option}.");
        string resolved = Resolve(path);
        foreach (var input in inputs)
        {
            if (string.Equals(resolved, input.Resolved, PathComparison))
                throw new UsageException($"{prefix} would overwrite the input {input.What} ({input.Path}); choose another {option}.");
        }
        foreach (var (other, existing) in files)
        {
            if (string.Equals(resolved, Resolve(existing.Path), PathComparison))
                throw new UsageException($"{prefix} is also the output of {other}; give each output its own file.");
        }
        files.Add(name, (path, "", null));
    }

    /// <summary>Opens one temporary file per output beside its final name, which proves the folder writable.</summary>
    private void OpenTemporaries()
    {
        foreach (string name in files.Keys.ToList())
        {
            string path = files[name].Path;
            string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
            string temp = Path.Combine(folder, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
            FileStream stream;
            try
            {
                stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The error names the temporary file, which the user never gave: say it of the folder.
                string why = e switch
                {
                    UnauthorizedAccessException => "permission denied",
                    DirectoryNotFoundException or FileNotFoundException => "it takes no new files",
                    _ => Reason(e).Replace($"'{temp}'", "").Replace(temp, folder),
                };
                throw new UsageException($"{path} cannot be written: cannot create a file in {folder} ({why}); nothing was run.");
            }
            files[name] = (path, temp, stream);
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

    /// <summary>Checks that <paramref name="directory"/> is (or can be made) a directory; <paramref name="given"/> is the option's value, for messages.</summary>
    private void PrepareDirectory(string option, string given, string directory, bool create)
    {
        if (string.IsNullOrWhiteSpace(directory))
            throw new UsageException($"{option} is empty; give the directory the outputs go to.");
        if (File.Exists(directory))
            throw new UsageException($"{option} {given} is unusable: {(given == directory ? "it" : directory)} is a file, not a directory.");
        if (Directory.Exists(directory) || !create) return;

        // Walk up to the nearest existing ancestor: it must be a directory.
        var missing = new List<string>();
        string? current = Path.GetFullPath(directory);
        while (current is not null && !Directory.Exists(current))
        {
            if (File.Exists(current))
                throw new UsageException($"{option} {given} is unusable: {current} is a file, not a directory.");
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
                    $"{option} {given} is unusable: cannot create the directory {missing[i]}: {parent} does not accept a new directory ({Reason(e)}).");
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
