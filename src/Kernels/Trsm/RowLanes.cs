using System.Numerics;
using ILGPU;

namespace GpuAD.Kernels;

/// <summary>
/// What the GPU kernels share that split one row's (or column's) serial work between
/// <c>lanes</c> consecutive threads of a warp (a power of two up to 32): lane l takes the terms
/// q ≡ l (mod lanes), and the lanes' partial sums are added with butterfly shuffles. The caller
/// lets lane k mod lanes write unknown k, so every value is read only by the lane that wrote it.
/// </summary>
internal static class RowLanes
{
    /// <summary>
    /// Σ t[P(k, q)]·x[xBase + q·xStride] over q in [qBegin, qEnd), q ≡ lane (mod lanes), summed over
    /// the lanes, in every lane: t is a packed triangle, P(k, q) = P(max, min) (row k of a lower
    /// triangle, or column k of its transpose). Two partial sums per lane. Every thread of the warp
    /// must call it.
    /// </summary>
    internal static T Dot<T>(ArrayView<T> t, int k, ArrayView<T> x, int xBase, int xStride, int qBegin, int qEnd, int lane, int lanes)
        where T : unmanaged, INumber<T>
    {
        T v0 = T.Zero, v1 = T.Zero;
        int q = qBegin + ((lane - qBegin % lanes + lanes) % lanes); // the first q ≡ lane
        for (; q + lanes < qEnd; q += 2 * lanes)
        {
            v0 += t[Packed(k, q)] * x[xBase + q * xStride];
            v1 += t[Packed(k, q + lanes)] * x[xBase + (q + lanes) * xStride];
        }
        if (q < qEnd) v0 += t[Packed(k, q)] * x[xBase + q * xStride];
        return Sum(v0 + v1, lanes);
    }

    /// <summary>
    /// The sum of v over the lanes, in every one of them: a butterfly, each step adding the value of
    /// the lane m apart. Every thread of the warp must call it (the shuffles name the whole warp).
    /// </summary>
    internal static T Sum<T>(T v, int lanes) where T : unmanaged, INumber<T>
    {
        for (int m = 1; m < lanes; m <<= 1)
            v += Warp.ShuffleXor(v, m);
        return v;
    }

    /// <summary>Index of element (i, q) of a packed lower triangle, either order: P(max, min).</summary>
    internal static int Packed(int i, int q) => i >= q ? i * (i + 1) / 2 + q : q * (q + 1) / 2 + i;
}
