using GpuAD.Kernels;
namespace GpuAD;

/// <summary>The shape of a batched matrix tensor, written <c>[batch, rows, cols]</c>.</summary>
/// <param name="Batch">Number of matrices.</param>
/// <param name="Rows">Rows of each matrix.</param>
/// <param name="Cols">Columns of each matrix.</param>
public readonly record struct Shape(int Batch, int Rows, int Cols)
{
    /// <summary>Elements in one matrix.</summary>
    public long MatrixLength => (long)Rows * Cols;

    /// <summary>Elements in the whole tensor.</summary>
    public long Length => Batch * MatrixLength;

    /// <summary>True when every matrix is square.</summary>
    public bool IsSquare => Rows == Cols;

    /// <summary>The shape of the transposed matrices.</summary>
    public Shape Transposed => new(Batch, Cols, Rows);

    /// <summary>The same matrix shape with another batch size.</summary>
    public Shape WithBatch(int batch) => new(batch, Rows, Cols);

    /// <inheritdoc/>
    public override string ToString() => $"[{Batch}, {Rows}, {Cols}]";

    /// <summary>Throws <see cref="ArgumentException"/> unless every dimension is non-negative.</summary>
    public void Validate(string op)
    {
        if (Batch < 0 || Rows < 0 || Cols < 0)
            throw new ArgumentException($"{op}: a shape cannot have negative dimensions, got {this}.");
    }
}
