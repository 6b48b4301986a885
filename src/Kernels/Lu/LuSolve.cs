using System.Numerics;

namespace GpuAD.Kernels;

internal static partial class Blas
{
    /// <summary>
    /// Solves with the LU factors of <see cref="Getrf{T}(Device, MatRef{T}, DeviceTensor{int}, DeviceTensor{int})"/>,
    /// in place in B: <c>op(A)·X = B</c> (left) or <c>X·op(A) = B</c> (right), op(A) = Aᵀ when
    /// <paramref name="transpose"/>, for every matrix of the batch. With A = P·L·U:
    /// left: X = U⁻¹·L⁻¹·Pᵀ·B; left transposed: X = P·L⁻ᵀ·U⁻ᵀ·B; right: X = B·U⁻¹·L⁻¹·Pᵀ;
    /// right transposed: X = B·P·L⁻ᵀ·U⁻ᵀ — interchanges (<see cref="Laswp{T}"/>) and two
    /// triangular solves (<see cref="Trsm{T}(Device, MatRef{T}, MatRef{T}, bool, bool, bool, bool, T)"/>
    /// reading only L's strict lower or U's upper triangle of the packed factors), no inverse.
    /// </summary>
    /// <param name="device">The device running the kernels.</param>
    /// <param name="lu">The packed factors [batch, n, n] (batch stride 0 broadcasts one factorization over B's batch).</param>
    /// <param name="pivots">[batch, n, 1], or [1, n, 1] with broadcast factors: zero-based row interchanges.</param>
    /// <param name="b">Right-hand sides [batch, n, m] (left) or [batch, m, n] (right), overwritten by X.</param>
    /// <param name="left">Solve op(A)·X = B (true) or X·op(A) = B (false).</param>
    /// <param name="transpose">Use Aᵀ in place of A.</param>
    /// <exception cref="ArgumentException">The factors are not square, B's size does not match them, or the batches do not agree.</exception>
    /// <remarks>A singular U (info ≠ 0) gives infinities or NaN, as LAPACK's dgetrs; nothing is checked.</remarks>
    public static void Getrs<T>(Device device, MatRef<T> lu, DeviceTensor<int> pivots, MatRef<T> b, bool left, bool transpose) where T : unmanaged, INumber<T>
    {
        const string op = "Getrs";
        var luShape = new Shape(lu.Batch, lu.Rows, lu.Cols);
        var bShape = new Shape(b.Batch, b.Rows, b.Cols);
        int n = lu.Rows;
        if (lu.Rows != lu.Cols) throw ShapeErrors.Invalid(op, "the factors must be square", luShape);
        if ((left ? b.Rows : b.Cols) != n)
            throw ShapeErrors.Mismatch(op, left ? "B must have n rows for a left solve (factors, B)" : "B must have n columns for a right solve (factors, B)", luShape, bShape);
        bool broadcast = lu.BatchStride == 0 && b.Batch > 1;
        if (lu.Batch != b.Batch && !broadcast)
            throw ShapeErrors.Mismatch(op, "the factors must have B's batch or broadcast (factors, B)", luShape, bShape);
        if (pivots.Shape != new Shape(pivots.Batch, n, 1) || (pivots.Batch != b.Batch && pivots.Batch != 1) || (pivots.Batch == 1 && b.Batch > 1 && !broadcast))
            throw ShapeErrors.Mismatch(op, $"the pivots must be [{(broadcast ? 1 : b.Batch)}, {n}, 1] (pivots, B)", pivots.Shape, bShape);
        if (pivots.Device != device) throw new ArgumentException($"{op}: the pivots must be on the device {device}, not on {pivots.Device}.");
        if (b.Batch == 0 || b.Rows == 0 || b.Cols == 0) return;

        using var _ = device.Enter();
        lu = lu.WithBatch(b.Batch);
        if (left && !transpose)
        {
            Laswp(device, b, pivots, columns: false, backward: false);
            Trsm(device, lu, b, left: true, lower: true, transpose: false, unitDiagonal: true, T.One);
            Trsm(device, lu, b, left: true, lower: false, transpose: false, unitDiagonal: false, T.One);
        }
        else if (left)
        {
            Trsm(device, lu, b, left: true, lower: false, transpose: true, unitDiagonal: false, T.One);
            Trsm(device, lu, b, left: true, lower: true, transpose: true, unitDiagonal: true, T.One);
            Laswp(device, b, pivots, columns: false, backward: true);
        }
        else if (!transpose)
        {
            Trsm(device, lu, b, left: false, lower: false, transpose: false, unitDiagonal: false, T.One);
            Trsm(device, lu, b, left: false, lower: true, transpose: false, unitDiagonal: true, T.One);
            Laswp(device, b, pivots, columns: true, backward: true);
        }
        else
        {
            Laswp(device, b, pivots, columns: true, backward: false);
            Trsm(device, lu, b, left: false, lower: true, transpose: true, unitDiagonal: true, T.One);
            Trsm(device, lu, b, left: false, lower: false, transpose: true, unitDiagonal: false, T.One);
        }
    }

    /// <summary>
    /// Solves with LU factors on whole tensors, in place in <paramref name="b"/>; see
    /// <see cref="Getrs{T}(Device, MatRef{T}, DeviceTensor{int}, MatRef{T}, bool, bool)"/>.
    /// </summary>
    /// <param name="lu">The packed factors [batch or 1, n, n] (a batch of 1 broadcasts).</param>
    /// <param name="pivots">[batch or 1, n, 1], the factors' batch.</param>
    /// <param name="b">Right-hand sides [batch, n, m] (left) or [batch, m, n] (right), overwritten by X.</param>
    /// <param name="left">Solve op(A)·X = B (true) or X·op(A) = B (false).</param>
    /// <param name="transpose">Use Aᵀ in place of A.</param>
    /// <exception cref="ArgumentException">The shapes, batches or devices do not agree.</exception>
    public static void Getrs<T>(DeviceTensor<T> lu, DeviceTensor<int> pivots, DeviceTensor<T> b, bool left = true, bool transpose = false) where T : unmanaged, INumber<T>
    {
        SameDevice("Getrs", lu, b);
        if (lu.Batch != b.Batch && lu.Batch != 1)
            throw ShapeErrors.Mismatch("Getrs", "the factors must have B's batch or batch 1 (factors, B)", lu.Shape, b.Shape);
        Getrs(lu.Device, Broadcast(lu, b.Batch, "Getrs"), pivots, b.Mat, left, transpose);
    }
}
