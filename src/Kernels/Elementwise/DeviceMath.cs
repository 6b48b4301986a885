using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;

namespace GpuAD.Kernels;

/// <summary>
/// Math functions for kernels whose ILGPU 1.5.3 versions are slow on the GPU. Without CUDA's
/// libdevice (which needs the CUDA toolkit on the user's machine, not only the driver), ILGPU
/// computes a float64 exp by CORDIC iterations, tens of times slower than a memory-bound map over
/// the same elements (the GP suite's profiles in bench/results/2026-11-27-gpu-logs). These run on
/// both kernel families, so the CPU accelerator computes the same values the GPU does.
/// </summary>
internal static class DeviceMath
{
    private const double Log2E = 1.4426950408889634;
    private const double Ln2Hi = 6.93147180369123816490e-01; // ln 2's leading 32 bits: k·Ln2Hi is exact for |k| < 2²⁰
    private const double Ln2Lo = 1.90821492927058770002e-10;  // ln 2 − Ln2Hi

    /// <summary>eˣ for T float or double, told apart by their size (ILGPU kernels cannot use typeof).</summary>
    public static T Exp<T>(T x) where T : unmanaged, INumber<T>
    {
        if (Interop.SizeOf<T>() == sizeof(double))
        {
            T local = x;
            double r = ExpDouble(Unsafe.As<T, double>(ref local));
            return Unsafe.As<double, T>(ref r);
        }
        T single = x;
        float f = (float)ExpDouble(Unsafe.As<T, float>(ref single));
        return Unsafe.As<float, T>(ref f);
    }

    /// <summary>
    /// eˣ within about 1 ulp: x = k·ln 2 + r with |r| ≤ ½ ln 2 (Cody–Waite, ln 2 in two parts),
    /// eʳ by its Taylor series to r¹³ (Horner; the remainder is below 4e-18 relative), times 2ᵏ built
    /// from the exponent bits in two factors, so that subnormal results come out right.
    /// </summary>
    public static double ExpDouble(double x)
    {
        if (double.IsNaN(x)) return x;
        if (x > 709.782712893384) return double.PositiveInfinity;
        if (x < -745.1332191019412) return 0.0;      // below half the smallest subnormal, −∞ included
        double kf = Math.Floor(x * Log2E + 0.5);
        double r = (x - kf * Ln2Hi) - kf * Ln2Lo;
        double p = 1.0 / 6227020800.0;               // 1/13!
        p = p * r + 1.0 / 479001600.0;
        p = p * r + 1.0 / 39916800.0;
        p = p * r + 1.0 / 3628800.0;
        p = p * r + 1.0 / 362880.0;
        p = p * r + 1.0 / 40320.0;
        p = p * r + 1.0 / 5040.0;
        p = p * r + 1.0 / 720.0;
        p = p * r + 1.0 / 120.0;
        p = p * r + 1.0 / 24.0;
        p = p * r + 1.0 / 6.0;
        p = p * r + 0.5;
        p = p * r + 1.0;
        p = p * r + 1.0;
        int k = (int)kf, k1 = k / 2, k2 = k - k1;   // each within the normal exponents
        return p * Pow2(k1) * Pow2(k2);
    }

    /// <summary>tanh x for T float or double (computed in double), told apart by their size.</summary>
    public static T Tanh<T>(T x) where T : unmanaged, INumber<T>
    {
        if (Interop.SizeOf<T>() == sizeof(double))
        {
            T local = x;
            double r = TanhDouble(Unsafe.As<T, double>(ref local));
            return Unsafe.As<double, T>(ref r);
        }
        T single = x;
        float f = (float)TanhDouble(Unsafe.As<T, float>(ref single));
        return Unsafe.As<float, T>(ref f);
    }

    /// <summary>
    /// tanh x = sign(x)·(−m)/(2 + m) with m = e^(−2|x|) − 1 ∈ (−1, 0]: no overflow for large |x|
    /// (ILGPU.Algorithms' PTX tanh computes (e²ˣ − 1)·1/(e²ˣ + 1), NaN once e²ˣ overflows at
    /// |x| > 355), and m from its Taylor series near 0, so small x keep their relative accuracy
    /// (e^(−2|x|) − 1 would cancel).
    /// </summary>
    public static double TanhDouble(double x)
    {
        if (double.IsNaN(x)) return x;
        double a = x < 0 ? -x : x;
        double m = ExpMinusOne(-(a + a));
        double t = (0.0 - m) / (2.0 + m);
        return x < 0 ? -t : t;
    }

    /// <summary>
    /// eʸ − 1 for y ≤ 0: by <see cref="ExpDouble"/> below −½ (no cancellation there), else by the
    /// Taylor series to y¹⁷/17! (Horner; the remainder is below 1e-21 relative).
    /// </summary>
    private static double ExpMinusOne(double y)
    {
        if (y < -0.5) return ExpDouble(y) - 1.0;
        double p = 1.0 / 355687428096000.0;          // 1/17!
        p = p * y + 1.0 / 20922789888000.0;
        p = p * y + 1.0 / 1307674368000.0;
        p = p * y + 1.0 / 87178291200.0;
        p = p * y + 1.0 / 6227020800.0;
        p = p * y + 1.0 / 479001600.0;
        p = p * y + 1.0 / 39916800.0;
        p = p * y + 1.0 / 3628800.0;
        p = p * y + 1.0 / 362880.0;
        p = p * y + 1.0 / 40320.0;
        p = p * y + 1.0 / 5040.0;
        p = p * y + 1.0 / 720.0;
        p = p * y + 1.0 / 120.0;
        p = p * y + 1.0 / 24.0;
        p = p * y + 1.0 / 6.0;
        p = p * y + 0.5;
        p = p * y + 1.0;
        return p * y;
    }

    /// <summary>2ᵏ for −1022 ≤ k ≤ 1023, from its exponent bits.</summary>
    private static double Pow2(int k) => Interop.IntAsFloat((ulong)(k + 1023) << 52);
}
