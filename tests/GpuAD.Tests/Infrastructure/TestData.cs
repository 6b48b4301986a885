using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests;

/// <summary>Random inputs, conversions, poisoning and error measures for the tests.</summary>
public static class TestData
{
    /// <summary>Uniform(−1, 1) entries, row-major [batch, rows, cols].</summary>
    public static double[] Random(Shape shape, int seed)
    {
        var rng = new Random(seed);
        var a = new double[shape.Length];
        for (int i = 0; i < a.Length; i++) a[i] = 2 * rng.NextDouble() - 1;
        return a;
    }

    /// <summary>SPD matrices A·Aᵀ/n + shift·I (well-conditioned for shift ≈ 1).</summary>
    public static double[] Spd(int batch, int n, int seed, double shift = 1.0)
    {
        var a = Random(new Shape(batch, n, n), seed);
        var s = new double[batch * n * n];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++)
        {
            double v = 0;
            for (int k = 0; k < n; k++) v += a[b * n * n + i * n + k] * a[b * n * n + j * n + k];
            v /= Math.Max(1, n);
            if (i == j) v += shift;
            s[b * n * n + i * n + j] = v;
            s[b * n * n + j * n + i] = v;
        }
        return s;
    }

    /// <summary>Triangular matrices with a dominant diagonal (|d| ∈ [1, 2], random sign), zeros elsewhere.</summary>
    public static double[] Triangular(int batch, int n, bool lower, int seed)
    {
        var rng = new Random(seed);
        var t = new double[batch * n * n];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            if (i == j) t[b * n * n + i * n + j] = (1 + rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
            else if (lower ? j < i : j > i) t[b * n * n + i * n + j] = (2 * rng.NextDouble() - 1) / Math.Sqrt(n);
        }
        return t;
    }

    public static T[] To<T>(double[] a) where T : unmanaged, INumber<T>
    {
        var r = new T[a.Length];
        for (int i = 0; i < a.Length; i++) r[i] = T.CreateChecked(a[i]);
        return r;
    }

    public static double[] ToDouble<T>(T[] a) where T : unmanaged, INumber<T>
    {
        var r = new double[a.Length];
        for (int i = 0; i < a.Length; i++) r[i] = double.CreateChecked(a[i]);
        return r;
    }

    /// <summary>Uploads double data as T.</summary>
    public static DeviceTensor<T> Upload<T>(Device device, double[] data, Shape shape) where T : unmanaged, INumber<T> =>
        device.Upload<T>(To<T>(data), shape);

    /// <summary>A tensor filled with NaN, so any element a kernel fails to write shows up.</summary>
    public static DeviceTensor<T> Poisoned<T>(Device device, Shape shape) where T : unmanaged, INumber<T>
    {
        var nan = new T[shape.Length];
        Array.Fill(nan, T.CreateChecked(double.NaN));
        return device.Upload<T>(nan, shape);
    }

    /// <summary>max|actual − expected| / max(max|expected|, 1e-300): the norm-wise relative error.</summary>
    public static double RelErr(double[] expected, double[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double num = 0, den = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            double d = Math.Abs(actual[i] - expected[i]);
            if (double.IsNaN(d)) return double.PositiveInfinity;
            num = Math.Max(num, d);
            den = Math.Max(den, Math.Abs(expected[i]));
        }
        return num / Math.Max(den, 1e-300);
    }

    public static double RelErr<T>(double[] expected, T[] actual) where T : unmanaged, INumber<T> =>
        RelErr(expected, ToDouble(actual));

    /// <summary>The tolerance against a float64 reference: 1e-10 (fp64) or 1e-4 (fp32).</summary>
    public static double KernelTol<T>() => typeof(T) == typeof(double) ? 1e-10 : 1e-4;

    /// <summary>Asserts the relative error is within tolerance, reporting it.</summary>
    public static void AssertClose<T>(double[] expected, T[] actual, double tol, string what) where T : unmanaged, INumber<T>
    {
        double err = RelErr(expected, actual);
        Assert.True(err <= tol, $"{what}: relative error {err:E3} > {tol:E1}");
    }
}
