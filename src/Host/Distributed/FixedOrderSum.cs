using System.Numerics;

namespace GpuAD.Distributed;

/// <summary>
/// Sums of parts in a fixed order: element-wise ((p₀ + p₁) + p₂) + …, the same bits wherever
/// it runs, for a given list of parts. The reduction every collective and device group uses.
/// </summary>
public static class FixedOrderSum
{
    /// <summary>The element-wise sum of equally long parts, added in list order.</summary>
    /// <exception cref="ArgumentException">No parts, or parts of different lengths.</exception>
    public static T[] Of<T>(IReadOnlyList<T[]> parts) where T : INumberBase<T>
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("FixedOrderSum: no parts to add.", nameof(parts));
        var sum = (T[])parts[0].Clone();
        for (int p = 1; p < parts.Count; p++)
        {
            if (parts[p].Length != sum.Length)
                throw new ArgumentException($"FixedOrderSum: part 0 has {sum.Length} elements but part {p} has {parts[p].Length}.", nameof(parts));
            for (int i = 0; i < sum.Length; i++) sum[i] += parts[p][i];
        }
        return sum;
    }

    /// <summary>Adds the <paramref name="count"/> consecutive parts of <paramref name="concatenated"/> into <paramref name="destination"/>, in order.</summary>
    internal static void Over<T>(ReadOnlySpan<T> concatenated, int count, Span<T> destination) where T : INumberBase<T>
    {
        int length = destination.Length;
        concatenated[..length].CopyTo(destination);
        for (int p = 1; p < count; p++)
        {
            var part = concatenated.Slice(p * length, length);
            for (int i = 0; i < length; i++) destination[i] += part[i];
        }
    }
}
