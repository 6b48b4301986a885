using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

[Collection("Graph")]
public sealed class TapeTests(DeviceFixture devices)
{
    private Device D => devices.Cpu;

    private static double[] R(Shape s, int seed) => TestData.Random(s, seed);

    [Fact]
    public void BackwardMakesNoDeviceToHostCopy()
    {
        using var tape = new Tape(D);
        var s = new Shape(2, 5, 5);
        var a = tape.Variable(R(s, 1), s);
        var b = tape.Variable(R(s, 2), s);
        var y = Op.Dot(Op.Transpose(Op.Multiply(Op.MatMul(a, b), Op.Add(a, b))), b); // [2, 1, 1]
        using var ybar = D.Upload<double>(new double[] { 0.5, -2 }, y.Shape);
        long before = D.DeviceToHostCopies;
        tape.Backward(y, ybar);
        Assert.Equal(before, D.DeviceToHostCopies);
        Assert.NotNull(a.Grad);
        Assert.NotNull(b.Grad);
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, 40)]   // whole-matrix Cholesky kernels
    [InlineData(KernelFamily.CpuTuned, 600)]  // the blocked backward
    [InlineData(KernelFamily.GpuTuned, 20)]
    public void FactorizationBackwardMakesNoDeviceToHostCopy(KernelFamily family, int n)
    {
        var device = devices.Get(family);
        using var tape = new Tape(device);
        var sigma = tape.Variable(TestData.Spd(1, n, 21), new Shape(1, n, n));
        var x = tape.Variable(TestData.Random(new Shape(1, n, n), 22).Select((v, e) => v / n + (e % (n + 1) == 0 ? 2 : 0)).ToArray(), new Shape(1, n, n));
        var b = tape.Variable(TestData.Random(new Shape(1, n, 2), 23), new Shape(1, n, 2));
        var l = Op.Cholesky(sigma);
        var y = Op.Add(Op.Sum(Op.AXInvB(Op.Transpose(b), x, b)), Op.Dot(Op.TriangularSolve(l, b, lower: true), Op.CholeskySolve(sigma, b)));
        var loss = Op.Add(Op.Sum(y), Op.LogDet(sigma));
        long before = device.DeviceToHostCopies;
        tape.Backward(loss);
        Assert.Equal(before, device.DeviceToHostCopies); // the forward checks info codes; the backward never reads back
        Assert.NotNull(sigma.Grad);
        Assert.NotNull(x.Grad);
        Assert.NotNull(b.Grad);
    }

    [Fact]
    public void VariableUsedTwiceAccumulatesAndConstantsGetNoGradient()
    {
        using var tape = new Tape(D);
        var s = new Shape(1, 3, 3);
        var xs = R(s, 3);
        var x = tape.Variable(xs, s);
        var c = tape.Constant(R(s, 4), s);
        var y = Op.Trace(Op.MatMul(Op.MatMul(x, x), c)); // tr(X X C): X̄ = (X C)ᵀ + (C X)ᵀ
        tape.Backward(y);
        Assert.Null(c.Grad);
        var cs = c.ToArray();
        var xc = Reference.Gemm(xs, (1, 3, 3), false, cs, (1, 3, 3), false, null, 1, 1, 0);
        var cx = Reference.Gemm(cs, (1, 3, 3), false, xs, (1, 3, 3), false, null, 1, 1, 0);
        var expected = new double[9];
        for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            expected[i * 3 + j] = xc[j * 3 + i] + cx[j * 3 + i];
        TestData.AssertClose(expected, x.Grad!.ToArray(), 1e-13, "X̄");
    }

    [Fact]
    public void GradientsAccumulateAcrossPassesAndZeroGradClears()
    {
        using var tape = new Tape(D);
        var s = new Shape(1, 2, 2);
        var x = tape.Variable(new double[] { 1, 2, 3, 4 }, s);
        var y = Op.Sum(Op.Scale(x, 3.0));
        tape.Backward(y, new BackwardOptions { RetainGraph = true });
        tape.Backward(y);
        Assert.Equal(new double[] { 6, 6, 6, 6 }, x.Grad!.ToArray());
        tape.ZeroGrad();
        Assert.Null(x.Grad);
    }

    [Fact]
    public void SavedBuffersAreReleasedAtLastUseAndThePoolReturnsToBaseline()
    {
        long baseline = D.Pool.BytesInUse;
        var s = new Shape(2, 16, 16);
        using var xt = D.Upload<double>(R(s, 8), s);
        long withInput = D.Pool.BytesInUse;
        using (var tape = new Tape(D))
        {
            var x = tape.Variable(xt);
            var h1 = Op.MatMul(x, x);
            var h2 = Op.MatMul(h1, h1);
            var h3 = Op.MatMul(h2, x).Keep();
            var loss = Op.Sum(Op.Trace(h3));
            var lossBatch = Op.Dot(loss, loss);
            long beforeBackward = D.Pool.BytesInUse;
            using var ct = D.Upload<double>(new double[] { 1, 1 }, new Shape(2, 1, 1));
            tape.Backward(lossBatch, ct);
            Assert.True(D.Pool.BytesInUse < beforeBackward + x.Grad!.Shape.Length * 8 + 1024,
                $"backward should free intermediates: {D.Pool.BytesInUse} vs {beforeBackward} before");
            Assert.Throws<InvalidOperationException>(() => h1.Value);
            Assert.Throws<InvalidOperationException>(() => h2.Value);
            Assert.Equal(s, h3.Value.Shape); // kept
            Assert.True(tape.LastBackwardPeakBytes > 0);
        }
        Assert.Equal(withInput, D.Pool.BytesInUse);
        xt.Dispose();
        Assert.Equal(baseline, D.Pool.BytesInUse);
    }

    [Fact]
    public void OnlyNeededGradientsAreComputed()
    {
        using var tape = new Tape(D);
        var s = new Shape(1, 4, 4);
        var a = tape.Constant(R(s, 9), s);
        var b = tape.Variable(R(s, 10), s);
        var unrelated = tape.Variable(R(s, 11), s);
        var side = Op.MatMul(unrelated, unrelated); // another branch: its cotangent is zero
        var y = Op.Sum(Op.MatMul(a, b));
        tape.Backward(y);
        Assert.Null(a.Grad);
        Assert.Null(unrelated.Grad);
        Assert.NotNull(b.Grad);
        Assert.Equal(s, side.Value.Shape);
    }

    [Fact]
    public void ForwardModeTangentsPropagate()
    {
        using var tape = new Tape(D);
        var s = new Shape(1, 3, 3);
        var xs = R(s, 12);
        var us = R(s, 13);
        using var u = D.Upload<double>(us, s);
        using var xt = D.Upload<double>(xs, s);
        var x = tape.Variable(xt, u);
        var y = Op.MatMul(x, x); // ẏ = U X + X U
        var ux = Reference.Gemm(us, (1, 3, 3), false, xs, (1, 3, 3), false, null, 1, 1, 0);
        var xu = Reference.Gemm(xs, (1, 3, 3), false, us, (1, 3, 3), false, null, 1, 1, 0);
        TestData.AssertClose(ux.Zip(xu, (p, q) => p + q).ToArray(), y.Tangent!.ToArray(), 1e-13, "ẏ");
    }
}
