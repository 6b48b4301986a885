using GpuAD.Kernels;

namespace GpuAD.Tests.Cli;

/// <summary>
/// <c>gpuad vjp</c> and <c>gpuad jvp</c> on .npy files give what the library gives on the same
/// arrays: the expected values are computed here with the library API, never written down.
/// </summary>
[Collection("Cli")]
public sealed class CliDerivativeTests(DeviceFixture devices)
{
    /// <summary>
    /// One op call: the inputs (a 2-D file where <c>TwoD</c>), the library call, the tool's flags,
    /// and whether to run jvp too (vjp runs for every op; jvp shares its op table and I/O, so a few
    /// ops cover it: one input, three inputs with a broadcast 2-D file, and the flags).
    /// </summary>
    public sealed record Case(string Op, (string Name, double[] Data, Shape Shape, bool TwoD)[] Inputs, Func<Var<double>[], Var<double>> Library, string[] Flags, bool Jvp = false)
    {
        public override string ToString() => Op;
    }

    private static (string, double[], Shape, bool) G(string name, Shape s, int seed, bool twoD = false) => (name, TestData.Random(s, seed), s, twoD);

    private static readonly Case[] Cases =
    [
        new("matmul", [G("a", new(2, 3, 4), 1), G("b", new(2, 4, 5), 2)], v => Op.MatMul(v[0], v[1]), []),
        // X as a 2-D file: one matrix, broadcast over the batch.
        new("axb", [G("a", new(2, 3, 4), 3), G("x", new(1, 4, 4), 4, twoD: true), G("b", new(2, 4, 2), 5)], v => Op.Axb(v[0], v[1], v[2]), [], Jvp: true),
        new("cholesky", [("sigma", TestData.Spd(2, 5, 6), new(2, 5, 5), false)], v => Op.Cholesky(v[0]), [], Jvp: true),
        new("triangular-solve", [("t", TestData.Triangular(2, 6, lower: false, 7), new(2, 6, 6), false), G("rhs", new(2, 3, 6), 8)],
            v => Op.TriangularSolve(v[0], v[1], lower: false, left: false, transpose: true, unitDiagonal: false),
            ["--lower", "false", "--left", "false", "--transpose", "true", "--unit-diagonal", "false"], Jvp: true),
        new("a-xinv-b", [G("a", new(2, 3, 5), 9), ("x", TestData.Invertible(2, 5, 10), new(2, 5, 5), false), G("b", new(2, 5, 2), 11)], v => Op.AXInvB(v[0], v[1], v[2]), []),
        new("logdet", [("sigma", TestData.Spd(2, 6, 12), new(2, 6, 6), false)], v => Op.LogDet(v[0]), []),
        new("cholesky-solve", [("sigma", TestData.Spd(1, 4, 13), new(1, 4, 4), true), G("rhs", new(3, 4, 2), 14)], v => Op.CholeskySolve(v[0], v[1]), []),
        // Flagless catalogue entries the tool offers beside the seven above.
        new("solve", [("x", TestData.Invertible(2, 5, 15), new(2, 5, 5), false), G("b", new(2, 5, 3), 16)], v => Op.Solve(v[0], v[1]), []),
        new("cholesky-inverse", [("l", TestData.Triangular(2, 6, lower: true, 17), new(2, 6, 6), false)], v => Op.CholeskyInverse(v[0]), [], Jvp: true),
        new("sin", [G("a", new(2, 4, 3), 18)], v => Op.Sin(v[0]), []),
        new("distances", [G("x1", new(2, 5, 3), 19), G("x2", new(2, 4, 3), 20)], v => Op.Distances(v[0], v[1]), []),
        new("gp-nll", [("sigma", TestData.Spd(2, 6, 21), new(2, 6, 6), false), G("y", new(2, 6, 1), 22)], v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), []),
    ];

    /// <summary>Cholesky, vjp and jvp, in the fast tier; the other ops in the slow one.</summary>
    public static TheoryData<Case> Smoke() => new(Cases.Where(c => c.Op == "cholesky"));

    public static TheoryData<Case> Ops() => new(Cases.Where(c => c.Op != "cholesky"));

    [Theory]
    [MemberData(nameof(Smoke))]
    public void VjpAndJvpEqualTheLibrary(Case c) => VjpAndJvp(c);

    [Theory]
    [MemberData(nameof(Ops))]
    [Trait("Tier", "Slow")]
    public void VjpAndJvpOfEveryOtherOpEqualTheLibrary(Case c) => VjpAndJvp(c);

    private void VjpAndJvp(Case c)
    {
        var device = devices.Cpu;
        using var dir = new TempDir();
        var args = new List<string>();
        foreach (var (name, data, shape, twoD) in c.Inputs)
        {
            string path = dir[$"{name}.npy"];
            if (twoD) Npy.Write<double>(path, data, shape.Rows, shape.Cols);
            else Npy.Write<double>(path, data, shape.Batch, shape.Rows, shape.Cols);
            args.AddRange(["--input", $"{name}={path}"]);
        }
        args.AddRange(c.Flags);
        args.AddRange(["--device", "cpu"]);

        // Reverse mode: the library's value and VJP for a random cotangent.
        double[] y;
        Shape yShape;
        double[] cotangent;
        double[][] grads;
        using (var tape = new Tape(device))
        {
            var vars = c.Inputs.Select(x => tape.Variable(x.Data, x.Shape)).ToArray();
            var output = c.Library(vars);
            (y, yShape) = (output.ToArray(), output.Shape);
            cotangent = TestData.Random(yShape, 99);
            using var cot = device.Upload<double>(cotangent, yShape);
            tape.Backward(output, cot);
            grads = vars.Select(v => v.Grad!.ToArray()).ToArray();
        }
        Npy.Write<double>(dir["cot.npy"], cotangent, yShape.Batch, yShape.Rows, yShape.Cols);
        var vjp = ToolProcess.Run(["vjp", c.Op, .. args, "--cotangent", dir["cot.npy"], "--out", dir["vjp"]]);
        Assert.True(vjp.ExitCode == 0, vjp.ToString());
        AssertFile(dir["vjp/y.npy"], y, yShape);
        for (int i = 0; i < c.Inputs.Length; i++)
            AssertFile(dir[$"vjp/grad_{c.Inputs[i].Name}.npy"], grads[i], c.Inputs[i].Shape);

        if (!c.Jvp) return;

        // Forward mode: tangents for every input but the last, which is therefore zero.
        var tangents = c.Inputs.Select((x, i) => i < c.Inputs.Length - 1 || c.Inputs.Length == 1 ? TestData.Random(x.Shape, 200 + i) : null).ToArray();
        double[] ydot;
        using (var tape = new Tape(device))
        {
            var owned = new List<DeviceTensor<double>>();
            var vars = c.Inputs.Select((x, i) =>
            {
                var value = device.Upload<double>(x.Data, x.Shape);
                owned.Add(value);
                DeviceTensor<double>? tangent = null;
                if (tangents[i] is { } t) owned.Add(tangent = device.Upload<double>(t, x.Shape));
                return tape.Variable(value, tangent);
            }).ToArray();
            ydot = c.Library(vars).Tangent!.ToArray();
            foreach (var t in owned) t.Dispose();
        }
        var tangentArgs = new List<string>();
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            if (tangents[i] is not { } t) continue;
            var s = c.Inputs[i].Shape;
            Npy.Write<double>(dir[$"d{c.Inputs[i].Name}.npy"], t, s.Batch, s.Rows, s.Cols);
            tangentArgs.AddRange(["--tangent", $"{c.Inputs[i].Name}={dir[$"d{c.Inputs[i].Name}.npy"]}"]);
        }
        var jvp = ToolProcess.Run(["jvp", c.Op, .. args, .. tangentArgs, "--out", dir["jvp"]]);
        Assert.True(jvp.ExitCode == 0, jvp.ToString());
        AssertFile(dir["jvp/y.npy"], y, yShape);
        AssertFile(dir["jvp/ydot.npy"], ydot, yShape);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void Float32RunWritesFloat32Arrays()
    {
        using var dir = new TempDir();
        var sigma = TestData.Spd(2, 4, 21);
        Npy.Write<double>(dir["s.npy"], sigma, 2, 4, 4);
        var run = ToolProcess.Run("jvp", "cholesky", "--input", $"sigma={dir["s.npy"]}", "--dtype", "f32", "--device", "cpu", "--out", dir["out"]);
        Assert.True(run.ExitCode == 0, run.ToString());
        var y = Npy.Read(dir["out/y.npy"]);
        Assert.Equal("f4", y.DType);
        var ydot = Npy.Read(dir["out/ydot.npy"]);
        Assert.Equal([2, 4, 4], ydot.Shape);
        Assert.All(ydot.ToDouble(), x => Assert.Equal(0.0, x)); // no tangent given: zero

        using var tape = new Tape(devices.Cpu);
        var expected = Op.Cholesky(tape.Variable(TestData.To<float>(sigma), new Shape(2, 4, 4))).ToArray();
        Assert.Equal(expected, y.ToSingle());
    }

    private static void AssertFile(string path, double[] expected, Shape shape)
    {
        var array = Npy.Read(path);
        Assert.Equal([shape.Batch, shape.Rows, shape.Cols], array.Shape);
        Assert.Equal("f8", array.DType);
        TestData.AssertClose(expected, array.ToDouble(), 1e-12, path);
    }
}
