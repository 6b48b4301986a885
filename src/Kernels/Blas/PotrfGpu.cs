using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// GPU-tuned unblocked Cholesky of one diagonal block, or of a whole small matrix: one thread
/// group per matrix, thread r owning row r (groups of whole warps), the block's lower triangle
/// packed in dynamic shared memory. Right-looking, one barrier per column: step j updates the
/// trailing triangle with column j still unscaled, A[r, c] −= A[r, j]·A[c, j] / d (d the pivot,
/// j &lt; c ≤ r), and scales column j − 1 below its pivot — a column no one reads in step j. Every
/// thread reads the same pivot after the barrier, so a failure ends the loop in the whole group
/// at once.
/// </summary>
internal static class PotrfGpu
{
    /// <summary>
    /// Order of the diagonal blocks of a blocked factorization of order up to 512 (the GPU TRSM's
    /// too). The unblocked factorization is a chain of NB barrier-separated steps, so NB bounds its
    /// latency; with 32 one warp owns one row each, and the trailing GEMM updates (64×64 tiles,
    /// K = NB) do almost all the flops.
    /// </summary>
    internal const int BlockSize = 32;

    /// <summary>
    /// Order of the diagonal blocks beyond 512: half as many blocks (each costs a fused
    /// factor-and-panel launch and a GEMM launch, <see cref="PotrfPanelGpu"/>) and trailing updates with K = 64, which reuse every staged tile of C
    /// twice as long; the serial chain of the diagonal factorizations is n steps either way.
    /// </summary>
    internal const int LargeBlockSize = 64;

    /// <summary>Orders above this use <see cref="LargeBlockSize"/>.</summary>
    internal const int LargeFrom = 512;

    /// <summary>
    /// Shared memory one group may use: the 48 KiB every CUDA device grants without opting in.
    /// The backward kernel (<see cref="PotrfBackwardGpu"/>) keeps two packed triangles,
    /// n(n+1)·sizeof(T) bytes, so one group handles n ≤ 77 in fp64 and n ≤ 110 in fp32.
    /// </summary>
    internal const int SharedBytes = 48 * 1024;

    /// <summary>The largest order one group factors (or differentiates) in shared memory.</summary>
    internal static int MaxOrder(int elementSize)
    {
        int n = (int)Math.Sqrt(SharedBytes / elementSize);
        while (n * (n + 1) * elementSize > SharedBytes) n--;
        return n;
    }

    /// <summary>Threads of a group for a block of order n: one per row, whole warps.</summary>
    internal static int GroupSize(int n) => Math.Max(32, (n + 31) / 32 * 32);

    /// <summary>Elements of a packed lower triangle of order n.</summary>
    internal static int Packed(int n) => n * (n + 1) / 2;

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<int> info, PotrfArgs args, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<int>, PotrfArgs>(Kernel<T>));
        var group = new Index3D(GroupSize(args.N), 1, 1);
        args.BatchBase = 0;
        kernel(new KernelConfig(new Index3D(batch, 1, 1), group, SharedMemoryConfig.RequestDynamic<T>(Packed(args.N))), a, info, args);
    }

    internal static void Kernel<T>(ArrayView<T> a, ArrayView<int> info, PotrfArgs p)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var s = SharedMemory.GetDynamic<T>(); // s[i(i+1)/2 + c] = A[i, c], c ≤ i
        int r = Group.IdxX, threads = Group.DimX, b = Grid.IdxX + p.BatchBase, n = p.N;
        if (p.Whole == 0 && info[b] != 0) return; // failed in an earlier block (uniform over the group): keep the first failure
        long a0 = p.A.Offset + b * p.A.BatchStride;
        for (int e = r; e < n * n; e += threads)
        {
            int i = e / n, c = e % n;
            if (c <= i) s[i * (i + 1) / 2 + c] = a[a0 + (long)i * p.A.Ld + c];
        }
        Group.Barrier();

        int row = r * (r + 1) / 2;
        bool failed = false;
        T lPrev = T.One; // L[j−1, j−1]
        for (int j = 0; j < n; j++)
        {
            T d = s[j * (j + 1) / 2 + j];
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
                int cj = (j + 1) * (j + 2) / 2 + j; // A[c, j], stepping down column j
                for (int c = j + 1; c <= r; c++)
                {
                    s[row + c] -= t * s[cj];
                    cj += c + 1;
                }
            }
            Group.Barrier();
        }
        if (!failed && r == n - 1)
            s[row + r] = lPrev; // the last column has nothing below its pivot
        if (!failed && r == 0 && p.Whole != 0)
            info[b] = 0;
        Group.Barrier();

        bool clearUpper = !failed && p.Whole != 0;
        for (int e = r; e < n * n; e += threads)
        {
            int i = e / n, c = e % n;
            if (c <= i) a[a0 + (long)i * p.A.Ld + c] = s[i * (i + 1) / 2 + c];
            else if (clearUpper) a[a0 + (long)i * p.A.Ld + c] = T.Zero;
        }
    }
}
