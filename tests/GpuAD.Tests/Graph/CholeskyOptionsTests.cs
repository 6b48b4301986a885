using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// Per-call and per-tape Cholesky options (algorithm and block size) reach the recorded node,
/// through composite functions too, and give the reference gradient; and forward mode on SPD
/// inputs symmetrizes the tangent, so it agrees with reverse mode by the adjoint identity even
/// for a tangent that is not symmetric.
/// </summary>
[Collection("Graph")]
public sealed class CholeskyOptionsTests(DeviceFixture devices)
{
    private static CholeskyNode<double> CholeskyIn(Var<double> output)
    {
        var stack = new Stack<Node>();
        stack.Push(output.Producer!);
        while (stack.Count > 0)
        {
            var node = stack.Pop();
            if (node is CholeskyNode<double> c) return c;
            foreach (var input in node.InputVars)
                if (input is Var<double> { Producer: { } p }) stack.Push(p);
        }
        throw new InvalidOperationException("no Cholesky recorded");
    }

    [Fact]
    public void OptionsOfTheCallOverrideTheTapesFieldByField()
    {
        var device = devices.Cpu;
        const int n = 20;
        var shape = new Shape(1, n, n);
        using var tape = new Tape(device, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Composed, BlockSize = 8 });
        var v = tape.Variable(TestData.Spd(1, n, seed: 3), shape);
        var l = Op.Cholesky(v);
        Assert.Equal((CholeskyAlgorithm.Composed, 8), (CholeskyIn(l).Algorithm, CholeskyIn(l).BlockSize));
        l = Op.Cholesky(v, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked });
        Assert.Equal((CholeskyAlgorithm.Blocked, 8), (CholeskyIn(l).Algorithm, CholeskyIn(l).BlockSize));
        l = Op.Cholesky(v, new CholeskyOptions { BlockSize = 5 });
        Assert.Equal((CholeskyAlgorithm.Composed, 5), (CholeskyIn(l).Algorithm, CholeskyIn(l).BlockSize));
        l = Op.Cholesky(v, CholeskyAlgorithm.Whole);
        Assert.Equal((CholeskyAlgorithm.Whole, n), (CholeskyIn(l).Algorithm, CholeskyIn(l).BlockSize));
        tape.CholeskyOptions = CholeskyOptions.Default;
        l = Op.CholeskyEx(v, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = 7 }).L;
        Assert.Equal((CholeskyAlgorithm.Blocked, 7), (CholeskyIn(l).Algorithm, CholeskyIn(l).BlockSize));
        Assert.Throws<ArgumentOutOfRangeException>(() => new CholeskyOptions { BlockSize = -1 });
        Assert.Throws<ArgumentOutOfRangeException>(() => new CholeskyOptions { Algorithm = (CholeskyAlgorithm)42 });
    }

    /// <summary>The Gaussian-process NLL honours per-call and per-tape options, and every block size gives the composed gradient.</summary>
    [Fact]
    public void TheGaussianProcessLikelihoodHonoursTheOptions()
    {
        var device = devices.Cpu;
        const int n = 20, batch = 2;
        var shape = new Shape(batch, n, n);
        var sigma = TestData.Spd(batch, n, seed: 5);
        var y = TestData.Random(new Shape(batch, n, 1), 6);
        double[] Gradient(CholeskyOptions? perCall, CholeskyOptions? perTape, CholeskyAlgorithm expected, int expectedBlock)
        {
            using var tape = new Tape(device);
            if (perTape is not null) tape.CholeskyOptions = perTape;
            var s = tape.Variable(sigma, shape);
            var t = tape.Constant(y, new Shape(batch, n, 1));
            var nll = perCall is null ? GaussianProcess.NegativeLogMarginalLikelihood(s, t) : GaussianProcess.NegativeLogMarginalLikelihood(s, t, perCall);
            var node = CholeskyIn(nll);
            Assert.Equal((expected, expectedBlock), (node.Algorithm, node.BlockSize));
            tape.Backward(Op.SumBatch(nll));
            return s.Grad!.ToArray();
        }
        var reference = Gradient(new CholeskyOptions { Algorithm = CholeskyAlgorithm.Composed }, null, CholeskyAlgorithm.Composed, CholeskyPlan.BlockedBlockSize(device, n));
        foreach (int block in new[] { 3, 8, 16 })
        {
            TestData.AssertClose(reference, Gradient(new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = block }, null, CholeskyAlgorithm.Blocked, block), 1e-10, $"per call, blocks of {block}");
            TestData.AssertClose(reference, Gradient(null, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = block }, CholeskyAlgorithm.Blocked, block), 1e-10, $"per tape, blocks of {block}");
        }
    }

    [Fact]
    public void BlocksBeyondTheGpuSharedMemoryAreRefusedWhenRecorded()
    {
        var gpu = devices.GpuEmulated;
        int max = Blas.PotrfMaxWholeOrder<double>(gpu), n = max + 2;
        using var tape = new Tape(gpu);
        var v = tape.Variable(new double[n * n], new Shape(1, n, n));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Op.Cholesky(v, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = max + 1 }));
        Assert.Contains("Cholesky", e.Message);
        Assert.Contains(max.ToString(), e.Message);
        Assert.Equal(0, tape.NodeCount);
    }

    /// <summary>
    /// LogDet and CholeskySolve(Σ) factor through the plan made from the call's and the tape's
    /// options: the node holds it, the kernels run it (the launches differ from the whole-matrix
    /// run's by exactly the plans' difference, forward and backward), every block size gives the
    /// composed algorithm's gradient, and blocks too large for the GPU family are refused when recorded.
    /// </summary>
    /// <summary>
    /// The fused GP likelihood factors K with the tape's options: its plan is the one asked for,
    /// its value and gradients those of the default plan.
    /// </summary>
    [Fact]
    public void TheFusedGpLikelihoodTakesTheTapesOptions()
    {
        var device = devices.Cpu;
        const int n = 20, batch = 2, d = 3;
        var x = TestData.Random(new Shape(batch, n, d), 31);
        var y = TestData.Random(new Shape(batch, n, 1), 32);
        (double[] Values, CholeskyPlan Plan) Run(CholeskyOptions? perTape)
        {
            using var tape = perTape is null ? new Tape(device) : new Tape(device, perTape);
            var xv = tape.Variable(x, new Shape(batch, n, d));
            var s2 = tape.Variable(new[] { 0.1, -0.2 }, new Shape(batch, 1, 1));
            var l = tape.Variable(new[] { 0.3, 0.0, -0.1, 0.2, 0.1, -0.3 }, new Shape(batch, 1, d));
            var n2 = tape.Variable(new[] { -1.0, -1.5 }, new Shape(batch, 1, 1));
            var nll = Op.GpNegativeLogMarginalLikelihood(xv, tape.Constant(y, new Shape(batch, n, 1)), StationaryKernel.Matern52, s2, l, n2).Keep();
            var plan = ((GpLikelihoodNode<double>)nll.Producer!).Plan;
            tape.Backward(Op.SumBatch(nll));
            return ([.. nll.ToArray(), .. xv.Grad!.ToArray(), .. s2.Grad!.ToArray(), .. l.Grad!.ToArray(), .. n2.Grad!.ToArray()], plan);
        }
        var auto = Run(null);
        Assert.Equal(CholeskyAlgorithm.Whole, auto.Plan.Algorithm);
        var blocked = Run(new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = 8 });
        Assert.Equal((CholeskyAlgorithm.Blocked, 8), (blocked.Plan.Algorithm, blocked.Plan.BlockSize));
        TestData.AssertClose(auto.Values, blocked.Values, 1e-10, "fused GP likelihood: blocks of 8 vs whole");
    }

    [Theory]
    [InlineData("LogDet")]
    [InlineData("CholeskySolve")]
    public void LogDetAndCholeskySolveTakeTheOptions(string op)
    {
        var device = devices.Cpu;
        const int n = 20, batch = 2;
        var shape = new Shape(batch, n, n);
        var sigma = TestData.Spd(batch, n, seed: 21);
        var b = TestData.Random(new Shape(batch, n, 2), 22);
        CholeskyPlan PlanOf(Var<double> y) => y.Producer switch
        {
            LogDetNode<double> d => d.Plan,
            CholeskySolveNode<double> c => c.Plan!,
            var other => throw new InvalidOperationException($"unexpected {other}"),
        };
        (double[] Grad, CholeskyPlan Plan, long Forward, long Backward) Run(CholeskyOptions? perTape, CholeskyOptions? perCall)
        {
            using var tape = perTape is null ? new Tape(device) : new Tape(device, perTape);
            var s = tape.Variable(sigma, shape);
            long before = device.Launches;
            var y = (op, perCall) switch
            {
                ("LogDet", null) => Op.LogDet(s),
                ("LogDet", _) => Op.LogDet(s, perCall),
                (_, null) => Op.CholeskySolve(s, tape.Constant(b, new Shape(batch, n, 2))),
                _ => Op.CholeskySolve(s, tape.Constant(b, new Shape(batch, n, 2)), perCall),
            };
            long forward = device.Launches - before;
            var plan = PlanOf(y);
            var loss = Op.SumBatch(Op.Sum(y));
            before = device.Launches;
            tape.Backward(loss);
            return (s.Grad!.ToArray(), plan, forward, device.Launches - before);
        }

        var whole = Run(null, null);
        Assert.Equal((CholeskyAlgorithm.Whole, n), (whole.Plan.Algorithm, whole.Plan.BlockSize));
        var composed = Run(new CholeskyOptions { Algorithm = CholeskyAlgorithm.Composed }, null);
        Assert.Equal(CholeskyAlgorithm.Composed, composed.Plan.Algorithm);
        TestData.AssertClose(composed.Grad, whole.Grad, 1e-10, $"{op}: whole vs composed");
        foreach (int block in new[] { 3, 8 })
        {
            var options = new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = block };
            foreach (var (perTape, perCall, how) in new[] { (options, (CholeskyOptions?)null, "per tape"), (null, options, "per call"), (options with { BlockSize = 5 }, new CholeskyOptions { BlockSize = block }, "per call over the tape's") })
            {
                var blocked = Run(perTape, perCall);
                string what = $"{op}, blocks of {block}, {how}";
                Assert.Equal((CholeskyAlgorithm.Blocked, block), (blocked.Plan.Algorithm, blocked.Plan.BlockSize));
                TestData.AssertClose(composed.Grad, blocked.Grad, 1e-10, what);
                Assert.Equal(blocked.Plan.ForwardLaunches - whole.Plan.ForwardLaunches, blocked.Forward - whole.Forward);
                if (op == "LogDet") // the reverse runs the plan too; CholeskySolve's VJP does not differentiate the factorization
                    Assert.Equal(blocked.Plan.BackwardLaunches(symmetrize: true) - whole.Plan.BackwardLaunches(symmetrize: true), blocked.Backward - whole.Backward);
            }
        }

        var gpu = devices.GpuEmulated;
        int max = Blas.PotrfMaxWholeOrder<double>(gpu), m = max + 2;
        using var gpuTape = new Tape(gpu, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = max + 1 });
        var v = gpuTape.Variable(new double[m * m], new Shape(1, m, m));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => op == "LogDet" ? Op.LogDet(v) : Op.CholeskySolve(v, gpuTape.Constant(new double[m], new Shape(1, m, 1))));
        Assert.Contains(op, e.Message);
        Assert.Contains(max.ToString(), e.Message);
        Assert.Equal(0, gpuTape.NodeCount);
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (x, y) => x * y).Sum();

    private static double[] Symmetrized(double[] a, int batch, int n)
    {
        var s = new double[a.Length];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            s[(b * n + i) * n + j] = 0.5 * (a[(b * n + i) * n + j] + a[(b * n + j) * n + i]);
        return s;
    }

    /// <summary>
    /// ⟨Ȳ, J·Σ̇⟩ = ⟨Jᵀ·Ȳ, Σ̇⟩ for a Σ̇ that is not symmetric (the symmetric Σ̄ of reverse mode pairs
    /// with it as with its symmetric part), and the tangent of Σ̇ is the tangent of ½(Σ̇ + Σ̇ᵀ).
    /// </summary>
    [Theory]
    [InlineData("Cholesky")]
    [InlineData("CholeskySolve")]
    public void ANonSymmetricTangentAgreesWithReverseMode(string op)
    {
        var device = devices.Cpu;
        const int n = 6, batch = 2;
        var shape = new Shape(batch, n, n);
        var sigma = TestData.Spd(batch, n, seed: 12);
        var sigmaDot = TestData.Random(shape, 13); // not symmetric
        var b = TestData.Random(new Shape(batch, n, 3), 14);
        Var<double> F(Tape tape, Var<double> s) =>
            op == "Cholesky" ? Op.Cholesky(s) : Op.CholeskySolve(s, tape.Constant(b, new Shape(batch, n, 3)));
        double[] Tangent(double[] dot)
        {
            using var tape = new Tape(device);
            return F(tape, tape.Variable(sigma, shape, dot)).Tangent!.ToArray();
        }
        var tangent = Tangent(sigmaDot);
        TestData.AssertClose(Tangent(Symmetrized(sigmaDot, batch, n)), tangent, 1e-13, $"{op}: tangent of Σ̇ vs of its symmetric part");

        double[] gradient, ybar;
        using (var tape = new Tape(device))
        {
            var s = tape.Variable(sigma, shape);
            var y = F(tape, s);
            ybar = TestData.Random(y.Shape, 15);
            tape.Backward(y, ybar);
            gradient = s.Grad!.ToArray();
        }
        double lhs = Dot(ybar, tangent), rhs = Dot(gradient, sigmaDot);
        Assert.True(Math.Abs(lhs - rhs) <= 1e-10 * (Math.Abs(lhs) + Math.Abs(rhs) + 1), $"{op}: ⟨Ȳ, J·Σ̇⟩ = {lhs} but ⟨Jᵀ·Ȳ, Σ̇⟩ = {rhs}");
    }
}
