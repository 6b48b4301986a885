using System.Numerics.Tensors;
using GpuAD.Kernels;
using HostTensor = System.Numerics.Tensors.Tensor;

namespace GpuAD.Tests.Graph;

/// <summary>
/// Data in and out through spans, Memory and System.Numerics.Tensors: shapes are taken from the
/// tensors (rank 2 as a batch of 1), gradients come back with the right layout (checked against a
/// managed reference on non-square shapes, where a transposed or mis-batched layout shows), and
/// bad input — rank, strides, lengths — is refused before any device work.
/// </summary>
[Collection("Graph")]
public sealed class InteropTests(DeviceFixture devices)
{
    private Device D => devices.Cpu;

    private static double[] R(Shape s, int seed) => TestData.Random(s, seed);

    [Fact]
    public void TensorsInGradientsOutMatchTheManagedReference()
    {
        // Y = A·B with A [2, 3, 4], B [2, 4, 5]; Ā = Ȳ·Bᵀ, B̄ = Aᵀ·Ȳ.
        var sa = new Shape(2, 3, 4); var sb = new Shape(2, 4, 5); var sy = new Shape(2, 3, 5);
        double[] a = R(sa, 1), b = R(sb, 2), ybar = R(sy, 3);
        using var tape = new Tape(D);
        var va = tape.Variable(HostTensor.Create(a, [2, 3, 4]));
        var vb = tape.Variable(HostTensor.Create(b, [2, 4, 5]));
        var y = Op.MatMul(va, vb).Keep();
        tape.Backward(y, HostTensor.Create(ybar, [2, 3, 5]));

        var yHost = y.ToHostTensor();
        Assert.Equal([2, 3, 5], yHost.Lengths.ToArray());
        var abar = va.Grad!.ToHostTensor();
        Assert.Equal([2, 3, 4], abar.Lengths.ToArray());
        var bbar = new double[sb.Length];
        vb.Grad!.CopyTo(new TensorSpan<double>(bbar, [2, 4, 5]));

        TestData.AssertClose(Reference.Gemm(a, (2, 3, 4), false, b, (2, 4, 5), false, null, 2, 1, 0), Flatten(yHost), 1e-12, "Y");
        TestData.AssertClose(Reference.Gemm(ybar, (2, 3, 5), false, b, (2, 4, 5), true, null, 2, 1, 0), Flatten(abar), 1e-12, "Ā");
        TestData.AssertClose(Reference.Gemm(a, (2, 3, 4), true, ybar, (2, 3, 5), false, null, 2, 1, 0), bbar, 1e-12, "B̄");
    }

    [Fact]
    public void SpansAndTensorSpansGiveTheArraysGradients()
    {
        var s = new Shape(1, 4, 3);
        double[] x = R(s, 4), ybar = R(s, 5);
        double[] Gradient(Func<Tape, Var<double>> variable, Action<Tape, Var<double>> backward)
        {
            using var tape = new Tape(D);
            var v = variable(tape);
            var y = Op.Multiply(v, v);
            backward(tape, y);
            return v.Grad!.ToArray();
        }
        var expected = x.Zip(ybar, (xi, gi) => 2 * xi * gi).ToArray();
        var fromArrays = Gradient(t => t.Variable(x, s), (t, y) => t.Backward(y, ybar));
        TestData.AssertClose(expected, fromArrays, 1e-14, "arrays");
        // A rank-2 tensor span is a batch of 1, for the variable and for the cotangent.
        var fromTensorSpans = Gradient(t => t.Variable(new ReadOnlyTensorSpan<double>(x, [4, 3])), (t, y) => t.Backward(y, new ReadOnlyTensorSpan<double>(ybar, [4, 3])));
        var fromSpans = Gradient(t => t.Variable(new ReadOnlySpan<double>(x), s), (t, y) => t.Backward(y, new ReadOnlySpan<double>(ybar)));
        var fromMemory = Gradient(t => t.Variable(new ReadOnlyMemory<double>(x), s), (t, y) => t.Backward(y, new ReadOnlyMemory<double>(ybar)));
        Assert.Equal(fromArrays, fromTensorSpans);
        Assert.Equal(fromArrays, fromSpans);
        Assert.Equal(fromArrays, fromMemory);
    }

    [Fact]
    public void DeviceTensorsRoundTripThroughMemoryAndTensorSpans()
    {
        var s = new Shape(2, 3, 2);
        var data = R(s, 6);
        using var fromMemory = D.Upload<double>(new ReadOnlyMemory<double>(data), s);
        var back = new double[s.Length];
        fromMemory.CopyTo(new Memory<double>(back));
        Assert.Equal(data, back);

        using var fromTensor = D.Upload(HostTensor.Create(data, [2, 3, 2]));
        Assert.Equal(s, fromTensor.Shape);
        Assert.Equal(data, fromTensor.ToArray());

        using var matrix = D.Upload(new ReadOnlyTensorSpan<double>(data, 0, [3, 4], default));
        Assert.Equal(new Shape(1, 3, 4), matrix.Shape);

        var reversed = data.Reverse().ToArray();
        fromTensor.CopyFrom(new ReadOnlyTensorSpan<double>(reversed, [2, 3, 2]));
        Assert.Equal(reversed, fromTensor.ToArray());
        var host = fromTensor.ToHostTensor();
        Assert.Equal(reversed, Flatten(host));
    }

    [Fact]
    public void VariableWithATangentFromTensorsRunsForwardMode()
    {
        var s = new Shape(1, 3, 3);
        double[] x = R(s, 7), dx = R(s, 8);
        using var tape = new Tape(D);
        var v = tape.Variable(HostTensor.Create(x, [3, 3]), HostTensor.Create(dx, [3, 3]));
        var y = Op.Multiply(v, v);
        TestData.AssertClose(x.Zip(dx, (a, b) => 2 * a * b).ToArray(), y.Tangent!.ToArray(), 1e-14, "ẏ");
    }

    /// <summary>Every refusal happens before any upload: the pool and the copy counter do not move.</summary>
    private void AssertRefusedBeforeDeviceWork(Action call, string argument, params string[] fragments)
    {
        long inUse = D.Pool.BytesInUse, copies = D.HostToDeviceCopies;
        var e = Assert.ThrowsAny<ArgumentException>(call);
        Assert.Equal(argument, e.ParamName);
        Assert.Contains(argument, e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
        Assert.Equal(inUse, D.Pool.BytesInUse);
        Assert.Equal(copies, D.HostToDeviceCopies);
    }

    [Fact]
    public void RankAboveThreeOrBelowTwoIsRefused()
    {
        using var tape = new Tape(D);
        var rank4 = HostTensor.Create(new double[16], [2, 2, 2, 2]);
        AssertRefusedBeforeDeviceWork(() => tape.Variable(rank4), "data", "[2, 2, 2, 2]", "[batch, rows, cols]");
        AssertRefusedBeforeDeviceWork(() => D.Upload(rank4), "data", "[2, 2, 2, 2]");
        AssertRefusedBeforeDeviceWork(() => tape.Constant(HostTensor.Create(new double[5], [5])), "data", "[5]", "rank 1");
    }

    [Fact]
    public void StridedTransposedAndBroadcastSpansAreRefused()
    {
        using var tape = new Tape(D);
        var values = R(new Shape(1, 3, 4), 9);
        // A transposed view of a 3×4 array: lengths [4, 3], strides [1, 4].
        AssertRefusedBeforeDeviceWork(() => tape.Variable(new ReadOnlyTensorSpan<double>(values, 0, [4, 3], [1, 4])), "data", "[4, 3]", "[1, 4]", "[3, 1]");
        // Every other row: lengths [2, 4], strides [8, 1].
        AssertRefusedBeforeDeviceWork(() => D.Upload(new ReadOnlyTensorSpan<double>(values, 0, [2, 4], [8, 1])), "data", "[8, 1]", "[4, 1]");
        // One row broadcast to three: stride 0.
        AssertRefusedBeforeDeviceWork(() => tape.Constant(new ReadOnlyTensorSpan<double>(values, 0, [3, 4], [0, 1])), "data", "[0, 1]");
        using var t = D.Allocate<double>(new Shape(1, 4, 3));
        var destination = new double[12];
        var before = D.DeviceToHostCopies;
        var e = Assert.Throws<ArgumentException>(() => t.CopyTo(new TensorSpan<double>(destination, 0, [4, 3], [1, 4])));
        Assert.Equal("destination", e.ParamName);
        Assert.Equal(before, D.DeviceToHostCopies);
    }

    [Fact]
    public void LengthsThatDoNotMatchTheShapeAreRefused()
    {
        using var tape = new Tape(D);
        var s = new Shape(2, 3, 3);
        AssertRefusedBeforeDeviceWork(() => tape.Variable(new ReadOnlySpan<double>(new double[17]), s), "data", "17", "[2, 3, 3]", "18");
        AssertRefusedBeforeDeviceWork(() => tape.Variable(new double[18], s, new double[5]), "tangent", "5", "[2, 3, 3]");
        AssertRefusedBeforeDeviceWork(() => tape.Variable(HostTensor.Create(new double[18], [2, 3, 3]), HostTensor.Create(new double[9], [3, 3])), "tangent", "[3, 3]", "[2, 3, 3]");
        var x = tape.Variable(new double[18], s);
        var y = Op.Scale(x, 2.0);
        AssertRefusedBeforeDeviceWork(() => tape.Backward(y, new ReadOnlySpan<double>(new double[9])), "cotangent", "9", "[2, 3, 3]");
        AssertRefusedBeforeDeviceWork(() => tape.Backward(y, HostTensor.Create(new double[18], [3, 2, 3])), "cotangent", "[3, 2, 3]", "[2, 3, 3]");
        // A rank-2 cotangent stands for batch 1 only.
        AssertRefusedBeforeDeviceWork(() => tape.Backward(y, HostTensor.Create(new double[9], [3, 3])), "cotangent", "[3, 3]", "[1, 3, 3]", "[2, 3, 3]");
        using var t = D.Allocate<double>(s);
        var e = Assert.Throws<ArgumentException>(() => t.CopyFrom(new ReadOnlyTensorSpan<double>(new double[18], [2, 9])));
        Assert.Equal("data", e.ParamName);
    }

    /// <summary>Half satisfies the tapes' IFloatingPointIeee754 constraint; the kernels compute in float and double only.</summary>
    [Fact]
    public void HalfIsRefusedBeforeDeviceWork()
    {
        using var tape = new Tape(D);
        var e = Assert.Throws<NotSupportedException>(() => tape.Variable(new Half[4], new Shape(1, 2, 2)));
        Assert.Contains("Half", e.Message);
        Assert.Contains("float or double", e.Message);
        Assert.Equal(0, tape.BytesInUse); // refused before the upload
        using var h = D.Allocate<Half>(new Shape(1, 2, 2));
        Assert.Contains("Half", Assert.Throws<NotSupportedException>(() => tape.Constant(h)).Message);
        Assert.Equal(0, tape.NodeCount);
    }

    private static double[] Flatten(System.Numerics.Tensors.Tensor<double> t)
    {
        var result = new double[t.FlattenedLength];
        t.FlattenTo(result);
        return result;
    }
}
