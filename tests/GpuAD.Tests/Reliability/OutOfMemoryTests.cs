using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// Device out-of-memory: the error names the requested and available bytes, and whatever an op's
/// forward, JVP or VJP allocated before the failing request goes back to the pool, so the tape and
/// the pool stay usable. Failures are injected at every allocation in turn
/// (<see cref="BufferPool.FailAfterRents"/>) and through the public <see cref="BufferPool.CapBytes"/>.
/// </summary>
[Collection("Reliability")]
public sealed class OutOfMemoryTests(DeviceFixture devices)
{
    private Device D => devices.Cpu;

    /// <summary>Runs <paramref name="action"/> with every pool request after the first <paramref name="served"/> failing.</summary>
    private void FailingAfter(int served, Action action)
    {
        D.Pool.FailAfterRents = served;
        try
        {
            action();
        }
        finally
        {
            D.Pool.FailAfterRents = null;
        }
    }

    /// <summary>The pool requests <paramref name="action"/> makes.</summary>
    private int CountRents(Action action)
    {
        D.Pool.FailAfterRents = int.MaxValue;
        try
        {
            action();
            return int.MaxValue - D.Pool.FailAfterRents!.Value;
        }
        finally
        {
            D.Pool.FailAfterRents = null;
        }
    }

    [Fact]
    public void ARequestLargerThanTheDeviceNamesTheBytesBeforeAnyAllocation()
    {
        long baseline = D.Pool.BytesInUse, allocations = D.Pool.DeviceAllocations;
        var huge = new Shape(1024, 65536, 65536); // 32 TiB of float64: more than any machine has
        var e = Assert.Throws<DeviceOutOfMemoryException>(() => D.Allocate<double>(huge));
        Assert.Equal(1L << 45, e.RequestedBytes);
        Assert.InRange(e.AvailableBytes, 0, D.MemoryBytes);
        Assert.Contains("requested 35,184,372,088,832 bytes", e.Message);
        Assert.Contains(D.Name, e.Message);
        var check = Assert.Throws<DeviceOutOfMemoryException>(() => D.EnsureFits<double>(new Shape(2, 4, 4), huge));
        Assert.Equal(256 + (1L << 45), check.RequestedBytes);
        Assert.Equal(baseline, D.Pool.BytesInUse);
        Assert.Equal(allocations, D.Pool.DeviceAllocations);
        D.EnsureFits<double>(new Shape(2, 4, 4)); // a small request fits
    }

    [Fact]
    public void ARequestBeyondTheCapNamesTheRequestedAndAvailableBytesAndThePoolStaysUsable()
    {
        long baseline = D.Pool.BytesInUse;
        D.Pool.CapBytes = baseline + 4096;
        try
        {
            var e = Assert.Throws<DeviceOutOfMemoryException>(() => D.Allocate<double>(new Shape(1, 256, 256)));
            Assert.Equal(BufferPool.SizeClass(256 * 256 * 8), e.RequestedBytes);
            Assert.Equal(4096, e.AvailableBytes);
            Assert.Contains($"requested {e.RequestedBytes:N0} bytes", e.Message);
            Assert.Contains($"available {e.AvailableBytes:N0} bytes", e.Message);
            Assert.Contains(D.Name, e.Message);
            Assert.Equal(baseline, D.Pool.BytesInUse);
            using (var small = D.Upload<double>(new double[16], new Shape(1, 4, 4)))
                Assert.Equal(new double[16], small.ToArray());
        }
        finally
        {
            D.Pool.CapBytes = null;
        }
        Assert.Equal(baseline, D.Pool.BytesInUse);
    }

    public static TheoryData<string> Ops() => OpTable.Names();

    [Theory]
    [MemberData(nameof(Ops))]
    public void OutOfMemoryAtAnyAllocationOfAnOpReturnsEverythingItAllocated(string op)
    {
        var spec = OpTable.Get(op, 2, 6);
        long baseline = D.Pool.BytesInUse;
        var owned = spec.Inputs.SelectMany((input, i) => new[]
        {
            D.Upload<double>(input.Data(40 + i), input.Shape),
            D.Upload<double>(TestData.Random(input.Shape, 50 + i), input.Shape),
        }).ToList();
        var expected = OpTable.Run<double>(D, spec, 40);

        Var<double>[] Leaves(Tape tape) => spec.Inputs.Select((_, i) => tape.Variable(owned[2 * i], owned[2 * i + 1])).ToArray();

        // Forward and JVP: every request in turn fails; the tape and the pool are as before the op.
        int forwardRents;
        using (var tape = new Tape(D))
        {
            var vars = Leaves(tape);
            forwardRents = CountRents(() => spec.Apply(vars));
        }
        Assert.True(forwardRents > 0);
        for (int k = 0; k < forwardRents; k++)
        {
            using var tape = new Tape(D);
            var vars = Leaves(tape);
            int nodes = tape.NodeCount;
            long before = D.Pool.BytesInUse;
            FailingAfter(k, () => Assert.Throws<DeviceOutOfMemoryException>(() => spec.Apply(vars)));
            if (op != "NegativeLogMarginalLikelihood") // a composite keeps the ops recorded before the failing one
            {
                Assert.True(before == D.Pool.BytesInUse, $"{op}: forward failing at request {k}: {D.Pool.BytesInUse - before} bytes not returned");
                Assert.True(nodes == tape.NodeCount, $"{op}: a failed op was recorded");
            }
            var y = spec.Apply(vars); // the same tape goes on
            Assert.Equal(OpTable.Bits(expected.Y), OpTable.Bits(y.Value.ToArray()));
        }

        // VJP: every request of the backward pass in turn fails.
        using var cotangent = D.Upload<double>(TestData.Random(expected.YShape, 240), expected.YShape);
        int backwardRents;
        using (var tape = new Tape(D))
        {
            var y = spec.Apply(Leaves(tape));
            backwardRents = CountRents(() => tape.Backward(y, cotangent));
        }
        for (int k = 0; k < backwardRents; k++)
        {
            using (var tape = new Tape(D))
            {
                var vars = Leaves(tape);
                var y = spec.Apply(vars);
                long before = D.Pool.BytesInUse;
                FailingAfter(k, () => Assert.Throws<DeviceOutOfMemoryException>(() => tape.Backward(y, cotangent)));
                tape.ZeroGrad();
                Assert.True(D.Pool.BytesInUse <= before, $"{op}: backward failing at request {k}: {D.Pool.BytesInUse - before} bytes more than before it");

                // A new computation on the same tape differentiates normally.
                var again = spec.Apply(vars);
                tape.Backward(again, cotangent);
                for (int i = 0; i < vars.Length; i++)
                    Assert.Equal(OpTable.Bits(expected.Grads[i]), OpTable.Bits(vars[i].Grad!.ToArray()));
            }
            Assert.Equal(baseline + owned.Sum(t => BufferPool.SizeClass(t.Length * 8)) + BufferPool.SizeClass(cotangent.Length * 8), D.Pool.BytesInUse);
        }
        foreach (var t in owned) t.Dispose();
        Assert.Equal(baseline + BufferPool.SizeClass(cotangent.Length * 8), D.Pool.BytesInUse);
    }

    /// <summary>A Gaussian-process training step: RBF covariance, NLL, and a solve on the side; gradients of every hyperparameter.</summary>
    private static double[] TrainingStep(Tape tape, double[] xs, double[] ys, int n)
    {
        var d = new double[n * n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            d[i * n + j] = (xs[i] - xs[j]) * (xs[i] - xs[j]);
        var dist = tape.Constant(d, new Shape(1, n, n));
        var y = tape.Constant(ys, new Shape(2, n, 1));
        var logL = tape.Variable([-0.3, 0.1], new Shape(2, 1, 1));
        var logS = tape.Variable([0.2, -0.1], new Shape(2, 1, 1));
        var logN = tape.Variable([-2.0, -1.5], new Shape(2, 1, 1));
        var sigma = GaussianProcess.RbfCovariance(dist, logL, logS, logN);
        var nll = GaussianProcess.NegativeLogMarginalLikelihood(sigma, y);
        var side = Op.Sum(Op.Solve(sigma, y));
        var loss = Op.Add(nll, Op.Scale(side, 1e-3)); // [2, 1, 1]
        using var ones = tape.Device.Upload<double>([1.0, 1.0], loss.Shape);
        tape.Backward(loss, ones);
        return [.. logL.Grad!.ToArray(), .. logS.Grad!.ToArray(), .. logN.Grad!.ToArray(), .. loss.ToArray()];
    }

    [Fact]
    public void OutOfMemoryAnywhereInATrainingStepLeaksNothingAndLeavesNoCorruption()
    {
        const int n = 8;
        var xs = TestData.Random(new Shape(1, n, 1), 60);
        var ys = TestData.Random(new Shape(2, n, 1), 61);
        long baseline = D.Pool.BytesInUse;
        double[] expected;
        using (var tape = new Tape(D)) expected = TrainingStep(tape, xs, ys, n);
        int rents;
        using (var tape = new Tape(D)) rents = CountRents(() => TrainingStep(tape, xs, ys, n));
        Assert.True(rents > 30, $"{rents} requests");
        for (int k = 0; k < rents; k++)
        {
            using (var tape = new Tape(D))
                FailingAfter(k, () => Assert.Throws<DeviceOutOfMemoryException>(() => TrainingStep(tape, xs, ys, n)));
            Assert.True(baseline == D.Pool.BytesInUse, $"failing at request {k} of {rents}: {D.Pool.BytesInUse - baseline} bytes leaked");
            using (var tape = new Tape(D))
                Assert.Equal(OpTable.Bits(expected), OpTable.Bits(TrainingStep(tape, xs, ys, n)));
        }
    }

    [Fact]
    public void ACapBelowTheStepsPeakFailsItAndASmallerStepThenSucceeds()
    {
        var xs = TestData.Random(new Shape(1, 8, 1), 62);
        var ys = TestData.Random(new Shape(2, 8, 1), 63);
        double[] Step(Tape tape, int n) => TrainingStep(tape, xs[..n], [.. ys[..n], .. ys[8..(8 + n)]], n);
        long baseline = D.Pool.BytesInUse;
        long Peak(int n)
        {
            D.Pool.ResetPeak();
            using (var tape = new Tape(D)) Step(tape, n);
            return D.Pool.PeakBytes - baseline;
        }
        long small = Peak(4), large = Peak(8);
        Assert.True(small < large, $"peaks {small} and {large}");
        D.Pool.CapBytes = baseline + small;
        try
        {
            using (var tape = new Tape(D))
            {
                var e = Assert.Throws<DeviceOutOfMemoryException>(() => Step(tape, 8));
                Assert.True(e.RequestedBytes > e.AvailableBytes && e.AvailableBytes >= 0, e.Message);
            }
            Assert.Equal(baseline, D.Pool.BytesInUse);
            using (var tape = new Tape(D))
                Assert.All(Step(tape, 4), v => Assert.True(double.IsFinite(v)));
        }
        finally
        {
            D.Pool.CapBytes = null;
        }
        Assert.Equal(baseline, D.Pool.BytesInUse);
    }
}
