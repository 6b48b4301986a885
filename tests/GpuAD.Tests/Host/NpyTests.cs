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
        Assert.Throws<OverflowException>(() => i8.To<int>()); // 3e9 - 7 does not fit
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
    [InlineData("f8_fortran.npy", "Fortran")]
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
        AssertFormatError(Encoding.ASCII.GetBytes("PK\x03\x04 a zip archive, not an array"), "magic string");
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
    [InlineData("{'descr': '<f8', 'fortran_order': True, 'shape': (4,), }", "Fortran")]
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
