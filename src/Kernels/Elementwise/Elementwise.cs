using System.Runtime.CompilerServices;
using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of an element-map launch.</summary>
internal struct MapArgs
{
    public MatLayout X, Y, Out;
    public int Rows, Cols;
    public YAccess Access;
}

/// <summary>How an element map reads its second operand y at output element (i, j).</summary>
internal enum YAccess
{
    /// <summary>y(i, j): y has the output's shape.</summary>
    Same,

    /// <summary>y(j, i): y has the transposed shape.</summary>
    Transposed,

    /// <summary>y(0, 0) of each matrix: y is a batch of 1×1 matrices (a scalar per matrix).</summary>
    ScalarPerMatrix,
}

/// <summary>Parameters of a per-matrix reduction launch.</summary>
internal struct ReduceArgs
{
    public MatLayout X, Y, Out;
    public int Rows, Cols, UseY;
}

/// <summary>
/// Element maps, per-matrix reductions and batch reductions: the small device operations the
/// backward rules are written in. GPU family: one thread per element (maps) or one 256-thread
/// group per matrix with a fixed-order tree (reductions). CPU family: one thread per row
/// (maps) or per matrix (reductions), through pointers. Every reduction sums in a fixed order,
/// so results are bitwise reproducible.
/// </summary>
internal static partial class Elementwise
{
    private const int ReduceGroup = 256;

    /// <summary>
    /// <c>out(i, j) = op.Apply(x(i, j), y', i, j)</c> for every matrix, where y' is y(i, j), y(j, i)
    /// or y's scalar per matrix (<paramref name="access"/>). x and out have the same rows and
    /// columns; an operand with batch stride 0 broadcasts. out may be x or y itself, except that a
    /// transposed y must not alias out.
    /// </summary>
    public static void Map<T, TOp>(Device device, TOp op, MatRef<T> x, MatRef<T> y, YAccess access, MatRef<T> output)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementMap<T>
    {
        int rows = output.Rows, cols = output.Cols;
        if (x.Rows != rows || x.Cols != cols)
            throw new ArgumentException($"Map: x is [{x.Rows}, {x.Cols}] but the output is [{rows}, {cols}].");
        bool yFits = access switch
        {
            YAccess.Same => y.Rows == rows && y.Cols == cols,
            YAccess.Transposed => y.Cols == rows && y.Rows == cols,
            _ => y.Rows == 1 && y.Cols == 1,
        };
        if (!yFits)
            throw new ArgumentException($"Map: y is [{y.Rows}, {y.Cols}] ({access}) but the output is [{rows}, {cols}].");
        Blas.CheckBatch("Map", x.Batch, x.BatchStride, output.Batch);
        Blas.CheckBatch("Map", y.Batch, y.BatchStride, output.Batch);
        if (output.Batch == 0 || rows == 0 || cols == 0) return;
        var args = new MapArgs { X = x.Layout, Y = y.Layout, Out = output.Layout, Rows = rows, Cols = cols, Access = access };
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned)
        {
            var k = device.Kernel(MapGpu<T, TOp>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, MapArgs, LaunchSegment, TOp>(MapGpu<T, TOp>));
            foreach (var segment in Launches.Plan(output.Batch, rows, cols, device.MaxLaunchItems)) // one thread per element
                k((int)segment.Items, x.Data, y.Data, output.Data, args, segment, op);
        }
        else
        {
            var k = device.Kernel(MapCpu<T, TOp>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, MapArgs, LaunchSegment, TOp>(MapCpu<T, TOp>));
            foreach (var segment in Launches.Plan(output.Batch, rows, 1, device.MaxLaunchItems)) // one thread per row
                k((int)segment.Items, x.Data, y.Data, output.Data, args, segment, op);
        }
    }

    /// <summary><c>out(i, j) = op.Apply(x(i, j), x(i, j), i, j)</c>.</summary>
    public static void Map<T, TOp>(Device device, TOp op, MatRef<T> x, MatRef<T> output)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementMap<T> =>
        Map(device, op, x, x, YAccess.Same, output);

    internal static void MapGpu<T, TOp>(Index1D index, ArrayView<T> x, ArrayView<T> y, ArrayView<T> output, MapArgs p, LaunchSegment s, TOp op)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementMap<T>
    {
        int j = s.Col(index), i = s.Row(index), b = s.Batch(index);
        T xv = x[p.X.At(b, i, j)];
        T yv = y[p.Access == YAccess.Same ? p.Y.At(b, i, j) : p.Access == YAccess.Transposed ? p.Y.At(b, j, i) : p.Y.At(b, 0, 0)];
        output[p.Out.At(b, i, j)] = op.Apply(xv, yv, i, j);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MapCpu<T, TOp>(Index1D index, ArrayView<T> x, ArrayView<T> y, ArrayView<T> output, MapArgs p, LaunchSegment s, TOp op)
        where T : unmanaged, INumber<T>
        where TOp : struct, IElementMap<T>
    {
        int i = s.Row(index), b = s.Batch(index);
        fixed (T* x0 = &x[0L])
        fixed (T* y0 = &y[0L])
        fixed (T* o0 = &output[0L])
        {
            T* xr = x0 + p.X.At(b, i, 0);
            T* orow = o0 + p.Out.At(b, i, 0);
            long yStep = p.Access == YAccess.Same ? 1 : p.Access == YAccess.Transposed ? p.Y.Ld : 0;
            T* yr = y0 + (p.Access == YAccess.Same ? p.Y.At(b, i, 0) : p.Access == YAccess.Transposed ? p.Y.At(b, 0, i) : p.Y.At(b, 0, 0));
            for (int j = 0; j < p.Cols; j++)
                orow[j] = op.Apply(xr[j], yr[j * yStep], i, j);
        }
    }

    /// <summary>
    /// <c>out[b] = Σᵢⱼ x(i, j)·y(i, j)</c> (the Frobenius dot), or <c>Σ x</c> when
    /// <paramref name="y"/> is null; out is a batch of 1×1 matrices. Fixed summation order. Empty
    /// matrices sum to 0. On the GPU family a matrix of more than 32,768 elements is spread over
    /// up to 1,024 groups (two launches, a [batch, 1, groups] buffer of partial sums from the pool),
    /// so one large matrix occupies the whole device; the order depends only on the size.
    /// </summary>
    public static void Reduce<T>(Device device, MatRef<T> x, MatRef<T>? y, MatRef<T> output) where T : unmanaged, INumber<T>
    {
        if (output.Rows != 1 || output.Cols != 1)
            throw new ArgumentException($"Reduce: the output must be a batch of 1×1 matrices, got [{output.Rows}, {output.Cols}].");
        var yy = y ?? x;
        if (yy.Rows != x.Rows || yy.Cols != x.Cols)
            throw new ArgumentException($"Reduce: x is [{x.Rows}, {x.Cols}] but y is [{yy.Rows}, {yy.Cols}].");
        Blas.CheckBatch("Reduce", x.Batch, x.BatchStride, output.Batch);
        Blas.CheckBatch("Reduce", yy.Batch, yy.BatchStride, output.Batch);
        if (output.Batch == 0) return;
        if (x.Rows == 0 || x.Cols == 0)
        {
            Map(device, new Maps.Fill<T>(T.Zero), output, output); // the empty sum
            return;
        }
        var args = new ReduceArgs { X = x.Layout, Y = yy.Layout, Out = output.Layout, Rows = x.Rows, Cols = x.Cols, UseY = y is null ? 0 : 1 };
        using var _ = device.Enter();
        int groups = ReduceGroups((long)x.Rows * x.Cols);
        if (device.Family == KernelFamily.GpuTuned && groups > 1)
        {
            // Two passes: `groups` groups per matrix sum fixed chunks into partials, then one
            // group per matrix sums the partials, in a fixed order: bitwise reproducible.
            using var partials = device.Allocate<T>(new Shape(output.Batch, 1, groups));
            var first = args with { Out = partials.Mat.Layout };
            long chunk = ((long)x.Rows * x.Cols + groups - 1) / groups;
            var k1 = device.Kernel(ReducePartialGpu<T>, a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ReduceArgs, long>(ReducePartialGpu<T>));
            for (int start = 0; start < output.Batch; start += GpuLimits.MaxGridYZ)
            {
                int count = Math.Min(GpuLimits.MaxGridYZ, output.Batch - start);
                k1(new KernelConfig(new Index3D(groups, 1, count), new Index3D(ReduceGroup, 1, 1)), x.Data, yy.Data, partials.View, Shifted(first, start), chunk);
            }
            // The second pass is the first with one group of one chunk per matrix.
            var second = new ReduceArgs { X = partials.Mat.Layout, Y = partials.Mat.Layout, Out = output.Layout, Rows = 1, Cols = groups };
            for (int start = 0; start < output.Batch; start += GpuLimits.MaxGridYZ)
            {
                int count = Math.Min(GpuLimits.MaxGridYZ, output.Batch - start);
                k1(new KernelConfig(new Index3D(1, 1, count), new Index3D(ReduceGroup, 1, 1)), partials.View, partials.View, output.Data, Shifted(second, start), groups);
            }
        }
        else if (device.Family == KernelFamily.GpuTuned)
        {
            var k = device.Kernel(ReducePartialGpu<T>, a => a.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, ReduceArgs, long>(ReducePartialGpu<T>));
            long total = (long)x.Rows * x.Cols;
            for (int start = 0; start < output.Batch; start += GpuLimits.MaxGridYZ)
            {
                int count = Math.Min(GpuLimits.MaxGridYZ, output.Batch - start);
                k(new KernelConfig(new Index3D(1, 1, count), new Index3D(ReduceGroup, 1, 1)), x.Data, yy.Data, output.Data, Shifted(args, start), total);
            }
        }
        else
        {
            var k = device.Kernel(ReduceCpu<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ReduceArgs>(ReduceCpu<T>));
            k(output.Batch, x.Data, yy.Data, output.Data, args);
        }
    }

    /// <summary>Matrices up to this many elements are reduced by one group each, in one launch.</summary>
    internal const long ReduceOneGroupUpTo = 1 << 15;

    /// <summary>Elements each group of a two-pass reduction sums, at least.</summary>
    private const long ReduceChunk = 1 << 14;

    /// <summary>Largest number of groups per matrix of a two-pass reduction.</summary>
    private const int ReduceMaxGroups = 1024;

    /// <summary>
    /// Groups per matrix of a GPU-family reduction over <paramref name="total"/> elements: 1 up to
    /// <see cref="ReduceOneGroupUpTo"/>, else one per <see cref="ReduceChunk"/> elements, at most
    /// <see cref="ReduceMaxGroups"/>. A function of the size only, so the summation order, and the
    /// result, do not depend on the device.
    /// </summary>
    internal static int ReduceGroups(long total) =>
        total <= ReduceOneGroupUpTo ? 1 : (int)Math.Min(ReduceMaxGroups, (total + ReduceChunk - 1) / ReduceChunk);

    private static ReduceArgs Shifted(ReduceArgs p, int start) => p with
    {
        X = p.X with { Offset = p.X.Offset + start * p.X.BatchStride },
        Y = p.Y with { Offset = p.Y.Offset + start * p.Y.BatchStride },
        Out = p.Out with { Offset = p.Out.Offset + start * p.Out.BatchStride },
    };

    /// <summary>
    /// Group g of matrix b sums elements [g·chunk, (g+1)·chunk) of the row-major matrix (each
    /// thread a strided subset, then a tree over the group) into Out(b, 0, g): the first pass of a
    /// two-pass reduction, or with one group and chunk = all elements a whole one-pass reduction.
    /// </summary>
    internal static void ReducePartialGpu<T>(ArrayView<T> x, ArrayView<T> y, ArrayView<T> partials, ReduceArgs p, long chunk) where T : unmanaged, INumber<T>
    {
        var partial = SharedMemory.Allocate<T>(ReduceGroup);
        int b = Grid.IdxZ, g = Grid.IdxX, t = Group.IdxX;
        long total = (long)p.Rows * p.Cols, begin = g * chunk, end = Math.Min(total, begin + chunk);
        T s = T.Zero;
        for (long e = begin + t; e < end; e += ReduceGroup)
        {
            int i = (int)(e / p.Cols), j = (int)(e % p.Cols);
            T v = x[p.X.At(b, i, j)];
            s += p.UseY != 0 ? v * y[p.Y.At(b, i, j)] : v;
        }
        s = GroupSum(partial, t, s);
        if (t == 0) partials[p.Out.At(b, 0, g)] = s;
    }

    /// <summary>
    /// The sum of every thread's <paramref name="value"/> over a group whose size is a power of two,
    /// <paramref name="shared"/>'s length, as a fixed tree (deterministic); valid in thread 0.
    /// </summary>
    internal static T GroupSum<T>(ArrayView<T> shared, int t, T value) where T : unmanaged, INumber<T>
    {
        shared[t] = value;
        Group.Barrier();
        for (int half = (int)shared.Length / 2; half > 0; half /= 2)
        {
            if (t < half) shared[t] += shared[t + half];
            Group.Barrier();
        }
        return shared[0];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void ReduceCpu<T>(Index1D b, ArrayView<T> x, ArrayView<T> y, ArrayView<T> output, ReduceArgs p) where T : unmanaged, INumber<T>
    {
        fixed (T* x0 = &x[0L])
        fixed (T* y0 = &y[0L])
        {
            T s = T.Zero;
            for (int i = 0; i < p.Rows; i++)
            {
                T* xr = x0 + p.X.At(b, i, 0);
                T* yr = y0 + p.Y.At(b, i, 0);
                if (p.UseY != 0)
                    for (int j = 0; j < p.Cols; j++) s += xr[j] * yr[j];
                else
                    for (int j = 0; j < p.Cols; j++) s += xr[j];
            }
            output[p.Out.At(b, 0, 0)] = s;
        }
    }

    /// <summary>
    /// <c>out = α·Σ_b x[b] + β·out</c>: sums a batch into one matrix (the gradient of a broadcast
    /// operand). Fixed summation order.
    /// </summary>
    public static void SumBatch<T>(Device device, MatRef<T> x, MatRef<T> output, T alpha, T beta) where T : unmanaged, INumber<T>
    {
        if (x.Rows != output.Rows || x.Cols != output.Cols)
            throw new ArgumentException($"SumBatch: x is [{x.Rows}, {x.Cols}] but the output is [{output.Rows}, {output.Cols}].");
        if (output.Rows == 0 || output.Cols == 0) return;
        var args = new ReduceArgs { X = x.Layout, Out = output.Layout, Rows = x.Rows, Cols = x.Cols };
        using var _ = device.Enter();
        var k = device.Kernel(SumBatchKernel<T>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ReduceArgs, LaunchSegment, int, T, T>(SumBatchKernel<T>));
        foreach (var segment in Launches.Plan(1, output.Rows, output.Cols, device.MaxLaunchItems)) // one thread per output element
            k((int)segment.Items, x.Data, output.Data, args, segment, x.Batch, alpha, beta);
    }

    internal static void SumBatchKernel<T>(Index1D e, ArrayView<T> x, ArrayView<T> output, ReduceArgs p, LaunchSegment segment, int batch, T alpha, T beta) where T : unmanaged, INumber<T>
    {
        int i = segment.Row(e), j = segment.Col(e);
        T s = T.Zero;
        for (int b = 0; b < batch; b++) s += x[p.X.At(b, i, j)];
        long o = p.Out.At(0, i, j);
        output[o] = beta == T.Zero ? alpha * s : alpha * s + beta * output[o];
    }

    /// <summary>C = β·C (zero when β = 0, so NaN poison is cleared).</summary>
    public static void ScaleInPlace<T>(Device device, MatRef<T> c, T beta) where T : unmanaged, INumber<T>
    {
        if (beta == T.Zero) Map(device, new Maps.Fill<T>(T.Zero), c, c);
        else Map(device, new Maps.Axpby<T>(beta, T.Zero), c, c);
    }

    /// <summary>The diagonal of square matrices as a batch of column vectors <c>[batch, n, 1]</c> (a strided view, no copy).</summary>
    public static MatRef<T> Diagonal<T>(MatRef<T> square) where T : unmanaged =>
        square with { Ld = square.Ld + 1, Rows = Math.Min(square.Rows, square.Cols), Cols = 1 };
}
