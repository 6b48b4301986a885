using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

/// <summary>The kernels' exp and tanh against .NET's, in managed code and through their maps on both families.</summary>
[Collection("Elementwise")]
public sealed class DeviceMathTests(DeviceFixture devices)
{
    private static double Ulps(double got, double expected)
    {
        if (expected == 0) return got == 0 ? 0 : double.PositiveInfinity;
        return Math.Abs(got - expected) / (Math.BitIncrement(Math.Abs(expected)) - Math.Abs(expected));
    }

    [Fact]
    public void ExpIsWithinTwoUlpsOfDotNetsOverTheWholeRange()
    {
        var rng = new Random(7);
        double worst = 0;
        for (int i = 0; i < 200_000; i++)
        {
            double x = i < 100_000 ? -745 + 1454.7 * rng.NextDouble() : 40 * (rng.NextDouble() - 0.5);
            worst = Math.Max(worst, Ulps(DeviceMath.ExpDouble(x), Math.Exp(x)));
        }
        Assert.True(worst <= 2, $"worst error {worst} ulps");
        foreach (double x in new[] { 0.0, -0.0, 1.0, -1.0, 1e-300, -1e-300, 0.5 * Math.Log(2), -708.5, -740.0, -745.0, 709.0, 709.7 })
            Assert.True(Ulps(DeviceMath.ExpDouble(x), Math.Exp(x)) <= 2, $"exp({x}) = {DeviceMath.ExpDouble(x)}, expected {Math.Exp(x)}");
        Assert.Equal(double.PositiveInfinity, DeviceMath.ExpDouble(710));
        Assert.Equal(double.PositiveInfinity, DeviceMath.ExpDouble(double.PositiveInfinity));
        Assert.Equal(0.0, DeviceMath.ExpDouble(-746));
        Assert.Equal(0.0, DeviceMath.ExpDouble(double.NegativeInfinity));
        Assert.True(double.IsNaN(DeviceMath.ExpDouble(double.NaN)));
    }

    [Fact]
    public void TanhIsWithinFourUlpsOfDotNetsOverTheWholeRange()
    {
        var rng = new Random(8);
        double worst = 0;
        for (int i = 0; i < 200_000; i++)
        {
            double x = i < 100_000 ? 40 * (rng.NextDouble() - 0.5) : Math.Pow(10, -300 * rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
            worst = Math.Max(worst, Ulps(DeviceMath.TanhDouble(x), Math.Tanh(x)));
        }
        Assert.True(worst <= 4, $"worst error {worst} ulps");
        foreach (double x in new[] { 1e-300, -1e-300, 1e-10, 0.25, -0.25, 0.2501, 0.5, 1, 18, 19.1, 355, -400, 1e300 })
            Assert.True(Ulps(DeviceMath.TanhDouble(x), Math.Tanh(x)) <= 4, $"tanh({x}) = {DeviceMath.TanhDouble(x)}, expected {Math.Tanh(x)}");
        Assert.Equal(0.0, DeviceMath.TanhDouble(0.0));
        Assert.Equal(1.0, DeviceMath.TanhDouble(double.PositiveInfinity));
        Assert.Equal(-1.0, DeviceMath.TanhDouble(double.NegativeInfinity));
        Assert.True(double.IsNaN(DeviceMath.TanhDouble(double.NaN)));
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void TheTanhMapIsFiniteForLargeArgumentsAndAccurateForSmallOnes(KernelFamily family)
    {
        var device = devices.Get(family);
        double[] x = [400, -800, 1e-10, -3e-5, 0.7, 30];
        var shape = new Shape(1, 2, 3);
        using var input = device.Upload<double>(x, shape);
        using var output = device.Allocate<double>(shape);
        Elementwise.Map(device, new Maps.Tanh<double>(), input.Mat, output.Mat);
        var y = output.ToArray();
        for (int k = 0; k < x.Length; k++)
            Assert.True(Ulps(y[k], Math.Tanh(x[k])) <= 4, $"tanh({x[k]}) = {y[k]}, expected {Math.Tanh(x[k])}");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void TheExpMapMatchesDotNetInBothTypes(KernelFamily family)
    {
        var device = devices.Get(family);
        var shape = new Shape(2, 7, 9);
        var x = TestData.Random(shape, 3).Select(v => 30 * v).ToArray();
        using var dx = device.Upload<double>(x, shape);
        using var dy = TestData.Poisoned<double>(device, shape);
        Elementwise.Map(device, new Maps.Exp<double>(-2), dx.Mat, dx.Mat, YAccess.Same, dy.Mat);
        var y = dy.ToArray();
        for (int e = 0; e < x.Length; e++)
            Assert.True(Ulps(y[e], -2 * Math.Exp(x[e])) <= 2, $"{family} f64: exp({x[e]})·(−2) = {y[e]}");

        var xf = x.Select(v => (float)v).ToArray();
        using var fx = device.Upload<float>(xf, shape);
        using var fy = TestData.Poisoned<float>(device, shape);
        Elementwise.Map(device, new Maps.Exp<float>(1), fx.Mat, fx.Mat, YAccess.Same, fy.Mat);
        var yf = fy.ToArray();
        for (int e = 0; e < xf.Length; e++)
            Assert.Equal((float)Math.Exp(xf[e]), yf[e]); // float64 exp rounded once to float32
    }
}
