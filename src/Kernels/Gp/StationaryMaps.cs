using System.Numerics;

namespace GpuAD.Kernels;

/// <summary>A stationary covariance function of D and its derivative, for the element maps.</summary>
internal interface IStationaryFunction<T> where T : unmanaged, INumber<T>
{
    /// <summary>k(D).</summary>
    T Value(T d);

    /// <summary>dk/dD.</summary>
    T Derivative(T d);
}

/// <summary>
/// The stationary kernels as structs (one kernel compiled per function, no branching on the kind
/// inside a kernel) and their element maps for <see cref="Elementwise"/>.
/// </summary>
internal static class StationaryMaps
{
    // Small integers by addition: T.CreateTruncating is not available inside kernels.
    private static T Three<T>() where T : unmanaged, INumber<T> => T.One + T.One + T.One;

    private static T Five<T>() where T : unmanaged, INumber<T> => T.One + T.One + T.One + T.One + T.One;

    /// <summary>RBF: k = exp(−D/2), dk/dD = −k/2.</summary>
    public readonly struct Rbf<T> : IStationaryFunction<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Value(T d) => DeviceMath.Exp(-d / (T.One + T.One));

        /// <inheritdoc/>
        public T Derivative(T d) => -DeviceMath.Exp(-d / (T.One + T.One)) / (T.One + T.One);
    }

    /// <summary>
    /// Matérn ½: k = exp(−r), r = √D; dk/dD = −exp(−r)/(2r), taken as 0 at D = 0 (coincident
    /// points, where D's own derivative vanishes), as scikit-learn does.
    /// </summary>
    public readonly struct Matern12<T> : IStationaryFunction<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Value(T d) => DeviceMath.Exp(-T.Sqrt(d));

        /// <inheritdoc/>
        public T Derivative(T d)
        {
            T r = T.Sqrt(d);
            T safe = d > T.Zero ? r : T.One;
            T value = -DeviceMath.Exp(-r) / ((T.One + T.One) * safe);
            return d > T.Zero ? value : T.Zero;
        }
    }

    /// <summary>Matérn 3⁄2: k = (1 + a)·exp(−a), a = √(3D); dk/dD = −(3/2)·exp(−a).</summary>
    public readonly struct Matern32<T> : IStationaryFunction<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Value(T d)
        {
            T a = T.Sqrt(Three<T>() * d);
            return (T.One + a) * DeviceMath.Exp(-a);
        }

        /// <inheritdoc/>
        public T Derivative(T d) => -Three<T>() / (T.One + T.One) * DeviceMath.Exp(-T.Sqrt(Three<T>() * d));
    }

    /// <summary>Matérn 5⁄2: k = (1 + a + a²/3)·exp(−a), a = √(5D); dk/dD = −(5/6)·(1 + a)·exp(−a).</summary>
    public readonly struct Matern52<T> : IStationaryFunction<T> where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Value(T d)
        {
            T a = T.Sqrt(Five<T>() * d);
            return (T.One + a + a * a / Three<T>()) * DeviceMath.Exp(-a);
        }

        /// <inheritdoc/>
        public T Derivative(T d)
        {
            T a = T.Sqrt(Five<T>() * d);
            return -Five<T>() / (Three<T>() + Three<T>()) * (T.One + a) * DeviceMath.Exp(-a);
        }
    }

    /// <summary>k(x), x = D.</summary>
    public readonly struct Value<T, TK> : IElementMap<T> where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => default(TK).Value(x);
    }

    /// <summary>y·k′(x), x = D: dk/dD applied to y (a tangent or cotangent of D).</summary>
    public readonly struct Derivative<T, TK> : IElementMap<T> where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => y * default(TK).Derivative(x);
    }

    /// <summary><c>out = k(D)</c> (<paramref name="derivativeOf"/> null) or <c>out = k′(D)∘derivativeOf</c>, for the kernel named.</summary>
    public static void Apply<T>(Device device, StationaryKernel kernel, MatRef<T> d, MatRef<T>? derivativeOf, MatRef<T> output)
        where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        switch (kernel)
        {
            case StationaryKernel.Rbf: Run<T, Rbf<T>>(device, d, derivativeOf, output); break;
            case StationaryKernel.Matern12: Run<T, Matern12<T>>(device, d, derivativeOf, output); break;
            case StationaryKernel.Matern32: Run<T, Matern32<T>>(device, d, derivativeOf, output); break;
            case StationaryKernel.Matern52: Run<T, Matern52<T>>(device, d, derivativeOf, output); break;
            default: throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "Stationary: unknown kernel.");
        }
    }

    private static void Run<T, TK>(Device device, MatRef<T> d, MatRef<T>? derivativeOf, MatRef<T> output)
        where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        if (derivativeOf is { } y) Elementwise.Map(device, new Derivative<T, TK>(), d, y, YAccess.Same, output);
        else Elementwise.Map(device, new Value<T, TK>(), d, d, YAccess.Same, output);
    }
}
