using GpuAD.Kernels;

namespace GpuAD.Distributed;

/// <summary>
/// A contiguous part [<see cref="Start"/>, <see cref="End"/>) of a batch, owned by one rank or
/// one device. Batches split into balanced parts: the first <c>batch mod parts</c> parts get one
/// element more, so concatenating the parts in order gives the batch back.
/// </summary>
/// <param name="Start">The first global batch element of the part.</param>
/// <param name="Count">How many elements it holds (0 when there are more parts than elements).</param>
public readonly record struct BatchShard(int Start, int Count)
{
    /// <summary>One past the last global batch element.</summary>
    public int End => Start + Count;

    /// <summary>Part <paramref name="index"/> of <paramref name="parts"/> of a batch of <paramref name="batch"/> elements.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A negative batch, no parts, or an index outside [0, parts).</exception>
    public static BatchShard Of(int batch, int parts, int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(batch);
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, parts);
        int size = batch / parts, extra = batch % parts;
        int start = index * size + Math.Min(index, extra);
        return new BatchShard(start, size + (index < extra ? 1 : 0));
    }

    /// <summary>All <paramref name="parts"/> parts of a batch, in order.</summary>
    public static BatchShard[] Split(int batch, int parts) => Enumerable.Range(0, parts).Select(i => Of(batch, parts, i)).ToArray();

    /// <summary>
    /// Runs work on this part, reporting a numerical failure with the GLOBAL batch element: a
    /// <see cref="LinAlgException"/> raised for local element k is rethrown re-based, the same
    /// type with the same details, for element <see cref="Start"/> + k.
    /// </summary>
    public TResult Run<TResult>(Func<TResult> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        try
        {
            return work();
        }
        catch (LinAlgException e) when (Start != 0)
        {
            throw e.Rebase(Start);
        }
    }

    /// <inheritdoc/>
    public override string ToString() => $"[{Start}, {End})";
}
