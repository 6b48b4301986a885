using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of the leaf launch of a GPU TRTRI: the inverses of the diagonal leaves of every matrix's block.</summary>
internal struct TrtriLeafArgs
{
    public MatLayout T;   // the lower triangular block (order W): only its leaves' lower triangles are read
    public MatLayout X;   // [W, W] per matrix: receives the leaves' inverses and zeros right of them
    public int W;         // order of the block
    public int M;         // order of the leaves (the last may be shorter)
    public int BatchBase; // first batch element of this launch
}

/// <summary>
/// The GPU family's TRTRI of a lower triangular block of order W, X ← T⁻¹, in a few launches
/// with no chain of substitutions over the block: one launch inverts every diagonal leaf of
/// order M (<see cref="LeafKernel{T}"/>: one thread group per leaf, thread c computing column c
/// of the leaf's inverse by substitution, in shared memory, without barriers), then a doubling
/// over the levels s = M, 2M, 4M, …: for each pair of adjacent inverted blocks A⁻¹ (rows i0..,
/// order s) and C⁻¹ (the next c ≤ s rows), the block below A⁻¹ becomes
/// X21 = −C⁻¹·(T21·A⁻¹), two grouped GEMM launches per level (more when a level has more pairs
/// than a launch groups). A block of 512 in leaves of 64: one leaf launch and eight GEMM launches,
/// where a TRSM against I is a chain of eight substitution launches and seven GEMMs.
/// </summary>
internal static class TrtriGpu
{
    /// <summary>One grouped launch of the doubling: its pairs (first row, order of A, order of C) and which of the two products it runs.</summary>
    internal readonly record struct Launch((int I0, int S, int C)[] Pairs, bool Second);

    /// <summary>
    /// The doubling's GEMM launches for a block of order <paramref name="w"/> in leaves of
    /// <paramref name="m"/>, in order: per level the first products (T21·A⁻¹) of all pairs, then
    /// the second (−C⁻¹·(T21·A⁻¹)), at most <see cref="GemmGpu.MaxGroup"/> pairs per launch.
    /// </summary>
    internal static IEnumerable<Launch> Launches(int w, int m)
    {
        for (int s = m; s < w; s *= 2)
        {
            var pairs = new List<(int, int, int)>();
            for (int i0 = 0; i0 + s < w; i0 += 2 * s) pairs.Add((i0, s, Math.Min(s, w - i0 - s)));
            foreach (bool second in new[] { false, true })
                foreach (var chunk in pairs.Chunk(GemmGpu.MaxGroup))
                    yield return new Launch(chunk, second);
        }
    }

    /// <summary>The (M, N, K) shapes of a doubling launch's products.</summary>
    internal static (int M, int N, int K)[] Shapes(Launch launch) =>
        launch.Pairs.Select(p => launch.Second ? (p.C, p.S, p.C) : (p.C, p.S, p.S)).ToArray();

    /// <summary>
    /// X ← T⁻¹ for the lower triangle of <paramref name="t"/> (order W) of every matrix, X's strict
    /// upper triangle zero; <paramref name="scratch"/> [W, W] per matrix holds the T21·A⁻¹
    /// products. <paramref name="plans"/>: the GEMM policy's plans of <see cref="Launches"/>, in order.
    /// </summary>
    internal static void Invert<T>(Device device, MatRef<T> t, MatRef<T> x, MatRef<T> scratch, int m, IReadOnlyList<GemmPlan> plans)
        where T : unmanaged, INumber<T>
    {
        int w = t.Rows;
        var args = new TrtriLeafArgs { T = t.Layout, X = x.Layout, W = w, M = m };
        if (typeof(T) == typeof(double))
            LaunchLeaves(device, t.Data.Cast<double>(), x.Data.Cast<double>(), args, x.Batch);
        else
            LaunchLeaves(device, t.Data.Cast<float>(), x.Data.Cast<float>(), args, x.Batch);
        int i = 0;
        foreach (var launch in Launches(w, m))
        {
            var products = launch.Pairs.Select(p =>
            {
                var tmp = scratch.Block(p.I0 + p.S, p.I0, p.C, p.S);
                return launch.Second
                    ? new GemmProduct<T>(x.Block(p.I0 + p.S, p.I0 + p.S, p.C, p.C), false, tmp, false, x.Block(p.I0 + p.S, p.I0, p.C, p.S), -T.One, T.Zero)
                    : new GemmProduct<T>(t.Block(p.I0 + p.S, p.I0, p.C, p.S), false, x.Block(p.I0, p.I0, p.S, p.S), false, tmp, T.One, T.Zero);
            }).ToArray();
            Blas.GemmGrouped(device, products, plans[i++]);
        }
    }

    private static void LaunchLeaves<T>(Device device, ArrayView<T> t, ArrayView<T> x, TrtriLeafArgs args, int batch) where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(LeafKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, TrtriLeafArgs>(LeafKernel<T>));
        int leaves = (args.W + args.M - 1) / args.M;
        var shared = SharedMemoryConfig.RequestDynamic<T>(2 * PotrfGpu.Packed(args.M));
        for (int start = 0; start < batch; start += GpuLimits.MaxGridYZ)
        {
            args.BatchBase = start;
            var grid = new Index3D(leaves, 1, Math.Min(GpuLimits.MaxGridYZ, batch - start));
            kernel(new KernelConfig(grid, new Index3D(PotrfGpu.GroupSize(args.M), 1, 1), shared), t, x, args);
        }
    }

    /// <summary>The largest leaf one group inverts: two packed triangles in 48 KiB (77 in float64, 110 in float32).</summary>
    internal static int MaxLeaf(int elementSize) => PotrfGpu.MaxOrder(elementSize);

    /// <summary>
    /// Group (k, ·, b) inverts leaf k of matrix b: the leaf's lower triangle L into shared memory,
    /// then thread c computes column c of L⁻¹, x_c = 1/L[c, c] and
    /// x_i = −(Σ_{q=c}^{i−1} L[i, q]·x_q)/L[i, i] for i &gt; c (four partial sums), in a packed
    /// triangle of its own column's entries; the group writes the leaf's rows of X: the inverse,
    /// zeros above it and zeros right of the leaf (the doubling fills the blocks left of it).
    /// </summary>
    internal static void LeafKernel<T>(ArrayView<T> t, ArrayView<T> x, TrtriLeafArgs p) where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.GetDynamic<T>();
        int m0 = p.M, packed = m0 * (m0 + 1) / 2;
        var s = shared.SubView(0, packed);      // s[i(i+1)/2 + q] = L[i, q]
        var inv = shared.SubView(packed, packed); // inv[i(i+1)/2 + c] = L⁻¹[i, c]
        int k = Grid.IdxX, b = Grid.IdxZ + p.BatchBase, r = Group.IdxX, threads = Group.DimX;
        int i0 = k * m0, m = Math.Min(m0, p.W - i0);
        long t0 = p.T.Offset + b * p.T.BatchStride + (long)i0 * p.T.Ld + i0;
        PotrfGpu.LoadLowerPacked(t, t0, p.T.Ld, m, s, r, threads);
        Group.Barrier();
        if (r < m)
        {
            int c = r;
            inv[c * (c + 1) / 2 + c] = T.One / s[c * (c + 1) / 2 + c];
            for (int i = c + 1; i < m; i++)
            {
                int ri = i * (i + 1) / 2;
                T v0 = T.Zero, v1 = T.Zero, v2 = T.Zero, v3 = T.Zero;
                int q = c;
                for (; q + 4 <= i; q += 4)
                {
                    v0 += s[ri + q] * inv[q * (q + 1) / 2 + c];
                    v1 += s[ri + q + 1] * inv[(q + 1) * (q + 2) / 2 + c];
                    v2 += s[ri + q + 2] * inv[(q + 2) * (q + 3) / 2 + c];
                    v3 += s[ri + q + 3] * inv[(q + 3) * (q + 4) / 2 + c];
                }
                for (; q < i; q++)
                    v0 += s[ri + q] * inv[q * (q + 1) / 2 + c];
                inv[ri + c] = -((v0 + v1) + (v2 + v3)) / s[ri + i];
            }
        }
        Group.Barrier();
        // Rows i0..i0+m of X, columns i0..W: the leaf's inverse, zeros above it and right of it.
        int cols = p.W - i0;
        long x0 = p.X.Offset + b * p.X.BatchStride + (long)i0 * p.X.Ld + i0;
        for (int e = r; e < m * cols; e += threads)
        {
            int i = e / cols, j = e % cols;
            x[x0 + (long)i * p.X.Ld + j] = j <= i ? inv[i * (i + 1) / 2 + j] : T.Zero;
        }
    }
}
