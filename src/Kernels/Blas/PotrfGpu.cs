using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// GPU-tuned unblocked Cholesky of one diagonal block: one 32-thread group per matrix, the block's
/// lower triangle staged in shared memory, thread r owning row r. Right-looking, one barrier per
/// column: step j updates the trailing triangle with column j still unscaled,
/// A[r, c] −= A[r, j]·A[c, j] / d (d the pivot, j &lt; c ≤ r), and scales column j − 1 below its
/// pivot — a column no one reads in step j. Every thread reads the same pivot after the barrier,
/// so a failure ends the loop in the whole group at once.
/// </summary>
internal static class PotrfGpu
{
    /// <summary>
    /// Order of the diagonal blocks (the GPU TRSM's too). The unblocked factorization is a chain of
    /// NB barrier-separated steps, so NB bounds its latency; with 32 one warp owns one row each,
    /// and the trailing GEMM updates (64×64 tiles, K = NB) do almost all the flops.
    /// </summary>
    internal const int BlockSize = 32;

    private const int Threads = BlockSize;    // one row per thread
    private const int Stride = BlockSize + 1; // padded rows: threads walking their rows hit distinct banks

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<int> info, PotrfArgs args, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<int>, PotrfArgs>(Kernel<T>));
        args.BatchBase = 0;
        kernel(new KernelConfig(new Index3D(batch, 1, 1), new Index3D(Threads, 1, 1)), a, info, args);
    }

    internal static void Kernel<T>(ArrayView<T> a, ArrayView<int> info, PotrfArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var s = SharedMemory.Allocate<T>(BlockSize * Stride); // s[r·Stride + c] = A[r, c], c ≤ r
        int r = Group.IdxX, b = Grid.IdxX + p.BatchBase, n = p.N;
        if (info[b] != 0) return; // failed in an earlier block (uniform over the group): keep the first failure
        long a0 = p.A.Offset + b * p.A.BatchStride;
        for (int e = r; e < n * n; e += Threads)
        {
            int i = e / n, c = e % n;
            if (c <= i) s[i * Stride + c] = a[a0 + (long)i * p.A.Ld + c];
        }
        Group.Barrier();

        int row = r * Stride;
        bool failed = false;
        T lPrev = T.One; // L[j−1, j−1]
        for (int j = 0; j < n; j++)
        {
            T d = s[j * Stride + j];
            if (j > 0 && r >= j - 1 && r < n)
                s[row + j - 1] = r == j - 1 ? lPrev : s[row + j - 1] / lPrev;
            if (!(d > T.Zero) || !T.IsFinite(d))
            {
                if (r == 0) info[b] = p.Offset + j + 1;
                failed = true;
                break;
            }
            lPrev = T.Sqrt(d);
            if (r > j && r < n)
            {
                T t = s[row + j] / d;
                for (int c = j + 1; c <= r; c++)
                    s[row + c] -= t * s[c * Stride + j];
            }
            Group.Barrier();
        }
        if (!failed && r == n - 1)
            s[row + r] = lPrev; // the last column has nothing below its pivot
        Group.Barrier();

        for (int e = r; e < n * n; e += Threads)
        {
            int i = e / n, c = e % n;
            if (c <= i) a[a0 + (long)i * p.A.Ld + c] = s[i * Stride + c];
        }
    }
}
