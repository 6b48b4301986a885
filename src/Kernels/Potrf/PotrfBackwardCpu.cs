using System.Runtime.CompilerServices;
using System.Numerics;
using ILGPU;
using ILGPU.Frontend;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned unblocked reverse of the Cholesky factorization of one diagonal block (or of a whole
/// matrix): one simulated thread per matrix, no barriers, through pointers. Row j's step touches
/// row j and, for every row i below it, a contiguous segment of row i of L and of Ā, so the work
/// runs along rows: r̄ −= c̄ᵢ·L[i, :j] and Ā[i, :j] −= c̄ᵢ·r in one SIMD pass over row i.
/// </summary>
internal static class PotrfBackwardCpu
{
    internal static void Launch<T>(Device device, ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> w, PotrfBackwardArgs args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, PotrfBackwardArgs>(Kernel<T>));
        args.BatchBase = 0;
        kernel(batch, l, lbar, w, args);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel<T>(Index1D b, ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> w, PotrfBackwardArgs p)
        where T : unmanaged, INumber<T>
    {
        fixed (T* l0 = &l[0L])
        fixed (T* a0 = &lbar[0L])
        {
            T* lm = l0 + p.L.Offset + b * p.L.BatchStride;
            T* am = a0 + p.LBar.Offset + b * p.LBar.BatchStride;
            Reverse(lm, p.L.Ld, am, p.LBar.Ld, p.N);
            if (p.Symmetrize != 0)
                MirrorHalf(am, p.LBar.Ld, 0, p.N);
            if (p.WriteSym == 0) return;
        }
        fixed (T* w0 = &w[0L])
        fixed (T* a0 = &lbar[0L])
        {
            T* wm = w0 + p.W.Offset + b * p.W.BatchStride;
            T* am = a0 + p.LBar.Offset + b * p.LBar.BatchStride;
            long ldw = p.W.Ld, lda = p.LBar.Ld;
            T two = T.One + T.One;
            for (int i = 0; i < p.N; i++)
            {
                T* wi = wm + i * ldw;
                T* ai = am + i * lda;
                for (int q = 0; q < i; q++) wi[q] = ai[q];
                wi[i] = two * ai[i];
                for (int q = i + 1; q < p.N; q++) wi[q] = am[q * lda + i];
            }
        }
    }

    /// <summary>
    /// The unblocked reverse of one block in place (L̄ → Ā), row j from the last up. The row
    /// updates are SIMD; opaque to ILGPU's IR ([External]; see <see cref="CpuSimd"/>).
    /// </summary>
    [External("gpuad_potrf_backward_cpu")]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Reverse<T>(T* lm, long ldl, T* am, long lda, int n) where T : unmanaged, INumber<T>
    {
        T two = T.One + T.One;
        for (int j = n - 1; j >= 0; j--)
        {
            T* lj = lm + j * ldl; // r = lj[0..j), d = lj[j]
            T* aj = am + j * lda; // r̄, d̄
            T d = lj[j];
            T s = T.Zero;         // c̄·c down column j
            for (int i = j + 1; i < n; i++) s += am[i * lda + j] * lm[i * ldl + j];
            T dBar = (aj[j] - s / d) / d;
            CpuSimd.Axpy(aj, lj, -dBar, j); // r̄ −= d̄·r
            for (int i = j + 1; i < n; i++)
            {
                T* ai = am + i * lda;
                T cBar = ai[j] / d;
                ai[j] = cBar;
                CpuSimd.Axpy2(aj, lm + i * ldl, -cBar, ai, lj, -cBar, j); // r̄ −= c̄ᵢ·Bm[i]; B̄m[i] −= c̄ᵢ·r
            }
            aj[j] = dBar / two;
        }
    }

    /// <summary>Rows per thread of the symmetrizing pass.</summary>
    private const int SymmetrizeRows = 32;

    internal static void LaunchSymmetrize<T>(Device device, MatRef<T> a) where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(SymmetrizeKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, MatLayout, int>(SymmetrizeKernel<T>));
        int chunks = (a.Rows + SymmetrizeRows - 1) / SymmetrizeRows;
        long tasks = (long)a.Batch * chunks;
        if (tasks > int.MaxValue) throw new ArgumentException($"PotrfBackward: {tasks} blocks exceed one launch.");
        kernel((int)tasks, a.Data, a.Layout, a.Rows);
    }

    /// <summary>Rows i0..i0+31 of one matrix: A[i, q] = A[q, i] = A[i, q] / 2 for q &lt; i.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void SymmetrizeKernel<T>(Index1D task, ArrayView<T> a, MatLayout layout, int n)
        where T : unmanaged, INumber<T>
    {
        int chunks = (n + SymmetrizeRows - 1) / SymmetrizeRows;
        int b = task / chunks, i0 = task % chunks * SymmetrizeRows;
        fixed (T* a0 = &a[0L])
            MirrorHalf(a0 + layout.Offset + b * layout.BatchStride, layout.Ld, i0, Math.Min(n, i0 + SymmetrizeRows));
    }

    /// <summary>For rows i0..i1−1 of a matrix: halves the strict lower triangle and mirrors it above the diagonal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MirrorHalf<T>(T* m, long ld, int i0, int i1) where T : unmanaged, INumber<T>
    {
        T two = T.One + T.One;
        for (int i = i0; i < i1; i++)
        {
            T* ai = m + i * ld;
            for (int q = 0; q < i; q++)
            {
                T v = ai[q] / two;
                ai[q] = v;
                m[q * ld + i] = v;
            }
        }
    }
}
