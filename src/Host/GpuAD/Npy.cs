using System.Globalization;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Text;
using Shape = GpuAD.Shape;

namespace GpuAD;

/// <summary>
/// A file or stream is not an <c>.npy</c> array (or <c>.npz</c> archive) GpuAD can read: bad magic,
/// unsupported version or dtype, a malformed header, or data that does not match the shape.
/// </summary>
public sealed class NpyFormatException : FormatException
{
    /// <summary>Creates the exception; the message starts with the source's name.</summary>
    /// <param name="source">The file's path, or a description of the stream.</param>
    /// <param name="problem">What is wrong, in words.</param>
    public NpyFormatException(string source, string problem) : base($"{source}: {problem}")
    {
        SourceName = source;
        Problem = problem;
    }

    /// <summary>The file's path, or a description of the stream.</summary>
    public string SourceName { get; }

    /// <summary>What is wrong, without the source's name.</summary>
    public string Problem { get; }
}

/// <summary>
/// An array read from an <c>.npy</c> file: its shape, element type and data in C order (arrays
/// stored in Fortran order are converted when read).
/// </summary>
public sealed class NpyArray
{
    private readonly byte[] data; // little-endian elements, C order

    internal NpyArray(int[] shape, string dtype, byte[] data)
    {
        Shape = shape;
        DType = dtype;
        this.data = data;
    }

    /// <summary>The dimensions, outermost first; empty for a 0-D array.</summary>
    public int[] Shape { get; }

    /// <summary>The element type without byte order: <c>"f4"</c>, <c>"f8"</c>, <c>"i4"</c> or <c>"i8"</c>.</summary>
    public string DType { get; }

    /// <summary>Number of elements (the product of <see cref="Shape"/>; 1 for a 0-D array).</summary>
    public long Length => data.LongLength / Npy.ItemSize(DType);

    /// <summary>
    /// The shape as a batched matrix: 3-D <c>[b, r, c]</c> as is; 2-D <c>[r, c]</c> → <c>[1, r, c]</c>;
    /// 1-D <c>[n]</c> → <c>[1, n, 1]</c>; 0-D → <c>[1, 1, 1]</c>.
    /// </summary>
    /// <exception cref="InvalidOperationException">The array has four or more dimensions.</exception>
    public Shape BatchShape => Shape.Length switch
    {
        0 => new Shape(1, 1, 1),
        1 => new Shape(1, Shape[0], 1),
        2 => new Shape(1, Shape[0], Shape[1]),
        3 => new Shape(Shape[0], Shape[1], Shape[2]),
        _ => throw new InvalidOperationException(
            $"An array of shape {Npy.FormatShape(Shape)} has {Shape.Length} dimensions; a batched matrix has at most 3."),
    };

    /// <summary>The elements as float64, in C order.</summary>
    public double[] ToDouble() => To<double>();

    /// <summary>The elements as float32 (rounded from wider types), in C order.</summary>
    /// <exception cref="NpyConversionException">A finite element lies beyond float32's range (|x| &gt; 3.4028235e38).</exception>
    public float[] ToSingle() => To<float>();

    /// <summary>
    /// The elements converted to <typeparamref name="T"/> by <c>T.CreateChecked</c>, in C order.
    /// NaN and ±Inf convert to themselves; a finite value that would become infinite is an error,
    /// not a silent ±Inf.
    /// </summary>
    /// <exception cref="NpyConversionException">
    /// An element does not fit <typeparamref name="T"/>: a finite value beyond a floating-point
    /// type's range, or a value out of an integer type's range; names the element.
    /// </exception>
    public T[] To<T>() where T : unmanaged, INumber<T> => DType switch
    {
        "f4" => Convert<float, T>(data),
        "f8" => Convert<double, T>(data),
        "i4" => Convert<int, T>(data),
        "i8" => Convert<long, T>(data),
        _ => throw new InvalidOperationException($"Unknown dtype '{DType}'."),
    };

    private TTo[] Convert<TFrom, TTo>(byte[] raw)
        where TFrom : unmanaged, INumber<TFrom> where TTo : unmanaged, INumber<TTo>
    {
        var from = MemoryMarshal.Cast<byte, TFrom>(raw);
        if (typeof(TFrom) == typeof(TTo)) return MemoryMarshal.Cast<TFrom, TTo>(from).ToArray();
        var to = new TTo[from.Length];
        for (int i = 0; i < to.Length; i++)
        {
            try
            {
                to[i] = TTo.CreateChecked(from[i]);
            }
            catch (OverflowException)
            {
                throw new NpyConversionException(this, i, from[i].ToString(null, CultureInfo.InvariantCulture), typeof(TTo));
            }
            // Narrowing a floating-point type rounds out-of-range finite values to ±Inf without an error.
            if (TFrom.IsFinite(from[i]) && !TTo.IsFinite(to[i]))
                throw new NpyConversionException(this, i, from[i].ToString("R", CultureInfo.InvariantCulture), typeof(TTo));
        }
        return to;
    }

    /// <summary>The multi-index of the element at a C-order position, e.g. "[1, 0, 2]".</summary>
    internal string IndexOf(long flat)
    {
        var index = new long[Shape.Length];
        for (int d = Shape.Length - 1; d >= 0; d--)
        {
            index[d] = flat % Shape[d];
            flat /= Shape[d];
        }
        return $"[{string.Join(", ", index)}]";
    }
}

/// <summary>An element of an <c>.npy</c> array does not fit the requested element type.</summary>
public sealed class NpyConversionException : OverflowException
{
    internal NpyConversionException(NpyArray array, long flatIndex, string value, Type target)
        : base($"element {array.IndexOf(flatIndex)} (C-order position {flatIndex}) = {value} does not fit {TypeName(target)}" +
               (target == typeof(float) ? " (largest finite value 3.4028235e38)" : "") + ".")
    {
        FlatIndex = flatIndex;
        Index = array.IndexOf(flatIndex);
    }

    /// <summary>The element's position in C order.</summary>
    public long FlatIndex { get; }

    /// <summary>The element's multi-index, e.g. "[1, 0, 2]".</summary>
    public string Index { get; }

    private static string TypeName(Type t) =>
        t == typeof(float) ? "float32" : t == typeof(double) ? "float64" : t == typeof(int) ? "int32" : t == typeof(long) ? "int64" : t.Name;
}

/// <summary>
/// Reads and writes NumPy <c>.npy</c> files (format versions 1.0, 2.0 and 3.0; little-endian
/// float32, float64, int32 and int64), the format of <c>numpy.save</c>/<c>numpy.load</c>. Arrays
/// stored in C or Fortran order are read (Fortran order is converted to C order); arrays are
/// written in C order. Archives of several arrays (<c>numpy.savez</c>) are read by <see cref="Npz"/>.
/// </summary>
public static class Npy
{
    private static ReadOnlySpan<byte> Magic => [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // Guards against a corrupt length field; numpy itself refuses headers over 10000 bytes by default.
    private const int MaxHeaderLength = 1 << 20;

    // numpy pads the header so the data starts on a multiple of 64 bytes (format.ARRAY_ALIGN)...
    private const int ArrayAlign = 64;

    // ...after leaving room for the first axis to grow to 21 digits (format.GROWTH_AXIS_MAX_DIGITS).
    private const int GrowthAxisMaxDigits = 21;

    /// <summary>Reads the array in a file (a regular file, or a pipe such as <c>/dev/stdin</c> or <c>&lt;(cat a.npy)</c>).</summary>
    /// <param name="path">The <c>.npy</c> file.</param>
    /// <exception cref="NpyFormatException">The file is a directory, is not a supported <c>.npy</c> array, is truncated, or holds bytes past the data.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static NpyArray Read(string path)
    {
        if (Directory.Exists(path)) throw new NpyFormatException(path, "is a directory, not an .npy file.");
        using var stream = File.OpenRead(path);
        return ReadWhole(stream, path);
    }

    /// <summary>
    /// Reads one array that must fill the rest of a stream, as <see cref="Read(string)"/> reads a
    /// file (the stream need not be seekable).
    /// </summary>
    /// <param name="stream">A readable stream positioned at the magic string.</param>
    /// <param name="source">The name errors give the stream (a file's path), or null for its file name or "npy stream".</param>
    /// <exception cref="NpyFormatException">The stream does not hold a supported <c>.npy</c> array, ends early, or holds bytes past the data.</exception>
    public static NpyArray ReadToEnd(Stream stream, string? source = null) =>
        ReadWhole(stream, source ?? (stream is FileStream fs ? fs.Name : "npy stream"));

    /// <summary>Reads an array that must fill the rest of a stream (a file, or an archive's member).</summary>
    internal static NpyArray ReadWhole(Stream stream, string source)
    {
        var array = Read(stream, source);
        long extra = RemainingBytes(stream);
        if (extra > 0)
        {
            throw new NpyFormatException(source,
                $"{extra} bytes follow the data of shape {FormatShape(array.Shape)} ({array.DType}); the shape does not match the data's length.");
        }
        return array;
    }

    /// <summary>
    /// Reads one array from a stream, leaving it positioned after the array's data (several arrays
    /// written one after another read back in turn).
    /// </summary>
    /// <param name="stream">A readable stream positioned at the magic string.</param>
    /// <exception cref="NpyFormatException">The stream does not hold a supported <c>.npy</c> array, or ends early.</exception>
    public static NpyArray Read(Stream stream) => Read(stream, stream is FileStream fs ? fs.Name : "npy stream");

    /// <summary>Writes an array as <c>.npy</c> version 1.0, byte for byte as <c>numpy.save</c> does.</summary>
    /// <typeparam name="T">float (<c>&lt;f4</c>), double (<c>&lt;f8</c>), int (<c>&lt;i4</c>) or long (<c>&lt;i8</c>).</typeparam>
    /// <param name="path">The file to create or overwrite.</param>
    /// <param name="data">The elements in C order.</param>
    /// <param name="shape">The dimensions, outermost first; none for a 0-D array (one element).</param>
    /// <exception cref="ArgumentException">A dimension is negative, or the shape's element count differs from <paramref name="data"/>'s length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double, int or long.</exception>
    public static void Write<T>(string path, ReadOnlySpan<T> data, params int[] shape) where T : unmanaged, INumber<T>
    {
        byte[] header = Header<T>(data.Length, shape);
        using var stream = File.Create(path);
        stream.Write(header);
        stream.Write(MemoryMarshal.AsBytes(data));
    }

    /// <summary>Writes an array as <c>.npy</c> version 1.0 to a stream, byte for byte as <c>numpy.save</c> does.</summary>
    /// <typeparam name="T">float (<c>&lt;f4</c>), double (<c>&lt;f8</c>), int (<c>&lt;i4</c>) or long (<c>&lt;i8</c>).</typeparam>
    /// <param name="stream">A writable stream.</param>
    /// <param name="data">The elements in C order.</param>
    /// <param name="shape">The dimensions, outermost first; none for a 0-D array (one element).</param>
    /// <exception cref="ArgumentException">A dimension is negative, or the shape's element count differs from <paramref name="data"/>'s length.</exception>
    /// <exception cref="NotSupportedException"><typeparamref name="T"/> is not float, double, int or long.</exception>
    public static void Write<T>(Stream stream, ReadOnlySpan<T> data, params int[] shape) where T : unmanaged, INumber<T>
    {
        stream.Write(Header<T>(data.Length, shape));
        stream.Write(MemoryMarshal.AsBytes(data));
    }

    /// <summary>
    /// Bytes left in a stream. A stream that cannot seek (a pipe, an archive's member) is read on,
    /// up to 1 MiB: enough to report that the data does not match the shape.
    /// </summary>
    private static long RemainingBytes(Stream stream)
    {
        if (stream.CanSeek) return stream.Length - stream.Position;
        long count = 0;
        var buffer = new byte[1 << 16];
        for (int got; count < 1 << 20 && (got = stream.Read(buffer)) > 0;) count += got;
        return count;
    }

    internal static int ItemSize(string dtype) => dtype[1] - '0';

    internal static string FormatShape(IReadOnlyList<int> shape) => shape.Count switch
    {
        0 => "()",
        1 => $"({shape[0]},)",
        _ => $"({string.Join(", ", shape)})",
    };

    private static NpyArray Read(Stream stream, string source)
    {
        EnsureLittleEndianHost();
        Span<byte> prefix = stackalloc byte[8];
        int got = stream.ReadAtLeast(prefix, prefix.Length, throwOnEndOfStream: false);
        int magicGot = Math.Min(got, Magic.Length);
        if (got >= 4 && prefix[..4].SequenceEqual(Npz.LocalHeaderSignature))
            throw new NpyFormatException(source, "this is an .npz archive (several arrays, numpy.savez), not one .npy array; read it with Npz.Read.");
        if (got >= 4 && prefix[..4].SequenceEqual(Npz.EmptyArchiveSignature))
            throw new NpyFormatException(source, "this is an empty .npz archive (a zip file with no members), not an .npy array.");
        if (!prefix[..magicGot].SequenceEqual(Magic[..magicGot]) || got == 0)
            throw new NpyFormatException(source, got == 0 ? "the file is empty." : "not an .npy file: it does not start with the magic string \\x93NUMPY.");
        if (got < prefix.Length)
            throw new NpyFormatException(source, $"truncated: {got} bytes, too short for the .npy magic string and version.");

        int major = prefix[6], minor = prefix[7];
        int lengthBytes = (major, minor) switch
        {
            (1, 0) => 2,
            (2, 0) or (3, 0) => 4,
            _ => throw new NpyFormatException(source, $"unsupported .npy format version {major}.{minor}; versions 1.0, 2.0 and 3.0 are read."),
        };
        Span<byte> lengthField = stackalloc byte[4];
        if (stream.ReadAtLeast(lengthField[..lengthBytes], lengthBytes, throwOnEndOfStream: false) < lengthBytes)
            throw new NpyFormatException(source, "truncated: the file ends inside the header length.");
        long headerLength = lengthBytes == 2
            ? BitConverter.ToUInt16(lengthField[..2])
            : BitConverter.ToUInt32(lengthField[..4]);
        if (headerLength > MaxHeaderLength)
            throw new NpyFormatException(source, $"the header claims {headerLength} bytes, more than a .npy header can plausibly hold.");

        var headerBytes = new byte[headerLength];
        int headerGot = stream.ReadAtLeast(headerBytes, headerBytes.Length, throwOnEndOfStream: false);
        if (headerGot < headerBytes.Length)
            throw new NpyFormatException(source, $"truncated: the header claims {headerLength} bytes but the file ends after {headerGot}.");
        // Versions 1.0 and 2.0 store the header in Latin-1, 3.0 in UTF-8.
        string header = major == 3 ? Encoding.UTF8.GetString(headerBytes) : Encoding.Latin1.GetString(headerBytes);

        var (dtype, shape, fortran) = ParseHeader(header, source);
        // Each dimension is below 2^31, so the product cannot overflow before it exceeds Array.MaxLength.
        long bytes = shape.Contains(0) ? 0 : ItemSize(dtype);
        foreach (int d in shape)
        {
            if (bytes > Array.MaxLength)
                throw new NpyFormatException(source, $"shape {FormatShape(shape)} ({dtype}) needs more bytes than one array can hold.");
            bytes *= d;
        }
        if (bytes > Array.MaxLength)
            throw new NpyFormatException(source, $"shape {FormatShape(shape)} ({dtype}) needs {bytes} bytes, more than one array can hold.");

        var data = new byte[bytes];
        int dataGot = stream.ReadAtLeast(data, data.Length, throwOnEndOfStream: false);
        if (dataGot < data.Length)
        {
            throw new NpyFormatException(source,
                $"truncated: shape {FormatShape(shape)} ({dtype}) needs {bytes} bytes of data but only {dataGot} follow the header.");
        }
        if (fortran && shape.Length > 1) data = FortranToC(data, shape, ItemSize(dtype));
        return new NpyArray(shape, dtype, data);
    }

    /// <summary>
    /// Reorders elements stored in Fortran (column-major) order into C (row-major) order: the
    /// element at multi-index (i₀, …, iₖ) lies at Σ iⱼ·(d₀⋯dⱼ₋₁) in Fortran order.
    /// </summary>
    private static byte[] FortranToC(byte[] fortran, int[] shape, int itemSize)
    {
        var c = new byte[fortran.Length];
        long count = fortran.Length / itemSize;
        if (count == 0) return c;
        var fortranStride = new long[shape.Length];
        fortranStride[0] = 1;
        for (int d = 1; d < shape.Length; d++) fortranStride[d] = fortranStride[d - 1] * shape[d - 1];
        var index = new int[shape.Length]; // the C-order odometer, last axis fastest
        long from = 0;
        for (long i = 0; i < count; i++)
        {
            Buffer.BlockCopy(fortran, (int)(from * itemSize), c, (int)(i * itemSize), itemSize);
            for (int d = shape.Length - 1; d >= 0; d--)
            {
                from += fortranStride[d];
                if (++index[d] < shape[d]) break;
                from -= fortranStride[d] * shape[d];
                index[d] = 0;
            }
        }
        return c;
    }

    /// <summary>Parses the header, a Python dict literal such as <c>{'descr': '&lt;f8', 'fortran_order': False, 'shape': (2, 3), }</c>.</summary>
    private static (string DType, int[] Shape, bool Fortran) ParseHeader(string header, string source)
    {
        Dictionary<string, object?> dict;
        try
        {
            var parser = new LiteralParser(header);
            dict = parser.ParseDict();
            parser.ExpectEnd();
        }
        catch (FormatException e)
        {
            throw new NpyFormatException(source, $"malformed header {Quote(header)}: {e.Message}");
        }

        string[] keys = ["descr", "fortran_order", "shape"];
        if (dict.Count != keys.Length || !keys.All(dict.ContainsKey))
            throw new NpyFormatException(source, $"the header must have exactly the keys descr, fortran_order and shape; got {Quote(header)}.");

        if (dict["fortran_order"] is not bool fortran)
            throw new NpyFormatException(source, $"fortran_order must be True or False; got {Quote(header)}.");
        string dtype = ParseDType(dict["descr"], source);

        if (dict["shape"] is not List<object?> dims || dims.Any(d => d is not long))
            throw new NpyFormatException(source, $"shape must be a tuple of integers; got {Quote(header)}.");
        var shape = new int[dims.Count];
        for (int i = 0; i < shape.Length; i++)
        {
            long d = (long)dims[i]!;
            if (d < 0 || d > int.MaxValue)
                throw new NpyFormatException(source, $"dimension {i} of the shape is {d}; dimensions must lie in [0, {int.MaxValue}].");
            shape[i] = (int)d;
        }
        return (dtype, shape, fortran);
    }

    private static string ParseDType(object? descr, string source)
    {
        const string supported = "GpuAD reads little-endian '<f4', '<f8', '<i4' and '<i8'";
        if (descr is not string s)
            throw new NpyFormatException(source, $"structured dtypes are not supported; {supported}.");
        // '<' little-endian, '=' native (little-endian on every host GpuAD runs on), '|' byte order
        // not applicable (numpy reads '|f8' as native too), none: native.
        bool hasOrder = s.Length > 0 && "<>=|".Contains(s[0]);
        string type = hasOrder ? s[1..] : s;
        bool known = type is "f4" or "f8" or "i4" or "i8";
        if (known && hasOrder && s[0] == '>')
            throw new NpyFormatException(source, $"big-endian dtype '{s}' is not supported; save a.astype('<{type}') instead.");
        if (known) return type;
        if (type.Length > 0 && type[0] == 'c')
            throw new NpyFormatException(source, $"complex dtype '{s}' is not supported; {supported}.");
        throw new NpyFormatException(source, $"unsupported dtype '{s}'; {supported}.");
    }

    private static byte[] Header<T>(int length, int[] shape) where T : unmanaged, INumber<T>
    {
        EnsureLittleEndianHost();
        string descr = typeof(T) == typeof(float) ? "<f4"
            : typeof(T) == typeof(double) ? "<f8"
            : typeof(T) == typeof(int) ? "<i4"
            : typeof(T) == typeof(long) ? "<i8"
            : throw new NotSupportedException($"Npy.Write: element type {typeof(T).Name} is not supported; use float, double, int or long.");
        if (shape.Any(d => d < 0))
            throw new ArgumentException($"Npy.Write: shape {FormatShape(shape)} has a negative dimension.", nameof(shape));
        // Multiplying stops once past int.MaxValue (already a mismatch), so the product cannot overflow.
        long count = shape.Contains(0) ? 0 : 1;
        foreach (int d in shape)
            if (count <= int.MaxValue) count *= d;
        if (count != length)
            throw new ArgumentException($"Npy.Write: shape {FormatShape(shape)} holds {(count > int.MaxValue ? "more than int.MaxValue" : count)} elements but the data has {length}.", nameof(shape));

        // The dict exactly as numpy.lib.format._write_array_header writes it: sorted keys, repr
        // values, room for the first axis to grow, then spaces and '\n' up to a multiple of 64.
        var text = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"{{'descr': '{descr}', 'fortran_order': False, 'shape': {FormatShape(shape)}, }}");
        if (shape.Length > 0)
            text.Append(' ', GrowthAxisMaxDigits - shape[0].ToString(CultureInfo.InvariantCulture).Length);
        int unpadded = Magic.Length + 2 + 2 + text.Length + 1; // magic, version, uint16 length, text, '\n'
        text.Append(' ', ArrayAlign - unpadded % ArrayAlign).Append('\n');
        if (text.Length > ushort.MaxValue)
            throw new ArgumentException($"Npy.Write: shape {FormatShape(shape)} makes the header too long for format 1.0.", nameof(shape));

        var header = new byte[Magic.Length + 4 + text.Length];
        Magic.CopyTo(header);
        header[6] = 1; // version 1.0
        header[7] = 0;
        BitConverter.TryWriteBytes(header.AsSpan(8, 2), (ushort)text.Length);
        Encoding.Latin1.GetBytes(text.ToString(), header.AsSpan(10));
        return header;
    }

    private static void EnsureLittleEndianHost()
    {
        // Elements are copied as raw bytes; the supported dtypes are all little-endian.
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException(".npy I/O needs a little-endian host.");
    }

    private static string Quote(string header)
    {
        string trimmed = header.TrimEnd();
        return trimmed.Length <= 200 ? $"\"{trimmed}\"" : $"\"{trimmed[..200]}…\"";
    }

    /// <summary>
    /// The subset of Python literals a .npy header uses: dicts, strings, True/False/None, integers
    /// (with Python 2's optional 'L' suffix), tuples and lists. Tuples and lists parse to
    /// <see cref="List{T}"/>, integers to <see cref="long"/>. Iterative, with an explicit stack of
    /// open containers bounded by <see cref="MaxDepth"/>: no header can exhaust the call stack.
    /// </summary>
    private sealed class LiteralParser(string text)
    {
        /// <summary>Containers nested deeper than this are refused (numpy's own headers nest two deep).</summary>
        public const int MaxDepth = 32;

        private int pos;

        /// <summary>An open dict, tuple or list: what it holds so far and the key awaiting its value.</summary>
        private sealed class Frame(char close)
        {
            public readonly char Close = close;
            public readonly Dictionary<string, object?>? Dict = close == '}' ? new(StringComparer.Ordinal) : null;
            public readonly List<object?>? Items = close == '}' ? null : [];
            public string? Key;

            public object Container => (object?)Dict ?? Items!;
        }

        public Dictionary<string, object?> ParseDict()
        {
            SkipSpace();
            if (pos >= text.Length || text[pos] != '{') Expect('{');
            return (Dictionary<string, object?>)ParseValue()!;
        }

        public void ExpectEnd()
        {
            SkipSpace();
            if (pos < text.Length) throw Error("text follows the closing brace");
        }

        private object? ParseValue()
        {
            var stack = new Stack<Frame>();
            while (true)
            {
                // Here a value starts, or, right after an opening bracket or a comma, the container closes.
                SkipSpace();
                if (stack.TryPeek(out var open))
                {
                    if (TryTake(open.Close))
                    {
                        stack.Pop();
                        if (Completed(stack, open.Container, out var done)) return done;
                        continue;
                    }
                    if (open.Dict is not null)
                    {
                        if (pos >= text.Length || text[pos] is not ('\'' or '"')) throw Error("dict keys must be strings");
                        open.Key = ParseString(text[pos]);
                        SkipSpace();
                        Expect(':');
                        SkipSpace();
                    }
                }
                if (pos >= text.Length) throw Error("the header ends where a value is expected");
                char c = text[pos];
                if (c is '(' or '[' or '{')
                {
                    if (stack.Count == MaxDepth) throw Error($"containers nest deeper than {MaxDepth} levels");
                    pos++;
                    stack.Push(new Frame(c == '(' ? ')' : c == '[' ? ']' : '}'));
                    continue;
                }
                if (Completed(stack, ParseScalar(c), out var result)) return result;
            }
        }

        /// <summary>
        /// Adds a finished value to the innermost open container and consumes what follows it: a
        /// comma (the next item comes) or closing brackets (each finished container is added in
        /// turn). True when the outermost value is finished.
        /// </summary>
        private bool Completed(Stack<Frame> stack, object? value, out object? result)
        {
            while (stack.TryPeek(out var top))
            {
                if (top.Dict is not null)
                {
                    if (!top.Dict.TryAdd(top.Key!, value)) throw Error($"key '{top.Key}' appears twice");
                }
                else
                {
                    top.Items!.Add(value);
                }
                SkipSpace();
                if (!TryTake(top.Close))
                {
                    Expect(',');
                    result = null;
                    return false;
                }
                stack.Pop();
                value = top.Container;
            }
            result = value;
            return true;
        }

        private object? ParseScalar(char c)
        {
            if (c is '\'' or '"') return ParseString(c);
            if (c == '-' || char.IsAsciiDigit(c)) return ParseInteger();
            if (TryTakeWord("True")) return true;
            if (TryTakeWord("False")) return false;
            if (TryTakeWord("None")) return null;
            throw Error($"unexpected '{c}'");
        }

        private string ParseString(char quote)
        {
            var sb = new StringBuilder();
            pos++;
            while (pos < text.Length && text[pos] != quote)
            {
                if (text[pos] == '\\' && pos + 1 < text.Length) pos++;
                sb.Append(text[pos++]);
            }
            Expect(quote);
            return sb.ToString();
        }

        private List<object?> ParseSequence(char close)
        {
            pos++;
            var items = new List<object?>();
            while (true)
            {
                SkipSpace();
                if (TryTake(close)) return items;
                items.Add(ParseValue());
                SkipSpace();
                if (TryTake(close)) return items;
                Expect(',');
            }
        }

        private long ParseInteger()
        {
            int start = pos;
            if (text[pos] == '-') pos++;
            while (pos < text.Length && char.IsAsciiDigit(text[pos])) pos++;
            if (!long.TryParse(text.AsSpan(start, pos - start), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long value))
                throw Error($"'{text[start..pos]}' is not an integer in range");
            TryTake('L');
            return value;
        }

        private bool TryTakeWord(string word)
        {
            if (string.CompareOrdinal(text, pos, word, 0, word.Length) != 0) return false;
            pos += word.Length;
            return true;
        }

        private void SkipSpace()
        {
            while (pos < text.Length && char.IsWhiteSpace(text[pos])) pos++;
        }

        private bool TryTake(char c)
        {
            if (pos >= text.Length || text[pos] != c) return false;
            pos++;
            return true;
        }

        private void Expect(char c)
        {
            if (!TryTake(c)) throw Error(pos < text.Length ? $"expected '{c}' but found '{text[pos]}'" : $"expected '{c}' but the header ends");
        }

        private FormatException Error(string what) => new($"{what} at character {pos}");
    }
}
