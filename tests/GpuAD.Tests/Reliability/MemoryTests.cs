using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// What a tape holds: a Cholesky forward and backward within 3·n² plus workspace when the tape
/// takes the cotangent, per-tape figures that other tapes cannot disturb, the pool's in-use,
/// cached and total bytes, a reused tape that does not grow, and refused calls that leave nothing
/// behind. In the Soak collection: they measure the pool, so nothing else may run beside them.
/// </summary>
[Collection("Soak")]
public sealed class MemoryTests(DeviceFixture devices)
{
    /// <summary>A symmetric, strictly diagonally dominant (so SPD) matrix, in O(n²).</summary>
    private static double[] DominantSpd(int n, int seed)
    {
        var rng = new Random(seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < i; j++) a[i * n + j] = a[j * n + i] = rng.NextDouble() * 2 - 1;
            a[i * n + i] = n;
        }
        return a;
    }

    /// <summary>
    /// Σ uploaded by the tape, L̄ uploaded by the caller: peak pool use of forward + backward
    /// (inputs, factor, cotangent and workspace) with the cotangent taken, and with it copied.
    /// </summary>
    private static (long Peak, long TapePeak, double[] Grad) CholeskyPeak(Device device, double[] sigma, double[] lbar, int n, bool take)
    {
        var shape = new Shape(1, n, n);
        device.Synchronize();
        long baseline = device.Pool.BytesInUse;
        device.Pool.ResetPeak();
        using var tape = new Tape(device);
        var s = tape.Variable(sigma, shape);
        var l = Op.Cholesky(s);
        var cotangent = device.Upload<double>(lbar, shape);
        if (take) tape.Backward(l, cotangent, new BackwardOptions { TakeOwnership = true });
        else
        {
            tape.Backward(l, cotangent);
            cotangent.Dispose();
        }
        var grad = s.Grad!.ToArray();
        return (device.Pool.PeakBytes - baseline, tape.LastBackwardPeakBytes, grad);
    }

    [Fact]
    public void CholeskyForwardAndBackwardAtOrder1024PeaksAtThreeMatrices()
    {
        const int n = 1024;
        using var device = Device.CreateCpu();
        var sigma = DominantSpd(n, 1);
        var lbar = TestData.Random(new Shape(1, n, n), 2);
        long matrix = (long)n * n * sizeof(double);
        var taken = CholeskyPeak(device, sigma, lbar, n, take: true);
        var copied = CholeskyPeak(device, sigma, lbar, n, take: false);
        Assert.True(taken.Peak <= 3.3 * matrix, $"peak {taken.Peak:N0} bytes, above 3·n²·8 + 10% = {3.3 * matrix:N0}");
        Assert.True(copied.Peak >= 4 * matrix, $"copying the cotangent should hold a fourth matrix: peak {copied.Peak:N0}");
        // The tape's own figure: Σ, L and the cotangent it took (Σ̄ in its memory) plus workspace.
        Assert.True(taken.TapePeak >= 3 * matrix && taken.TapePeak <= 3.3 * matrix, $"tape peak {taken.TapePeak:N0}");
        Assert.Equal(copied.Grad, taken.Grad); // the same kernels on the same data
        Assert.Equal(0, device.Pool.BytesInUse);
    }

    [Fact]
    public void ATakenCotangentBecomesTheGradientAndGoesBackWithTheTape()
    {
        var device = devices.Cpu;
        long baseline = device.Pool.BytesInUse;
        var shape = new Shape(2, 6, 6);
        var lbar = TestData.Random(shape, 3);
        double[] expected;
        using (var tape = new Tape(device))
        {
            var s = tape.Variable(TestData.Spd(2, 6, 4), shape);
            tape.Backward(Op.Cholesky(s), lbar);
            expected = s.Grad!.ToArray();
        }
        using (var tape = new Tape(device))
        {
            var s = tape.Variable(TestData.Spd(2, 6, 4), shape);
            var l = Op.Cholesky(s, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked });
            var cotangent = device.Upload<double>(lbar, shape);
            long tapeBefore = tape.BytesInUse;
            tape.Backward(l, cotangent, new BackwardOptions { TakeOwnership = true });
            Assert.Same(cotangent, s.Grad); // Σ̄ computed in L̄'s memory
            Assert.Equal(expected, s.Grad!.ToArray());
            Assert.True(tape.BytesInUse >= tapeBefore, "the taken cotangent is charged to the tape");
        }
        Assert.Equal(baseline, device.Pool.BytesInUse);
    }

    [Fact]
    public void AViewOrATensorOfTheTapeCannotBeHandedOver()
    {
        var device = devices.Cpu;
        var shape = new Shape(2, 3, 3);
        using var tape = new Tape(device);
        var x = tape.Variable(TestData.Random(shape, 5), shape);
        var y = Op.Scale(x, 3.0);
        using var whole = device.Upload<double>(TestData.Random(new Shape(4, 3, 3), 6), new Shape(4, 3, 3));
        using var view = whole.Slice(0, 2);
        var e = Assert.Throws<ArgumentException>(() => tape.Backward(y, view, new BackwardOptions { TakeOwnership = true }));
        Assert.Equal("cotangent", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => tape.Backward(y, x.Value, new BackwardOptions { TakeOwnership = true }));
        Assert.Contains("of this tape", e.Message);
        Assert.False(x.Value.IsDisposed);
        tape.Backward(y, view); // copied: fine
        Assert.Equal(whole.ToArray().Take(18).Select(v => 3 * v), x.Grad!.ToArray());
    }

    [Fact]
    public async Task EachTapeCountsItsOwnPeakWhileOthersRun()
    {
        var device = devices.Cpu;
        var small = new Shape(2, 16, 16);
        var big = new Shape(4, 64, 64);
        long Step(Shape s, int seed)
        {
            using var tape = new Tape(device);
            var x = tape.Variable(TestData.Random(s, seed), s);
            var y = Op.Sum(Op.Multiply(Op.MatMul(x, x), x));
            tape.Backward(Op.SumBatch(y));
            return tape.LastBackwardPeakBytes;
        }
        long alone = Step(small, 7);
        Assert.True(alone > 0);
        using var stop = new CancellationTokenSource();
        var other = Task.Run(() =>
        {
            int steps = 0;
            while (!stop.IsCancellationRequested || steps < 3)
            {
                Step(big, 8);
                steps++;
            }
        });
        try
        {
            for (int i = 0; i < 20; i++)
                Assert.Equal(alone, Step(small, 7));
        }
        finally
        {
            stop.Cancel();
            await other;
        }
    }

    /// <summary>
    /// Size classes: a request rounds up to the smallest class that holds it; below 1 GiB the
    /// classes are 1, 1.25, 1.5 and 1.75 times a power of two, from 1 GiB on every 64th of it, so an
    /// n×n float64 matrix of the largest orders loses under 1.6% (n = 101,660: 77.0 GiB of 78).
    /// </summary>
    [Theory]
    [InlineData(1L, 256L)]
    [InlineData(257L, 320L)]
    [InlineData(1000L, 1024L)]
    [InlineData(1025L, 1280L)]
    [InlineData((1L << 29) + 1, (1L << 29) + (1L << 27))]
    [InlineData(1L << 30, 1L << 30)]
    [InlineData((1L << 30) + 1, (1L << 30) + (1L << 24))]
    [InlineData(101_660L * 101_660 * 8, (1L << 36) + 13 * (1L << 30))]
    public void SizeClassesRoundUpToQuartersAndAbove1GiBTo64ths(long bytes, long expected)
    {
        long size = BufferPool.SizeClass(bytes);
        Assert.Equal(expected, size);
        Assert.True(size >= bytes);
        long pow = 1L << (63 - (int)long.LeadingZeroCount(size - 1));
        Assert.True(size - bytes < (pow >= 1L << 30 ? pow / 64 : Math.Max(pow / 4, 256)), $"{bytes} → {size}");
    }

    [Fact]
    public void ThePoolReportsInUseCachedAndTotalBytes()
    {
        using var device = Device.CreateCpu();
        var pool = device.Pool;
        var a = device.Allocate<double>(new Shape(1, 32, 32)); // 8 KiB
        var b = device.Allocate<double>(new Shape(1, 16, 16)); // 2 KiB
        Assert.Equal(10240, pool.BytesInUse);
        Assert.Equal(0, pool.CachedBytes);
        Assert.Equal(10240, pool.TotalBytes);
        a.Dispose();
        Assert.Equal(2048, pool.BytesInUse);
        Assert.Equal(8192, pool.CachedBytes);
        Assert.Equal(10240, pool.TotalBytes);
        pool.ResetPeak();
        var c = device.Allocate<double>(new Shape(1, 8, 8)); // 512 B: a new block, the footprint grows
        Assert.Equal(10752, pool.PeakTotalBytes);
        Assert.Equal(2560, pool.PeakBytes);
        pool.Trim();
        Assert.Equal(pool.BytesInUse, pool.TotalBytes);
        b.Dispose();
        c.Dispose();
        Assert.Equal(0, pool.BytesInUse);
    }

    /// <summary>
    /// One tape, 300 Gaussian-process steps — Σ from an RBF kernel of three hyperparameters,
    /// the NLL, backward, the gradient read back, ZeroGrad — holds the same device bytes after
    /// every step, forgets every op, and keeps managed memory bounded.
    /// </summary>
    [Fact]
    public void AReusedTapeDoesNotGrow() => ReusedTape(steps: 300);

    /// <summary>The same over 2,000 steps.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void AReusedTapeDoesNotGrowOverTwoThousandSteps() => ReusedTape(steps: 2000);

    private void ReusedTape(int steps)
    {
        var device = devices.Cpu;
        const int n = 6, batch = 2;
        var points = TestData.Random(new Shape(1, n, 1), 9);
        var d = new double[n * n];
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) d[i * n + j] = (points[i] - points[j]) * (points[i] - points[j]);
        using var tape = new Tape(device);
        var distances = tape.Constant(d, new Shape(1, n, n));
        var y = tape.Constant(TestData.Random(new Shape(batch, n, 1), 10), new Shape(batch, n, 1));
        var logLength = tape.Variable(new[] { 0.1, -0.2 }, new Shape(batch, 1, 1));
        var logSignal = tape.Variable(new[] { 0.0, 0.3 }, new Shape(batch, 1, 1));
        var logNoise = tape.Variable(new[] { -1.0, -0.5 }, new Shape(batch, 1, 1));
        double[] Step()
        {
            var sigma = GaussianProcess.RbfCovariance(distances, logLength, logSignal, logNoise);
            var loss = Op.SumBatch(GaussianProcess.NegativeLogMarginalLikelihood(sigma, y));
            tape.Backward(loss);
            double[] result = [.. loss.ToArray(), .. logLength.Grad!.ToArray(), .. logNoise.Grad!.ToArray()];
            tape.ZeroGrad();
            return result;
        }
        var first = Step();
        for (int i = 0; i < 20; i++) Step();
        long bytes = device.Pool.BytesInUse, tapeBytes = tape.BytesInUse;
        long managed = GC.GetTotalMemory(forceFullCollection: true);
        for (int i = 0; i < steps; i++)
        {
            Step();
            if (device.Pool.BytesInUse != bytes || tape.BytesInUse != tapeBytes)
                Assert.Fail($"step {i}: the pool holds {device.Pool.BytesInUse - bytes} more bytes, the tape {tape.BytesInUse - tapeBytes}");
            Assert.Equal(0, tape.NodeCount);
        }
        long managedAfter = GC.GetTotalMemory(forceFullCollection: true);
        Assert.True(managedAfter <= managed + (256 << 10), $"managed memory grew from {managed:N0} to {managedAfter:N0} bytes");
        Assert.Equal(first, Step());
        // What stays: the five leaves, whole pool blocks each.
        Assert.Equal(BufferPool.SizeClass(n * n * 8) + BufferPool.SizeClass(batch * n * 8) + 3 * BufferPool.SizeClass(batch * 8), tape.BytesInUse);
    }

    [Fact]
    public void ValuesNoVjpReadsAreFreedWhenThePassStarts()
    {
        var device = devices.Cpu;
        var s = new Shape(1, 32, 32); // 8 KiB a matrix
        using var tape = new Tape(device);
        var x = tape.Variable(TestData.Random(s, 11), s);
        var a = Op.Add(x, x);                 // saved by nobody: Add's VJP reads nothing
        var b = Op.Exp(a);                    // Exp saves its output
        var kept = Op.Scale(b, 2.0).Keep();   // Scale saves nothing, but it is kept
        var loss = Op.Sum(Op.Sum(kept));
        tape.Backward(loss, new double[] { 1 });
        Assert.Throws<InvalidOperationException>(() => a.Value);
        Assert.Throws<InvalidOperationException>(() => b.Value);
        Assert.Equal(s, kept.Value.Shape);
        TestData.AssertClose(b.Shape.Length > 0 ? x.ToArray().Select(v => 4 * Math.Exp(2 * v)).ToArray() : [], x.Grad!.ToArray(), 1e-13, "x̄");
        // The pass never held a and b's cotangent at once with a's value: its peak stays below
        // x, x̄, b, kept and two cotangents.
        Assert.True(tape.LastBackwardPeakBytes <= 6 * 8192 + 4 * 256, $"peak {tape.LastBackwardPeakBytes:N0}");
        Assert.Equal(0, tape.NodeCount);
        tape.ZeroGrad();
        Assert.Throws<InvalidOperationException>(() => loss.Value); // the finished pass's output
        Assert.Equal(s, kept.Value.Shape);
        tape.Reset();
        Assert.Throws<InvalidOperationException>(() => kept.Value);
        Assert.Equal(8192, tape.BytesInUse); // x alone
    }

    [Fact]
    public void ZeroGradBetweenForwardAndBackwardKeepsTheGraph()
    {
        using var tape = new Tape(devices.Cpu);
        var s = new Shape(1, 2, 2);
        var x = tape.Variable(new[] { 1.0, 2, 3, 4 }, s);
        var loss = Op.Sum(Op.Multiply(x, x));
        tape.ZeroGrad(); // PyTorch's loss = f(x); zero_grad(); loss.backward()
        tape.Backward(loss);
        Assert.Equal(new[] { 2.0, 4, 6, 8 }, x.Grad!.ToArray());
        Assert.Equal(new[] { 30.0 }, loss.ToArray());
    }

    [Fact]
    public void RefusedVariablesLeaveNothingInThePool()
    {
        var device = devices.Cpu;
        long baseline = device.Pool.BytesInUse;
        var s = new Shape(1, 3, 3);
        var tape = new Tape(device);
        Assert.Throws<ArgumentException>(() => tape.Variable(new double[9], s, tangent: new double[5]));
        Assert.Equal(baseline, device.Pool.BytesInUse);
        tape.Dispose();
        Assert.Throws<ObjectDisposedException>(() => tape.Variable(new double[9], s));
        Assert.Throws<ObjectDisposedException>(() => tape.Constant(new double[9], s));
        Assert.Equal(baseline, device.Pool.BytesInUse);
    }
}
