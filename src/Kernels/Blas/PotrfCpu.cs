using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned unblocked Cholesky of one diagonal block: one simulated thread per matrix, no
/// barriers, through pointers. Row-oriented (Cholesky–Crout): column j of L is
/// L[j, j] = √(A[j, j] − Σₚ L[j, p]²), L[r, j] = (A[r, j] − Σₚ L[r, p]·L[j, p]) / L[j, j] over p &lt; j,
/// so every sum is a dot product of two contiguous row segments, and only the lower triangle is
/// touched — except for a whole matrix, whose strict upper triangle is cleared after a success.
/// </summary>
internal static class PotrfCpu
{
    /// <summary>
    /// Order of the diagonal blocks: the CPU GEMM's 64×64 tiles and the CPU TRSM's blocks, so the
    /// panel solve is one unblocked TRSM and the trailing update is whole tiles. The unblocked
    /// factorization is serial per matrix, but only (NB/n)² of the flops: under 2% for n ≥ 512.
    /// </summary>
    internal const int BlockSize = 64;

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<int> info, PotrfArgs args, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, PotrfArgs>(Kernel<T>));
        args.BatchBase = 0;
        kernel(batch, a, info, args);
    }

    private static unsafe void Kernel<T>(Index1D b, ArrayView<T> a, ArrayView<int> info, PotrfArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        if (p.Whole == 0 && info[b] != 0) return; // failed in an earlier block: keep the first failure
        fixed (T* a0 = &a[0L])
        {
            T* m = a0 + p.A.Offset + b * p.A.BatchStride;
            long ld = p.A.Ld;
            for (int j = 0; j < p.N; j++)
            {
                T* rj = m + j * ld;
                T d = rj[j];
                for (int q = 0; q < j; q++) d -= rj[q] * rj[q];
                if (!(d > T.Zero) || !T.IsFinite(d))
                {
                    info[b] = p.Offset + j + 1;
                    return;
                }
                T ljj = T.Sqrt(d);
                rj[j] = ljj;
                for (int r = j + 1; r < p.N; r++)
                {
                    T* rr = m + r * ld;
                    T s = rr[j];
                    for (int q = 0; q < j; q++) s -= rr[q] * rj[q];
                    rr[j] = s / ljj;
                }
            }
            if (p.Whole == 0) return;
            info[b] = 0;
            for (int r = 0; r < p.N; r++)
            {
                T* rr = m + r * ld;
                for (int c = r + 1; c < p.N; c++) rr[c] = T.Zero;
            }
        }
    }
}
