using System.Runtime.CompilerServices;
using System.Numerics;
using ILGPU;
using ILGPU.Frontend;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned unblocked Cholesky of one diagonal block: one simulated thread per matrix, no
/// barriers, through pointers. Row-oriented (Cholesky–Crout): column j of L is
/// L[j, j] = √(A[j, j] − Σₚ L[j, p]²), L[r, j] = (A[r, j] − Σₚ L[r, p]·L[j, p]) / L[j, j] over p &lt; j,
/// so every sum is a dot product of two contiguous row segments (SIMD), and only the lower triangle
/// is touched — except for a whole matrix, whose strict upper triangle is cleared after a success.
/// </summary>
internal static class PotrfCpu
{
    /// <summary>
    /// Order of the diagonal blocks: the CPU GEMM's 64×64 tiles and the CPU TRSM's blocks, so the
    /// panel solve is one unblocked TRSM and the trailing update is whole tiles. The unblocked
    /// factorization is serial per matrix, but only (NB/n)² of the flops: under 2% for n ≥ 512.
    /// </summary>
    internal const int BlockSize = 64;

    /// <summary>
    /// Matrices up to this order are factored (and differentiated) whole, one thread each, by
    /// default. A blocked forward and backward launch about nine kernels per block, and each launch
    /// wakes the accelerator's threads; below n ≈ 512 that costs more than the parallel SIMD GEMMs
    /// save, and batches of small matrices are as fast or faster whole. Chosen by timing each
    /// algorithm forced (suite cpu-policy; the run is bench/results/2026-11-26-cpu-policy.md).
    /// </summary>
    internal const int WholeUpTo = 512;

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<int> info, PotrfArgs args, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<int>, PotrfArgs>(Kernel<T>));
        args.BatchBase = 0;
        kernel(batch, a, info, args);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel<T>(Index1D b, ArrayView<T> a, ArrayView<int> info, PotrfArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        if (p.Whole == 0 && info[b] != 0) return; // failed in an earlier block: keep the first failure
        int failure;
        fixed (T* a0 = &a[0L])
            failure = Factor(a0 + p.A.Offset + b * p.A.BatchStride, p.A.Ld, p.N, p.Whole != 0);
        if (failure >= 0) info[b] = p.Offset + failure + 1;
        else if (p.Whole != 0) info[b] = 0;
    }

    /// <summary>
    /// Factors one block in place; returns the local column of the first pivot that is not
    /// positive (or finite), or −1. The dot products are SIMD; opaque to ILGPU's IR ([External];
    /// see <see cref="CpuSimd"/>).
    /// </summary>
    [External("gpuad_potrf_cpu")]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int Factor<T>(T* m, long ld, int n, bool clearUpper)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        for (int j = 0; j < n; j++)
        {
            T* rj = m + j * ld;
            T d = rj[j] - CpuSimd.Dot(rj, rj, j);
            if (!(d > T.Zero) || !T.IsFinite(d)) return j;
            T ljj = T.Sqrt(d);
            rj[j] = ljj;
            for (int r = j + 1; r < n; r++)
            {
                T* rr = m + r * ld;
                rr[j] = (rr[j] - CpuSimd.Dot(rr, rj, j)) / ljj;
            }
        }
        if (clearUpper)
        {
            for (int r = 0; r < n; r++)
            {
                T* rr = m + r * ld;
                for (int c = r + 1; c < n; c++) rr[c] = T.Zero;
            }
        }
        return -1;
    }
}
