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
    /// Shared memory one group may use (<see cref="GpuLimits.SharedBytes"/>). The backward kernel
    /// (<see cref="PotrfBackwardGpu"/>) keeps two packed triangles, n(n+1)·sizeof(T) bytes, so one
    /// group handles n ≤ 77 in fp64 and n ≤ 110 in fp32.
    /// </summary>
    internal const int SharedBytes = GpuLimits.SharedBytes;

    /// <summary>The largest order one group factors (or differentiates) in shared memory.</summary>
    internal static int MaxOrder(int elementSize)
    {
        int n = (int)Math.Sqrt(SharedBytes / elementSize);
        while (n * (n + 1) * elementSize > SharedBytes) n--;
        return n;
    }

    /// <summary>Threads of a group for a block of order n: one per row, whole warps.</summary>
    internal static int GroupSize(int n) => Math.Max(32, (n + 31) / 32 * 32);

    /// <summary>
    /// Threads per row for a block of order n: the requested 1, 2 or 4, halved while the group
    /// (<see cref="GroupSize"/> · lanes threads) would exceed the device's largest group (1,024 on
    /// CUDA, 256 on the emulated GPU), or <paramref name="groupSize"/> when the launch has groups of
    /// that size (the look-ahead launch's, shared with GEMM tiles).
    /// </summary>
    /// <exception cref="ArgumentException">The request is not 1, 2 or 4.</exception>
    internal static int Lanes(Device device, int requested, int n, string op, int groupSize = int.MaxValue)
    {
        if (requested is not (1 or 2 or 4)) throw new ArgumentException($"{op}: {requested} threads per row; 1, 2 or 4.");
        int largest = Math.Min(groupSize, device.MaxGroupSize);
        while (requested > 1 && GroupSize(n) * requested > largest) requested /= 2;
        return requested;
    }

    /// <summary>Elements of a packed lower triangle of order n.</summary>
    internal static int Packed(int n) => n * (n + 1) / 2;

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<int> info, PotrfArgs args, int batch)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<int>, PotrfArgs>(Kernel<T>));
        args.Lanes = Lanes(device, Math.Max(1, args.Lanes), args.N, "Potrf");
        var group = new Index3D(GroupSize(args.N) * args.Lanes, 1, 1);
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
        LoadLowerPacked(a, a0, p.A.Ld, n, s, r, threads);
        Group.Barrier();

        int failedColumn = Factor(s, n, r / p.Lanes, r % p.Lanes, p.Lanes);
        bool failed = failedColumn >= 0;
        if (failed && r == 0) info[b] = p.Offset + failedColumn + 1;
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

    /// <summary>
    /// Copies the lower triangle of the n×n block at a0 (leading dimension ld) into the packed
    /// triangle s[i(i+1)/2 + c]; the group's threads share the elements, four loads in flight per
    /// thread (unrolled by hand: ILGPU 1.5.3 does not unroll, and one load per iteration waits a
    /// whole memory latency each time).
    /// </summary>
    internal static void LoadLowerPacked<T>(ArrayView<T> a, long a0, int ld, int n, ArrayView<T> s, int r, int threads) where T : unmanaged
    {
        int count = n * n;
        for (int e = r; e < count; e += 4 * threads)
        {
            int e1 = e + threads, e2 = e1 + threads, e3 = e2 + threads;
            int y0 = e / n, z0 = e % n, y1 = e1 / n, z1 = e1 % n, y2 = e2 / n, z2 = e2 % n, y3 = e3 / n, z3 = e3 % n;
            bool k0 = z0 <= y0, k1 = e1 < count && z1 <= y1, k2 = e2 < count && z2 <= y2, k3 = e3 < count && z3 <= y3;
            T x0 = k0 ? a[a0 + (long)y0 * ld + z0] : default;
            T x1 = k1 ? a[a0 + (long)y1 * ld + z1] : default;
            T x2 = k2 ? a[a0 + (long)y2 * ld + z2] : default;
            T x3 = k3 ? a[a0 + (long)y3 * ld + z3] : default;
            if (k0) s[y0 * (y0 + 1) / 2 + z0] = x0;
            if (k1) s[y1 * (y1 + 1) / 2 + z1] = x1;
            if (k2) s[y2 * (y2 + 1) / 2 + z2] = x2;
            if (k3) s[y3 * (y3 + 1) / 2 + z3] = x3;
        }
    }

    /// <summary>
    /// Copies the lower triangle of an m×m block from src (at s0, leading dimension sld) to dst (at
    /// d0, leading dimension dld), four loads in flight per thread (unrolled by hand).
    /// </summary>
    internal static void CopyLower<T>(ArrayView<T> src, long s0, int sld, ArrayView<T> dst, long d0, int dld, int m, int r, int threads) where T : unmanaged
    {
        int count = m * m;
        for (int e = r; e < count; e += 4 * threads)
        {
            int e1 = e + threads, e2 = e1 + threads, e3 = e2 + threads;
            bool k0 = e % m <= e / m, k1 = e1 < count && e1 % m <= e1 / m;
            bool k2 = e2 < count && e2 % m <= e2 / m, k3 = e3 < count && e3 % m <= e3 / m;
            T x0 = k0 ? src[s0 + (long)(e / m) * sld + e % m] : default;
            T x1 = k1 ? src[s0 + (long)(e1 / m) * sld + e1 % m] : default;
            T x2 = k2 ? src[s0 + (long)(e2 / m) * sld + e2 % m] : default;
            T x3 = k3 ? src[s0 + (long)(e3 / m) * sld + e3 % m] : default;
            if (k0) dst[d0 + (long)(e / m) * dld + e % m] = x0;
            if (k1) dst[d0 + (long)(e1 / m) * dld + e1 % m] = x1;
            if (k2) dst[d0 + (long)(e2 / m) * dld + e2 % m] = x2;
            if (k3) dst[d0 + (long)(e3 / m) * dld + e3 % m] = x3;
        }
    }

    /// <summary>
    /// Factors the packed lower triangle s (order n) in place, right-looking, thread r owning row r:
    /// per column j the pivot's root, the scaling of column j − 1 (deferred one step), and the
    /// rank-1 update of the thread's row, four independent updates per iteration (unrolled by
    /// hand). Returns the first column whose pivot is not positive and finite (uniform over the
    /// group: every thread reads the same pivot), or −1; the group's barriers are all passed or
    /// none after a failure.
    /// </summary>
    internal static int Factor<T>(ArrayView<T> s, int n, int r) where T : unmanaged, INumber<T>, IRootFunctions<T> =>
        Factor(s, n, r, 0, 1);

    /// <summary>
    /// <see cref="Factor{T}(ArrayView{T}, int, int)"/> with <paramref name="lanes"/> threads per row
    /// (1, 2 or 4; the row's threads consecutive): lane l of row r updates the row's columns
    /// j + 1 + l, j + 1 + l + lanes, …, so a row's update takes 1/lanes of the time; lane 0 scales.
    /// Each element is computed as with one lane (the same operations in the same order), so the
    /// factor is bitwise the same.
    /// </summary>
    internal static int Factor<T>(ArrayView<T> s, int n, int r, int l, int lanes) where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        int row = r * (r + 1) / 2;
        T lPrev = T.One; // L[j−1, j−1]
        for (int j = 0; j < n; j++)
        {
            T d = s[j * (j + 1) / 2 + j];
            if (l == 0 && j > 0 && r >= j - 1 && r < n)
                s[row + j - 1] = r == j - 1 ? lPrev : s[row + j - 1] / lPrev;
            if (!(d > T.Zero) || !T.IsFinite(d))
                return j;
            lPrev = T.Sqrt(d);
            if (r > j && r < n)
            {
                T t = s[row + j] / d;
                int c = j + 1 + l;
                int cj = c * (c + 1) / 2 + j; // A[c, j], stepping down column j
                // From row c to row c + lanes of column j: lanes·c + lanes(lanes + 1)/2 further.
                int skew = lanes * (lanes + 1) / 2;
                for (; c + 3 * lanes <= r; c += 4 * lanes)
                {
                    int c1 = c + lanes, c2 = c1 + lanes, c3 = c2 + lanes;
                    int cj1 = cj + lanes * c + skew, cj2 = cj1 + lanes * c1 + skew, cj3 = cj2 + lanes * c2 + skew;
                    T l0 = s[cj], l1 = s[cj1], l2 = s[cj2], l3 = s[cj3];
                    T x0 = s[row + c], x1 = s[row + c1], x2 = s[row + c2], x3 = s[row + c3];
                    s[row + c] = x0 - t * l0;
                    s[row + c1] = x1 - t * l1;
                    s[row + c2] = x2 - t * l2;
                    s[row + c3] = x3 - t * l3;
                    cj = cj3 + lanes * c3 + skew;
                }
                for (; c <= r; c += lanes)
                {
                    s[row + c] -= t * s[cj];
                    cj += lanes * c + skew;
                }
            }
            Group.Barrier();
        }
        if (l == 0 && r == n - 1)
            s[row + r] = lPrev; // the last column has nothing below its pivot
        return -1;
    }
}
