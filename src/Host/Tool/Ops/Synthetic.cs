using GpuAD.Kernels;

namespace GpuAD.Tool.Ops;

/// <summary>Random inputs of the kinds the ops need, row-major [batch, rows, cols], in float64.</summary>
internal static class Synthetic
{
    /// <summary>Uniform(−1, 1) entries.</summary>
    public static double[] Uniform(Shape shape, int seed)
    {
        var rng = new Random(seed);
        var a = new double[shape.Length];
        for (long i = 0; i < a.Length; i++) a[i] = 2 * rng.NextDouble() - 1;
        return a;
    }

    /// <summary>Uniform(1, 3) entries: inside the domain of log.</summary>
    public static double[] Positive(Shape shape, int seed) => Uniform(shape, seed).Select(x => x + 2).ToArray();

    /// <summary>
    /// Symmetric positive-definite matrices A·Aᵀ/n + shift·I with A uniform (O(n³): small sizes).
    /// Eigenvalues lie in [shift, shift + n/3] roughly; shift = 1 keeps them well-conditioned.
    /// </summary>
    public static double[] Spd(int batch, int n, int seed, double shift = 1.0)
    {
        var a = Uniform(new Shape(batch, n, n), seed);
        var s = new double[(long)batch * n * n];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double v = 0;
                for (int k = 0; k < n; k++) v += a[o + i * n + k] * a[o + j * n + k];
                v = v / Math.Max(1, n) + (i == j ? shift : 0);
                s[o + i * n + j] = v;
                s[o + j * n + i] = v;
            }
        }
        return s;
    }

    /// <summary>
    /// Symmetric positive-definite matrices 2·I + W with W symmetric, |Wᵢⱼ| &lt; 1/n (O(n²): any size).
    /// By Gershgorin every eigenvalue lies in (1, 3).
    /// </summary>
    public static double[] DiagonallyDominantSpd(int batch, int n, int seed)
    {
        var w = Uniform(new Shape(batch, n, n), seed);
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < i; j++) w[o + j * n + i] = w[o + i * n + j] /= n;
                w[o + i * n + i] = 2 + w[o + i * n + i] / n;
            }
        }
        return w;
    }

    /// <summary>
    /// Triangular matrices with |diagonal| in [1, 2] of random sign and off-diagonal entries of
    /// magnitude below <paramref name="offDiagonalScale"/>; zeros in the other triangle.
    /// </summary>
    public static double[] Triangular(int batch, int n, bool lower, int seed, double? offDiagonalScale = null)
    {
        double scale = offDiagonalScale ?? 1 / Math.Sqrt(Math.Max(1, n));
        var rng = new Random(seed);
        var t = new double[(long)batch * n * n];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (i == j) t[o + i * n + j] = (1 + rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
                else if (lower ? j < i : j > i) t[o + i * n + j] = (2 * rng.NextDouble() - 1) * scale;
            }
        }
        return t;
    }

    /// <summary>A general square matrix 2·I + E/√n with E uniform: invertible and well-conditioned.</summary>
    public static double[] Invertible(int batch, int n, int seed)
    {
        var a = Uniform(new Shape(batch, n, n), seed);
        double scale = 1 / Math.Sqrt(Math.Max(1, n));
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                a[o + i * n + j] = (i == j ? 2 : 0) + a[o + i * n + j] * scale;
        }
        return a;
    }

    /// <summary>Converts float64 data to the computation's element type.</summary>
    public static T[] To<T>(double[] data) where T : unmanaged, System.Numerics.INumber<T>
    {
        if (typeof(T) == typeof(double)) return (T[])(object)data;
        var r = new T[data.Length];
        for (long i = 0; i < r.Length; i++) r[i] = T.CreateChecked(data[i]);
        return r;
    }

    /// <summary>Converts data to float64.</summary>
    public static double[] ToDouble<T>(T[] data) where T : unmanaged, System.Numerics.INumber<T>
    {
        if (typeof(T) == typeof(double)) return (double[])(object)data;
        var r = new double[data.Length];
        for (long i = 0; i < r.Length; i++) r[i] = double.CreateChecked(data[i]);
        return r;
    }
}
