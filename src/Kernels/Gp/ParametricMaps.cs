using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// An element map with two scalars per matrix: the output element from x(i, j), y(i, j) and the
/// matrix's hyperparameters a and b. Implementations are small structs (one kernel each).
/// </summary>
internal interface IParametricMap<T> where T : unmanaged, INumber<T>
{
    /// <summary>The output element from x, y and the scalars a, b of its matrix.</summary>
    T Apply(T x, T y, T a, T b);
}

/// <summary>Parameters of a parametric map launch.</summary>
internal struct ParametricArgs
{
    public MatLayout X, Y, A, B, Out;
    public int Rows, Cols;
}

/// <summary>
/// The fused maps of the non-monotone stationary kernels, in scikit-learn's parametrization:
/// RationalQuadratic <c>k = (1 + D/(2α))^(−α)</c> of the scaled squared distance D, and
/// ExpSineSquared <c>k = exp(−2·sin²(π·r/p)/ℓ²)</c> of the distance r = √D. Each kernel's value and
/// its partial derivatives (by D and by each hyperparameter) are maps over D, so no [n, m, d]
/// temporary and no per-term n×m temporary is formed. GPU family: one thread per element; CPU
/// family: one thread per row.
/// </summary>
internal static class ParametricMaps
{
    private static T Two<T>() where T : unmanaged, INumber<T> => T.One + T.One;

    /// <summary>The map <typeparamref name="TOp"/> with y = 1 (a partial derivative by itself, or the value).</summary>
    public readonly struct Unit<T, TOp> : IParametricMap<T> where T : unmanaged, INumber<T> where TOp : struct, IParametricMap<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b) => default(TOp).Apply(x, T.One, a, b);
    }

    /// <summary>RationalQuadratic: y·(1 + x/(2a))^(−a), x = D, a = α.</summary>
    public readonly struct RationalQuadraticValue<T> : IParametricMap<T> where T : unmanaged, INumber<T>, ILogarithmicFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b) => y * DeviceMath.Exp(-a * T.Log(T.One + x / (Two<T>() * a)));
    }

    /// <summary>
    /// RationalQuadratic ∂k/∂D applied to y: ∂k/∂D = −½·(1 + D/(2α))^(−α−1).
    /// </summary>
    public readonly struct RationalQuadraticByD<T> : IParametricMap<T> where T : unmanaged, INumber<T>, ILogarithmicFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b)
        {
            T z = T.One + x / (Two<T>() * a);
            return -y / Two<T>() * DeviceMath.Exp(-a * T.Log(z)) / z;
        }
    }

    /// <summary>
    /// RationalQuadratic ∂k/∂α applied to y: with z = 1 + D/(2α),
    /// ∂k/∂α = k·(−log z + (D/(2α))/z).
    /// </summary>
    public readonly struct RationalQuadraticByAlpha<T> : IParametricMap<T> where T : unmanaged, INumber<T>, ILogarithmicFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b)
        {
            T u = x / (Two<T>() * a), z = T.One + u, lz = T.Log(z);
            return y * DeviceMath.Exp(-a * lz) * (u / z - lz);
        }
    }

    /// <summary>ExpSineSquared: y·exp(−2·sin²(π√x/b)/a²), x = D (unscaled), a = ℓ, b = p.</summary>
    public readonly struct ExpSineSquaredValue<T> : IParametricMap<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b)
        {
            T s = T.Sin(T.Pi * T.Sqrt(x) / b);
            return y * DeviceMath.Exp(-Two<T>() * s * s / (a * a));
        }
    }

    /// <summary>
    /// ExpSineSquared ∂k/∂D applied to y. With r = √D, u = πr/p: ∂k/∂r = −(2π/(ℓ²p))·sin 2u·k and
    /// ∂r/∂D = 1/(2r), so ∂k/∂D = −(2π/(ℓ²p))·(sin 2u/(2r))·k; at D = 0 the limit sin 2u/(2r) = π/p
    /// is used (coincident points: D's own derivative vanishes there).
    /// </summary>
    public readonly struct ExpSineSquaredByD<T> : IParametricMap<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b)
        {
            T r = T.Sqrt(x), u = T.Pi * r / b, s = T.Sin(u);
            T k = DeviceMath.Exp(-Two<T>() * s * s / (a * a));
            T ratio = x > T.Zero ? T.Sin(Two<T>() * u) / (Two<T>() * r) : T.Pi / b;
            return -y * Two<T>() * T.Pi / (a * a * b) * ratio * k;
        }
    }

    /// <summary>ExpSineSquared ∂k/∂ℓ applied to y: ∂k/∂ℓ = (4·sin²u/ℓ³)·k.</summary>
    public readonly struct ExpSineSquaredByLengthscale<T> : IParametricMap<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b)
        {
            T s = T.Sin(T.Pi * T.Sqrt(x) / b), s2 = s * s;
            return y * Two<T>() * Two<T>() * s2 / (a * a * a) * DeviceMath.Exp(-Two<T>() * s2 / (a * a));
        }
    }

    /// <summary>
    /// ExpSineSquared ∂k/∂p applied to y: ∂u/∂p = −u/p, so ∂k/∂p = (2·u·sin 2u/(ℓ²p))·k.
    /// </summary>
    public readonly struct ExpSineSquaredByPeriodicity<T> : IParametricMap<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, ITrigonometricFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, T a, T b)
        {
            T u = T.Pi * T.Sqrt(x) / b, s = T.Sin(u);
            return y * Two<T>() * u * T.Sin(Two<T>() * u) / (a * a * b) * DeviceMath.Exp(-Two<T>() * s * s / (a * a));
        }
    }

    /// <summary>
    /// <c>out(i, j) = op.Apply(x(i, j), y(i, j), a, b)</c> with a and b the scalars of each matrix
    /// (batches of 1×1 matrices). x, y and out have the same rows and columns; an operand with batch
    /// stride 0 broadcasts; out may be x or y.
    /// </summary>
    public static void Map<T, TOp>(Device device, TOp op, MatRef<T> x, MatRef<T> y, MatRef<T> a, MatRef<T> b, MatRef<T> output)
        where T : unmanaged, INumber<T>
        where TOp : struct, IParametricMap<T>
    {
        int rows = output.Rows, cols = output.Cols;
        if (x.Rows != rows || x.Cols != cols || y.Rows != rows || y.Cols != cols)
            throw new ArgumentException($"ParametricMap: x is [{x.Rows}, {x.Cols}] and y [{y.Rows}, {y.Cols}] but the output is [{rows}, {cols}].");
        if (a.Rows != 1 || a.Cols != 1 || b.Rows != 1 || b.Cols != 1)
            throw new ArgumentException($"ParametricMap: the scalars are [{a.Rows}, {a.Cols}] and [{b.Rows}, {b.Cols}], not 1×1.");
        foreach (var m in new[] { x, y, a, b }) Blas.CheckBatch("ParametricMap", m.Batch, m.BatchStride, output.Batch);
        if (output.Batch == 0 || rows == 0 || cols == 0) return;
        var args = new ParametricArgs { X = x.Layout, Y = y.Layout, A = a.Layout, B = b.Layout, Out = output.Layout, Rows = rows, Cols = cols };
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned)
        {
            var k = device.Kernel(MapGpu<T, TOp>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ParametricArgs, LaunchSegment, TOp>(MapGpu<T, TOp>));
            foreach (var segment in Launches.Plan(output.Batch, rows, cols, device.MaxLaunchItems)) // one thread per element
                k((int)segment.Items, x.Data, y.Data, a.Data, b.Data, output.Data, args, segment, op);
        }
        else
        {
            var k = device.Kernel(MapCpu<T, TOp>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ParametricArgs, LaunchSegment, TOp>(MapCpu<T, TOp>));
            foreach (var segment in Launches.Plan(output.Batch, rows, 1, device.MaxLaunchItems)) // one thread per row
                k((int)segment.Items, x.Data, y.Data, a.Data, b.Data, output.Data, args, segment, op);
        }
    }

    internal static void MapGpu<T, TOp>(Index1D index, ArrayView<T> x, ArrayView<T> y, ArrayView<T> a, ArrayView<T> b, ArrayView<T> output,
        ParametricArgs p, LaunchSegment s, TOp op)
        where T : unmanaged, INumber<T>
        where TOp : struct, IParametricMap<T>
    {
        int j = s.Col(index), i = s.Row(index), m = s.Batch(index);
        output[p.Out.At(m, i, j)] = op.Apply(x[p.X.At(m, i, j)], y[p.Y.At(m, i, j)], a[p.A.At(m, 0, 0)], b[p.B.At(m, 0, 0)]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void MapCpu<T, TOp>(Index1D index, ArrayView<T> x, ArrayView<T> y, ArrayView<T> a, ArrayView<T> b, ArrayView<T> output,
        ParametricArgs p, LaunchSegment s, TOp op)
        where T : unmanaged, INumber<T>
        where TOp : struct, IParametricMap<T>
    {
        int i = s.Row(index), m = s.Batch(index);
        T av = a[p.A.At(m, 0, 0)], bv = b[p.B.At(m, 0, 0)];
        fixed (T* x0 = &x[0L])
        fixed (T* y0 = &y[0L])
        fixed (T* o0 = &output[0L])
        {
            T* xr = x0 + p.X.At(m, i, 0);
            T* yr = y0 + p.Y.At(m, i, 0);
            T* orow = o0 + p.Out.At(m, i, 0);
            for (int j = 0; j < p.Cols; j++)
                orow[j] = op.Apply(xr[j], yr[j], av, bv);
        }
    }
}
