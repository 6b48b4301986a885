using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace GpuAD.Kernels;

/// <summary>
/// Reads System.Numerics.Tensors tensor spans as GpuAD's row-major <c>[batch, rows, cols]</c>:
/// a rank-3 span is <c>[batch, rows, cols]</c>, a rank-2 span <c>[rows, cols]</c> is one matrix
/// (batch 1). Every check runs on the host, before any allocation or copy.
/// </summary>
internal static class HostTensors
{
    /// <summary>
    /// The shape of <paramref name="data"/>; throws <see cref="ArgumentException"/> naming
    /// <paramref name="argument"/> when its rank is not 2 or 3, a length exceeds
    /// <see cref="int.MaxValue"/>, or its strides are not those of a dense row-major array.
    /// </summary>
    internal static Shape ShapeOf<T>(in ReadOnlyTensorSpan<T> data, string op, string argument)
    {
        var lengths = data.Lengths;
        if (data.Rank is not (2 or 3))
            throw new ArgumentException(
                $"{op}: {argument} has shape {Format(lengths)} (rank {data.Rank}), but a tensor of rank 3 [batch, rows, cols] or 2 [rows, cols] is needed.", argument);
        foreach (nint length in lengths)
            if (length > int.MaxValue)
                throw new ArgumentException($"{op}: {argument} has shape {Format(lengths)}, a dimension beyond {int.MaxValue}.", argument);
        if (data.FlattenedLength > int.MaxValue)
            throw new ArgumentException($"{op}: {argument} has shape {Format(lengths)}: {data.FlattenedLength} elements, more than one host span holds ({int.MaxValue}).", argument);
        var expected = RowMajorStrides(lengths);
        if (data.FlattenedLength > 0)
        {
            var strides = data.Strides;
            for (int i = 0; i < lengths.Length; i++)
            {
                if (lengths[i] > 1 && strides[i] != expected[i])
                    throw new ArgumentException(
                        $"{op}: {argument} of shape {Format(lengths)} has strides {Format(strides)}, but row-major {Format(lengths)} has strides {Format(expected)}: " +
                        "a strided, transposed or broadcast view cannot be read as row-major; copy it into a dense tensor first (ToDenseTensor).", argument);
            }
        }
        return data.Rank == 3
            ? new Shape((int)lengths[0], (int)lengths[1], (int)lengths[2])
            : new Shape(1, (int)lengths[0], (int)lengths[1]);
    }

    /// <summary>
    /// The shape of <paramref name="data"/> (see <see cref="ShapeOf{T}"/>), which must be
    /// <paramref name="expected"/> (a rank-2 span stands for batch 1).
    /// </summary>
    internal static void Expect<T>(in ReadOnlyTensorSpan<T> data, Shape expected, string op, string argument)
    {
        var shape = ShapeOf(data, op, argument);
        if (shape != expected)
            throw new ArgumentException(
                $"{op}: {argument} has shape {Format(data.Lengths)}{(data.Rank == 2 ? $" (read as {shape})" : "")} but {expected} is needed.", argument);
    }

    /// <summary>The elements of a span that <see cref="ShapeOf{T}"/> accepted, in row-major order, without copying.</summary>
    internal static ReadOnlySpan<T> Elements<T>(in ReadOnlyTensorSpan<T> data) =>
        data.FlattenedLength == 0 ? ReadOnlySpan<T>.Empty
            : MemoryMarshal.CreateReadOnlySpan(in data.GetPinnableReference(), (int)data.FlattenedLength);

    /// <summary>The elements of a span that <see cref="ShapeOf{T}"/> accepted, in row-major order, without copying.</summary>
    internal static Span<T> Elements<T>(in TensorSpan<T> data) =>
        data.FlattenedLength == 0 ? Span<T>.Empty
            : MemoryMarshal.CreateSpan(ref data.GetPinnableReference(), (int)data.FlattenedLength);

    /// <summary>
    /// Checks that a span's length is the shape's: an <see cref="ArgumentException"/> naming the
    /// argument, its length and the shape.
    /// </summary>
    internal static void ExpectLength(int length, Shape shape, string op, string argument)
    {
        shape.Validate(op);
        if (length != shape.Length)
            throw new ArgumentException($"{op}: {argument} has {length} elements but shape {shape} needs {shape.Length}.", argument);
    }

    private static nint[] RowMajorStrides(ReadOnlySpan<nint> lengths)
    {
        var strides = new nint[lengths.Length];
        nint stride = 1;
        for (int i = lengths.Length - 1; i >= 0; i--)
        {
            strides[i] = stride;
            stride *= Math.Max(lengths[i], 1);
        }
        return strides;
    }

    private static string Format(ReadOnlySpan<nint> values)
    {
        var parts = new string[values.Length];
        for (int i = 0; i < values.Length; i++) parts[i] = values[i].ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"[{string.Join(", ", parts)}]";
    }
}
