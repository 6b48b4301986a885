using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>One input of an <see cref="OpSpec"/>: a sample's input.</summary>
/// <param name="Sample">The sample.</param>
/// <param name="Index">Which input.</param>
internal sealed record InputSpec(OpSample Sample, int Index)
{
    /// <summary>Its shape.</summary>
    public Shape Shape => Sample.Shapes[Index];

    /// <summary>Its values' kind.</summary>
    public InputKind Kind => Sample.Kind(Index);

    /// <summary>
    /// The exception the op raises when this input holds NaN or ±Inf where it is read (a matrix the
    /// op factors), or null when non-finite values propagate to the output.
    /// </summary>
    public Type? RejectsNonFinite => Sample.Op.Inputs[Index].RejectsNonFinite;

    /// <summary>Row-major data of the input's kind.</summary>
    public double[] Data(int seed) => Sample.Data(Index, seed);

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

/// <summary>A catalogued op (or a flag variant of one) with inputs of a given batch and size.</summary>
/// <param name="Name">The case's name: the op's name as its errors spell it, a suffix for a variant.</param>
/// <param name="Sample">The op at its shapes and flags.</param>
internal sealed record OpSpec(string Name, OpSample Sample)
{
    /// <summary>The inputs.</summary>
    public InputSpec[] Inputs => [.. Sample.Shapes.Select((_, i) => new InputSpec(Sample, i))];

    public override string ToString() => $"{Name}({string.Join(", ", Sample.Shapes)})";

    /// <summary>Records the op on its inputs' tape.</summary>
    public Var<T> Apply<T>(Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T> => Sample.Apply(v);
}

/// <summary>
/// Every catalogued op, with inputs of batch <c>b</c> built around a size <c>n</c> (the entry's
/// <see cref="OpInfo.Around"/>; n = 0 gives empty matrices), plus the variants whose flags change
/// what is read and how: MatMul with both operands transposed, an upper right transposed solve.
/// </summary>
internal static class OpTable
{
    /// <summary>
    /// Ops the table leaves out, with why. SumBatch reduces over the batch ([batch, m, n] → [1, m, n]):
    /// the table's promises about batch-0 and batch-preserving outputs do not hold for it; its
    /// gradients are checked by GradcheckTests and <c>gpuad check</c>.
    /// </summary>
    public static readonly IReadOnlySet<string> Excluded = new HashSet<string> { "SumBatch" };

    public static IEnumerable<OpSpec> All(int b, int n)
    {
        foreach (var op in Catalogue.All.Entries.Where(o => !Excluded.Contains(o.Name)))
            yield return new(op.Name, op.SampleAround(b, n));
        var matmul = Catalogue.All.Get("MatMul");
        yield return new("MatMulTransposed", matmul.SampleAround(b, n, OpArgs.None.With("transA", true).With("transB", true)));
        var trsm = Catalogue.All.Get("TriangularSolve");
        yield return new("TriangularSolveUpperRightTransposed",
            trsm.SampleAround(b, n, OpArgs.None.With("lower", false).With("left", false).With("transpose", true)));
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
internal sealed record RunResult<T>(Shape YShape, T[] Y, T[] Ydot, Shape?[] GradShapes, T[][] Grads);
