using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests;

/// <summary>
/// A Cholesky plan run by the kernels and checked against the float64 references, for the test
/// classes of each plan (two levels, dataflow): the plan's launches counted, the triangles that
/// must not be read filled with NaN.
/// </summary>
public static class CholeskyPlanChecks
{
    /// <summary>
    /// Factors <paramref name="da"/> (A over NaN above the diagonal) by <paramref name="plan"/>: the
    /// plan's forward launches, info all zero, L against the float64 factor of
    /// <paramref name="a"/> and its strict upper triangle exactly zero. Returns L.
    /// </summary>
    internal static double[] Factor<T>(Device device, CholeskyPlan plan, DeviceTensor<T> da, DeviceTensor<int> info, double[] a, int batch, int n, double tol, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long before = device.Launches;
        Blas.Potrf(device, da.Mat, info, plan);
        Assert.Equal(plan.ForwardLaunches, device.Launches - before);
        Assert.Equal(new int[batch], info.ToArray());
        var l = TestData.ToDouble(da.ToArray());
        TestData.AssertClose(Reference.Cholesky(a, batch, n), l, tol, what + ": L");
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            Assert.True(l[(long)b * n * n + i * n + j] == 0, $"{what}: L[{b}, {i}, {j}] above the diagonal is {l[(long)b * n * n + i * n + j]}, not 0");
        return l;
    }

    /// <summary>
    /// The symmetrized reverse of <paramref name="plan"/> from L and L̄ (their upper triangles NaN):
    /// the plan's backward launches and Σ̄ against the float64 formula. Returns Σ̄.
    /// </summary>
    internal static double[] Reverse<T>(Device device, CholeskyPlan plan, double[] l, double[] lbar, int batch, int n, double tol, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = new Shape(batch, n, n);
        using var dl = TestData.Upload<T>(device, TestData.WithNaNAbove(l, batch, n), shape);
        using var dbar = TestData.Upload<T>(device, TestData.WithNaNAbove(lbar, batch, n), shape);
        long before = device.Launches;
        Blas.PotrfBackward(device, dl.Mat, dbar.Mat, plan, symmetrize: true);
        Assert.Equal(plan.BackwardLaunches(symmetrize: true), device.Launches - before);
        var got = TestData.ToDouble(dbar.ToArray());
        TestData.AssertClose(Reference.CholeskyBackward(l, lbar, batch, n), got, tol, what + ": Σ̄ against the float64 formula");
        return got;
    }
}
