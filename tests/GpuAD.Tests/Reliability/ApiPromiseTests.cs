using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// The GP API's promises on hostile arguments: a value beyond float32's range is refused where it
/// is converted (naming the input and the element), and GpFit's arguments are checked as its XML
/// docs say.
/// </summary>
[Collection("Reliability")]
public sealed class ApiPromiseTests(DeviceFixture devices)
{
    private static readonly double[] X = [0, 1, 2, 3, 4];

    [Fact]
    public void GpObjectiveInFloat32RefusesATargetBeyondItsRange()
    {
        double[] y = [0, 1, 0, 1e39, 0];
        var e = Assert.Throws<ElementRangeException>(() => new GpObjective<float>(devices.Cpu, X, y, 1, 5, 1, StationaryKernel.Rbf, ard: false));
        Assert.Equal(("y", "[0, 3, 0]", 3L, "float32"), (e.Input, e.Index, e.FlatIndex, e.ElementType));
        Assert.Contains("y: element [0, 3, 0] = 1E+39 is beyond float32's range", e.Message);
        // float64 holds it.
        using var ok = new GpObjective<double>(devices.Cpu, X, y, 1, 5, 1, StationaryKernel.Rbf, ard: false);
    }

    [Fact]
    public void GpObjectiveInFloat32RefusesAnInputBeyondItsRange()
    {
        double[] x = [0, 1, -1e39, 3, 4];
        var e = Assert.Throws<ElementRangeException>(() => new GpObjective<float>(devices.Cpu, x, [0, 1, 0, 1, 0], 1, 5, 1, StationaryKernel.Rbf, ard: false));
        Assert.Equal(("X", "[0, 2, 0]"), (e.Input, e.Index));
    }

    [Fact]
    public void TapeVariableFromFloat64RefusesAValueBeyondFloat32()
    {
        using var tape = new Tape(devices.Cpu);
        var e = Assert.Throws<ElementRangeException>(() => tape.Variable<float>([1.0, 2.0, 3e38, 4e38], new Shape(1, 2, 2), "sigma"));
        Assert.Equal(("sigma", "[0, 1, 1]"), (e.Input, e.Index));
        var v = tape.Variable<float>([1.0, 2.0, 3e38, -3e38], new Shape(1, 2, 2), "sigma");
        Assert.Equal([1f, 2f, 3e38f, -3e38f], v.ToArray());
    }

    [Fact]
    public void GpFitChecksItsArgumentsAsDocumented()
    {
        using var objective = new GpObjective<double>(devices.Cpu, X, [0, 1, 0, 1, 0], 1, 5, 1, StationaryKernel.Rbf, ard: false);
        // Crossed bounds: GpFit's own words, not Math.Clamp's.
        var crossed = Assert.Throws<ArgumentException>(() => GpFit.Fit(objective, null, new GpFitOptions(LowerBound: 1, UpperBound: -1)));
        Assert.Contains("GpFit: the bounds [1, -1] are not an interval", crossed.Message);
        // θ₀ outside the bounds: the ArgumentException the docs promise, not a silent clamp.
        var outside = Assert.Throws<ArgumentException>(() => GpFit.Fit(objective, [0, 20, 0]));
        Assert.Contains("θ₀[1] = 20 lies outside the bounds", outside.Message);
        // NaN θ₀: an invalid argument, not a divergence.
        var nan = Assert.Throws<ArgumentException>(() => GpFit.Fit(objective, [double.NaN, 0, 0]));
        Assert.Contains("θ₀[0] is NaN", nan.Message);
        // A θ₀ on a bound is inside.
        var fit = GpFit.Fit(objective, [0, new GpFitOptions().UpperBound, 0], new GpFitOptions(MaxIterations: 5));
        Assert.True(double.IsFinite(fit.Nll[0]));
    }
}
