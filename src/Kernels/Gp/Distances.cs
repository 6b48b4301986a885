using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of a pairwise-distance launch.</summary>
internal struct DistanceArgs
{
    public MatLayout X1, X2, W, A, B, C, Out;
    public int N, M, D;

    /// <summary>Columns of W: 0 (no scaling, w = 1), 1 (one scale for every dimension) or D.</summary>
    public int WCols;

    /// <summary>Which tangents or cotangent operands are present (JVP) or how G is read (VJP).</summary>
    public int UseA, UseB, UseC, TransposeG;
}

/// <summary>
/// Pairwise scaled squared distances between two batches of point sets and their derivatives:
/// <c>D(b, i, j) = Σₖ (wₖ·(x₁(b, i, k) − x₂(b, j, k)))²</c>, X₁ [batch, n, d], X₂ [batch, m, d],
/// w [batch or 1, 1, 1 or d] (inverse lengthscales; absent means 1). Each difference is formed
/// before it is squared, so points far from the origin (calendar years, say) lose no digits to
/// the cancellation of ‖x‖² + ‖y‖² − 2xᵀy. No [n, m, d] temporary is formed. GPU family: one
/// thread per output element; CPU family: one thread per row of the output. Fixed summation
/// order (bitwise reproducible).
/// </summary>
internal static class Distances
{
    private static DistanceArgs Args<T>(MatRef<T> x1, MatRef<T> x2, MatRef<T>? w) where T : unmanaged =>
        new()
        {
            X1 = x1.Layout, X2 = x2.Layout, W = (w ?? x1).Layout,
            N = x1.Rows, M = x2.Rows, D = x1.Cols, WCols = w?.Cols ?? 0,
        };

    private static void Check<T>(string op, MatRef<T> x1, MatRef<T> x2, MatRef<T>? w, int batch) where T : unmanaged
    {
        if (x1.Cols != x2.Cols)
            throw new ArgumentException($"{op}: X₁ is [{x1.Rows}, {x1.Cols}] and X₂ is [{x2.Rows}, {x2.Cols}]: the dimensions differ.");
        if (w is { } s && (s.Rows != 1 || (s.Cols != 1 && s.Cols != x1.Cols)))
            throw new ArgumentException($"{op}: w is [{s.Rows}, {s.Cols}] but must be [1, 1] or [1, {x1.Cols}].");
        Blas.CheckBatch(op, x1.Batch, x1.BatchStride, batch);
        Blas.CheckBatch(op, x2.Batch, x2.BatchStride, batch);
        if (w is { } v) Blas.CheckBatch(op, v.Batch, v.BatchStride, batch);
    }

    private static int Count(Device device, int batch, int rows, int cols, string op)
    {
        long count = (long)batch * rows * (device.Family == KernelFamily.GpuTuned ? cols : 1);
        if (count > int.MaxValue) throw new ArgumentException($"{op}: {count} threads exceed one launch.");
        return (int)count;
    }

    /// <summary><c>out(b, i, j) = Σₖ (wₖ·(x₁ᵢₖ − x₂ⱼₖ))²</c>, out [batch, n, m].</summary>
    /// <exception cref="ArgumentException">The shapes or batches do not agree.</exception>
    public static void Squared<T>(Device device, MatRef<T> x1, MatRef<T> x2, MatRef<T>? w, MatRef<T> output) where T : unmanaged, INumber<T>
    {
        Check("SquaredDistances", x1, x2, w, output.Batch);
        if (output.Rows != x1.Rows || output.Cols != x2.Rows)
            throw new ArgumentException($"SquaredDistances: the output is [{output.Rows}, {output.Cols}] but must be [{x1.Rows}, {x2.Rows}].");
        int count = Count(device, output.Batch, output.Rows, output.Cols, "SquaredDistances");
        if (count == 0 || output.Cols == 0) return;
        var args = Args(x1, x2, w);
        args.Out = output.Layout;
        var wv = (w ?? x1).Data;
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned)
            device.Kernel(ForwardGpu<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs>(ForwardGpu<T>))(count, x1.Data, x2.Data, wv, output.Data, args);
        else
            device.Kernel(ForwardCpu<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs>(ForwardCpu<T>))(count, x1.Data, x2.Data, wv, output.Data, args);
    }

    /// <summary>
    /// The tangent <c>out(b, i, j) = Σₖ 2wₖ²·δ·(ẋ₁ᵢₖ − ẋ₂ⱼₖ) + 2wₖ·ẇₖ·δ²</c>, δ = x₁ᵢₖ − x₂ⱼₖ; a null
    /// tangent is zero.
    /// </summary>
    public static void Tangent<T>(Device device, MatRef<T> x1, MatRef<T> x2, MatRef<T>? w, MatRef<T>? x1Dot, MatRef<T>? x2Dot, MatRef<T>? wDot, MatRef<T> output)
        where T : unmanaged, INumber<T>
    {
        Check("SquaredDistances", x1, x2, w, output.Batch);
        int count = Count(device, output.Batch, output.Rows, output.Cols, "SquaredDistances");
        if (count == 0 || output.Cols == 0) return;
        var args = Args(x1, x2, w);
        args.Out = output.Layout;
        args.A = (x1Dot ?? x1).Layout;
        args.B = (x2Dot ?? x2).Layout;
        args.C = (wDot ?? w ?? x1).Layout;
        args.UseA = x1Dot is null ? 0 : 1;
        args.UseB = x2Dot is null ? 0 : 1;
        args.UseC = wDot is null || w is null ? 0 : 1;
        using var _ = device.Enter();
        var k = device.Kernel(TangentKernel<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs, int>(TangentKernel<T>));
        k(count, x1.Data, x2.Data, (w ?? x1).Data, (x1Dot ?? x1).Data, (x2Dot ?? x2).Data, (wDot ?? w ?? x1).Data, output.Data, args, device.Family == KernelFamily.GpuTuned ? 1 : 0);
    }

    /// <summary>
    /// The cotangent of the first point set: <c>out(b, i, k) = 2wₖ²·Σⱼ g(i, j)·(xᵢₖ − zⱼₖ)</c>, out
    /// [batch, n, d], where g is G [batch, n, m] or, with <paramref name="transposeG"/>, Gᵀ (then G
    /// is [batch, m, n]). X₁'s cotangent is (G, X₁, X₂); X₂'s is (Gᵀ, X₂, X₁).
    /// </summary>
    public static void PointCotangent<T>(Device device, MatRef<T> g, bool transposeG, MatRef<T> x, MatRef<T> z, MatRef<T>? w, MatRef<T> output)
        where T : unmanaged, INumber<T>
    {
        Check("SquaredDistances", x, z, w, output.Batch);
        int count = Count(device, output.Batch, output.Rows, output.Cols, "SquaredDistances");
        if (count == 0 || output.Cols == 0) return;
        var args = Args(x, z, w);
        args.Out = output.Layout;
        args.A = g.Layout;
        args.TransposeG = transposeG ? 1 : 0;
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned)
            device.Kernel(PointCotangentGpu<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs>(PointCotangentGpu<T>))(count, g.Data, x.Data, z.Data, (w ?? x).Data, output.Data, args);
        else
            device.Kernel(PointCotangentCpu<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs>(PointCotangentCpu<T>))(count, g.Data, x.Data, z.Data, (w ?? x).Data, output.Data, args);
    }

    /// <summary>
    /// The cotangent of the scales: <c>out(b, 0, k) = 2wₖ·Σᵢⱼ G(i, j)·δᵢⱼₖ²</c> for one scale per
    /// dimension, or <c>out(b, 0, 0) = 2w·Σₖ Σᵢⱼ G(i, j)·δᵢⱼₖ²</c> for one shared scale; out
    /// [batch, 1, w's columns] (summed over the batch by the caller when w broadcasts). CPU family:
    /// one thread per output element. GPU family: two passes (<see cref="ScaleChunks"/> groups per
    /// output element sum fixed blocks of rows, then one group per element sums their partials), so
    /// a large n·m spreads over the GPU instead of one thread. Fixed summation order in both.
    /// </summary>
    public static void ScaleCotangent<T>(Device device, MatRef<T> g, MatRef<T> x1, MatRef<T> x2, MatRef<T> w, MatRef<T> output) where T : unmanaged, INumber<T>
    {
        Check("SquaredDistances", x1, x2, w, output.Batch);
        long count = (long)output.Batch * output.Cols;
        if (count == 0) return;
        var args = Args(x1, x2, w);
        args.Out = output.Layout;
        args.A = g.Layout;
        using var _ = device.Enter();
        if (device.Family != KernelFamily.GpuTuned)
        {
            device.Kernel(ScaleCotangentKernel<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs>(ScaleCotangentKernel<T>))((int)count, g.Data, x1.Data, x2.Data, w.Data, output.Data, args);
            return;
        }
        if (count > int.MaxValue) throw new ArgumentException($"SquaredDistances: {count} scale cotangents exceed one launch.");
        int chunks = ScaleChunks(x1.Rows, x2.Rows);
        int rowsPerChunk = (x1.Rows + chunks - 1) / Math.Max(1, chunks);
        using var partials = device.Allocate<T>(new Shape(1, (int)count, chunks));
        var first = device.Kernel(ScaleCotangentPartialGpu<T>, a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs, int, int>(ScaleCotangentPartialGpu<T>));
        var second = device.Kernel(ScaleCotangentSumGpu<T>, a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, DistanceArgs, int, int>(ScaleCotangentSumGpu<T>));
        for (int start = 0; start < count; start += GpuLimits.MaxGridYZ) // outputs (b, c) in slices of the grid's y limit
        {
            int slice = (int)Math.Min(GpuLimits.MaxGridYZ, count - start);
            first(new KernelConfig(new Index3D(chunks, slice, 1), new Index3D(ScaleGroup, 1, 1)), g.Data, x1.Data, x2.Data, partials.View, args, rowsPerChunk, start);
            second(new KernelConfig(new Index3D(1, slice, 1), new Index3D(ScaleGroup, 1, 1)), partials.View, w.Data, output.Data, args, chunks, start);
        }
    }


    /// <summary>Threads per group of the GPU scale cotangent.</summary>
    private const int ScaleGroup = 256;

    /// <summary>
    /// Row blocks of the GPU scale cotangent's first pass: one per 16 Ki elements of G, at most
    /// 1024. A function of the sizes only, so the summation order does not depend on the device.
    /// </summary>
    internal static int ScaleChunks(int n, int m)
    {
        long total = (long)n * m;
        return (int)Math.Clamp((total + (1 << 14) - 1) >> 14, 1, Math.Min(1024, Math.Max(1, n)));
    }

    /// <summary>First pass: group (chunk, (b, c)) sums G(i, j)·Σₖ δᵢⱼₖ² over its rows i, all j, into partials[(b, c), chunk].</summary>
    internal static void ScaleCotangentPartialGpu<T>(ArrayView<T> g, ArrayView<T> x1, ArrayView<T> x2, ArrayView<T> partials, DistanceArgs p, int rowsPerChunk, int start)
        where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.Allocate<T>(ScaleGroup);
        int chunk = Grid.IdxX, index = Grid.IdxY + start, t = Group.IdxX;
        int c = index % p.WCols, b = index / p.WCols;
        int k0 = p.WCols == 1 ? 0 : c, k1 = p.WCols == 1 ? p.D : c + 1;
        int i0 = chunk * rowsPerChunk, i1 = Math.Min(p.N, i0 + rowsPerChunk);
        long count = (long)Math.Max(0, i1 - i0) * p.M;
        T s = T.Zero;
        for (long e = t; e < count; e += ScaleGroup)
        {
            int i = i0 + (int)(e / p.M), j = (int)(e % p.M);
            T d2 = T.Zero;
            for (int k = k0; k < k1; k++)
            {
                T delta = x1[p.X1.At(b, i, k)] - x2[p.X2.At(b, j, k)];
                d2 += delta * delta;
            }
            s += g[p.A.At(b, i, j)] * d2;
        }
        s = Elementwise.GroupSum(shared, t, s);
        if (t == 0) partials[(long)index * Grid.DimX + chunk] = s; // Grid.DimX = chunks
    }

    /// <summary>Second pass: group (b, c) sums its partials in order and writes 2w·Σ.</summary>
    internal static void ScaleCotangentSumGpu<T>(ArrayView<T> partials, ArrayView<T> w, ArrayView<T> output, DistanceArgs p, int chunks, int start)
        where T : unmanaged, INumber<T>
    {
        var shared = SharedMemory.Allocate<T>(ScaleGroup);
        int index = Grid.IdxY + start, t = Group.IdxX;
        int c = index % p.WCols, b = index / p.WCols;
        T s = T.Zero;
        for (int e = t; e < chunks; e += ScaleGroup)
            s += partials[(long)index * chunks + e];
        s = Elementwise.GroupSum(shared, t, s);
        if (t == 0) output[p.Out.At(b, 0, c)] = (T.One + T.One) * w[p.W.At(b, 0, c)] * s;
    }

    private static T Scale<T>(ArrayView<T> w, DistanceArgs p, int b, int k) where T : unmanaged, INumber<T> =>
        p.WCols == 0 ? T.One : w[p.W.At(b, 0, p.WCols == 1 ? 0 : k)];

    private static T Element<T>(ArrayView<T> x1, ArrayView<T> x2, ArrayView<T> w, DistanceArgs p, int b, int i, int j) where T : unmanaged, INumber<T>
    {
        T s = T.Zero;
        for (int k = 0; k < p.D; k++)
        {
            T delta = Scale(w, p, b, k) * (x1[p.X1.At(b, i, k)] - x2[p.X2.At(b, j, k)]);
            s += delta * delta;
        }
        return s;
    }

    internal static void ForwardGpu<T>(Index1D index, ArrayView<T> x1, ArrayView<T> x2, ArrayView<T> w, ArrayView<T> output, DistanceArgs p) where T : unmanaged, INumber<T>
    {
        int j = index % p.M, rest = index / p.M, i = rest % p.N, b = rest / p.N;
        output[p.Out.At(b, i, j)] = Element(x1, x2, w, p, b, i, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void ForwardCpu<T>(Index1D index, ArrayView<T> x1, ArrayView<T> x2, ArrayView<T> w, ArrayView<T> output, DistanceArgs p) where T : unmanaged, INumber<T>
    {
        int i = index % p.N, b = index / p.N;
        for (int j = 0; j < p.M; j++) output[p.Out.At(b, i, j)] = Element(x1, x2, w, p, b, i, j);
    }

    internal static void TangentKernel<T>(Index1D index, ArrayView<T> x1, ArrayView<T> x2, ArrayView<T> w, ArrayView<T> x1Dot, ArrayView<T> x2Dot, ArrayView<T> wDot, ArrayView<T> output, DistanceArgs p, int perElement)
        where T : unmanaged, INumber<T>
    {
        int i, b, j0, j1;
        if (perElement != 0)
        {
            j0 = index % p.M;
            int rest = index / p.M;
            i = rest % p.N;
            b = rest / p.N;
            j1 = j0 + 1;
        }
        else
        {
            i = index % p.N;
            b = index / p.N;
            j0 = 0;
            j1 = p.M;
        }
        T two = T.One + T.One;
        for (int j = j0; j < j1; j++)
        {
            T s = T.Zero;
            for (int k = 0; k < p.D; k++)
            {
                T wk = Scale(w, p, b, k);
                T delta = x1[p.X1.At(b, i, k)] - x2[p.X2.At(b, j, k)];
                T dDelta = (p.UseA != 0 ? x1Dot[p.A.At(b, i, k)] : T.Zero) - (p.UseB != 0 ? x2Dot[p.B.At(b, j, k)] : T.Zero);
                T dw = p.UseC != 0 ? wDot[p.C.At(b, 0, p.WCols == 1 ? 0 : k)] : T.Zero;
                s += two * wk * delta * (wk * dDelta + dw * delta);
            }
            output[p.Out.At(b, i, j)] = s;
        }
    }

    private static T G<T>(ArrayView<T> g, DistanceArgs p, int b, int i, int j) where T : unmanaged, INumber<T> =>
        g[p.TransposeG != 0 ? p.A.At(b, j, i) : p.A.At(b, i, j)];

    internal static void PointCotangentGpu<T>(Index1D index, ArrayView<T> g, ArrayView<T> x, ArrayView<T> z, ArrayView<T> w, ArrayView<T> output, DistanceArgs p) where T : unmanaged, INumber<T>
    {
        int k = index % p.D, rest = index / p.D, i = rest % p.N, b = rest / p.N;
        T xk = x[p.X1.At(b, i, k)];
        T s = T.Zero;
        for (int j = 0; j < p.M; j++) s += G(g, p, b, i, j) * (xk - z[p.X2.At(b, j, k)]);
        T wk = Scale(w, p, b, k);
        output[p.Out.At(b, i, k)] = (T.One + T.One) * wk * wk * s;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PointCotangentCpu<T>(Index1D index, ArrayView<T> g, ArrayView<T> x, ArrayView<T> z, ArrayView<T> w, ArrayView<T> output, DistanceArgs p) where T : unmanaged, INumber<T>
    {
        int i = index % p.N, b = index / p.N;
        for (int k = 0; k < p.D; k++)
        {
            T xk = x[p.X1.At(b, i, k)];
            T s = T.Zero;
            for (int j = 0; j < p.M; j++) s += G(g, p, b, i, j) * (xk - z[p.X2.At(b, j, k)]);
            T wk = Scale(w, p, b, k);
            output[p.Out.At(b, i, k)] = (T.One + T.One) * wk * wk * s;
        }
    }

    internal static void ScaleCotangentKernel<T>(Index1D index, ArrayView<T> g, ArrayView<T> x1, ArrayView<T> x2, ArrayView<T> w, ArrayView<T> output, DistanceArgs p) where T : unmanaged, INumber<T>
    {
        int c = index % p.WCols, b = index / p.WCols;
        int k0 = p.WCols == 1 ? 0 : c, k1 = p.WCols == 1 ? p.D : c + 1;
        T s = T.Zero;
        for (int i = 0; i < p.N; i++)
        for (int j = 0; j < p.M; j++)
        {
            T gij = g[p.A.At(b, i, j)];
            for (int k = k0; k < k1; k++)
            {
                T delta = x1[p.X1.At(b, i, k)] - x2[p.X2.At(b, j, k)];
                s += gij * delta * delta;
            }
        }
        output[p.Out.At(b, 0, c)] = (T.One + T.One) * w[p.W.At(b, 0, c)] * s;
    }
}
