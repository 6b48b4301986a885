using GpuAD.Kernels;
namespace GpuAD;

/// <summary>Base class of the errors GpuAD raises for numerical failures and device faults.</summary>
public class GpuADException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public GpuADException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the error that caused it.</summary>
    public GpuADException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// A linear-algebra failure of one batch element: names the op, the zero-based batch element and
/// a one-based index within it (a leading minor, a pivot, a diagonal entry), in words a user of
/// PyTorch or numpy would recognise. Every such error derives from this class, so code that runs
/// part of a batch (<c>BatchShard</c>) can report the global element with <see cref="Rebase"/>.
/// </summary>
public abstract class LinAlgException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="op">The operation that failed.</param>
    /// <param name="batchIndex">Zero-based batch element.</param>
    /// <param name="index">One-based index within the element (LAPACK's info).</param>
    /// <param name="problem">What is wrong, in words, without the op and the batch element.</param>
    protected LinAlgException(string op, int batchIndex, int index, string problem) : base(problem)
    {
        Op = op;
        BatchIndex = batchIndex;
        Index = index;
        Problem = problem;
    }

    /// <summary>The operation that failed.</summary>
    public string Op { get; }

    /// <summary>Zero-based batch element that failed first.</summary>
    public int BatchIndex { get; private set; }

    /// <summary>One-based index within the element: the leading minor, pivot or diagonal entry (LAPACK's info).</summary>
    public int Index { get; }

    /// <summary>What is wrong, without the op and the batch element.</summary>
    public string Problem { get; }

    /// <inheritdoc/>
    public override string Message => $"{Op}: batch element {BatchIndex}: {Problem}";

    /// <summary>
    /// The same error, of the same type and with the same details, for batch element
    /// <see cref="BatchIndex"/> + <paramref name="offset"/>: the global element of a part of a
    /// batch that starts at <paramref name="offset"/>.
    /// </summary>
    public LinAlgException Rebase(int offset)
    {
        var copy = (LinAlgException)MemberwiseClone();
        copy.BatchIndex = BatchIndex + offset;
        return copy;
    }
}

/// <summary>
/// A Cholesky factorization met a leading minor that is not positive-definite (a non-positive,
/// NaN or infinite pivot), like PyTorch's <c>torch.linalg.cholesky</c> error.
/// </summary>
public sealed class NotPositiveDefiniteException : LinAlgException
{
    /// <summary>Creates the exception for one batch element.</summary>
    /// <param name="op">The operation that factored the matrix.</param>
    /// <param name="batchIndex">Zero-based batch element.</param>
    /// <param name="minorOrder">One-based order of the first leading minor that is not positive-definite.</param>
    public NotPositiveDefiniteException(string op, int batchIndex, int minorOrder)
        : base(op, batchIndex, minorOrder, $"the leading minor of order {minorOrder} is not positive-definite (its pivot is ≤ 0, NaN or infinite).")
    {
    }

    /// <summary>One-based order of the first leading minor that is not positive-definite (<see cref="LinAlgException.Index"/>).</summary>
    public int MinorOrder => Index;
}

/// <summary>
/// A matrix is singular to working precision: a pivot of its LU factorization (Solve, AXInvB; also
/// NaN or infinite) or a diagonal entry of a triangular matrix (TriangularSolve) is zero or at
/// most n·ε times the largest entry of its column (see <see cref="Blas.CheckDiagonal{T}"/>), like
/// the errors of <c>numpy.linalg.solve</c> and LAPACK's getrf/trtrs info.
/// </summary>
public sealed class SingularMatrixException : LinAlgException
{
    /// <summary>Creates the exception for a pivot of an LU factorization.</summary>
    /// <param name="op">The operation that factored the matrix.</param>
    /// <param name="batchIndex">Zero-based batch element.</param>
    /// <param name="pivot">One-based index of the pivot, as LAPACK's info.</param>
    public SingularMatrixException(string op, int batchIndex, int pivot)
        : this(op, batchIndex, pivot,
               $"the pivot U[{pivot},{pivot}] (one-based) of its LU factorization is zero, NaN or infinite, or no more than n·ε times the largest entry of its column")
    {
    }

    /// <summary>Creates the exception for a diagonal entry, described in words.</summary>
    /// <param name="op">The operation that found it.</param>
    /// <param name="batchIndex">Zero-based batch element.</param>
    /// <param name="pivot">One-based index of the diagonal entry, as LAPACK's info.</param>
    /// <param name="problem">What is wrong with the entry, naming it with its one-based index, e.g. "the diagonal entry T[3,3] (one-based) is zero".</param>
    public SingularMatrixException(string op, int batchIndex, int pivot, string problem)
        : base(op, batchIndex, pivot, $"the matrix is singular to working precision: {problem}.")
    {
    }

    /// <summary>One-based index of the first singular pivot or diagonal entry (<see cref="LinAlgException.Index"/>).</summary>
    public int Pivot => Index;
}

/// <summary>A device allocation could not be satisfied.</summary>
public sealed class DeviceOutOfMemoryException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="device">The device's name.</param>
    /// <param name="requestedBytes">Bytes asked for.</param>
    /// <param name="availableBytes">Bytes that could still be had (the cap minus what is in use), or -1 when unknown.</param>
    /// <param name="inner">The allocator's own error, if any.</param>
    public DeviceOutOfMemoryException(string device, long requestedBytes, long availableBytes, Exception? inner = null)
        : base($"Out of device memory on {device}: requested {requestedBytes:N0} bytes, available {(availableBytes < 0 ? "unknown" : availableBytes.ToString("N0"))} bytes.", inner ?? new OutOfMemoryException())
    {
        RequestedBytes = requestedBytes;
        AvailableBytes = availableBytes;
    }

    /// <summary>Bytes asked for.</summary>
    public long RequestedBytes { get; }

    /// <summary>Bytes that could still be had, or -1 when unknown.</summary>
    public long AvailableBytes { get; }
}

/// <summary>Builds the argument errors every op raises, so they read the same everywhere.</summary>
internal static class ShapeErrors
{
    /// <summary>An error naming the op, what is wrong, and both shapes.</summary>
    public static ArgumentException Mismatch(string op, string what, Shape first, Shape second) =>
        new($"{op}: {what}: got {first} and {second}.");

    /// <summary>An error naming the op, what is wrong, and one shape.</summary>
    public static ArgumentException Invalid(string op, string what, Shape shape) =>
        new($"{op}: {what}: got {shape}.");

    /// <summary>
    /// Resolves the batch of two operands that broadcast: equal batches, or one of them 1.
    /// Throws an error naming the op and both shapes otherwise.
    /// </summary>
    public static int BroadcastBatch(string op, Shape first, Shape second)
    {
        if (first.Batch == second.Batch || second.Batch == 1) return first.Batch;
        if (first.Batch == 1) return second.Batch;
        throw Mismatch(op, "batch sizes differ and neither is 1", first, second);
    }

    /// <summary>
    /// The output shape of a binary elementwise op: the matrices have the same shape, or one of
    /// them is a scalar per matrix ([batch or 1, 1, 1]) that broadcasts over the other's matrices;
    /// the batches broadcast as in <see cref="BroadcastBatch"/>. Throws an error naming the op and
    /// both shapes otherwise.
    /// </summary>
    public static Shape BroadcastElementwise(string op, Shape first, Shape second)
    {
        bool firstScalar = first.Rows == 1 && first.Cols == 1, secondScalar = second.Rows == 1 && second.Cols == 1;
        if ((first.Rows != second.Rows || first.Cols != second.Cols) && !firstScalar && !secondScalar)
            throw Mismatch(op, "the matrices must have the same shape, or one must be a scalar per matrix [batch or 1, 1, 1]", first, second);
        int batch = BroadcastBatch(op, first, second);
        return firstScalar ? second.WithBatch(batch) : first.WithBatch(batch);
    }
}
