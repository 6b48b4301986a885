using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

[Collection("Graph")]
public sealed class GradcheckTests(DeviceFixture devices)
{
    [Theory]
    [MemberData(nameof(OpCases.SmallData), MemberType = typeof(OpCases))]
    public void VjpAndJvpMatchFiniteDifferencesAndEachOther(OpCase c)
    {
        var r = Gradcheck.Run(devices.Cpu, c.F, c.Inputs);
        Assert.True(r.Passed, $"{c.Name}: VJP err {r.VjpError:E2}, JVP err {r.JvpError:E2}, adjoint err {r.AdjointError:E2}");
    }

    [Theory]
    [MemberData(nameof(LinalgCases.Data), MemberType = typeof(LinalgCases))]
    public void FactorizationOpsMatchFiniteDifferencesAndEachOther(OpCase c)
    {
        var r = Gradcheck.Run(devices.Cpu, c.F, c.Inputs);
        Assert.True(r.Passed, $"{c.Name}: VJP err {r.VjpError:E2}, JVP err {r.JvpError:E2}, adjoint err {r.AdjointError:E2}");
    }

    [Fact]
    public void GradcheckCatchesAWrongGradient()
    {
        // A deliberately wrong derivative: y = A·A with A treated as a constant on one side.
        var s = new Shape(1, 4, 4);
        var x = new GradcheckInput(TestData.Random(s, 3), s);
        var r = Gradcheck.Run(devices.Cpu, v =>
        {
            var constant = v[0].Tape.Constant(v[0].Value);
            return Op.MatMul(v[0], constant);
        }, [x]);
        Assert.False(r.Passed);
        Assert.True(r.VjpError > 1e-3 && r.JvpError > 1e-3, $"{r}");
    }
}
