using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of a diagonal check launch.</summary>
internal struct DiagonalCheckArgs<T> where T : unmanaged
{
    public MatLayout A;
    public int N;
    public int Upper;      // 1: column k of the triangle is rows [0, k]; 0: rows [k, N)
    public T Tolerance;    // N·ε
    public T MaxFinite;    // |x| ≤ MaxFinite ⇔ x is finite
}

/// <summary>
/// The singularity rule of GpuAD's solves: a triangular matrix (T of a triangular solve, or U of
/// an LU factorization) is singular to working precision when a diagonal entry is zero, or when
/// |A[k,k]| ≤ n·ε·max |A[i,k]| over the finite entries of column k of its triangle. Such a pivot is
/// of the size of the rounding errors the column's larger entries carry, so the solve would
/// return rounding noise amplified by 1/pivot (LAPACK's getrf and trtrs report exactly zero
/// entries; numpy, SciPy and PyTorch raise on them). Relative to its own column the test does
/// not depend on how the columns are scaled (diag(1, 1e-20) is regular), and matrices of
/// condition number up to about 1/(n·ε) (1e12 in float64) solve. NaN and ±Inf are left to the
/// caller: getrf reports non-finite pivots itself, and a triangular solve propagates them.
/// </summary>
internal static partial class Blas
{
    /// <summary>
    /// Records in <paramref name="info"/> the first diagonal entry of each triangular matrix that
    /// is singular to working precision (see the class remarks): info[b] becomes the smaller of
    /// its non-zero value and the one-based index k of that entry; matrices that pass keep
    /// their info. No host round trip.
    /// </summary>
    /// <param name="device">The device running the kernels.</param>
    /// <param name="a">Square matrices [batch, n, n]; only the triangle is read.</param>
    /// <param name="upper">The triangle: upper (column k is rows 0…k) or lower (rows k…n−1).</param>
    /// <param name="info">[batch, 1, 1]: 0 or an earlier one-based index (e.g. getrf's info).</param>
    /// <exception cref="ArgumentException">A is not square, or info's shape or device does not match.</exception>
    public static void CheckDiagonal<T>(Device device, MatRef<T> a, bool upper, DeviceTensor<int> info) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "CheckDiagonal";
        var shape = new Shape(a.Batch, a.Rows, a.Cols);
        if (a.Rows != a.Cols) throw ShapeErrors.Invalid(op, "the matrices must be square", shape);
        if (info.Shape != new Shape(a.Batch, 1, 1)) throw ShapeErrors.Mismatch(op, $"info must be [{a.Batch}, 1, 1] for A", shape, info.Shape);
        if (info.Device != device) throw new ArgumentException($"{op}: info must be on the device {device.Name}.");
        int n = a.Rows, batch = a.Batch;
        if (batch == 0 || n == 0) return;
        if ((long)batch * n > int.MaxValue) throw new ArgumentException($"{op}: {(long)batch * n} diagonal entries exceed one launch.");
        var args = new DiagonalCheckArgs<T>
        {
            A = a.Layout, N = n, Upper = upper ? 1 : 0,
            // Machine ε, 2⁻⁵² or 2⁻²³ (.NET's T.Epsilon is the smallest subnormal instead).
            Tolerance = T.CreateChecked(n) * (T.BitIncrement(T.One) - T.One),
            MaxFinite = MaxFinite<T>(),
        };
        using var _ = device.Enter();
        using var flags = device.Allocate<int>(new Shape(batch, n, 1));
        var check = device.Kernel(CheckKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, DiagonalCheckArgs<T>>(CheckKernel<T>));
        check(batch * n, a.Data, flags.View, args);
        var first = device.Kernel(FirstFlagKernel, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, int>(FirstFlagKernel));
        first(batch, flags.View, info.View, n);
    }

    /// <summary>flags[b, k] = k + 1 when diagonal entry k of matrix b is singular to working precision, else 0.</summary>
    internal static void CheckKernel<T>(Index1D index, ArrayView<T> a, ArrayView<int> flags, DiagonalCheckArgs<T> p) where T : unmanaged, INumber<T>
    {
        int b = index / p.N, k = index % p.N;
        T pivot = LuPivot.Abs(a[p.A.At(b, k, k)]);
        int lo = p.Upper == 1 ? 0 : k, hi = p.Upper == 1 ? k : p.N - 1;
        T max = T.Zero;
        for (int i = lo; i <= hi; i++)
        {
            T v = LuPivot.Abs(a[p.A.At(b, i, k)]);
            if (v > max && v <= p.MaxFinite) max = v;
        }
        // A NaN or infinite pivot fails the comparison: it is not flagged here.
        flags[index] = pivot <= p.Tolerance * max ? k + 1 : 0;
    }

    /// <summary>info[b] = the smaller of its non-zero value and the first non-zero flag of matrix b.</summary>
    internal static void FirstFlagKernel(Index1D b, ArrayView<int> flags, ArrayView<int> info, int n)
    {
        int first = 0;
        long row = (long)(int)b * n;
        for (int k = 0; k < n && first == 0; k++) first = flags[row + k];
        if (first != 0 && (info[b] == 0 || first < info[b])) info[b] = first;
    }
}
