using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests;

/// <summary>Random inputs, conversions, poisoning and error measures for the tests.</summary>
public static class TestData
{
    /// <summary>Uniform(−1, 1) entries, row-major [batch, rows, cols] (the catalogue's generator, <see cref="InputData"/>).</summary>
    public static double[] Random(Shape shape, int seed) => InputData.Uniform(shape, seed);

    /// <summary>SPD matrices A·Aᵀ/n + shift·I (well-conditioned for shift ≈ 1).</summary>
    public static double[] Spd(int batch, int n, int seed, double shift = 1.0) => InputData.Spd(batch, n, seed, shift);

    /// <summary>The [batch, n, n] matrices with NaN in the strict upper triangle, which a kernel reading only the lower one must never read.</summary>
    public static double[] WithNaNAbove(double[] a, int batch, int n)
    {
        var g = (double[])a.Clone();
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            g[(long)b * n * n + i * n + j] = double.NaN;
        return g;
    }

    /// <summary>
    /// Makes pivot k of matrix b exactly −0.5 in exact arithmetic: A[k, k] = Σₚ L[k, p]² − 0.5 over
    /// p &lt; k, with L the factor of the leading k×k block. Leading minors of order ≤ k stay
    /// positive-definite; minor k + 1 fails.
    /// </summary>
    public static void BreakPivot(double[] a, int n, int b, int k)
    {
        var l = Reference.Cholesky(a, b + 1, n);
        long o = (long)b * n * n;
        double s = 0;
        for (int p = 0; p < k; p++) s += l[o + k * n + p] * l[o + k * n + p];
        a[o + k * n + k] = s - 0.5;
    }

    /// <summary>Triangular matrices with a dominant diagonal (|d| ∈ [1, 2], random sign), zeros elsewhere.</summary>
    public static double[] Triangular(int batch, int n, bool lower, int seed) => InputData.Triangular(batch, n, lower, seed);

    /// <summary>Invertible, well-conditioned square matrices 2·I + E/√n.</summary>
    public static double[] Invertible(int batch, int n, int seed) => InputData.Invertible(batch, n, seed);

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

    /// <summary>
    /// Op.Cholesky on a tape with <paramref name="algorithm"/>, against the float64 factor and the
    /// gradient of the composed algorithm on the same device (random SPD Σ and cotangent L̄ from
    /// <paramref name="seed"/>): the path a table or an option chose, end to end through the tape.
    /// </summary>
    public static void AssertTapeCholeskyMatchesComposed(Device device, CholeskyAlgorithm algorithm, int batch, int n, int seed, string what)
    {
        var shape = new Shape(batch, n, n);
        var a = Spd(batch, n, seed);
        var lbar = Random(shape, seed + 2);
        (double[] L, double[] Grad) Run(CholeskyAlgorithm algorithm)
        {
            using var tape = new Tape(device);
            var x = tape.Variable(a, shape);
            var l = Op.Cholesky(x, algorithm).Keep();
            using var cotangent = device.Upload<double>(lbar, shape);
            tape.Backward(l, cotangent);
            return (l.ToArray(), x.Grad!.ToArray());
        }
        var run = Run(algorithm);
        var composed = Run(CholeskyAlgorithm.Composed);
        double tol = KernelTol<double>() * n / 16.0;
        AssertClose(Reference.Cholesky(a, batch, n), run.L, tol, $"{what} L");
        AssertClose(composed.Grad, run.Grad, tol, $"{what} gradient against the composed algorithm's");
    }
}
