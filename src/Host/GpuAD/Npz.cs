using System.IO.Compression;

namespace GpuAD;

/// <summary>
/// Reads NumPy <c>.npz</c> archives, the format of <c>numpy.savez</c> and
/// <c>numpy.savez_compressed</c>: a zip file holding one <c>.npy</c> file per array, stored or
/// deflated. Each array is read as <see cref="Npy.Read(string)"/> reads a file (C or Fortran order).
/// </summary>
public static class Npz
{
    /// <summary>The first bytes of a zip file (a local file header), which is what an .npz file starts with.</summary>
    internal static ReadOnlySpan<byte> LocalHeaderSignature => [(byte)'P', (byte)'K', 3, 4];

    /// <summary>Reads every array of an archive.</summary>
    /// <param name="path">The <c>.npz</c> file (a regular file or a pipe).</param>
    /// <returns>
    /// The arrays by name, in the archive's order; a member <c>x.npy</c> is named <c>x</c>, as
    /// <c>numpy.load</c> names it (<c>arr_0</c>, <c>arr_1</c>, … for unnamed <c>savez</c> arguments).
    /// </returns>
    /// <exception cref="NpyFormatException">The file is not a zip archive, or a member is not a supported <c>.npy</c> array (the message names the member).</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyDictionary<string, NpyArray> Read(string path)
    {
        if (Directory.Exists(path)) throw new NpyFormatException(path, "is a directory, not an .npz file.");
        using var stream = File.OpenRead(path);
        return Read(stream, path);
    }


    /// <summary>Reads every array of an archive from a stream (which need not be seekable).</summary>
    /// <param name="stream">A readable stream holding the whole archive.</param>
    /// <returns>The arrays by name, in the archive's order (member <c>x.npy</c> named <c>x</c>).</returns>
    /// <exception cref="NpyFormatException">The stream does not hold a zip archive, or a member is not a supported <c>.npy</c> array.</exception>
    public static IReadOnlyDictionary<string, NpyArray> Read(Stream stream) =>
        Read(stream, stream is FileStream fs ? fs.Name : "npz stream");

    /// <summary>Reads every array of an archive from a stream, naming it <paramref name="source"/> in errors.</summary>
    /// <param name="stream">A readable stream holding the whole archive (need not be seekable).</param>
    /// <param name="source">The name errors give the archive, e.g. its path.</param>
    /// <returns>
    /// The arrays by name, in the archive's order (member <c>x.npy</c> named <c>x</c>). A member
    /// that does not hold <c>.npy</c> data (a text file beside the arrays) is not an array and is
    /// left out, as <c>numpy.load</c> returns it as bytes.
    /// </returns>
    /// <exception cref="NpyFormatException">The stream does not hold a zip archive, or a member is not a supported <c>.npy</c> array.</exception>
    public static IReadOnlyDictionary<string, NpyArray> Read(Stream stream, string source) => Read(stream, source, choose: null);

    /// <summary>
    /// Reads one array of an archive, reading no other member: the array <paramref name="choose"/>
    /// picks from the names of the archive's arrays (null picks none), as <c>numpy.load(f)[name]</c>
    /// reads only the member asked for.
    /// </summary>
    /// <param name="stream">A readable stream holding the whole archive (need not be seekable).</param>
    /// <param name="source">The name errors give the archive, e.g. its path.</param>
    /// <param name="choose">Given the names of the arrays in the archive's order, the one to read, or null.</param>
    /// <returns>The name of every array and the chosen array (null when none was chosen).</returns>
    /// <exception cref="NpyFormatException">The stream does not hold a zip archive, or the chosen member is not a supported <c>.npy</c> array.</exception>
    public static (IReadOnlyList<string> Names, NpyArray? Chosen) ReadOne(Stream stream, string source, Func<IReadOnlyList<string>, string?> choose)
    {
        string? picked = null;
        IReadOnlyList<string> names = [];
        var arrays = Read(stream, source, all => picked = choose(names = all));
        return (names, picked is not null && arrays.TryGetValue(picked, out var chosen) ? chosen : null);
    }

    // choose == null reads every array; otherwise only the one it picks (the others map to null, never exposed).
    private static Dictionary<string, NpyArray> Read(Stream stream, string source, Func<IReadOnlyList<string>, string?>? choose)
    {
        ZipArchive zip;
        try
        {
            // A stream that cannot seek is copied into memory by ZipArchive itself.
            zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true);
        }
        catch (InvalidDataException e)
        {
            throw new NpyFormatException(source, $"not an .npz archive: {e.Message}");
        }
        using (zip)
        {
            var members = new List<(string Name, ZipArchiveEntry Entry)>();
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // a folder entry
                string name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                if (!HoldsArray(entry, source)) continue;
                if (members.Any(m => m.Name == name))
                    throw new NpyFormatException(source, $"the archive holds the array '{name}' twice.");
                members.Add((name, entry));
            }
            string? only = choose?.Invoke(members.Select(m => m.Name).ToList());
            var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            foreach (var (name, entry) in members)
            {
                if (choose is not null && name != only) continue;
                string member = $"{source}:{entry.FullName}";
                try
                {
                    using var data = entry.Open();
                    arrays.Add(name, Npy.ReadWhole(data, member));
                }
                catch (Exception e) when (e is InvalidDataException or NotSupportedException)
                {
                    throw new NpyFormatException(member, $"the archive's member cannot be decompressed: {e.Message}");
                }
            }
            return arrays;
        }
    }

    /// <summary>True when a member starts with the .npy magic string (numpy.load's test), or is named *.npy.</summary>
    private static bool HoldsArray(ZipArchiveEntry entry, string source)
    {
        if (entry.FullName.EndsWith(".npy", StringComparison.Ordinal)) return true;
        try
        {
            using var data = entry.Open();
            Span<byte> magic = stackalloc byte[6];
            int got = data.ReadAtLeast(magic, magic.Length, throwOnEndOfStream: false);
            return got == 6 && magic.SequenceEqual((ReadOnlySpan<byte>)[0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y']);
        }
        catch (Exception e) when (e is InvalidDataException or NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>The first bytes of an empty zip file (an end-of-central-directory record).</summary>
    internal static ReadOnlySpan<byte> EmptyArchiveSignature => [(byte)'P', (byte)'K', 5, 6];
}
