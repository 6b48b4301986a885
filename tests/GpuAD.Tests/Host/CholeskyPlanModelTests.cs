using GpuAD.Bench;
using GpuAD.Kernels;

namespace GpuAD.Tests.Host;

/// <summary>
/// The critical-path model of a Cholesky plan (<see cref="CholeskyPlanModel"/>), priced with
/// made-up rates whose terms are told apart by their sizes: a small two-level forward equals the
/// sum of its parts walked here from the algorithm, a GEMM step is its fixed time plus flops /
/// rate (and its reduction when split), and an outer block factored in leaf blocks costs its
/// inner plan. Plans are the H100's (its table, 132 multiprocessors) on the emulated GPU; nothing runs.
/// </summary>
[Collection("Potrf")]
public sealed class CholeskyPlanModelTests(DeviceFixture devices)
{
    private static readonly KernelRates Rates = new(Launch: 1e-5, PanelForward: 2e-4, PanelReverse: 3e-4, TrsmRight: 1e-4, TrsmLeft: 1.5e-4,
        GemmLaunch: 5e-5, GemmPanelRate: 1e12, GemmLargeRate: 4e12, Reduction: 2e-5, ElementwisePerElement: 1e-9, Leaf: 16, Sources: []);

    private static readonly TuningTable H100 = TuningTable.Committed.Single(t => t.Device == "NVIDIA H100 80GB HBM3");

    /// <summary>
    /// n = 300 in outer blocks of 64 (the last 44) and leaf blocks of 16, look-ahead off, the outer
    /// panel by TRSM. Walked here: clear info; per outer block its leaf panels (chain) and their
    /// trailing updates (GEMMs of the lower triangle), the outer panel's TRSM in leaf blocks (a
    /// right-solve chain, a GEMM after each leaf but the last), the outer trailing update; tril.
    /// </summary>
    [Fact]
    public void TwoLevelForwardIsTheSumOfItsParts()
    {
        const int n = 300, outer = 64, leaf = 16;
        var plan = Plan(n, outer, leaf, lookAhead: false, byInverse: false);
        Assert.Equal(2, plan.Levels);
        double gemm = Rates.GemmLaunch;
        double expected = 0;
        int launches = 1; // clear info
        for (int k0 = 0; k0 < n; k0 += outer)
        {
            int w = Math.Min(outer, n - k0), k1 = k0 + w;
            for (int l0 = 0; l0 < w; l0 += leaf)
            {
                int lw = Math.Min(leaf, w - l0), m = w - l0 - lw;
                expected += Rates.PanelForward * lw / 16.0;
                launches++;
                if (m == 0) break;
                expected += gemm + (double)m * (m + 1) * lw / Rates.GemmPanelRate;
                launches++;
            }
            if (k1 == n) break;
            int rows = n - k1;
            for (int l0 = 0; l0 < w; l0 += leaf)
            {
                expected += Rates.TrsmRight;
                launches++;
                int rest = w - l0 - leaf;
                if (rest == 0) break;
                expected += gemm + 2.0 * rows * rest * leaf / Rates.GemmPanelRate;
                launches++;
            }
            expected += gemm + (double)rows * (rows + 1) * w / Rates.GemmPanelRate;
            launches++;
        }
        expected += (double)n * n * Rates.ElementwisePerElement; // tril
        launches++;
        expected += launches * Rates.Launch;

        var model = new CholeskyPlanModel(Rates);
        var time = model.Forward(plan);
        Assert.Equal(launches, plan.ForwardLaunches);
        Assert.Equal(launches * Rates.Launch, time.Launch, 12);
        Assert.Equal(expected, time.Total, 12);
        Assert.True(time.Chain > 0 && time.Gemm > 0 && time.Memory > 0);
    }

    /// <summary>
    /// A one-level trailing update of (284, 284, 16), lower triangle: 284·285·16 flops at the panel
    /// rate; a panel by inverse of (688, 512, 512): a large product, split along K in two on 132
    /// multiprocessors, so 2·688·512² flops at the large rate plus one reduction. A batch of 3
    /// triples the flops, not the fixed time.
    /// </summary>
    [Fact]
    public void GemmTermIsFlopsOverRate()
    {
        var model = new CholeskyPlanModel(Rates);
        var one = Plan(300, 300, 16, lookAhead: false, byInverse: false);
        var update = one.Forward.First(s => s.Kind == CholeskyStepKind.TrailingUpdate);
        Assert.Equal((284, 284, 16), update.Gemm!.Value.Shapes!.Single());
        Assert.Equal(1, update.Launches);
        Assert.Equal(5e-5 + 284.0 * 285 * 16 / 1e12, model.Step(one, update).Gemm, 15);
        var batched = Plan(300, 300, 16, lookAhead: false, byInverse: false, batch: 3);
        var batchedUpdate = batched.Forward.First(s => s.Kind == CholeskyStepKind.TrailingUpdate);
        Assert.Equal(1, batchedUpdate.Launches);
        Assert.Equal(5e-5 + 3 * 284.0 * 285 * 16 / 1e12, model.Step(batched, batchedUpdate).Gemm, 15);

        var two = Plan(1200, 512, 64, lookAhead: true, byInverse: true);
        var panel = two.Forward.First(s => s.Kind == CholeskyStepKind.PanelByInverse);
        var gemm = panel.Gemm!.Value;
        Assert.Equal((688, 512, 512), gemm.Shapes!.Single());
        Assert.Equal(2, gemm.Launches);
        var t = model.Step(two, panel);
        Assert.Equal(5e-5 + 2.0 * 688 * 512 * 512 / 4e12 + 2e-5, t.Gemm, 15);
        Assert.Equal(688.0 * 512 * 1e-9, t.Memory, 15); // A21 copied first
        Assert.Equal(3 * 1e-5, t.Launch, 15);
    }

    /// <summary>FactorBlock costs its inner plan's forward, launches included; the first ReverseBlockByInner (no C̄ update) its inner plan's backward.</summary>
    [Fact]
    public void OuterBlockCostsItsInnerPlan()
    {
        var model = new CholeskyPlanModel(Rates);
        var plan = Plan(300, 64, 16, lookAhead: true, byInverse: true);
        var factors = plan.Forward.Where(s => s.Kind == CholeskyStepKind.FactorBlock).ToArray();
        Assert.Equal(5, factors.Length);
        foreach (var step in factors)
        {
            var inner = step.Inner!;
            Assert.Equal(model.Forward(inner).Total, model.Step(plan, step).Total, 12);
            Assert.True(model.Forward(inner).Chain >= Rates.PanelForward * (step.Width / 16), $"block at {step.J0}");
        }
        var first = plan.Backward.Single(s => s.Kind == CholeskyStepKind.ReverseBlockByInner && s.J0 == 0);
        Assert.Equal(model.Backward(first.Inner!).Total, model.Step(plan, first).Total, 12);
        // Four leaf reverses of 16, three fused TRSMs of the block before: the inner chain.
        Assert.Equal(4 * Rates.PanelReverse + 3 * Rates.TrsmRight, model.Backward(first.Inner!).Chain, 12);
    }

    /// <summary>The second-stream bound is below the one-stream sum and at least its launches plus half the rest (max(a, b) ≥ (a + b)/2 per block).</summary>
    [Fact]
    public void OverlapIsBetweenTheLongestPartAndTheSum()
    {
        var model = new CholeskyPlanModel(Rates);
        var plan = Plan(300, 64, 16, lookAhead: true, byInverse: false);
        foreach (var steps in new[] { plan.Forward, plan.Backward })
        {
            var sum = model.Pass(plan, steps);
            double overlapped = model.Overlapped(plan, steps);
            Assert.True(overlapped < sum.Total, $"{overlapped} vs {sum.Total}");
            Assert.True(overlapped >= sum.Launch + (sum.Total - sum.Launch) / 2, $"{overlapped} vs {sum}");
        }
    }

    /// <summary>
    /// The left-looking forward executes the right-looking forward's update flops, in other
    /// products: Σ over block columns of w(w+1)·k0 + 2·rows·w·k0 (counted by the model from the
    /// steps' GEMM plans) equals Σ over blocks of the trailing triangle m(m+1)·w, on one stream
    /// and with the next column's update split along K on two; the other steps are the same.
    /// </summary>
    [Theory]
    [InlineData(300, 64, 1)]
    [InlineData(300, 64, 2)]
    [InlineData(1000, 128, 2)]
    public void LeftLookingUpdatesExecuteTheRightLookingFlops(int n, int outer, int streams)
    {
        var right = Plan(n, outer, 16, lookAhead: true, byInverse: true);
        var left = Plan(n, outer, 16, lookAhead: true, byInverse: true, leftLooking: true, streams: streams);
        Assert.True(left.LeftLooking);
        Assert.Equal(streams, left.Streams);
        double Updates(CholeskyPlan p, CholeskyStepKind kind) => p.Forward.Where(s => s.Kind == kind).Sum(s => CholeskyPlanModel.Flops(kind, s.Gemm!.Value));
        double expected = 0;
        for (int k1 = outer; k1 < n; k1 += outer)
            expected += (double)(n - k1) * (n - k1 + 1) * outer;
        Assert.Equal(expected, Updates(right, CholeskyStepKind.TrailingUpdate), 6);
        Assert.Equal(expected, Updates(left, CholeskyStepKind.ColumnUpdate), 6);
        Kinds(right.Forward.Where(s => s.Kind != CholeskyStepKind.TrailingUpdate), out var rightRest);
        Kinds(left.Forward.Where(s => s.Kind is not (CholeskyStepKind.ColumnUpdate or CholeskyStepKind.Fork or CholeskyStepKind.Join)), out var leftRest);
        Assert.Equal(rightRest, leftRest);

        var model = new CholeskyPlanModel(Rates);
        double total = model.Forward(left).Total;
        Assert.True(total > 0);
        if (streams == 1) Assert.Equal(total, model.Wall(left, left.Forward), 12);

        static void Kinds(IEnumerable<CholeskyStep> steps, out (CholeskyStepKind, int, int)[] kinds) =>
            kinds = steps.Select(s => (s.Kind, s.J0, s.Width)).OrderBy(x => x.Item2).ThenBy(x => x.Item1).ToArray();
    }

    /// <summary>
    /// The blocks' reverse by inverse is GEMMs and maps: no serial chain in its steps, three
    /// w×w×w products per block (6w³ flops), and the reverse's chain is only the leaf inverses'
    /// (the TRTRI's leaf launch per block) where Murray's reverse in leaf blocks chains every leaf.
    /// </summary>
    [Fact]
    public void BlockReverseByInverseHasNoLeafChain()
    {
        const int n = 300, outer = 64, leaf = 16;
        var model = new CholeskyPlanModel(Rates);
        var leaves = Plan(n, outer, leaf, lookAhead: true, byInverse: true);
        var gemms = Plan(n, outer, leaf, lookAhead: true, byInverse: true, blockByInverse: true);
        var steps = gemms.Backward.Where(s => s.Kind == CholeskyStepKind.ReverseBlockByInverse).ToArray();
        Assert.Equal((n + outer - 1) / outer, steps.Length);
        foreach (var step in steps)
        {
            Assert.Equal(0, model.Step(gemms, step).Chain);
            Assert.Equal(3 * 2.0 * step.Width * step.Width * step.Width, step.Gemms!.Sum(g => CholeskyPlanModel.Flops(step.Kind, g)), 6);
        }
        // Every block inverted once (the last for its reverse alone): the chain is their leaf launches, a leaf TRSM's per leaf of 16.
        int inverses = gemms.Backward.Count(s => s.Kind == CholeskyStepKind.InvertBlock);
        Assert.Equal(steps.Length, inverses);
        Assert.Equal(inverses * Rates.TrsmLeft, model.Backward(gemms).Chain, 12);
        Assert.True(model.Backward(leaves).Chain > 4 * model.Backward(gemms).Chain);
    }

    private CholeskyPlan Plan(int n, int outer, int leaf, bool lookAhead, bool byInverse, int batch = 1, bool leftLooking = false, int streams = 1,
        bool blockByInverse = false)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            device.Tuning = H100 with { PotrfLookAhead = lookAhead, PotrfPanelInverse = byInverse, PotrfLeftLooking = leftLooking, PotrfStreams = streams,
                PotrfBlockReverseByInverse = blockByInverse };
            device.PlannedMultiprocessors = 132;
            return CholeskyPlan.For<double>(device, n, batch, CholeskyAlgorithm.Blocked, leaf, outerBlockSize: outer);
        }
        finally
        {
            device.Tuning = original;
            device.PlannedMultiprocessors = null;
        }
    }

    /// <summary>
    /// The dataflow path's persistent launches have no measured kernel time to scale: the model
    /// refuses its plan, naming the step, rather than price it as something else.
    /// </summary>
    [Fact]
    public void TheDataflowPlanIsRefusedNamingItsStep()
    {
        var plan = CholeskyPlan.For<double>(devices.GpuEmulated, 1024, 1, CholeskyAlgorithm.Dataflow);
        var model = new CholeskyPlanModel(Rates);
        Assert.Contains("no price for a FactorDataflow step", Assert.Throws<ArgumentException>(() => model.Forward(plan)).Message);
        Assert.Contains("no price for a ReverseDataflow step", Assert.Throws<ArgumentException>(() => model.Backward(plan)).Message);
    }
}
