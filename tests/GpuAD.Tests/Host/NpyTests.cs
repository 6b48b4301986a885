using System.Numerics;
using System.Text;
using GpuAD.Kernels;

namespace GpuAD.Tests.Host;

/// <summary>
/// The .npy reader and writer against files numpy made (tests/golden/npy/, written by
/// tests/oracle/generate.py): values, shapes, versions 1.0–3.0, byte-identical output, and errors.
/// </summary>
public sealed class NpyTests
{
    private static string Fixture(string name) => Path.Combine(Golden.Root, "npy", name);

    // The generator's formulas for the fixtures' values, element i in C order.
    private static double[] F8Values => Enumerable.Range(0, 24).Select(i => (i - 11.5) / 4).ToArray();

    [Fact]
    public void ReadsFloat64ThreeDimensional()
    {
        var a = Npy.Read(Fixture("f8_3d.npy"));
        Assert.Equal([2, 3, 4], a.Shape);
        Assert.Equal("f8", a.DType);
        Assert.Equal(24, a.Length);
        Assert.Equal(new Shape(2, 3, 4), a.BatchShape);
        Assert.Equal(F8Values, a.ToDouble());
        Assert.Equal(F8Values.Select(v => (float)v), a.ToSingle());
    }

    [Theory]
    [InlineData("f8_v2.npy")]
    [InlineData("f8_v3.npy")]
    public void ReadsFormatVersions2And3(string file)
    {
        var a = Npy.Read(Fixture(file));
        Assert.Equal([2, 3, 4], a.Shape);
        Assert.Equal(F8Values, a.ToDouble());
    }

    [Fact]
    public void ReadsFloat32TwoDimensional()
    {
        var a = Npy.Read(Fixture("f4_2d.npy"));
        Assert.Equal([3, 5], a.Shape);
        Assert.Equal("f4", a.DType);
        Assert.Equal(new Shape(1, 3, 5), a.BatchShape);
        var expected = Enumerable.Range(0, 15).Select(i => (i - 7) / 8.0).ToArray();
        Assert.Equal(expected.Select(v => (float)v), a.ToSingle());
        Assert.Equal(expected, a.ToDouble());
    }

    [Fact]
    public void ReadsInt32AndInt64()
    {
        var i4 = Npy.Read(Fixture("i4_1d.npy"));
        Assert.Equal("i4", i4.DType);
        Assert.Equal(new Shape(1, 7, 1), i4.BatchShape);
        Assert.Equal(Enumerable.Range(0, 7).Select(i => i * -3 + 5), i4.To<int>());
        Assert.Equal(Enumerable.Range(0, 7).Select(i => i * -3 + 5.0), i4.ToDouble());

        var i8 = Npy.Read(Fixture("i8_2d.npy"));
        Assert.Equal("i8", i8.DType);
        Assert.Equal([2, 3], i8.Shape);
        Assert.Equal(Enumerable.Range(0, 6).Select(i => i * 3_000_000_000L - 7), i8.To<long>());
        Assert.ThrowsAny<OverflowException>(() => i8.To<int>()); // 3e9 - 7 does not fit
    }

    [Fact]
    public void ReadsZeroDimensionalOneDimensionalAndEmpty()
    {
        var scalar = Npy.Read(Fixture("f8_0d.npy"));
        Assert.Empty(scalar.Shape);
        Assert.Equal(new Shape(1, 1, 1), scalar.BatchShape);
        Assert.Equal([2.5], scalar.ToDouble());

        var vector = Npy.Read(Fixture("f8_1d.npy"));
        Assert.Equal([5], vector.Shape);
        Assert.Equal(new Shape(1, 5, 1), vector.BatchShape);
        Assert.Equal(Enumerable.Range(0, 5).Select(i => i + 0.25), vector.ToDouble());

        var empty = Npy.Read(Fixture("f8_empty.npy"));
        Assert.Equal([0, 3], empty.Shape);
        Assert.Equal(0, empty.Length);
        Assert.Equal(new Shape(1, 0, 3), empty.BatchShape);
        Assert.Empty(empty.ToDouble());
    }

    [Fact]
    public void ReadsWideFirstAxes()
    {
        var a = Npy.Read(Fixture("f8_12x2.npy"));
        Assert.Equal([12, 2], a.Shape);
        Assert.Equal(Enumerable.Range(0, 24).Select(i => i * 0.5), a.ToDouble());
        var b = Npy.Read(Fixture("i4_105.npy"));
        Assert.Equal([105], b.Shape);
        Assert.Equal(Enumerable.Range(0, 105).Select(i => i * 7 - 300), b.To<int>());
        var c = Npy.Read(Fixture("f8_16d.npy"));
        Assert.Equal(Enumerable.Repeat(1, 16), c.Shape);
        Assert.Equal([-1.5], c.ToDouble());
    }

    [Fact]
    public void ReadsSpecialValuesBitExactly()
    {
        var a = Npy.Read(Fixture("f8_special.npy")).ToDouble();
        Assert.Equal(7, a.Length);
        Assert.True(double.IsNaN(a[0]));
        double[] rest = [double.PositiveInfinity, double.NegativeInfinity, -0.0, double.Epsilon, double.MaxValue, 1.0 / 3];
        Assert.Equal(rest.Select(BitConverter.DoubleToInt64Bits), a[1..].Select(BitConverter.DoubleToInt64Bits));
    }

    [Fact]
    public void FourDimensionalArraysReadButHaveNoBatchShape()
    {
        var a = Npy.Read(Fixture("f8_4d.npy"));
        Assert.Equal([2, 1, 2, 3], a.Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (double)i), a.ToDouble());
        var e = Assert.Throws<InvalidOperationException>(() => a.BatchShape);
        Assert.Contains("(2, 1, 2, 3)", e.Message);
    }

    [Theory]
    [InlineData("f8_big_endian.npy", "big-endian dtype '>f8'")]
    [InlineData("c16.npy", "complex dtype '<c16'")]
    [InlineData("u1.npy", "unsupported dtype '|u1'")]
    public void RejectsUnsupportedNumpyFiles(string file, string problem)
    {
        var e = Assert.Throws<NpyFormatException>(() => Npy.Read(Fixture(file)));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith(Fixture(file), e.Message); // names the file
        Assert.Equal(Fixture(file), e.SourceName);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    /// <summary>Writing numpy's data back gives numpy's bytes: header text, padding and data.</summary>
    [Theory]
    [InlineData("f8_3d.npy")]
    [InlineData("f4_2d.npy")]
    [InlineData("i4_1d.npy")]
    [InlineData("i8_2d.npy")]
    [InlineData("f8_0d.npy")]
    [InlineData("f8_1d.npy")]
    [InlineData("f8_empty.npy")]
    [InlineData("f8_special.npy")]
    [InlineData("f8_4d.npy")]
    [InlineData("f8_12x2.npy")]
    [InlineData("i4_105.npy")]
    [InlineData("f8_16d.npy")]
    public void WritesWhatNumpyWrites(string file)
    {
        var a = Npy.Read(Fixture(file));
        byte[] written = a.DType switch
        {
            "f4" => WriteToBytes(a.ToSingle(), a.Shape),
            "f8" => WriteToBytes(a.ToDouble(), a.Shape),
            "i4" => WriteToBytes(a.To<int>(), a.Shape),
            _ => WriteToBytes(a.To<long>(), a.Shape),
        };
        Assert.Equal(File.ReadAllBytes(Fixture(file)), written);
        Assert.Equal(0, (written.Length - a.Length * (a.DType[1] - '0')) % 64); // data starts 64-aligned
    }

    [Fact]
    public void RoundTripsEveryTypeThroughFilesAndStreams()
    {
        var rng = new Random(12);
        string path = Path.Combine(Path.GetTempPath(), $"gpuad-npy-{Guid.NewGuid():N}.npy");
        try
        {
            foreach (int[] shape in new[] { new int[0], [1], [9], [4, 0], [3, 5], [2, 3, 7], [1, 2, 3, 4] })
            {
                int n = shape.Aggregate(1, (p, d) => p * d);
                double[] d = Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2e6 - 1e6).ToArray();
                RoundTrip(path, d, shape, "f8");
                RoundTrip(path, d.Select(v => (float)v).ToArray(), shape, "f4");
                RoundTrip(path, d.Select(v => (int)v).ToArray(), shape, "i4");
                RoundTrip(path, d.Select(v => (long)(v * 1e7)).ToArray(), shape, "i8");
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadsConsecutiveArraysFromOneStream()
    {
        using var stream = new MemoryStream();
        Npy.Write(stream, new[] { 1.0, 2.0, 3.0 }, 3);
        Npy.Write(stream, new[] { 4, 5, 6, 7 }, 2, 2);
        stream.Position = 0;
        Assert.Equal([1.0, 2.0, 3.0], Npy.Read(stream).ToDouble());
        var second = Npy.Read(stream);
        Assert.Equal([2, 2], second.Shape);
        Assert.Equal([4, 5, 6, 7], second.To<int>());
        Assert.Equal(stream.Length, stream.Position);
    }

    [Fact]
    public void WriteRejectsBadShapesAndTypes()
    {
        using var stream = new MemoryStream();
        var e = Assert.Throws<ArgumentException>(() => Npy.Write(stream, new double[5], 2, 3));
        Assert.Contains("(2, 3) holds 6 elements but the data has 5", e.Message);
        Assert.Throws<ArgumentException>(() => Npy.Write(stream, new double[0], 2, -1));
        Assert.Throws<ArgumentException>(() => Npy.Write(stream, new double[2])); // 0-D holds one element
        Assert.Throws<NotSupportedException>(() => Npy.Write(stream, new short[2], 2));
        Assert.Equal(0, stream.Length);
    }

    [Fact]
    public void RejectsBadMagicEmptyAndUnknownVersions()
    {
        byte[] good = File.ReadAllBytes(Fixture("f8_3d.npy"));
        byte[] bad = (byte[])good.Clone();
        bad[1] = (byte)'X';
        AssertFormatError(bad, "magic string");
        AssertFormatError(Encoding.ASCII.GetBytes("PK\x03\x04 a zip archive, not an array"), "an .npz archive");
        AssertFormatError(Encoding.ASCII.GetBytes("PK\x05 almost a zip archive"), "magic string");
        AssertFormatError([], "empty");
        byte[] version = (byte[])good.Clone();
        version[6] = 4;
        AssertFormatError(version, "unsupported .npy format version 4.0");
    }

    [Theory]
    [InlineData(3)]   // inside the magic string
    [InlineData(7)]   // inside the version
    [InlineData(9)]   // inside the header length
    [InlineData(50)]  // inside the header
    public void RejectsTruncatedHeaders(int length)
    {
        byte[] good = File.ReadAllBytes(Fixture("f8_3d.npy"));
        AssertFormatError(good[..length], "truncated");
    }

    [Fact]
    public void RejectsDataThatDoesNotMatchTheShape()
    {
        byte[] good = File.ReadAllBytes(Fixture("f8_3d.npy"));
        AssertFormatError(good[..^1], "needs 192 bytes of data but only 191 follow the header");
        AssertFormatError(good[..128], "but only 0 follow");

        string path = Path.Combine(Path.GetTempPath(), $"gpuad-npy-{Guid.NewGuid():N}.npy");
        try
        {
            File.WriteAllBytes(path, [.. good, 0, 0, 0, 0, 0, 0, 0, 0]);
            var e = Assert.Throws<NpyFormatException>(() => Npy.Read(path));
            Assert.StartsWith(path, e.Message);
            Assert.Contains("8 bytes follow the data of shape (2, 3, 4)", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void ReadsFortranOrderAsCOrder()
    {
        var a = Npy.Read(Fixture("f8_fortran.npy"));
        Assert.Equal([3, 4], a.Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => (double)i), a.ToDouble());

        var b = Npy.Read(Fixture("f8_fortran_3d.npy"));
        Assert.Equal([2, 3, 4], b.Shape);
        Assert.Equal(F8Values, b.ToDouble());

        // np.save(x.T) for x = (arange(15).reshape(5, 3) − 7)/8: element [i, j] is x[j, i]
        var c = Npy.Read(Fixture("f4_transposed.npy"));
        Assert.Equal([3, 5], c.Shape);
        Assert.Equal("f4", c.DType);
        var expected = from i in Enumerable.Range(0, 3) from j in Enumerable.Range(0, 5) select (float)((3 * j + i - 7) / 8.0);
        Assert.Equal(expected, c.ToSingle());
    }

    [Theory]
    [InlineData(new[] { 2, 3 })]
    [InlineData(new[] { 1, 5 })]
    [InlineData(new[] { 3, 1, 4 })]
    [InlineData(new[] { 2, 0, 3 })]
    [InlineData(new[] { 2, 3, 4, 5 })]
    [InlineData(new[] { 7 })]
    public void ConvertsFortranOrderOfAnyShape(int[] shape)
    {
        // Element [i0, …, ik] holds its Fortran offset i0 + d0·(i1 + d1·(…)); stored in Fortran
        // order the data is simply 0, 1, 2, …
        int n = shape.Aggregate(1, (p, d) => p * d);
        string header = $"{{'descr': '<i8', 'fortran_order': True, 'shape': ({string.Join(", ", shape)}{(shape.Length == 1 ? "," : "")}), }}";
        var a = Npy.Read(new MemoryStream(WithHeader(header, Enumerable.Range(0, n).Select(i => (long)i).ToArray())));
        Assert.Equal(shape, a.Shape);
        var c = a.To<long>();
        for (int flat = 0; flat < n; flat++)
        {
            long rest = flat, fortranOffset = 0, stride = 1;
            var index = new long[shape.Length];
            for (int d = shape.Length - 1; d >= 0; d--) { index[d] = rest % shape[d]; rest /= shape[d]; }
            for (int d = 0; d < shape.Length; d++) { fortranOffset += index[d] * stride; stride *= shape[d]; }
            Assert.Equal(fortranOffset, c[flat]);
        }
    }

    [Theory]
    [InlineData("savez.npz")]
    [InlineData("savez_compressed.npz")]
    public void ReadsNpzArchives(string file)
    {
        var arrays = Npz.Read(Fixture(file));
        Assert.Equal(["sigma", "ints", "fortran", "arr_0"], arrays.Keys);
        Assert.Equal([2, 3, 4], arrays["sigma"].Shape);
        Assert.Equal(F8Values, arrays["sigma"].ToDouble());
        Assert.Equal([-2L, -1, 0, 1, 2, 3], arrays["ints"].To<long>());
        Assert.Equal([3, 4], arrays["fortran"].Shape);
        Assert.Equal(F8Values[..12], arrays["fortran"].ToDouble());
        Assert.Equal([0f, 1, 2, 3, 4], arrays["arr_0"].ToSingle());

        using var pipe = new NonSeekableStream(File.ReadAllBytes(Fixture(file)));
        Assert.Equal(F8Values, Npz.Read(pipe)["sigma"].ToDouble());
    }

    [Fact]
    public void NpzErrorsNameTheArchiveAndMember()
    {
        var e = Assert.Throws<NpyFormatException>(() => Npz.Read(Fixture("f8_3d.npy")));
        Assert.StartsWith(Fixture("f8_3d.npy"), e.Message);
        Assert.Contains("not an .npz archive", e.Message);

        using var zip = new MemoryStream();
        using (var archive = new System.IO.Compression.ZipArchive(zip, System.IO.Compression.ZipArchiveMode.Create, leaveOpen: true))
        {
            using (var good = archive.CreateEntry("good.npy").Open()) Npy.Write(good, new[] { 1.0, 2.0 }, 2);
            using var bad = new StreamWriter(archive.CreateEntry("bad.npy").Open());
            bad.Write("not numpy");
        }
        zip.Position = 0;
        e = Assert.Throws<NpyFormatException>(() => Npz.Read(zip));
        Assert.StartsWith("npz stream:bad.npy: ", e.Message);
        Assert.Contains("magic string", e.Message);

        var npy = Assert.Throws<NpyFormatException>(() => Npy.Read(Fixture("savez.npz")));
        Assert.Contains("an .npz archive", npy.Message);
    }

    /// <summary>A 64 KiB header of 32,000 nested '(' once overflowed the stack and killed the process.</summary>
    [Fact]
    public void DeeplyNestedHeadersGiveAnErrorNotAStackOverflow()
    {
        string shape = new string('(', 32_000) + new string(')', 32_000);
        AssertFormatError(WithHeader($"{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}}}", []), "nest deeper than 32 levels");
        AssertFormatError(WithHeader("{'shape': " + new string('[', 65_000), []), "nest deeper than 32 levels");
        // Nesting up to the bound still parses (and is then refused for what it says).
        string nested = new string('(', 31) + "2," + new string(')', 31);
        AssertFormatError(WithHeader($"{{'descr': '<f8', 'fortran_order': False, 'shape': {nested}}}", []), "shape must be a tuple of integers");
    }

    [Fact]
    public async Task ReadsNonSeekableStreamsAndPipes()
    {
        byte[] good = File.ReadAllBytes(Fixture("f8_3d.npy"));
        using (var pipe = new NonSeekableStream(good)) Assert.Equal(F8Values, Npy.Read(pipe).ToDouble());
        if (OperatingSystem.IsWindows()) return;

        // A named pipe read through its path, as the tool reads --input sigma=<(cat S.npy)
        string dir = Directory.CreateTempSubdirectory("gpuad-npy-").FullName;
        try
        {
            string fifo = Path.Combine(dir, "pipe");
            using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [fifo])) await mkfifo.WaitForExitAsync();
            var writer = Task.Run(() => File.WriteAllBytes(fifo, good));
            Assert.Equal(F8Values, Npy.Read(fifo).ToDouble());
            await writer;

            writer = Task.Run(() => File.WriteAllBytes(fifo, [.. good, 1, 2, 3]));
            var e = Assert.Throws<NpyFormatException>(() => Npy.Read(fifo));
            Assert.Contains("3 bytes follow the data of shape (2, 3, 4)", e.Message);
            await writer;
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void ConversionsThatDoNotFitNameTheElement()
    {
        double[] data = [1, 2, -3e38, 1e39, double.PositiveInfinity, double.NaN];
        var a = Npy.Read(new MemoryStream(WriteToBytes(data, [2, 3])));
        var e = Assert.Throws<NpyConversionException>(() => a.ToSingle());
        Assert.Contains("element [1, 0] (C-order position 3) = 1E+39 does not fit float32", e.Message);
        Assert.Equal(3, e.FlatIndex);
        Assert.IsAssignableFrom<OverflowException>(e);
        Assert.Equal(data, a.ToDouble()); // float64 holds them all

        // ±Inf and NaN convert to themselves.
        var special = Npy.Read(new MemoryStream(WriteToBytes(new[] { double.NegativeInfinity, double.NaN, 3.4e38 }, [3]))).ToSingle();
        Assert.Equal([float.NegativeInfinity, float.NaN, 3.4e38f], special);

        var big = Npy.Read(Fixture("i8_2d.npy")); // 3e9 − 7 … does not fit int32
        var i = Assert.Throws<NpyConversionException>(() => big.To<int>());
        Assert.Contains("element [0, 1] (C-order position 1) = 2999999993 does not fit int32", i.Message);
    }

    /// <summary>A stream that reads but cannot seek or report its length, like a pipe.</summary>
    private sealed class NonSeekableStream(byte[] bytes) : Stream
    {
        private readonly MemoryStream inner = new(bytes);

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    /// <summary>Headers numpy accepts although it writes none of them this way.</summary>
    [Theory]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }", "f8")]
    [InlineData("{\"shape\": (2, 2), \"descr\": \"<f8\", \"fortran_order\": False}", "f8")]
    [InlineData("  {  'fortran_order' :False,'shape':(2,2,),'descr':'=f8'}  ", "f8")]
    [InlineData("{'descr': '|f8', 'fortran_order': False, 'shape': (2L, 2L), }", "f8")]
    [InlineData("{'descr': 'f8', 'fortran_order': False, 'shape': [2, 2]}", "f8")]
    [InlineData("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 2), }", "i8")]
    public void ParsesHeaderVariants(string header, string dtype)
    {
        var a = Npy.Read(new MemoryStream(WithHeader(header, [1, 2, 3, 4])));
        Assert.Equal([2, 2], a.Shape);
        Assert.Equal(dtype, a.DType);
        Assert.Equal([1, 2, 3, 4], a.To<long>());
    }

    [Theory]
    [InlineData("{'descr': '<f8', 'shape': (4,), }", "exactly the keys")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), 'extra': 1}", "exactly the keys")]
    [InlineData("{'descr': '<f8', 'fortran_order': 0, 'shape': (4,), }", "fortran_order must be True or False")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': 4, }", "shape must be a tuple of integers")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': ('4',), }", "shape must be a tuple of integers")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (2.5,), }", "malformed header")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (-4,), }", "dimension 0 of the shape is -4")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296,), }", "dimension 0 of the shape is 4294967296")]
    [InlineData("{'descr': [('x', '<f8')], 'fortran_order': False, 'shape': (4,), }", "structured dtypes are not supported")]
    [InlineData("{'descr': '>i4', 'fortran_order': False, 'shape': (4,), }", "big-endian dtype '>i4'")]
    [InlineData("{'descr': '<f2', 'fortran_order': False, 'shape': (4,), }", "unsupported dtype '<f2'")]
    [InlineData("{'descr': '<c8', 'fortran_order': False, 'shape': (4,), }", "complex dtype '<c8'")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (4,), } trailing", "malformed header")]
    [InlineData("{'descr': '<f8', 'fortran_order': False, 'shape': (4,)", "malformed header")]
    [InlineData("{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': (4,)}", "appears twice")]
    [InlineData("['descr', '<f8']", "malformed header")]
    [InlineData("", "malformed header")]
    public void RejectsBadHeaders(string header, string problem) =>
        AssertFormatError(WithHeader(header, new long[4]), problem);

    private static void AssertFormatError(byte[] bytes, string problem)
    {
        var e = Assert.Throws<NpyFormatException>(() => Npy.Read(new MemoryStream(bytes)));
        Assert.Contains(problem, e.Message);
        Assert.StartsWith("npy stream: ", e.Message);
    }

    /// <summary>A version 1.0 file with the given header text and little-endian int64 data.</summary>
    private static byte[] WithHeader(string header, long[] data)
    {
        byte[] text = Encoding.Latin1.GetBytes(header + "\n");
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0 };
        bytes.AddRange(BitConverter.GetBytes((ushort)text.Length));
        bytes.AddRange(text);
        foreach (long v in data)
        {
            // '<f8' headers read these as doubles; write the double's bits where the header says f8
            bytes.AddRange(header.Contains("f8") ? BitConverter.GetBytes((double)v) : BitConverter.GetBytes(v));
        }
        return [.. bytes];
    }

    private static byte[] WriteToBytes<T>(T[] data, int[] shape) where T : unmanaged, INumber<T>
    {
        using var stream = new MemoryStream();
        Npy.Write(stream, data, shape);
        return stream.ToArray();
    }

    private static void RoundTrip<T>(string path, T[] data, int[] shape, string dtype) where T : unmanaged, INumber<T>
    {
        Npy.Write(path, data, shape);
        var a = Npy.Read(path);
        Assert.Equal(shape, a.Shape);
        Assert.Equal(dtype, a.DType);
        Assert.Equal(data, a.To<T>());
        Assert.Equal(0, (new FileInfo(path).Length - data.Length * (dtype[1] - '0')) % 64); // data starts 64-aligned

        var b = Npy.Read(new MemoryStream(WriteToBytes(data, shape)));
        Assert.Equal(shape, b.Shape);
        Assert.Equal(data, b.To<T>());
    }
}
