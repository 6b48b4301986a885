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

    private void Run<T>(GoldenCase c, double tol) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Cpu;
        using var tape = new Tape(device);
        var owned = new List<DeviceTensor<T>>();
        DeviceTensor<T> Up(NpyArray a)
        {
            var t = device.Upload<T>(a.To<T>(), a.BatchShape);
            owned.Add(t);
            return t;
        }
        try
        {
            var vars = c.InputNames.Select(n => tape.Variable(Up(c.Inputs[n]), Up(c.Tangents[n]))).ToArray();
            var y = Apply(c, vars);
            Check(c.Y, y.Value.ToArray(), tol, $"{c.Name} y");
            Check(c.Ydot, y.Tangent!.ToArray(), tol, $"{c.Name} JVP");
            tape.Backward(y, Up(c.Cotangent));
            for (int i = 0; i < vars.Length; i++)
            {
                var name = c.InputNames[i];
                Assert.True(vars[i].Grad is not null, $"{c.Name}: no gradient for {name}");
                Check(c.Grads[name], vars[i].Grad!.ToArray(), tol, $"{c.Name} grad {name}");
            }
        }
        finally
        {
            tape.Dispose();
            foreach (var t in owned) t.Dispose();
        }
    }

    private static void Check<T>(NpyArray expected, T[] actual, double tol, string what) where T : unmanaged, IFloatingPointIeee754<T> =>
        TestData.AssertClose(expected.ToDouble(), actual, tol, what);
}
