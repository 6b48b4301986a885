using System.Numerics;

namespace GpuAD.Kernels;

/// <summary>
/// Stationary covariance functions of the scaled squared distance D = Σₖ ((xₖ − yₖ)/ℓₖ)², in
/// scikit-learn's parametrization (<c>RBF</c>, <c>Matern(nu)</c>) with unit output scale.
/// </summary>
public enum StationaryKernel
{
    /// <summary>Squared exponential: k = exp(−D/2).</summary>
    Rbf,

    /// <summary>Matérn ν = ½ (exponential): k = exp(−r), r = √D.</summary>
    Matern12,

    /// <summary>Matérn ν = 3⁄2: k = (1 + √3·r)·exp(−√3·r).</summary>
    Matern32,

    /// <summary>Matérn ν = 5⁄2: k = (1 + √5·r + 5D/3)·exp(−√5·r).</summary>
    Matern52,
}

/// <summary>Element maps of the stationary kernels, for <see cref="Elementwise"/>.</summary>
public static class StationaryMaps
{
    /// <summary>α·k(x), x = D.</summary>
    public readonly struct Value<T>(StationaryKernel kernel, T alpha) : IElementMap<T>
        where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => alpha * Of(kernel, x);
    }

    /// <summary>y·k′(x), x = D: the derivative dk/dD applied to y (a tangent or cotangent of D).</summary>
    public readonly struct Derivative<T>(StationaryKernel kernel) : IElementMap<T>
        where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        /// <inheritdoc/>
        public T Apply(T x, T y, int i, int j) => y * DerivativeOf(kernel, x);
    }

    /// <summary>k(D).</summary>
    public static T Of<T>(StationaryKernel kernel, T d) where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        T half = T.One / (T.One + T.One);
        switch (kernel)
        {
            case StationaryKernel.Rbf:
                return T.Exp(-half * d);
            case StationaryKernel.Matern12:
                return T.Exp(-T.Sqrt(d));
            case StationaryKernel.Matern32:
            {
                T a = T.Sqrt(T.CreateTruncating(3) * d);
                return (T.One + a) * T.Exp(-a);
            }
            default:
            {
                T a = T.Sqrt(T.CreateTruncating(5) * d);
                return (T.One + a + a * a / T.CreateTruncating(3)) * T.Exp(-a);
            }
        }
    }

    /// <summary>
    /// dk/dD. RBF: −k/2; Matérn ½: −exp(−r)/(2r), taken as 0 at D = 0 (where dD vanishes for
    /// coincident points, as scikit-learn does); Matérn 3⁄2: −(3/2)·exp(−√3·r); Matérn 5⁄2:
    /// −(5/6)·(1 + √5·r)·exp(−√5·r).
    /// </summary>
    public static T DerivativeOf<T>(StationaryKernel kernel, T d) where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        T half = T.One / (T.One + T.One);
        switch (kernel)
        {
            case StationaryKernel.Rbf:
                return -half * T.Exp(-half * d);
            case StationaryKernel.Matern12:
            {
                if (d <= T.Zero) return T.Zero;
                T r = T.Sqrt(d);
                return -half * T.Exp(-r) / r;
            }
            case StationaryKernel.Matern32:
                return -T.CreateTruncating(1.5) * T.Exp(-T.Sqrt(T.CreateTruncating(3) * d));
            default:
            {
                T a = T.Sqrt(T.CreateTruncating(5) * d);
                return -T.CreateTruncating(5.0 / 6.0) * (T.One + a) * T.Exp(-a);
            }
        }
    }
}
