using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of a GP-likelihood contraction launch.</summary>
internal struct GpContractionArgs
{
    public MatLayout S, Alpha, X, W, S2, N2, Ybar, Out;
    public MatLayout XDot, LogWDot, S2Dot, N2Dot; // JVP: tangents of X, log ℓ, log s², log σ²
    public int N, D;

    /// <summary>Columns of W (and of the lengthscale gradient): 1 (isotropic) or D (ARD).</summary>
    public int Q;
}

/// <summary>
/// The contractions of the exact GP likelihood's derivatives with <c>W = S − α·αᵀ</c>, where S is
/// K⁻¹ (whole, symmetric) and α = K⁻¹y, for K = s²·k(D) + (σ² + jitter)·I and
/// D<sub>ik</sub> = Σₘ (wₘ·(x<sub>im</sub> − x<sub>km</sub>))², w = 1/ℓ:
/// d NLL = ½·Σᵢₖ W<sub>ik</sub>·dK<sub>ik</sub> + αᵀ·dy. Each ∂K<sub>ik</sub> is recomputed from X on
/// the fly, so no n×n temporary is formed. One thread per row i of every matrix, writing only its
/// own row of the output; fixed summation order (bitwise reproducible). The same kernel serves
/// both families: its work, O(n²·d) per matrix, is small beside the O(n³) factorization.
/// </summary>
/// <remarks>
/// Per row i (ȳ the cotangent of the NLL, k′ = dk/dD, Δₘ = x<sub>im</sub> − x<sub>km</sub>):
/// ∂K<sub>ik</sub>/∂log s² = s²·k(D<sub>ik</sub>); ∂K<sub>ik</sub>/∂log σ² = σ²·δ<sub>ik</sub>;
/// ∂K<sub>ik</sub>/∂log ℓₘ = −2·s²·k′(D<sub>ik</sub>)·(wₘΔₘ)² (isotropic: summed over m, −2·s²·k′·D);
/// ∂NLL/∂x<sub>im</sub> = ½·2·Σₖ W<sub>ik</sub>·s²·k′(D<sub>ik</sub>)·2wₘ²Δₘ (W symmetric: x<sub>i</sub>
/// enters row i and column i alike).
/// </remarks>
internal static class GpContraction
{
    /// <summary>
    /// K = s²·k(D) + δ·I in place in <paramref name="k"/> [batch, n, n], D from X [batch, n, d] and
    /// w = 1/ℓ [batch, 1, 1 or d]; s² and δ (σ² + jitter) [batch, 1, 1]. The distances are launched
    /// by blocks of rows so that no launch indexes more than the device's
    /// <see cref="Device.MaxLaunchItems"/> elements (batch·n² passes 2³¹ at n = 46,341); every
    /// offset is a long (<see cref="MatLayout.At"/>).
    /// </summary>
    public static void Covariance<T>(Device device, StationaryKernel kernel, MatRef<T> x, MatRef<T> w, MatRef<T> s2, MatRef<T> diagonal, MatRef<T> k)
        where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        int n = k.Rows, batch = k.Batch;
        if (n == 0 || batch == 0) return;
        int rows = DistanceRows(device, batch, n);
        for (int r0 = 0; r0 < n; r0 += rows)
        {
            int count = Math.Min(rows, n - r0);
            Distances.Squared(device, x.Block(r0, 0, count, x.Cols), x, w, k.Block(r0, 0, count, n));
        }
        StationaryMaps.Apply(device, kernel, k, null, k);
        Elementwise.Map(device, new Maps.Multiply<T>(T.One), k, s2, YAccess.ScalarPerMatrix, k);
        Elementwise.Map(device, new Maps.AddScaledIdentity<T>(T.One), k, diagonal, YAccess.ScalarPerMatrix, k);
    }

    /// <summary>Rows of K per distance launch: as many as keep its threads (batch·rows·n on the GPU family, batch·rows on the CPU family) within <see cref="Device.MaxLaunchItems"/>.</summary>
    internal static int DistanceRows(Device device, int batch, int n)
    {
        long perRow = device.Family == KernelFamily.GpuTuned ? (long)batch * n : batch;
        return (int)Math.Clamp(device.MaxLaunchItems / Math.Max(perRow, 1), 1, Math.Max(n, 1));
    }

    /// <summary>
    /// The VJP's rows: out [batch, n, 2 + q + d] with, for row i, ½ȳs²·Σₖ W<sub>ik</sub>k(D<sub>ik</sub>),
    /// then q values −ȳs²·Σₖ W<sub>ik</sub>k′(D<sub>ik</sub>)(wₘΔₘ)², then ½ȳσ²·W<sub>ii</sub>, then
    /// x̄<sub>i</sub> (d values). Summed over the rows, the first 2 + q columns are θ̄ in
    /// (log s², log ℓ…, log σ²) order.
    /// </summary>
    public static void Vjp<T>(Device device, StationaryKernel kernel, MatRef<T> s, MatRef<T> alpha, MatRef<T> x, MatRef<T> w,
        MatRef<T> s2, MatRef<T> n2, MatRef<T> ybar, MatRef<T> output)
        where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        int n = s.Rows, d = x.Cols, batch = s.Batch;
        if (output.Rows != n || output.Cols != 2 + w.Cols + d)
            throw new ArgumentException($"GpContraction: the output is [{output.Rows}, {output.Cols}], not [{n}, {2 + w.Cols + d}].");
        long count = (long)batch * n;
        if (count == 0) return;
        if (count > int.MaxValue) throw new ArgumentException($"GpContraction: {count} rows exceed one launch.");
        var args = new GpContractionArgs
        {
            S = s.Layout, Alpha = alpha.Layout, X = x.Layout, W = w.Layout, S2 = s2.Layout, N2 = n2.Layout, Ybar = ybar.Layout,
            Out = output.Layout, N = n, D = d, Q = w.Cols,
        };
        using var _ = device.Enter();
        switch (kernel)
        {
            case StationaryKernel.Rbf: LaunchVjp<T, StationaryMaps.Rbf<T>>(device, (int)count, s, alpha, x, w, s2, n2, ybar, output, args); break;
            case StationaryKernel.Matern12: LaunchVjp<T, StationaryMaps.Matern12<T>>(device, (int)count, s, alpha, x, w, s2, n2, ybar, output, args); break;
            case StationaryKernel.Matern32: LaunchVjp<T, StationaryMaps.Matern32<T>>(device, (int)count, s, alpha, x, w, s2, n2, ybar, output, args); break;
            case StationaryKernel.Matern52: LaunchVjp<T, StationaryMaps.Matern52<T>>(device, (int)count, s, alpha, x, w, s2, n2, ybar, output, args); break;
            default: throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "GpContraction: unknown kernel.");
        }
    }

    /// <summary>
    /// The JVP's rows: out [batch, n, 1] with ½·Σₖ W<sub>ik</sub>·dK<sub>ik</sub> for row i, dK from
    /// the tangents of X [batch, n, d], log ℓ [batch, 1, q], log s² and log σ² [batch, 1, 1].
    /// </summary>
    public static void Jvp<T>(Device device, StationaryKernel kernel, MatRef<T> s, MatRef<T> alpha, MatRef<T> x, MatRef<T> w,
        MatRef<T> s2, MatRef<T> n2, MatRef<T> xDot, MatRef<T> logLengthscaleDot, MatRef<T> s2Dot, MatRef<T> n2Dot, MatRef<T> output)
        where T : unmanaged, INumber<T>, IRootFunctions<T>, IExponentialFunctions<T>
    {
        int n = s.Rows, d = x.Cols, batch = s.Batch;
        long count = (long)batch * n;
        if (count == 0) return;
        if (count > int.MaxValue) throw new ArgumentException($"GpContraction: {count} rows exceed one launch.");
        var args = new GpContractionArgs
        {
            S = s.Layout, Alpha = alpha.Layout, X = x.Layout, W = w.Layout, S2 = s2.Layout, N2 = n2.Layout, Out = output.Layout,
            XDot = xDot.Layout, LogWDot = logLengthscaleDot.Layout, S2Dot = s2Dot.Layout, N2Dot = n2Dot.Layout, N = n, D = d, Q = w.Cols,
        };
        using var _ = device.Enter();
        switch (kernel)
        {
            case StationaryKernel.Rbf: LaunchJvp<T, StationaryMaps.Rbf<T>>(device, (int)count, s, alpha, x, w, s2, n2, xDot, logLengthscaleDot, s2Dot, n2Dot, output, args); break;
            case StationaryKernel.Matern12: LaunchJvp<T, StationaryMaps.Matern12<T>>(device, (int)count, s, alpha, x, w, s2, n2, xDot, logLengthscaleDot, s2Dot, n2Dot, output, args); break;
            case StationaryKernel.Matern32: LaunchJvp<T, StationaryMaps.Matern32<T>>(device, (int)count, s, alpha, x, w, s2, n2, xDot, logLengthscaleDot, s2Dot, n2Dot, output, args); break;
            case StationaryKernel.Matern52: LaunchJvp<T, StationaryMaps.Matern52<T>>(device, (int)count, s, alpha, x, w, s2, n2, xDot, logLengthscaleDot, s2Dot, n2Dot, output, args); break;
            default: throw new ArgumentOutOfRangeException(nameof(kernel), kernel, "GpContraction: unknown kernel.");
        }
    }

    private static void LaunchVjp<T, TK>(Device device, int count, MatRef<T> s, MatRef<T> alpha, MatRef<T> x, MatRef<T> w,
        MatRef<T> s2, MatRef<T> n2, MatRef<T> ybar, MatRef<T> output, GpContractionArgs args)
        where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        var kernel = device.Kernel(VjpKernel<T, TK>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
            ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, GpContractionArgs>(VjpKernel<T, TK>));
        kernel(count, s.Data, alpha.Data, x.Data, w.Data, s2.Data, n2.Data, ybar.Data, output.Data, args);
    }

    private static void LaunchJvp<T, TK>(Device device, int count, MatRef<T> s, MatRef<T> alpha, MatRef<T> x, MatRef<T> w,
        MatRef<T> s2, MatRef<T> n2, MatRef<T> xDot, MatRef<T> wDot, MatRef<T> s2Dot, MatRef<T> n2Dot, MatRef<T> output, GpContractionArgs args)
        where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        var kernel = device.Kernel(JvpKernel<T, TK>, a => a.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>,
            ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, ArrayView<T>, GpContractionArgs>(JvpKernel<T, TK>));
        kernel(count, s.Data, alpha.Data, x.Data, w.Data, s2.Data, n2.Data, xDot.Data, wDot.Data, s2Dot.Data, n2Dot.Data, output.Data, args);
    }

    /// <summary>wₘ of matrix b (one shared scale when Q = 1).</summary>
    private static T Scale<T>(ArrayView<T> w, GpContractionArgs p, int b, int m) where T : unmanaged, INumber<T> =>
        w[p.W.At(b, 0, p.Q == 1 ? 0 : m)];

    /// <summary>D<sub>ik</sub> of matrix b.</summary>
    private static T Distance<T>(ArrayView<T> x, ArrayView<T> w, GpContractionArgs p, int b, int i, int k) where T : unmanaged, INumber<T>
    {
        T sum = T.Zero;
        for (int m = 0; m < p.D; m++)
        {
            T delta = Scale(w, p, b, m) * (x[p.X.At(b, i, m)] - x[p.X.At(b, k, m)]);
            sum += delta * delta;
        }
        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void VjpKernel<T, TK>(Index1D index, ArrayView<T> s, ArrayView<T> alpha, ArrayView<T> x, ArrayView<T> w,
        ArrayView<T> s2v, ArrayView<T> n2v, ArrayView<T> ybarv, ArrayView<T> output, GpContractionArgs p)
        where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        int i = index % p.N, b = index / p.N;
        int cols = 2 + p.Q + p.D, lengthscales = 1, noise = 1 + p.Q, points = 2 + p.Q;
        for (int c = 0; c < cols; c++) output[p.Out.At(b, i, c)] = T.Zero;
        T ai = alpha[p.Alpha.At(b, i, 0)];
        T signal = T.Zero;
        for (int k = 0; k < p.N; k++)
        {
            T wik = s[p.S.At(b, i, k)] - ai * alpha[p.Alpha.At(b, k, 0)];
            T dik = Distance(x, w, p, b, i, k);
            signal += wik * default(TK).Value(dik);
            T f = wik * default(TK).Derivative(dik);
            for (int m = 0; m < p.D; m++)
            {
                T delta = x[p.X.At(b, i, m)] - x[p.X.At(b, k, m)];
                T scaled = Scale(w, p, b, m) * delta;
                output[p.Out.At(b, i, points + m)] += f * delta;
                output[p.Out.At(b, i, lengthscales + (p.Q == 1 ? 0 : m))] += f * scaled * scaled;
            }
        }
        T two = T.One + T.One;
        T ybar = ybarv[p.Ybar.At(b, 0, 0)], s2 = s2v[p.S2.At(b, 0, 0)];
        output[p.Out.At(b, i, 0)] = ybar * s2 * signal / two;
        for (int c = 0; c < p.Q; c++)
            output[p.Out.At(b, i, lengthscales + c)] = -ybar * s2 * output[p.Out.At(b, i, lengthscales + c)];
        T wii = s[p.S.At(b, i, i)] - ai * ai;
        output[p.Out.At(b, i, noise)] = ybar * n2v[p.N2.At(b, 0, 0)] * wii / two;
        for (int m = 0; m < p.D; m++)
        {
            T wm = Scale(w, p, b, m);
            output[p.Out.At(b, i, points + m)] = two * ybar * s2 * wm * wm * output[p.Out.At(b, i, points + m)];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void JvpKernel<T, TK>(Index1D index, ArrayView<T> s, ArrayView<T> alpha, ArrayView<T> x, ArrayView<T> w,
        ArrayView<T> s2v, ArrayView<T> n2v, ArrayView<T> xDot, ArrayView<T> logWDot, ArrayView<T> s2Dotv, ArrayView<T> n2Dotv, ArrayView<T> output,
        GpContractionArgs p)
        where T : unmanaged, INumber<T> where TK : struct, IStationaryFunction<T>
    {
        int i = index % p.N, b = index / p.N;
        T two = T.One + T.One;
        T ai = alpha[p.Alpha.At(b, i, 0)];
        T s2 = s2v[p.S2.At(b, 0, 0)], s2Dot = s2Dotv[p.S2Dot.At(b, 0, 0)];
        T sum = T.Zero;
        for (int k = 0; k < p.N; k++)
        {
            T wik = s[p.S.At(b, i, k)] - ai * alpha[p.Alpha.At(b, k, 0)];
            T dik = T.Zero, dDot = T.Zero;
            for (int m = 0; m < p.D; m++)
            {
                T wm = Scale(w, p, b, m);
                T delta = x[p.X.At(b, i, m)] - x[p.X.At(b, k, m)];
                T deltaDot = xDot[p.XDot.At(b, i, m)] - xDot[p.XDot.At(b, k, m)];
                T logLDot = logWDot[p.LogWDot.At(b, 0, p.Q == 1 ? 0 : m)];
                dik += wm * wm * delta * delta;
                // d(w²Δ²) = 2w²Δ·dΔ + 2w²Δ²·(dw/w), dw/w = −d log ℓ
                dDot += two * wm * wm * delta * (deltaDot - delta * logLDot);
            }
            T dk = s2 * (default(TK).Value(dik) * s2Dot + default(TK).Derivative(dik) * dDot);
            sum += wik * dk;
        }
        T wii = s[p.S.At(b, i, i)] - ai * ai;
        sum += wii * n2v[p.N2.At(b, 0, 0)] * n2Dotv[p.N2Dot.At(b, 0, 0)];
        output[p.Out.At(b, i, 0)] = sum / two;
    }
}
