using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The cotangent of the distance scales, out(b, 0, c) = 2w·Σᵢⱼ G(i, j)·Σₖ δᵢⱼₖ², on both families
/// against a float64 reference: one shared scale and one per dimension, batch 2 with a broadcast
/// X₂, and sizes whose n·m spans several row blocks of the GPU family's first pass (and one that
/// does not divide evenly), so the two-pass reduction's blocks and their sum are checked.
/// </summary>
[Collection("Elementwise")]
public sealed class DistancesScaleCotangentTests(DeviceFixture devices)
{
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 200, 150, 1)]
    [InlineData(KernelFamily.GpuTuned, 201, 97, 3)]
    [InlineData(KernelFamily.GpuTuned, 5, 4, 3)]
    [InlineData(KernelFamily.CpuTuned, 201, 97, 3)]
    public void MatchesTheReference(KernelFamily family, int n, int m, int wCols)
    {
        const int batch = 2, d = 3;
        var device = devices.Get(family);
        Assert.True(family == KernelFamily.CpuTuned || n * m <= 1 << 14 || Distances.ScaleChunks(n, m) > 1, "several row blocks");
        var x1 = TestData.Random(new Shape(batch, n, d), 1);
        var x2 = TestData.Random(new Shape(1, m, d), 2);
        var g = TestData.Random(new Shape(batch, n, m), 3);
        var w = TestData.Random(new Shape(batch, 1, wCols), 4);
        var expected = new double[batch * wCols];
        for (int b = 0; b < batch; b++)
        for (int c = 0; c < wCols; c++)
        {
            double s = 0;
            for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            for (int k = wCols == 1 ? 0 : c; k < (wCols == 1 ? d : c + 1); k++)
            {
                double delta = x1[(b * n + i) * d + k] - x2[j * d + k];
                s += g[((long)b * n + i) * m + j] * delta * delta;
            }
            expected[b * wCols + c] = 2 * w[b * wCols + c] * s;
        }
        using var dx1 = TestData.Upload<double>(device, x1, new Shape(batch, n, d));
        using var dx2 = TestData.Upload<double>(device, x2, new Shape(1, m, d));
        using var dg = TestData.Upload<double>(device, g, new Shape(batch, n, m));
        using var dw = TestData.Upload<double>(device, w, new Shape(batch, 1, wCols));
        using var output = TestData.Poisoned<double>(device, new Shape(batch, 1, wCols));
        Distances.ScaleCotangent(device, dg.Mat, dx1.Mat, Blas.Broadcast(dx2, batch, "test"), dw.Mat, output.Mat);
        var got = output.ToArray();
        TestData.AssertClose(expected, got, 1e-12, $"{family} n={n} m={m} scales={wCols}");

        // Fixed summation order: a second run is bitwise the same.
        using var again = TestData.Poisoned<double>(device, new Shape(batch, 1, wCols));
        Distances.ScaleCotangent(device, dg.Mat, dx1.Mat, Blas.Broadcast(dx2, batch, "test"), dw.Mat, again.Mat);
        Assert.Equal(got, again.ToArray());
    }
}
