using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>What values an input holds (so the op is defined at it).</summary>
public enum InputKind
{
    /// <summary>Uniform(−1, 1).</summary>
    General,

    /// <summary>Uniform(1, 3): in the domain of log.</summary>
    Positive,

    /// <summary>Symmetric positive-definite.</summary>
    Spd,

    /// <summary>2·I + noise/√n: invertible and well-conditioned.</summary>
    Invertible,

    /// <summary>Lower triangular with a dominant diagonal.</summary>
    Lower,

    /// <summary>Upper triangular with a dominant diagonal.</summary>
    Upper,
}

/// <summary>One input of an <see cref="OpSpec"/>.</summary>
/// <param name="Kind">Its values.</param>
/// <param name="Shape">Its shape.</param>
/// <param name="RejectsNonFinite">
/// The exception the op raises when this input holds NaN or ±Inf where it is read (a matrix the
/// op factors), or null when non-finite values propagate to the output.
/// </param>
public sealed record InputSpec(InputKind Kind, Shape Shape, Type? RejectsNonFinite = null)
{
    /// <summary>Row-major data of the input's kind.</summary>
    public double[] Data(int seed)
    {
        var s = Shape;
        switch (Kind)
        {
            case InputKind.Positive:
                return TestData.Random(s, seed).Select(x => x + 2).ToArray();
            case InputKind.Spd:
                return TestData.Spd(s.Batch, s.Rows, seed);
            case InputKind.Lower:
            case InputKind.Upper:
                return TestData.Triangular(s.Batch, s.Rows, Kind == InputKind.Lower, seed);
            case InputKind.Invertible:
                var a = TestData.Random(s, seed);
                int n = s.Rows;
                for (int b = 0; b < s.Batch; b++)
                for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    a[(b * n + i) * n + j] = (i == j ? 2 : 0) + a[(b * n + i) * n + j] / Math.Sqrt(n);
                return a;
            default:
                return TestData.Random(s, seed);
        }
    }

    /// <summary>
    /// The flat index of an element of the last matrix that the op reads: the last diagonal element
    /// of a square input (off the diagonal, (n−1, 0) or (0, n−1), for a triangular factor, so the
    /// solve does not merely divide by it), the last element otherwise.
    /// </summary>
    public long ReadElement()
    {
        var s = Shape;
        long matrix = (long)(s.Batch - 1) * s.MatrixLength;
        return Kind switch
        {
            InputKind.Lower => matrix + (long)(s.Rows - 1) * s.Cols,
            InputKind.Upper => matrix + s.Cols - 1,
            _ => matrix + s.MatrixLength - 1,
        };
    }
}

/// <summary>An op (or the Gaussian-process NLL) with inputs of a given batch and size.</summary>
/// <param name="Name">The op's name, as its errors spell it.</param>
/// <param name="Inputs">The inputs.</param>
public sealed record OpSpec(string Name, InputSpec[] Inputs)
{
    public override string ToString() => $"{Name}({string.Join(", ", Inputs.Select(i => i.Shape))})";

    /// <summary>Records the op on its inputs' tape.</summary>
    public Var<T> Apply<T>(Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T> => Name switch
    {
        "MatMul" => Op.MatMul(v[0], v[1]),
        "MatMulTransposed" => Op.MatMul(v[0], v[1], transposeA: true, transposeB: true),
        "Axb" => Op.Axb(v[0], v[1], v[2]),
        "Add" => Op.Add(v[0], v[1]),
        "Subtract" => Op.Subtract(v[0], v[1]),
        "Multiply" => Op.Multiply(v[0], v[1]),
        "Scale" => Op.Scale(v[0], T.CreateChecked(-2.5)),
        "Transpose" => Op.Transpose(v[0]),
        "Sum" => Op.Sum(v[0]),
        "Trace" => Op.Trace(v[0]),
        "Dot" => Op.Dot(v[0], v[1]),
        "Diag" => Op.Diag(v[0]),
        "Tril" => Op.Tril(v[0]),
        "Exp" => Op.Exp(v[0]),
        "Log" => Op.Log(v[0]),
        "MultiplyScalar" => Op.MultiplyScalar(v[0], v[1]),
        "AddDiagonal" => Op.AddDiagonal(v[0], v[1]),
        "Cholesky" => Op.Cholesky(v[0]),
        "LogDet" => Op.LogDet(v[0]),
        "CholeskySolve" => Op.CholeskySolve(v[0], v[1]),
        "CholeskySolveFactor" => Op.CholeskySolveFactor(v[0], v[1]),
        "CholeskyInverse" => Op.CholeskyInverse(v[0]),
        "TriangularSolve" => Op.TriangularSolve(v[0], v[1], lower: true),
        "TriangularSolveUpperRightTransposed" => Op.TriangularSolve(v[0], v[1], lower: false, left: false, transpose: true),
        "Solve" => Op.Solve(v[0], v[1]),
        "AXInvB" => Op.AXInvB(v[0], v[1], v[2]),
        "NegativeLogMarginalLikelihood" => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]),
        _ => throw new ArgumentException($"No op named {Name}."),
    };
}

/// <summary>Every op, with inputs of batch <c>b</c> built around a size <c>n</c> (n = 0 gives empty matrices).</summary>
public static class OpTable
{
    private static InputSpec G(int b, int r, int c) => new(InputKind.General, new Shape(b, r, c));

    public static IEnumerable<OpSpec> All(int b, int n)
    {
        var npd = typeof(NotPositiveDefiniteException);
        var singular = typeof(SingularMatrixException);
        yield return new("MatMul", [G(b, 3, n), G(b, n, 2)]);
        yield return new("MatMulTransposed", [G(b, n, 3), G(b, 2, n)]);
        yield return new("Axb", [G(b, 2, n), G(b, n, n), G(b, n, 3)]);
        yield return new("Add", [G(b, n, 3), G(b, n, 3)]);
        yield return new("Subtract", [G(b, n, 3), G(b, n, 3)]);
        yield return new("Multiply", [G(b, n, 3), G(b, n, 3)]);
        yield return new("Scale", [G(b, n, 3)]);
        yield return new("Transpose", [G(b, n, 3)]);
        yield return new("Sum", [G(b, n, 3)]);
        yield return new("Trace", [G(b, n, n)]);
        yield return new("Dot", [G(b, n, 3), G(b, n, 3)]);
        yield return new("Diag", [G(b, n, n)]);
        yield return new("Tril", [G(b, n, 3)]);
        yield return new("Exp", [G(b, n, 3)]);
        yield return new("Log", [new(InputKind.Positive, new Shape(b, n, 3))]);
        yield return new("MultiplyScalar", [G(b, n, 3), G(b, 1, 1)]);
        yield return new("AddDiagonal", [G(b, n, n), G(b, 1, 1)]);
        yield return new("Cholesky", [new(InputKind.Spd, new Shape(b, n, n), npd)]);
        yield return new("LogDet", [new(InputKind.Spd, new Shape(b, n, n), npd)]);
        yield return new("CholeskySolve", [new(InputKind.Spd, new Shape(b, n, n), npd), G(b, n, 2)]);
        yield return new("CholeskySolveFactor", [new(InputKind.Lower, new Shape(b, n, n)), G(b, n, 2)]);
        yield return new("CholeskyInverse", [new(InputKind.Lower, new Shape(b, n, n))]);
        yield return new("TriangularSolve", [new(InputKind.Lower, new Shape(b, n, n)), G(b, n, 2)]);
        yield return new("TriangularSolveUpperRightTransposed", [new(InputKind.Upper, new Shape(b, n, n)), G(b, 2, n)]);
        yield return new("Solve", [new(InputKind.Invertible, new Shape(b, n, n), singular), G(b, n, 2)]);
        yield return new("AXInvB", [G(b, 2, n), new(InputKind.Invertible, new Shape(b, n, n), singular), G(b, n, 3)]);
        yield return new("NegativeLogMarginalLikelihood", [new(InputKind.Spd, new Shape(b, n, n), npd), G(b, n, 1)]);
    }

    /// <summary>The op names, as theory data.</summary>
    public static TheoryData<string> Names() => new(All(1, 1).Select(s => s.Name));

    /// <summary>The spec of one op.</summary>
    public static OpSpec Get(string name, int b, int n) => All(b, n).Single(s => s.Name == name);

    /// <summary>
    /// Runs the op once on a fresh tape: forward with a tangent on every input, then backward with
    /// a cotangent. Returns the output, its tangent and every input's gradient as host arrays.
    /// </summary>
    public static RunResult<T> Run<T>(Device device, OpSpec spec, int seed) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var owned = new List<DeviceTensor<T>>();
        DeviceTensor<T> Up(double[] data, Shape shape)
        {
            var t = TestData.Upload<T>(device, data, shape);
            owned.Add(t);
            return t;
        }
        try
        {
            using var tape = new Tape(device);
            var vars = spec.Inputs.Select((input, i) =>
                tape.Variable(Up(input.Data(seed + i), input.Shape), Up(TestData.Random(input.Shape, seed + 100 + i), input.Shape))).ToArray();
            var y = spec.Apply(vars);
            var yv = y.Value.ToArray();
            var ydot = y.Tangent!.ToArray();
            tape.Backward(y, Up(TestData.Random(y.Shape, seed + 200), y.Shape));
            return new RunResult<T>(y.Shape, yv, ydot, vars.Select(v => v.Grad?.Shape).ToArray(), vars.Select(v => v.Grad?.ToArray() ?? []).ToArray());
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    /// <summary>The bit patterns of an array (so NaN payloads and signed zeros compare exactly).</summary>
    public static long[] Bits<T>(T[] a) where T : unmanaged, IFloatingPointIeee754<T> =>
        a.Select(x => typeof(T) == typeof(double) ? BitConverter.DoubleToInt64Bits(double.CreateTruncating(x)) : BitConverter.SingleToInt32Bits(float.CreateTruncating(x))).ToArray();
}

/// <summary>What <see cref="OpTable.Run{T}"/> computed.</summary>
/// <param name="YShape">The output's shape.</param>
/// <param name="Y">The output.</param>
/// <param name="Ydot">Its tangent (the JVP).</param>
/// <param name="GradShapes">Each input's gradient shape, null where no gradient reached it.</param>
/// <param name="Grads">Each input's gradient (the VJP), empty where none reached it.</param>
public sealed record RunResult<T>(Shape YShape, T[] Y, T[] Ydot, Shape?[] GradShapes, T[][] Grads);
