using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;

namespace GpuAD.Kernels;

/// <summary>Parameters of one unblocked Cholesky launch: one diagonal block of every matrix.</summary>
internal struct PotrfArgs
{
    public MatLayout A;   // the diagonal block: its (0, 0) is the block's corner
    public int N;         // order of the block
    public int Offset;    // the block's first row in the whole matrix: a failure at local column j is minor Offset + j + 1
    public int BatchBase; // first batch element of this launch
}

public static partial class Blas
{
    /// <summary>
    /// Cholesky factorization in place: each matrix's lower triangle becomes L with A = L·Lᵀ (only
    /// the lower triangle of A is read) and the strict upper triangle is set to zero.
    /// <paramref name="info"/>[b] receives 0, or the one-based order of the first leading minor of
    /// matrix b that is not positive-definite (a pivot ≤ 0, NaN or infinite), as LAPACK's info.
    /// Matrices that fail are left partially factored. Nothing is copied to the host: check info
    /// on the device or read it back when convenient.
    /// </summary>
    /// <param name="device">The device holding both operands.</param>
    /// <param name="a">The symmetric matrices, [n, n] each, overwritten by L.</param>
    /// <param name="info">[batch, 1, 1]: the status of every matrix.</param>
    /// <exception cref="ArgumentException">A is not square, info's shape is not [batch, 1, 1], or A broadcasts (batch stride 0).</exception>
    /// <exception cref="NotSupportedException">The element type is neither float nor double.</exception>
    /// <remarks>
    /// Blocked right-looking: for each diagonal block, an unblocked kernel factors A11 = L11·L11ᵀ
    /// (recording a failure only while info is still 0, so the first failing minor is reported),
    /// the panel becomes L21 = A21·L11⁻ᵀ (TRSM), and the trailing matrix is updated,
    /// A22 −= L21·L21ᵀ, on its lower triangle only. A NaN in row k of A's lower triangle reaches
    /// the pivots of rows k and later only, so it is reported as minor k + 1 unless an earlier
    /// minor fails first.
    /// </remarks>
    public static void Potrf<T>(Device device, MatRef<T> a, Tensor<int> info) where T : unmanaged, INumber<T>
    {
        var shape = new Shape(a.Batch, a.Rows, a.Cols);
        if (typeof(T) != typeof(double) && typeof(T) != typeof(float))
            throw new NotSupportedException($"Potrf: element type {typeof(T).Name} is not supported (float or double).");
        if (a.Rows != a.Cols)
            throw ShapeErrors.Invalid("Potrf", "the matrices must be square", shape);
        if (info.Shape != new Shape(a.Batch, 1, 1))
            throw ShapeErrors.Mismatch("Potrf", "info must be [batch, 1, 1] for A of shape [batch, n, n]", shape, info.Shape);
        if (info.Device != device)
            throw new ArgumentException($"Potrf: info belongs to {info.Device.Name}, not to {device.Name}.");
        if (a.Batch > 1 && a.BatchStride == 0 && a.Rows > 0)
            throw ShapeErrors.Invalid("Potrf", "a broadcast matrix (batch stride 0) cannot be factored in place", shape);
        if (a.Batch == 0) return;

        using var _ = device.Enter();
        info.Clear();
        int n = a.Rows;
        if (n == 0) return;
        int nb = device.Family == KernelFamily.GpuTuned ? PotrfGpu.BlockSize : PotrfCpu.BlockSize;
        for (int k0 = 0; k0 < n; k0 += nb)
        {
            int w = Math.Min(nb, n - k0), k1 = k0 + w;
            var a11 = a.Block(k0, k0, w, w);
            FactorDiagonalBlock(device, a11, info.View, k0);
            if (k1 == n) break;
            var a21 = a.Block(k1, k0, n - k1, w);
            Trsm(device, a11, a21, left: false, lower: true, transpose: true, unitDiagonal: false, T.One);
            Gemm(device, a21, transA: false, a21, transB: true, a.Block(k1, k1, n - k1, n - k1), -T.One, T.One, lowerOnly: true);
        }
        Elementwise.Map(device, new Maps.Tril<T>(0, T.One), a, a);
    }

    /// <summary>
    /// Cholesky factorization in place on a whole tensor A [batch, n, n]: the lower triangle becomes
    /// L with A = L·Lᵀ and the strict upper triangle zero. <paramref name="info"/> [batch, 1, 1]
    /// receives 0 or the one-based order of the first leading minor that is not positive-definite.
    /// </summary>
    /// <param name="a">The symmetric matrices (only the lower triangle is read), overwritten by L.</param>
    /// <param name="info">[batch, 1, 1]: the status of every matrix, on A's device.</param>
    /// <exception cref="ArgumentException">A is not square, info's shape is not [batch, 1, 1], or the devices differ.</exception>
    /// <exception cref="NotSupportedException">The element type is neither float nor double.</exception>
    public static void Potrf<T>(Tensor<T> a, Tensor<int> info) where T : unmanaged, INumber<T>
    {
        if (!a.Shape.IsSquare)
            throw ShapeErrors.Invalid("Potrf", "the matrices must be square", a.Shape);
        Potrf(a.Device, a.Mat, info);
    }

    /// <summary>
    /// Factors one diagonal block of every matrix with the family's unblocked kernel. The kernels
    /// need a square root, which generic math offers through <see cref="IRootFunctions{T}"/>: the
    /// element type, float or double, is resolved here on the host.
    /// </summary>
    private static void FactorDiagonalBlock<T>(Device device, MatRef<T> a11, ArrayView<int> info, int offset)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double))
            FactorDiagonalBlockOf(device, Unsafe.As<MatRef<T>, MatRef<double>>(ref a11), info, offset);
        else
            FactorDiagonalBlockOf(device, Unsafe.As<MatRef<T>, MatRef<float>>(ref a11), info, offset);
    }

    private static void FactorDiagonalBlockOf<T>(Device device, MatRef<T> a11, ArrayView<int> info, int offset)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var args = new PotrfArgs { A = a11.Layout, N = a11.Rows, Offset = offset };
        if (device.Family == KernelFamily.GpuTuned)
            PotrfGpu.Launch(device, a11.Data, info, args, a11.Batch);
        else
            PotrfCpu.Launch(device, a11.Data, info, args, a11.Batch);
    }
}
