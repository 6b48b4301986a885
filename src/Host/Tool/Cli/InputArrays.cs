using GpuAD.Kernels;

namespace GpuAD.Tool.Cli;

/// <summary>
/// Reads the arrays every verb takes: an .npy file (C or Fortran order), an .npz archive (its
/// array of the input's name, or its only array) or ARCHIVE.npz:ARRAY, from a file or a pipe,
/// with errors that name the option. The one reader of the tool's input files.
/// </summary>
internal static class InputArrays
{
    /// <summary>
    /// Splits ARCHIVE.npz:ARRAY into the file and the array's name; a path that exists as given
    /// (or has no ':') is the file itself.
    /// </summary>
    public static (string File, string? Member) Split(string path)
    {
        int colon = path.LastIndexOf(':');
        if (File.Exists(path) || Directory.Exists(path) || colon <= 0 || colon == path.Length - 1) return (path, null);
        string file = path[..colon];
        return File.Exists(file) ? (file, path[(colon + 1)..]) : (path, null);
    }

    /// <summary>Reads the array <paramref name="path"/> names.</summary>
    /// <param name="what">How the input was given, for messages: "--input sigma", "--x".</param>
    /// <param name="path">PATH, or ARCHIVE.npz:ARRAY.</param>
    /// <param name="name">The array an archive is searched for when none is named (the input's name).</param>
    /// <exception cref="ToolFailureException">The file is missing, a directory, not an array or archive, or the archive has no such array.</exception>
    public static NpyArray Read(string what, string path, string name)
    {
        var (file, member) = Split(path);
        if (Directory.Exists(file)) throw new ToolFailureException($"{what} {file}: is a directory, not a .npy file.");
        if (!File.Exists(file)) throw new ToolFailureException($"{what} {file}: no such file.");
        try
        {
            using var stream = File.OpenRead(file);
            // A pipe (--input sigma=<(cat S.npy)) cannot seek: read it once, into memory.
            Stream seekable = stream.CanSeek ? stream : CopyToMemory(stream);
            var magic = new byte[4];
            int got = seekable.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
            seekable.Position = 0;
            bool archive = got == 4 && magic is [(byte)'P', (byte)'K', 3 or 5, 4 or 6];
            if (!archive)
            {
                if (member is not null) throw new ToolFailureException($"{what} {file}: not an .npz archive, so it has no array '{member}'.");
                return Npy.ReadToEnd(seekable, file);
            }
            var (names, chosen) = Npz.ReadOne(seekable, file, names =>
                member ?? (names.Contains(name) ? name : names.Count == 1 ? names[0] : null));
            if (chosen is not null) return chosen;
            if (member is not null)
                throw new ToolFailureException($"{what} {file}: has no array '{member}'; it holds {Members(names)}.");
            if (names.Count == 0) throw new ToolFailureException($"{what} {file}: the .npz archive holds no arrays.");
            throw new ToolFailureException($"{what} {file}: holds {Members(names)} and none is named '{name}'; name one as {file}:ARRAY.");
        }
        catch (NpyFormatException e)
        {
            throw new ToolFailureException($"{what}: {e.Message}");
        }
        catch (UnauthorizedAccessException)
        {
            throw new ToolFailureException($"{what} {file}: cannot be read (permission denied).");
        }
    }

    /// <summary>The array as a batched matrix of <typeparamref name="T"/>, refusing a value beyond T's range.</summary>
    /// <exception cref="ToolFailureException">The array is not 1-D to 3-D, or a value does not fit T (names the element).</exception>
    public static (T[] Data, Shape Shape) Batched<T>(string what, string path, NpyArray array) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Shape shape;
        try
        {
            shape = array.BatchShape;
        }
        catch (InvalidOperationException e)
        {
            throw new ToolFailureException($"{what} {path}: {e.Message}");
        }
        return (Convert<T>(what, path, array), shape);
    }

    /// <summary>The elements as <typeparamref name="T"/>; a value beyond T's range is refused naming the element.</summary>
    /// <exception cref="ToolFailureException">A value does not fit T.</exception>
    public static T[] Convert<T>(string what, string path, NpyArray array) where T : unmanaged, INumber<T>
    {
        try
        {
            return array.To<T>();
        }
        catch (NpyConversionException e)
        {
            throw new ToolFailureException($"{what} {path}: {e.Message} Use --dtype f64.");
        }
    }

    private static string Members(IReadOnlyList<string> names) =>
        names.Count == 0 ? "no arrays" : string.Join(", ", names.Select(k => $"'{k}'"));

    private static MemoryStream CopyToMemory(Stream stream)
    {
        var memory = new MemoryStream();
        stream.CopyTo(memory);
        memory.Position = 0;
        return memory;
    }
}
