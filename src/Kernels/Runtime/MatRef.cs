using ILGPU;

namespace GpuAD.Kernels;

/// <summary>
/// A batch of (sub)matrices in a device view: matrix <c>b</c>, element <c>(i, j)</c> sits at
/// <c>Offset + b·BatchStride + i·Ld + j</c>. Blocked algorithms pass sub-blocks of a matrix
/// with <see cref="Block"/>; a batch stride of 0 broadcasts one matrix over the batch.
/// </summary>
/// <param name="Data">The device view.</param>
/// <param name="Offset">Element offset of matrix 0's (0, 0).</param>
/// <param name="Ld">Leading dimension: elements between consecutive rows.</param>
/// <param name="BatchStride">Elements between consecutive matrices (0 to broadcast).</param>
/// <param name="Rows">Rows of the (sub)matrix.</param>
/// <param name="Cols">Columns of the (sub)matrix.</param>
/// <param name="Batch">Number of matrices.</param>
internal readonly record struct MatRef<T>(ArrayView<T> Data, long Offset, int Ld, long BatchStride, int Rows, int Cols, int Batch)
    where T : unmanaged
{
    /// <summary>The sub-block with top-left corner (<paramref name="row"/>, <paramref name="col"/>).</summary>
    public MatRef<T> Block(int row, int col, int rows, int cols) =>
        this with { Offset = Offset + (long)row * Ld + col, Rows = rows, Cols = cols };

    /// <summary>The same matrices presented as a batch of <paramref name="batch"/> (a broadcast operand keeps stride 0).</summary>
    public MatRef<T> WithBatch(int batch) => this with { Batch = batch };

    /// <summary>Layout numbers without the view, for kernel parameters.</summary>
    internal MatLayout Layout => new(Offset, Ld, BatchStride);
}

/// <summary>Offset, leading dimension and batch stride of a <see cref="MatRef{T}"/>, passed to kernels.</summary>
/// <param name="Offset">Element offset of matrix 0's (0, 0).</param>
/// <param name="Ld">Elements between consecutive rows.</param>
/// <param name="BatchStride">Elements between consecutive matrices.</param>
internal readonly record struct MatLayout(long Offset, int Ld, long BatchStride)
{
    /// <summary>Index of element (i, j) of matrix b.</summary>
    public long At(int b, int i, int j) => Offset + b * BatchStride + (long)i * Ld + j;
}
