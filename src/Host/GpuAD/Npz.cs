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
    /// <returns>The arrays by name, in the archive's order (member <c>x.npy</c> named <c>x</c>).</returns>
    /// <exception cref="NpyFormatException">The stream does not hold a zip archive, or a member is not a supported <c>.npy</c> array.</exception>
    public static IReadOnlyDictionary<string, NpyArray> Read(Stream stream, string source)
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
            var arrays = new Dictionary<string, NpyArray>(StringComparer.Ordinal);
            foreach (var entry in zip.Entries)
            {
                if (entry.FullName.EndsWith('/')) continue; // a folder entry
                string name = entry.FullName.EndsWith(".npy", StringComparison.Ordinal) ? entry.FullName[..^4] : entry.FullName;
                string member = $"{source}:{entry.FullName}";
                if (arrays.ContainsKey(name))
                    throw new NpyFormatException(source, $"the archive holds the array '{name}' twice.");
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
}
