using System.Globalization;
using System.Numerics;

namespace GpuAD;

/// <summary>
/// A finite host value is beyond the range of the element type it is converted to (float32 holds
/// at most ±3.4028235e38): names the input, the element and the value. Converting it anyway would
/// give ±Inf, and NaN downstream.
/// </summary>
public sealed class ElementRangeException : ArgumentException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="input">The input the value belongs to, as its caller names it (e.g. "y").</param>
    /// <param name="index">The element's index, e.g. "[0, 3, 0]" (batch element, row, column).</param>
    /// <param name="flatIndex">The element's position in row-major order.</param>
    /// <param name="value">The value.</param>
    /// <param name="elementType">The element type's name, e.g. "float32".</param>
    public ElementRangeException(string input, string index, long flatIndex, double value, string elementType)
        : base($"{input}: element {index} = {value.ToString("R", CultureInfo.InvariantCulture)} is beyond {elementType}'s range " +
               $"(largest finite value {(elementType == "float32" ? "3.4028235e38" : "of the type")}); compute in float64.")
    {
        Input = input;
        Index = index;
        FlatIndex = flatIndex;
        Value = value;
        ElementType = elementType;
    }

    /// <summary>The input the value belongs to.</summary>
    public string Input { get; }

    /// <summary>The element's index, e.g. "[0, 3, 0]".</summary>
    public string Index { get; }

    /// <summary>The element's position in row-major order.</summary>
    public long FlatIndex { get; }

    /// <summary>The value that does not fit.</summary>
    public double Value { get; }

    /// <summary>The element type, e.g. "float32".</summary>
    public string ElementType { get; }
}

/// <summary>
/// Converts host float64 values to a device element type, refusing a finite value that the type
/// cannot hold instead of rounding it to ±Inf. The one place where host data is narrowed: the GP
/// objective, <c>Tape.Variable</c> from float64 and the tool's verbs go through it.
/// </summary>
public static class ElementConversion
{
    /// <summary>The values as <typeparamref name="T"/>, row-major <paramref name="shape"/>.</summary>
    /// <param name="values">The values, row-major [batch, rows, cols].</param>
    /// <param name="input">The input's name for the message.</param>
    /// <param name="shape">Their shape, to name an element by its index.</param>
    /// <exception cref="ElementRangeException">A finite value becomes ±Inf in <typeparamref name="T"/>; names the input and the element [batch, row, col].</exception>
    public static T[] Narrow<T>(ReadOnlySpan<double> values, string input, Shape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var result = new T[values.Length];
        if (typeof(T) == typeof(double))
        {
            values.CopyTo(System.Runtime.InteropServices.MemoryMarshal.Cast<T, double>(result.AsSpan()));
            return result;
        }
        for (int i = 0; i < values.Length; i++)
        {
            result[i] = T.CreateTruncating(values[i]);
            if (double.IsFinite(values[i]) && !T.IsFinite(result[i]))
                throw new ElementRangeException(input, IndexOf(i, shape), i, values[i], TypeName<T>());
        }
        return result;
    }

    /// <summary>"float32" or "float64".</summary>
    public static string TypeName<T>() => typeof(T) == typeof(float) ? "float32" : typeof(T) == typeof(double) ? "float64" : typeof(T).Name;

    private static string IndexOf(long flat, Shape shape)
    {
        long perElement = Math.Max((long)shape.Rows * shape.Cols, 1), cols = Math.Max(shape.Cols, 1);
        long b = flat / perElement, r = flat % perElement;
        return $"[{b}, {r / cols}, {r % cols}]";
    }
}
