using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// Every op against PyTorch's float64 values, VJPs and JVPs (tests/golden, written by
/// tests/oracle/generate.py), in float64 and float32, on the CPU-tuned device.
/// </summary>
[Collection("Graph")]
public sealed class GoldenTests(DeviceFixture devices)
{
    public static TheoryData<string> Cases() => new(Golden.AllCases());

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesPyTorch(string name) => Run<double>(Golden.Load(name), 1e-9);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesPyTorch(string name) => Run<float>(Golden.Load(name), 1e-3);

    /// <summary>The op a golden case names, applied to vars in the case's input order with the case's flags.</summary>
    public static Var<T> Apply<T>(GoldenCase c, Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T> => c.Entry.Apply(v, c.Args);

    private void Run<T>(GoldenCase c, double tol) where T : unmanaged, IFloatingPointIeee754<T> => Golden.Check<T>(devices.Cpu, c, tol, Apply);
}
