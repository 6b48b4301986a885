using System.Numerics;
using ILGPU;

namespace GpuAD.Kernels;

/// <summary>Parameters of one LU panel step (everything but the views).</summary>
internal struct LuArgs<T> where T : unmanaged
{
    public MatLayout A;
    public int N;          // order of the matrix
    public int K0, Nb;     // the panel: columns [K0, K0 + Nb), rows [K0, N)
    public T MaxFinite;    // |x| ≤ MaxFinite ⇔ x is finite (false for NaN)
}

/// <summary>Parameters of a pivot (row or column interchange) launch.</summary>
internal struct SwapArgs
{
    public MatLayout X;
    public int Lines;         // columns of X (row interchanges) or rows of X (column interchanges)
    public int Order;         // pivots index rows (or columns) [0, Order)
    public int K1, K2;        // interchanges K1 … K2 − 1 are applied
    public int Backward;      // 1: applied from K2 − 1 down to K1
    public int Columns;       // 1: interchange columns instead of rows
    public long PivotStride;  // elements between the pivot vectors of consecutive matrices (0 broadcasts)
}

/// <summary>
/// Batched LU factorization with partial pivoting (GETRF), its solves (GETRS), and row or
/// column interchanges (LASWP).
/// </summary>
/// <remarks>
/// GETRF is right-looking and blocked, as LAPACK's dgetrf: for each panel of NB columns, (1) an
/// unblocked kernel factors the panel [k0:n, k0:k0+NB) with partial pivoting, swapping rows
/// inside the panel; (2) one kernel applies the panel's interchanges to the columns outside it
/// and solves U12 = L11⁻¹·A12 (unit lower); (3) GEMM updates A22 −= L21·U12. The pivot search
/// picks the largest |a| with ties going to the smallest row index (LAPACK's IDAMAX); a NaN or
/// infinite candidate ranks above every finite one, so a non-finite column always yields a
/// non-finite pivot and a non-zero info, and the choice does not depend on the search order.
/// </remarks>
internal static partial class Blas
{
    /// <summary>
    /// LU factorization with partial pivoting, in place: <c>A = P·L·U</c>, L unit lower triangular
    /// (stored below the diagonal), U upper triangular (on and above it), for every matrix of
    /// the batch.
    /// </summary>
    /// <param name="device">The device running the kernels.</param>
    /// <param name="a">Square matrices [batch, n, n], overwritten by L and U.</param>
    /// <param name="pivots">
    /// [batch, n, 1]: at step i row i was interchanged with row <c>pivots[b, i]</c> (zero-based,
    /// ≥ i) — LAPACK's ipiv minus one.
    /// </param>
    /// <param name="info">
    /// [batch, 1, 1]: 0, or the one-based index of the first pivot that is exactly zero or not
    /// finite (LAPACK's info). The factorization continues past such a pivot, as LAPACK's does;
    /// a zero pivot leaves its column of L unscaled (it is zero). As with LAPACK's blocked
    /// dgetrf, an exactly singular matrix whose zero pivot arises only after a blocked update
    /// (e.g. two equal rows across panels) may instead give a pivot of rounding size and info 0.
    /// </param>
    /// <exception cref="ArgumentException">A is not square, a shape does not match A's, or a tensor is on another device.</exception>
    public static void Getrf<T>(Device device, MatRef<T> a, DeviceTensor<int> pivots, DeviceTensor<int> info) where T : unmanaged, INumber<T>
    {
        const string op = "Getrf";
        var shape = new Shape(a.Batch, a.Rows, a.Cols);
        if (a.Rows != a.Cols) throw ShapeErrors.Invalid(op, "the matrices must be square", shape);
        int n = a.Rows, batch = a.Batch;
        if (pivots.Shape != new Shape(batch, n, 1)) throw ShapeErrors.Mismatch(op, $"the pivots must be [{batch}, {n}, 1] for A", shape, pivots.Shape);
        if (info.Shape != new Shape(batch, 1, 1)) throw ShapeErrors.Mismatch(op, $"info must be [{batch}, 1, 1] for A", shape, info.Shape);
        if (pivots.Device != device || info.Device != device) throw new ArgumentException($"{op}: the pivots and info must be on the device {device}, not on {(pivots.Device != device ? pivots.Device : info.Device)}.");
        if (batch > 1 && a.BatchStride == 0 && n > 0) throw ShapeErrors.Invalid(op, "a broadcast (batch stride 0) matrix cannot be factored in place", shape);
        if (batch == 0) return;
        using var _ = device.Enter();
        info.Clear();
        if (n == 0) return;

        bool gpu = device.Family == KernelFamily.GpuTuned;
        int nb = gpu ? LuGpu.PanelWidth : LuCpu.PanelWidth;
        var args = new LuArgs<T> { A = a.Layout, N = n, MaxFinite = MaxFinite<T>() };
        for (int k0 = 0; k0 < n; k0 += nb)
        {
            args.K0 = k0;
            args.Nb = Math.Min(nb, n - k0);
            if (gpu) LuGpu.Panel(device, a.Data, pivots.View, info.View, args, batch);
            else LuCpu.Panel(device, a.Data, pivots.View, info.View, args, batch);
            if (args.Nb == n) break;
            if (gpu) LuGpu.SwapAndSolveRows(device, a.Data, pivots.View, args, batch);
            else LuCpu.SwapAndSolveRows(device, a.Data, pivots.View, args, batch);
            int k1 = k0 + args.Nb, rest = n - k1;
            if (rest > 0)
                Gemm(device, a.Block(k1, k0, rest, args.Nb), false, a.Block(k0, k1, args.Nb, rest), false, a.Block(k1, k1, rest, rest), -T.One, T.One);
        }
    }

    /// <summary>
    /// LU factorization with partial pivoting of whole tensors, in place; see
    /// <see cref="Getrf{T}(Device, MatRef{T}, DeviceTensor{int}, DeviceTensor{int})"/>.
    /// </summary>
    /// <param name="a">[batch, n, n], overwritten by L (below the diagonal, unit diagonal implied) and U.</param>
    /// <param name="pivots">[batch, n, 1]: zero-based row interchanges.</param>
    /// <param name="info">[batch, 1, 1]: 0 or the one-based index of the first zero or non-finite pivot.</param>
    /// <exception cref="ArgumentException">A is not square, or a shape or device does not match A's.</exception>
    public static void Getrf<T>(DeviceTensor<T> a, DeviceTensor<int> pivots, DeviceTensor<int> info) where T : unmanaged, INumber<T> =>
        Getrf(a.Device, a.Mat, pivots, info);

    /// <summary>
    /// Applies the interchanges <c>pivots[b, K1 … K2−1]</c> of an LU factorization to the rows
    /// of X (<c>columns</c> false: rows i and pivots[b, i] swap) or to its columns, in increasing
    /// order of i (<paramref name="backward"/> false, which computes Pᵀ·X, or X·P for columns) or
    /// decreasing (P·X, or X·Pᵀ for columns), where A = P·L·U. Pivots outside [0, order) are ignored.
    /// </summary>
    /// <param name="device">The device running the kernel.</param>
    /// <param name="x">Matrices [batch, rows, cols]; rows (or columns) ≥ the number of pivots.</param>
    /// <param name="pivots">[batch or 1, order, 1] from <see cref="Getrf{T}(Device, MatRef{T}, DeviceTensor{int}, DeviceTensor{int})"/> (batch 1 broadcasts).</param>
    /// <param name="columns">Interchange columns instead of rows.</param>
    /// <param name="backward">Apply the interchanges from the last to the first.</param>
    /// <exception cref="ArgumentException">X has fewer rows (columns) than pivots, or the batches do not agree.</exception>
    public static void Laswp<T>(Device device, MatRef<T> x, DeviceTensor<int> pivots, bool columns, bool backward) where T : unmanaged, INumber<T>
    {
        const string op = "Laswp";
        int order = pivots.Rows;
        var shape = new Shape(x.Batch, x.Rows, x.Cols);
        if (pivots.Cols != 1 || (pivots.Batch != x.Batch && pivots.Batch != 1))
            throw ShapeErrors.Mismatch(op, "the pivots must be [batch or 1, n, 1] for X [batch, …]", pivots.Shape, shape);
        if ((columns ? x.Cols : x.Rows) != order)
            throw ShapeErrors.Mismatch(op, $"the pivots index {(columns ? "columns" : "rows")} of X", pivots.Shape, shape);
        if (pivots.Device != device) throw new ArgumentException($"{op}: the pivots must be on the device {device}, not on {pivots.Device}.");
        int lines = columns ? x.Rows : x.Cols;
        if (x.Batch == 0 || lines == 0 || order == 0) return;
        var args = new SwapArgs
        {
            X = x.Layout, Lines = lines, Order = order, K1 = 0, K2 = order,
            Backward = backward ? 1 : 0, Columns = columns ? 1 : 0,
            PivotStride = pivots.Batch == 1 ? 0 : order,
        };
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned) LuGpu.Laswp(device, x.Data, pivots.View, args, x.Batch);
        else LuCpu.Laswp(device, x.Data, pivots.View, args, x.Batch);
    }

    /// <summary>The largest finite value of T: |x| ≤ it holds exactly for finite x.</summary>
    private static T MaxFinite<T>() where T : unmanaged, INumber<T> =>
        typeof(T) == typeof(float) ? T.CreateChecked(float.MaxValue) : T.CreateChecked(double.MaxValue);
}

/// <summary>The pivot order shared by both LU families.</summary>
internal static class LuPivot
{
    /// <summary>Index of "no candidate": loses every comparison.</summary>
    public const int None = int.MaxValue;

    /// <summary>|x| without library calls (ILGPU compiles it on every backend).</summary>
    public static T Abs<T>(T x) where T : unmanaged, INumber<T> => x < T.Zero ? -x : x;

    /// <summary>
    /// True when candidate (va, ia) is the better pivot than (vb, ib): a non-finite |v| ranks
    /// first, then the larger |v|, then the smaller index. A total order, so any reduction
    /// tree gives the sequential IDAMAX answer on finite data.
    /// </summary>
    public static bool Better<T>(T va, int ia, T vb, int ib, T maxFinite) where T : unmanaged, INumber<T>
    {
        T aa = Abs(va), ab = Abs(vb);
        bool topA = !(aa <= maxFinite), topB = !(ab <= maxFinite);
        if (topA != topB) return topA;
        if (!topA && aa != ab) return aa > ab;
        return ia < ib;
    }

    /// <summary>True when the pivot stops the factorization being regular: exactly zero or not finite.</summary>
    public static bool Singular<T>(T pivot, T maxFinite) where T : unmanaged, INumber<T> =>
        pivot == T.Zero || !(Abs(pivot) <= maxFinite);
}
