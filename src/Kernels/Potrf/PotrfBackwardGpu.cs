using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// GPU-tuned unblocked reverse of the Cholesky factorization of one diagonal block, or of a whole
/// small matrix: one thread group per matrix (whole warps, one thread per row), the lower
/// triangles of L and Ā packed in dynamic shared memory (n(n+1)·sizeof(T) bytes). Two barriers per
/// row j, from the last row up: first every thread reads what step j needs — d̄ (each thread
/// computes the same dot product c̄·c, a broadcast read), thread q &lt; j the sum Σᵢ L[i, q]·c̄ᵢ
/// for r̄_q, thread i &gt; j its own c̄ᵢ — then each writes only its own elements: thread i &gt; j
/// its row (c̄ᵢ /= d and B̄m's row), thread q &lt; j the element r̄_q, thread j the pivot's d̄/2.
/// </summary>
/// <remarks>
/// The loops are not unrolled: their lengths change with j, and a block's work, O(n³), is small
/// next to the GEMM updates around it. Reads of a column by consecutive threads (r̄'s sums) hit
/// consecutive addresses; a thread walking its own packed row is strided against its neighbours,
/// which costs some bank conflicts in exchange for fitting n = 64 in fp64.
/// </remarks>
internal static class PotrfBackwardGpu
{
    internal static void Launch<T>(Device device, ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> w, PotrfBackwardArgs args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, PotrfBackwardArgs>(Kernel<T>));
        args.Lanes = PotrfGpu.Lanes(device, Math.Max(1, args.Lanes), args.N, "PotrfBackward");
        var group = new Index3D(PotrfGpu.GroupSize(args.N) * args.Lanes, 1, 1);
        args.BatchBase = 0;
        kernel(new KernelConfig(new Index3D(batch, 1, 1), group, SharedMemoryConfig.RequestDynamic<T>(2 * PotrfGpu.Packed(args.N))), l, lbar, w, args);
    }

    internal static void Kernel<T>(ArrayView<T> l, ArrayView<T> lbar, ArrayView<T> w, PotrfBackwardArgs p)
        where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int n = p.N, packed = n * (n + 1) / 2;
        var sl = shared.SubView(0, packed);      // sl[i(i+1)/2 + q] = L[i, q], q ≤ i
        var sa = shared.SubView(packed, packed); // sa[i(i+1)/2 + q] = Ā[i, q]
        int t = Group.IdxX, threads = Group.DimX, b = Grid.IdxX + p.BatchBase;
        long l0 = p.L.Offset + b * p.L.BatchStride, a0 = p.LBar.Offset + b * p.LBar.BatchStride;
        for (int e = t; e < n * n; e += threads)
        {
            int i = e / n, q = e % n;
            if (q > i) continue;
            sl[i * (i + 1) / 2 + q] = l[l0 + (long)i * p.L.Ld + q];
            sa[i * (i + 1) / 2 + q] = lbar[a0 + (long)i * p.LBar.Ld + q];
        }
        Group.Barrier();

        if (p.Lanes == 1) Reverse(sl, sa, n, t);
        else ReverseInLanes(sl, sa, n, t / p.Lanes, t % p.Lanes, p.Lanes);
        T two = T.One + T.One;

        for (int e = t; e < n * n; e += threads)
        {
            int i = e / n, q = e % n;
            int hi = Math.Max(i, q), lo = Math.Min(i, q);
            T v = sa[hi * (hi + 1) / 2 + lo]; // Ā[hi, lo]
            if (p.Symmetrize != 0)
                lbar[a0 + (long)i * p.LBar.Ld + q] = i == q ? v : v / two; // ½(Ā + Āᵀ)
            else if (q <= i)
                lbar[a0 + (long)i * p.LBar.Ld + q] = v;
            if (p.WriteSym != 0)
                w[p.W.Offset + b * p.W.BatchStride + (long)i * p.W.Ld + q] = i == q ? two * v : v; // Ā + Āᵀ
        }
    }

    /// <summary>
    /// The unblocked reverse on the packed triangles in shared memory: sa (L̄ on entry) becomes Ā.
    /// Thread t owns row t; the group has at least n threads. Ends with a barrier.
    /// </summary>
    internal static void Reverse<T>(ArrayView<T> sl, ArrayView<T> sa, int n, int t) where T : unmanaged, INumber<T>
    {
        int row = t * (t + 1) / 2; // this thread's row
        T two = T.One + T.One;
        for (int j = n - 1; j >= 0; j--)
        {
            int rj = j * (j + 1) / 2;
            T d = sl[rj + j];

            // Reads. c̄·c down column j (the same for every thread: broadcast reads), in two
            // partial sums, unrolled by hand (ILGPU 1.5.3 does not unroll): the chain is half as long.
            T s0 = T.Zero, s1 = T.Zero;
            int ij = (j + 1) * (j + 2) / 2 + j; // (i, j), stepping down column j
            int i2 = j + 1;
            for (; i2 + 2 <= n; i2 += 2)
            {
                int ij1 = ij + i2 + 1;
                s0 += sa[ij] * sl[ij];
                s1 += sa[ij1] * sl[ij1];
                ij = ij1 + i2 + 2;
            }
            if (i2 < n) s0 += sa[ij] * sl[ij];
            T s = s0 + s1;
            T dBar = (sa[rj + j] - s / d) / d;
            T own = T.Zero; // thread q < j: Σᵢ L[i, q]·c̄ᵢ (c̄ unscaled); thread i > j: its c̄ᵢ
            if (t < j)
            {
                int iq = (j + 1) * (j + 2) / 2 + t, ijj = iq - t + j;
                T o0 = T.Zero, o1 = T.Zero;
                int i = j + 1;
                for (; i + 2 <= n; i += 2)
                {
                    int iq1 = iq + i + 1, ijj1 = ijj + i + 1;
                    o0 += sl[iq] * sa[ijj];
                    o1 += sl[iq1] * sa[ijj1];
                    iq = iq1 + i + 2;
                    ijj = ijj1 + i + 2;
                }
                if (i < n) o0 += sl[iq] * sa[ijj];
                own = o0 + o1;
            }
            else if (t > j && t < n)
            {
                own = sa[row + j];
            }
            Group.Barrier();

            // Writes: each thread its own elements.
            if (t < j)
            {
                sa[rj + t] -= dBar * sl[rj + t] + own / d; // r̄ −= d̄·r + Bmᵀ·c̄
            }
            else if (t == j)
            {
                sa[rj + j] = dBar / two;
            }
            else if (t < n)
            {
                T cBar = own / d;
                sa[row + j] = cBar;
                int q = 0;
                for (; q + 4 <= j; q += 4) // B̄m −= c̄·r, independent updates unrolled by hand
                {
                    T r0 = sl[rj + q], r1 = sl[rj + q + 1], r2 = sl[rj + q + 2], r3 = sl[rj + q + 3];
                    T b0 = sa[row + q], b1 = sa[row + q + 1], b2 = sa[row + q + 2], b3 = sa[row + q + 3];
                    sa[row + q] = b0 - cBar * r0;
                    sa[row + q + 1] = b1 - cBar * r1;
                    sa[row + q + 2] = b2 - cBar * r2;
                    sa[row + q + 3] = b3 - cBar * r3;
                }
                for (; q < j; q++)
                    sa[row + q] -= cBar * sl[rj + q];
            }
            Group.Barrier();
        }

    }

    /// <summary>
    /// <see cref="Reverse{T}"/> with <paramref name="lanes"/> consecutive threads per row (2 or 4;
    /// the group has at least n·lanes threads): the two sums down column j are split between the
    /// lanes (i ≡ j + 1 + lane mod lanes) and added with butterfly shuffles, which every thread
    /// runs; the row updates are split by column; lane 0 writes the row's single elements. The
    /// same result as one thread per row up to the sums' rounding. Ends with a barrier.
    /// </summary>
    internal static void ReverseInLanes<T>(ArrayView<T> sl, ArrayView<T> sa, int n, int r, int lane, int lanes) where T : unmanaged, INumber<T>
    {
        int row = r * (r + 1) / 2; // this row's start
        int skew = lanes * (lanes + 1) / 2; // from (i, c) to (i + lanes, c): lanes·i + skew further
        T two = T.One + T.One;
        for (int j = n - 1; j >= 0; j--)
        {
            int rj = j * (j + 1) / 2;
            T d = sl[rj + j];

            // c̄·c down column j, this lane's rows, two partial sums; then the lanes' sums added.
            T s0 = T.Zero, s1 = T.Zero;
            int i2 = j + 1 + lane;
            int ij = i2 * (i2 + 1) / 2 + j;
            for (; i2 + lanes < n; i2 += 2 * lanes)
            {
                int ij1 = ij + lanes * i2 + skew;
                s0 += sa[ij] * sl[ij];
                s1 += sa[ij1] * sl[ij1];
                ij = ij1 + lanes * (i2 + lanes) + skew;
            }
            if (i2 < n) s0 += sa[ij] * sl[ij];
            T s = RowLanes.Sum(s0 + s1, lanes);
            T dBar = (sa[rj + j] - s / d) / d;

            // Row r < j: Σᵢ L[i, r]·c̄ᵢ over i > j, split the same way (every thread takes part in the shuffles).
            T o0 = T.Zero, o1 = T.Zero;
            if (r < j)
            {
                int i = j + 1 + lane;
                int iq = i * (i + 1) / 2 + r, ijj = iq - r + j;
                for (; i + lanes < n; i += 2 * lanes)
                {
                    int iq1 = iq + lanes * i + skew, ijj1 = ijj + lanes * i + skew;
                    o0 += sl[iq] * sa[ijj];
                    o1 += sl[iq1] * sa[ijj1];
                    iq = iq1 + lanes * (i + lanes) + skew;
                    ijj = ijj1 + lanes * (i + lanes) + skew;
                }
                if (i < n) o0 += sl[iq] * sa[ijj];
            }
            T own = RowLanes.Sum(o0 + o1, lanes);
            if (r > j && r < n) own = sa[row + j]; // its c̄ᵢ
            Group.Barrier();

            if (r < j)
            {
                if (lane == 0) sa[rj + r] -= dBar * sl[rj + r] + own / d; // r̄ −= d̄·r + Bmᵀ·c̄
            }
            else if (r == j)
            {
                if (lane == 0) sa[rj + j] = dBar / two;
            }
            else if (r < n)
            {
                T cBar = own / d;
                if (lane == 0) sa[row + j] = cBar;
                for (int q = lane; q < j; q += lanes) // B̄m −= c̄·r, this lane's columns
                    sa[row + q] -= cBar * sl[rj + q];
            }
            Group.Barrier();
        }
    }

    internal static void LaunchSymmetrize<T>(Device device, MatRef<T> a) where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(SymmetrizeKernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, MatLayout, LaunchSegment>(SymmetrizeKernel<T>));
        foreach (var segment in Launches.Plan(a.Batch, a.Rows, a.Rows, device.MaxLaunchItems)) // one thread per element
            kernel((int)segment.Items, a.Data, a.Layout, segment);
    }

    /// <summary>One element (i, q) with q &lt; i: A[i, q] = A[q, i] = A[i, q] / 2; other threads do nothing.</summary>
    internal static void SymmetrizeKernel<T>(Index1D e, ArrayView<T> a, MatLayout layout, LaunchSegment s) where T : unmanaged, INumber<T>
    {
        int q = s.Col(e), i = s.Row(e), b = s.Batch(e);
        if (q >= i) return;
        long lower = layout.At(b, i, q);
        T v = a[lower] / (T.One + T.One);
        a[lower] = v;
        a[layout.At(b, q, i)] = v;
    }
}
