using GpuAD.Kernels;
using Xunit.Abstractions;

namespace GpuAD.Tests.Graph;

/// <summary>
/// The fused GP likelihood (Op.GpNegativeLogMarginalLikelihood) against the composed graph of the
/// same function (GaussianProcess.NegativeLogMarginalLikelihood), scikit-learn's golden data,
/// finite differences, and its memory: one n×n buffer per problem.
/// </summary>
[Collection("Graph")]
public sealed class GpLikelihoodTests(DeviceFixture devices, ITestOutputHelper output)
{
    private static readonly StationaryKernel[] Kernels = [StationaryKernel.Rbf, StationaryKernel.Matern12, StationaryKernel.Matern32, StationaryKernel.Matern52];

    public static TheoryData<KernelFamily, StationaryKernel, bool, int> AgreementCases()
    {
        var data = new TheoryData<KernelFamily, StationaryKernel, bool, int>();
        foreach (var k in Kernels)
        foreach (bool ard in new[] { false, true })
            data.Add(KernelFamily.CpuTuned, k, ard, 23);
        data.Add(KernelFamily.CpuTuned, StationaryKernel.Matern52, true, 150); // blocked factor and inverse (blocks of 64)
        data.Add(KernelFamily.GpuTuned, StationaryKernel.Rbf, true, 9);
        data.Add(KernelFamily.GpuTuned, StationaryKernel.Matern12, false, 40); // blocked inverse (blocks of 32)
        return data;
    }

    /// <summary>Inputs of batch b: X [b, n, d], y, and θ = (log s², log ℓ…, log σ²) per problem.</summary>
    private static (double[] X, double[] Y, double[] S2, double[] L, double[] N2) Problem(int b, int n, int d, int q, int seed)
    {
        var x = TestData.Random(new Shape(b, n, d), seed);
        var y = TestData.Random(new Shape(b, n, 1), seed + 1);
        var s2 = TestData.Random(new Shape(b, 1, 1), seed + 2).Select(v => 0.3 * v).ToArray();
        var l = TestData.Random(new Shape(b, 1, q), seed + 3).Select(v => 0.3 * v - 0.2).ToArray();
        var n2 = TestData.Random(new Shape(b, 1, 1), seed + 4).Select(v => 0.3 * v - 2).ToArray();
        return (x, y, s2, l, n2);
    }

    /// <summary>NLL and the gradients for X, y, log s², log ℓ, log σ², fused or composed.</summary>
    private static double[][] NllAndGradients(Device device, bool fused, StationaryKernel kernel, int b, int n, int d, int q, int seed, double[]? jitter = null)
    {
        var (x, y, s2, l, n2) = Problem(b, n, d, q, seed);
        using var tape = new Tape(device);
        var vx = tape.Variable(x, new Shape(b, n, d));
        var vy = tape.Variable(y, new Shape(b, n, 1));
        var vs = tape.Variable(s2, new Shape(b, 1, 1));
        var vl = tape.Variable(l, new Shape(b, 1, q));
        var vn = tape.Variable(n2, new Shape(b, 1, 1));
        var nll = fused
            ? Op.GpNegativeLogMarginalLikelihood(vx, vy, kernel, vs, vl, vn, jitter)
            : GaussianProcess.NegativeLogMarginalLikelihood(vx, vy, kernel, new GpTheta<double>(vs, vl, vn), jitter);
        var value = nll.ToArray();
        using var ones = device.Upload(Enumerable.Repeat(1.0, b).ToArray(), b, 1, 1);
        tape.Backward(nll, ones);
        return [value, vx.Grad!.ToArray(), vy.Grad!.ToArray(), vs.Grad!.ToArray(), vl.Grad!.ToArray(), vn.Grad!.ToArray()];
    }

    private static readonly string[] Parts = ["NLL", "∂/∂X", "∂/∂y", "∂/∂log s²", "∂/∂log ℓ", "∂/∂log σ²"];

    [Theory]
    [MemberData(nameof(AgreementCases))]
    public void AgreesWithTheComposedGraph(KernelFamily family, StationaryKernel kernel, bool ard, int n)
    {
        var device = devices.Get(family);
        const int b = 2, d = 3;
        int q = ard ? d : 1;
        double[] jitter = [0, 1e-3];
        var composed = NllAndGradients(device, fused: false, kernel, b, n, d, q, seed: 7 * n + (int)kernel, jitter);
        var fused = NllAndGradients(device, fused: true, kernel, b, n, d, q, seed: 7 * n + (int)kernel, jitter);
        for (int i = 0; i < Parts.Length; i++)
        {
            double err = TestData.RelErr(composed[i], fused[i]);
            Assert.True(err <= 1e-10, $"{family} {kernel} ard={ard} n={n}: {Parts[i]} differs by {err:E2} relative");
        }
    }

    [Theory]
    [InlineData(StationaryKernel.Rbf, true)]
    [InlineData(StationaryKernel.Matern12, false)]
    [InlineData(StationaryKernel.Matern32, true)]
    [InlineData(StationaryKernel.Matern52, false)]
    public void VjpAndJvpMatchFiniteDifferencesAndEachOther(StationaryKernel kernel, bool ard)
    {
        const int b = 2, n = 7, d = 2;
        int q = ard ? d : 1;
        var (x, y, s2, l, n2) = Problem(b, n, d, q, seed: 300 + (int)kernel);
        GradcheckInput I(double[] v, Shape s) => new(v, s);
        var r = Gradcheck.Run(devices.Cpu, v => Op.GpNegativeLogMarginalLikelihood(v[0], v[1], kernel, v[2], v[3], v[4]),
            [I(x, new(b, n, d)), I(y, new(b, n, 1)), I(s2, new(b, 1, 1)), I(l, new(b, 1, q)), I(n2, new(b, 1, 1))]);
        Assert.True(r.Passed, $"{kernel} ard={ard}: {r}");
    }

    public static TheoryData<string> SklearnCases() => new(SklearnGolden.Cases());

    [Theory]
    [MemberData(nameof(SklearnCases))]
    public void NllAndGradientMatchScikitLearn(string name)
    {
        var c = SklearnGolden.Load(name);
        int p = c.Theta.Length, q = p - 2;
        using var tape = new Tape(devices.Cpu);
        var s2 = tape.Variable(c.Theta[..1], new Shape(1, 1, 1));
        var l = tape.Variable(c.Theta[1..(1 + q)], new Shape(1, 1, q));
        var n2 = tape.Variable(c.Theta[^1..], new Shape(1, 1, 1));
        var nll = Op.GpNegativeLogMarginalLikelihood(tape.Constant(c.X, new Shape(1, c.N, c.D)), tape.Constant(c.Y, new Shape(1, c.N, 1)), c.Kernel, s2, l, n2);
        double value = nll.ToArray()[0];
        tape.Backward(nll);
        var grad = s2.Grad!.ToArray().Concat(l.Grad!.ToArray()).Concat(n2.Grad!.ToArray()).ToArray();
        Assert.True(Math.Abs(value - c.Nll) <= 1e-9 * Math.Abs(c.Nll), $"{name}: NLL {value:R} vs scikit-learn {c.Nll:R}");
        double err = TestData.RelErr(c.Grad, grad);
        Assert.True(err <= 1e-9, $"{name}: ∂NLL/∂θ relative error {err:E2}");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void ObjectiveTakesTheFusedPathWithTheComposedValuesAndGradients(KernelFamily family)
    {
        const int b = 3, n = 11, d = 2;
        var x = TestData.Random(new Shape(b, n, d), 400);
        var y = TestData.Random(new Shape(b, n, 1), 401);
        var theta = TestData.Random(new Shape(b, 1, 4), 402).Select(t => 0.3 * t - 0.3).ToArray();
        using var fused = new GpObjective<double>(devices.Get(family), x, y, b, n, d, StationaryKernel.Matern52, ard: true);
        using var composed = new GpObjective<double>(devices.Get(family), x, y, b, n, d, StationaryKernel.Matern52, ard: true) { Composed = true };
        var f = fused.Evaluate(theta, 0, b, gradient: true);
        var c = composed.Evaluate(theta, 0, b, gradient: true);
        Assert.True(TestData.RelErr(c.Nll, f.Nll) <= 1e-10, $"NLL {string.Join(", ", f.Nll)} vs {string.Join(", ", c.Nll)}");
        Assert.True(TestData.RelErr(c.Gradient!, f.Gradient!) <= 1e-10, $"gradient error {TestData.RelErr(c.Gradient!, f.Gradient!):E2}");
        Assert.Equal(new double[b], f.Jitter);
    }

    [Fact]
    public void ObjectiveAddsTheComposedPathsJitterOnTheFusedPath()
    {
        // Element 1 repeats a point with a negligible noise: it needs jitter on either path. Its K
        // keeps a condition number near 1/jitter, so the two paths' gradients agree only to about
        // that times ε; element 0 is well conditioned.
        const int n = 4, d = 1;
        double[] x = [0, 1, 2, 3, 0, 1, 1, 3];
        double[] y = [0.1, -0.2, 0.3, 0.0, 0.1, -0.2, -0.2, 0.0];
        double[] theta = [0.2, 0.1, Math.Log(0.1), -0.1, 0, -80];
        using var fused = new GpObjective<double>(devices.Cpu, x, y, 2, n, d, StationaryKernel.Matern32, ard: false);
        using var composed = new GpObjective<double>(devices.Cpu, x, y, 2, n, d, StationaryKernel.Matern32, ard: false) { Composed = true };
        var f = fused.Evaluate(theta, 0, 2, gradient: true);
        var c = composed.Evaluate(theta, 0, 2, gradient: true);
        Assert.Equal(0.0, f.Jitter[0]);
        Assert.True(f.Jitter[1] > 0);
        Assert.True(Math.Abs(f.Jitter[1] - c.Jitter[1]) <= 1e-15 * c.Jitter[1], $"jitter {f.Jitter[1]:R} fused, {c.Jitter[1]:R} composed");
        Assert.True(TestData.RelErr(c.Nll, f.Nll) <= 1e-10, $"NLL {string.Join(", ", f.Nll)} vs {string.Join(", ", c.Nll)}");
        Assert.True(TestData.RelErr(c.Gradient![..3], f.Gradient![..3]) <= 1e-10, $"element 0: gradient error {TestData.RelErr(c.Gradient![..3], f.Gradient![..3]):E2}");
        Assert.True(TestData.RelErr(c.Gradient![3..], f.Gradient![3..]) <= 1e-6, $"element 1: gradient error {TestData.RelErr(c.Gradient![3..], f.Gradient![3..]):E2}");
    }

    /// <summary>
    /// Launches split the way they are at n > 46,341 (batch·n² past 2³¹ elements), at a small n on
    /// devices whose launch limit is lowered: the same NLL and gradients, bit for bit.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.CpuTuned, 1)]
    [InlineData(KernelFamily.GpuTuned, 30)]
    public void SplitLaunchesComputeWhatOneLaunchComputes(KernelFamily family, int maxItems)
    {
        const int b = 2, n = 13, d = 2;
        var whole = NllAndGradients(devices.Get(family), fused: true, StationaryKernel.Matern32, b, n, d, d, seed: 77);
        using var device = Device.CreateCpu(family);
        device.MaxLaunchItems = maxItems;
        Assert.True(GpContraction.DistanceRows(device, b, n) < n, "the limit does not split the distance launches");
        var split = NllAndGradients(device, fused: true, StationaryKernel.Matern32, b, n, d, d, seed: 77);
        for (int i = 0; i < Parts.Length; i++) Assert.Equal(whole[i], split[i]);
    }

    /// <summary>The index arithmetic at n = 100,000 (n² = 10¹⁰ elements), without allocating it.</summary>
    [Fact]
    public void OffsetsPastTwoToThe31AreLongs()
    {
        const int n = 100_000;
        var layout = new MatLayout(0, n, (long)n * n);
        Assert.Equal(2L * n * n + (long)(n - 1) * n + (n - 1), layout.At(2, n - 1, n - 1));
        var view = new MatRef<double>(default, 0, n, (long)n * n, n, n, 1);
        Assert.Equal((long)(n - 64) * n + (n - 64), view.Block(n - 64, n - 64, 64, 64).Offset);
        foreach (var family in new[] { KernelFamily.CpuTuned, KernelFamily.GpuTuned })
        {
            var device = devices.Get(family);
            int rows = GpContraction.DistanceRows(device, 1, n);
            long threads = family == KernelFamily.GpuTuned ? (long)rows * n : rows;
            Assert.True(threads <= device.MaxLaunchItems && rows >= 1, $"{family}: {rows} rows per distance launch");
            var plan = CholeskyInversePlan.For<double>(device, n, 1);
            Assert.Equal((long)plan.BlockSize * n + (long)plan.BlockSize * plan.BlockSize, plan.WorkElementsPerMatrix);
            Assert.Equal(n, plan.Steps.Where(s => s.Kind == CholeskyInverseStepKind.InvertDiagonal).Sum(s => s.Width));
        }
    }

    /// <summary>
    /// Out of device memory at every allocation of the forward and of the backward in turn (its
    /// in-place inverse included): nothing leaks, and the tape then computes the same NLL and
    /// gradients bit for bit.
    /// </summary>
    [Fact]
    public void OutOfMemoryAtAnyAllocationLeaksNothing()
    {
        using var device = Device.CreateCpu(KernelFamily.CpuTuned);
        const int b = 2, n = 70, d = 2; // n > 64: the blocked inverse with its row buffer
        var expected = NllAndGradients(device, fused: true, StationaryKernel.Rbf, b, n, d, d, seed: 500);
        long baseline = device.Pool.BytesInUse;
        int Rents(Action action)
        {
            device.Pool.FailAfterRents = int.MaxValue;
            try
            {
                action();
                return int.MaxValue - device.Pool.FailAfterRents!.Value;
            }
            finally
            {
                device.Pool.FailAfterRents = null;
            }
        }
        int forward = Rents(() => NllAndGradients(device, fused: true, StationaryKernel.Rbf, b, n, d, d, seed: 500));
        Assert.True(forward > 20, $"{forward} requests");
        for (int k = 0; k < forward; k++)
        {
            device.Pool.FailAfterRents = k;
            try
            {
                Assert.Throws<DeviceOutOfMemoryException>(() => NllAndGradients(device, fused: true, StationaryKernel.Rbf, b, n, d, d, seed: 500));
            }
            finally
            {
                device.Pool.FailAfterRents = null;
            }
            Assert.True(baseline == device.Pool.BytesInUse, $"failing at request {k}: {device.Pool.BytesInUse - baseline} bytes not returned");
        }
        var again = NllAndGradients(device, fused: true, StationaryKernel.Rbf, b, n, d, d, seed: 500);
        for (int i = 0; i < Parts.Length; i++) Assert.Equal(expected[i], again[i]);
    }

    [Fact]
    public void NotPositiveDefiniteIsReportedOrReturnedAsInfo()
    {
        // Element 1 repeats a point with no noise: K is singular.
        const int n = 4;
        double[] x = [0, 1, 2, 3, 0, 1, 1, 3];
        using var tape = new Tape(devices.Cpu);
        var vx = tape.Constant(x, new Shape(2, n, 1));
        var vy = tape.Constant(new double[2 * n], new Shape(2, n, 1));
        var s2 = tape.Constant([0.0, 0.0], new Shape(2, 1, 1));
        var l = tape.Constant([0.0, 0.0], new Shape(2, 1, 1));
        var n2 = tape.Variable([-2.0, -800], new Shape(2, 1, 1));
        var e = Assert.Throws<NotPositiveDefiniteException>(() => Op.GpNegativeLogMarginalLikelihood(vx, vy, StationaryKernel.Rbf, s2, l, n2));
        Assert.Equal(("GpNegativeLogMarginalLikelihood", 1, 3), (e.Op, e.BatchIndex, e.MinorOrder));
        var (nll, info) = Op.GpNegativeLogMarginalLikelihoodEx(vx, vy, StationaryKernel.Rbf, s2, l, n2);
        using (info) Assert.Equal(new[] { 0, 3 }, info.ToArray());
        Assert.True(double.IsFinite(nll.ToArray()[0]));
    }

    /// <summary>
    /// NLL and the gradients for θ, X and y at n = 2048, float64, d = 8, ARD on the CPU family: the
    /// pool's peak over forward and backward (X, y and θ uploaded by the tape included) stays
    /// within one n×n matrix + 5% + 1 MiB, where the composed graph holds several.
    /// </summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void NllAndGradientAtOrder2048PeakAtOneMatrix()
    {
        var device = devices.Cpu;
        const int n = 2048, d = 8;
        var (x, y, s2, l, n2) = Problem(1, n, d, d, seed: 5);
        device.Synchronize();
        long baseline = device.Pool.BytesInUse;
        device.Pool.ResetPeak();
        double[] gx;
        using (var tape = new Tape(device))
        {
            var vx = tape.Variable(x, new Shape(1, n, d));
            var vy = tape.Variable(y, new Shape(1, n, 1));
            var vs = tape.Variable(s2, new Shape(1, 1, 1));
            var vl = tape.Variable(l, new Shape(1, 1, d));
            var vn = tape.Variable(n2, new Shape(1, 1, 1));
            var nll = Op.GpNegativeLogMarginalLikelihood(vx, vy, StationaryKernel.Matern52, vs, vl, vn);
            tape.Backward(nll);
            gx = vx.Grad!.ToArray();
            Assert.True(double.IsFinite(nll.ToArray()[0]));
            Assert.All(vl.Grad!.ToArray(), g => Assert.True(double.IsFinite(g)));
            Assert.True(vy.Grad is not null && vs.Grad is not null && vn.Grad is not null);
        }
        long peak = device.Pool.PeakBytes - baseline, matrix = (long)n * n * sizeof(double);
        Assert.True(peak <= 1.05 * matrix + (1 << 20), $"peak {peak:N0} bytes, above 1.05·n²·8 + 1 MiB = {1.05 * matrix + (1 << 20):N0}");
        Assert.True(peak >= matrix, $"peak {peak:N0} bytes, below the one n×n matrix the factor needs: the accounting missed it");
        long estimate = GpObjective<double>.DeviceBytes(device, 1, n, d, ard: true);
        output.WriteLine($"peak {peak:N0} bytes = {(double)peak / matrix:F4}·n²·8; estimate {estimate:N0} bytes");
        Assert.True(peak <= estimate && estimate <= 1.05 * matrix + (1 << 20), $"peak {peak:N0} bytes, estimate {estimate:N0}");
        Assert.All(gx, g => Assert.True(double.IsFinite(g)));
    }
}
