using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The two-level blocked Cholesky and its reverse (<see cref="CholeskyPlan.Levels"/> = 2): outer
/// diagonal blocks factored and differentiated in leaf blocks by the one-level kernels, the outer
/// panels solved against the block's inverse (a GEMM) or by a TRSM in leaf blocks, the updates as
/// GEMMs with K of the outer order. On both kernel families, at orders that reach every level with
/// ragged outer and leaf blocks: the factor against the float64 factor, the gradient against the
/// float64 formula and the device's composed backward, the first failing minor named exactly in
/// any outer block, the launches the plan counts, and the automatic choice from the tuning table
/// through Op.Cholesky. The emulated GPU costs per barrier: its production-like sizes (outer 64,
/// leaf 16, n = 300 and 600) are the slow tier, small blocks the fast one.
/// </summary>
[Collection("EmulatedGpu")]
public sealed class TwoLevelCholeskyTests(DeviceFixture devices)
{
    [Theory]
    [InlineData(KernelFamily.CpuTuned, "f64", 300, 64, 16, true)]
    [InlineData(KernelFamily.CpuTuned, "f64", 300, 64, 16, false)]
    [InlineData(KernelFamily.CpuTuned, "f32", 141, 48, 8, true)]
    [InlineData(KernelFamily.CpuTuned, "f64", 70, 32, 8, true)]
    [InlineData(KernelFamily.GpuTuned, "f64", 45, 16, 8, true)]
    public void TwoLevelFactorAndGradientMatchTheFloat64References(KernelFamily family, string dtype, int n, int outer, int leaf, bool byInverse) =>
        Check(family, dtype, n, outer, leaf, byInverse);

    /// <summary>The emulated GPU in float32, and with the outer panels by TRSM in leaves of 4 (a ragged last leaf).</summary>
    [Theory]
    [InlineData("f32", 45, 16, 8, true)]
    [InlineData("f64", 37, 16, 4, false)]
    [Trait("Tier", "Slow")]
    public void TwoLevelOnTheEmulatedGpuInFloat32AndByTrsm(string dtype, int n, int outer, int leaf, bool byInverse) =>
        Check(KernelFamily.GpuTuned, dtype, n, outer, leaf, byInverse);

    /// <summary>The issue's production-like shape on the emulated GPU: outer blocks of 64 in leaves of 16, n = 300 and 600, batch 2.</summary>
    [Theory]
    [InlineData("f64", 300, true)]
    [InlineData("f64", 300, false)]
    [InlineData("f32", 300, true)]
    [InlineData("f64", 600, true)]
    [Trait("Tier", "Slow")]
    public void TwoLevelOnTheEmulatedGpuInOuterBlocksOf64AndLeavesOf16(string dtype, int n, bool byInverse) =>
        Check(KernelFamily.GpuTuned, dtype, n, 64, 16, byInverse);

    /// <summary>
    /// The left-looking forward (<see cref="TuningTable.PotrfLeftLooking"/>): each outer block
    /// column updated by every column left of it, one grouped GEMM per block but the first, no
    /// trailing update; the same checks, with a ragged last outer block, by inverse and by TRSM.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.CpuTuned, "f64", 300, 64, 16, true)]
    [InlineData(KernelFamily.CpuTuned, "f64", 300, 64, 16, false)]
    [InlineData(KernelFamily.CpuTuned, "f32", 141, 48, 8, true)]
    [InlineData(KernelFamily.GpuTuned, "f64", 45, 16, 8, true)]
    public void LeftLookingFactorAndGradientMatchTheFloat64References(KernelFamily family, string dtype, int n, int outer, int leaf, bool byInverse) =>
        Check(family, dtype, n, outer, leaf, byInverse, leftLooking: true);

    /// <summary>The left-looking forward on the emulated GPU in float32 and by TRSM, and in outer blocks of 64 in leaves of 16 at n = 300.</summary>
    [Theory]
    [InlineData("f32", 45, 16, 8, true)]
    [InlineData("f64", 37, 16, 4, false)]
    [InlineData("f64", 300, 64, 16, true)]
    [Trait("Tier", "Slow")]
    public void LeftLookingOnTheEmulatedGpu(string dtype, int n, int outer, int leaf, bool byInverse) =>
        Check(KernelFamily.GpuTuned, dtype, n, outer, leaf, byInverse, leftLooking: true);

    /// <summary>
    /// The reverse with each outer diagonal block differentiated by GEMMs against its inverse
    /// (<see cref="TuningTable.PotrfBlockReverseByInverse"/>): every outer block inverted once (the
    /// last one too, which has no panel), the same checks, with the outer panels by inverse and by
    /// TRSM, a ragged last outer block, f32.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.CpuTuned, "f64", 300, 64, 16, true)]
    [InlineData(KernelFamily.CpuTuned, "f64", 300, 64, 16, false)]
    [InlineData(KernelFamily.CpuTuned, "f32", 141, 48, 8, true)]
    [InlineData(KernelFamily.GpuTuned, "f64", 45, 16, 8, true)]
    [InlineData(KernelFamily.GpuTuned, "f64", 37, 16, 4, false)]
    public void BlockReverseByInverseMatchesTheFloat64References(KernelFamily family, string dtype, int n, int outer, int leaf, bool byInverse) =>
        Check(family, dtype, n, outer, leaf, byInverse, blockByInverse: true);

    /// <summary>The block reverse by inverse on the emulated GPU in float32, and in outer blocks of 64 in leaves of 16 at n = 300.</summary>
    [Theory]
    [InlineData("f32", 45, 16, 8, true)]
    [InlineData("f64", 300, 64, 16, true)]
    [Trait("Tier", "Slow")]
    public void BlockReverseByInverseOnTheEmulatedGpu(string dtype, int n, int outer, int leaf, bool byInverse) =>
        Check(KernelFamily.GpuTuned, dtype, n, outer, leaf, byInverse, blockByInverse: true);

    private void Check(KernelFamily family, string dtype, int n, int outer, int leaf, bool byInverse, bool leftLooking = false, bool blockByInverse = false)
    {
        if (dtype == "f64") Check<double>(family, n, outer, leaf, byInverse, leftLooking, blockByInverse);
        else Check<float>(family, n, outer, leaf, byInverse, leftLooking, blockByInverse);
    }

    private void Check<T>(KernelFamily family, int n, int outer, int leaf, bool byInverse, bool leftLooking, bool blockByInverse) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Get(family);
        var original = device.Tuning;
        try
        {
            device.Tuning = original with { PotrfPanelInverse = byInverse, PotrfLeftLooking = leftLooking, PotrfBlockReverseByInverse = blockByInverse };
            const int batch = 2;
            var shape = new Shape(batch, n, n);
            var plan = CholeskyPlan.For<T>(device, n, batch, CholeskyAlgorithm.Blocked, leaf, outerBlockSize: outer);
            string what = $"{family} {typeof(T).Name} n={n} outer={outer} leaf={leaf} by {(byInverse ? "inverse" : "TRSM")}{(leftLooking ? ", left-looking" : "")}"
                + (blockByInverse ? ", block reverse by inverse" : "");
            Assert.Equal(2, plan.Levels);
            Assert.Equal(leftLooking, plan.LeftLooking);
            Assert.Equal(blockByInverse, plan.BlockReverseByInverse);
            int blocks = (n + outer - 1) / outer;
            var blockReverses = plan.Backward.Where(s => s.Kind is CholeskyStepKind.ReverseBlockByInner or CholeskyStepKind.ReverseBlockByInverse).ToArray();
            Assert.Equal(blocks, blockReverses.Length);
            Assert.All(blockReverses, s => Assert.Equal(blockByInverse ? CholeskyStepKind.ReverseBlockByInverse : CholeskyStepKind.ReverseBlockByInner, s.Kind));
            // Each block inverted once, before its reverse: for its panel (by inverse), or for the block reverse alone.
            var inverted = plan.Backward.Where(s => s.Kind == CholeskyStepKind.InvertBlock).Select(s => s.J0).ToArray();
            Assert.Equal(blockByInverse ? blocks : byInverse ? blocks - 1 : 0, inverted.Length);
            Assert.Equal(inverted.Length, inverted.Distinct().Count());
            foreach (var s in blockReverses.Where(s => s.Kind == CholeskyStepKind.ReverseBlockByInverse))
                Assert.True(plan.Backward.ToList().FindIndex(x => x.Kind == CholeskyStepKind.InvertBlock && x.J0 == s.J0) < plan.Backward.ToList().IndexOf(s));
            var updates = plan.Forward.Where(s => s.Kind is CholeskyStepKind.ColumnUpdate or CholeskyStepKind.TrailingUpdate).ToArray();
            int outerBlocks = (n + outer - 1) / outer;
            Assert.Equal(outerBlocks - 1, updates.Length); // one per block column but the first (left-looking), per block but the last (right-looking)
            Assert.All(updates, s => Assert.Equal(leftLooking ? CholeskyStepKind.ColumnUpdate : CholeskyStepKind.TrailingUpdate, s.Kind));
            if (leftLooking) Assert.All(updates, s => Assert.Equal((0, s.J0), (s.KFrom, s.KTo))); // one stream: every column left of the block at once
            Assert.Equal(outer, plan.BlockSize);
            Assert.Equal(leaf, plan.LeafBlockSize);
            Assert.Equal(byInverse, plan.Forward.Any(s => s.Kind == CholeskyStepKind.PanelByInverse));
            Assert.Equal(byInverse, plan.Backward.Any(s => s.Kind == CholeskyStepKind.ReversePanelByInverse));
            Assert.All(plan.Forward.Where(s => s.Kind == CholeskyStepKind.FactorBlock), s => Assert.Equal(Math.Min(leaf, s.Width), s.Inner!.LeafBlockSize));

            // Forward, over NaN above the diagonal (never read), against the float64 factor.
            var a = TestData.Spd(batch, n, seed: 5 * n + outer);
            double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
            using var da = TestData.Upload<T>(device, TestData.WithNaNAbove(a, batch, n), shape);
            using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
            var l = CholeskyPlanChecks.Factor(device, plan, da, info, a, batch, n, tol, what);

            // Reverse: Σ̄ against the float64 formula, symmetrized by the kernels, and against the device's composed backward.
            var lbar = TestData.Random(shape, seed: 11 * n);
            var got = CholeskyPlanChecks.Reverse<T>(device, plan, l, lbar, batch, n, tol, what);
            using var cl = TestData.Upload<T>(device, l, shape);
            using var cbar = TestData.Upload<T>(device, lbar, shape);
            using var composed = CholeskyNode<T>.ComposedBackward(device, cl, cbar);
            TestData.AssertClose(TestData.ToDouble(composed.ToArray()), got, tol, what + ": Σ̄ against the device's composed backward");

            // A failing minor in the second outer block, and one in a later leaf of the last outer block.
            foreach (int k in new[] { outer + 1, n - 2 })
            {
                var broken = (double[])a.Clone();
                TestData.BreakPivot(broken, n, b: 1, k);
                da.CopyFrom(TestData.To<T>(broken));
                Blas.Potrf(device, da.Mat, info, plan);
                Assert.Equal(new[] { 0, k + 1 }, info.ToArray());
            }
        }
        finally
        {
            device.Tuning = original;
        }
    }

    /// <summary>
    /// Op.Cholesky on a tape with the automatic choice: a tuning table whose outer blocks (32 beyond
    /// order 24, leaves of 16) make the plan two-level, right- or left-looking and with the blocks'
    /// reverse in leaves or by inverse as the table says, and the value and gradient equal to the
    /// composed algorithm's on the same device, and its launches the plan's.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 45, false)]
    [InlineData(KernelFamily.GpuTuned, 80, true)]
    public void OpCholeskyTakesTwoLevelsFromTheTuningTable(KernelFamily family, int n, bool byInverses)
    {
        var device = devices.Get(family);
        var original = device.Tuning;
        try
        {
            device.Tuning = GpuProductionConfigurationTests.SmallBlocks(original) with
                { PotrfOuterBlock = 32, PotrfOuterFrom = 24, PotrfLeftLooking = byInverses, PotrfBlockReverseByInverse = byInverses };
            const int batch = 2;
            var plan = CholeskyPlan.For<double>(device, n, batch);
            Assert.Equal(2, plan.Levels);
            Assert.Equal((byInverses, byInverses), (plan.LeftLooking, plan.BlockReverseByInverse));
            Assert.Equal(32, plan.BlockSize);
            Assert.Equal(16, plan.LeafBlockSize);
            Assert.Equal(1, CholeskyPlan.For<double>(device, 24, batch).Levels);

            TestData.AssertTapeCholeskyMatchesComposed(device, CholeskyAlgorithm.Blocked, batch, n, seed: 41, "two-level");
        }
        finally
        {
            device.Tuning = original;
        }
    }

    /// <summary>
    /// The GPU family's TRTRI (leaf inverses in one launch, then the doubling of grouped GEMMs) at
    /// orders with a ragged last leaf, a level with more pairs than one launch groups, and a
    /// ragged pair: T⁻¹ against the float64 inverse by substitution, its strict upper triangle
    /// exactly zero over a NaN-filled output, T's upper triangle (NaN) never read, and the
    /// launches one plus the doubling's.
    /// </summary>
    [Theory]
    [InlineData("f64", 45, 8)]
    [InlineData("f64", 64, 8)]
    [InlineData("f32", 37, 16)]
    public void TrtriOfTheGpuFamilyInvertsLowerTriangles(string dtype, int w, int m)
    {
        if (dtype == "f64") Trtri<double>(w, m);
        else Trtri<float>(w, m);
    }

    private void Trtri<T>(int w, int m) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.GpuEmulated;
        const int batch = 2;
        var shape = new Shape(batch, w, w);
        var l = Reference.Cholesky(TestData.Spd(batch, w, seed: 3 * w + m), batch, w);
        var expected = new double[l.Length];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * w * w;
            for (int c = 0; c < w; c++)
            for (int i = c; i < w; i++)
            {
                double v = i == c ? 1 : 0;
                for (int q = c; q < i; q++) v -= l[o + i * w + q] * expected[o + q * w + c];
                expected[o + i * w + c] = v / l[o + i * w + i];
            }
        }
        using var dt = TestData.Upload<T>(device, TestData.WithNaNAbove(l, batch, w), shape);
        var nan = Enumerable.Repeat(double.NaN, l.Length).ToArray();
        using var dx = TestData.Upload<T>(device, nan, shape);
        using var scratch = TestData.Upload<T>(device, nan, shape);
        var launches = TrtriGpu.Launches(w, m).ToArray();
        Assert.Contains(launches, x => x.Pairs.Any(p => p.C < p.S) || w % m == 0);
        var plans = launches.Select(x => GemmPolicy.Choose<T>(device.Tuning, device.Multiprocessors,
            TrtriGpu.Shapes(x).Select(p => new GemmArgs<T> { M = p.M, N = p.N, K = p.K }).ToArray(), batch, device.SupportsDmma, cublas: false)).ToArray();
        long before = device.Launches;
        TrtriGpu.Invert(device, dt.Mat, dx.Mat, scratch.Mat, m, plans);
        Assert.Equal(1 + plans.Sum(p => p.Launches), device.Launches - before);
        var got = TestData.ToDouble(dx.ToArray());
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < w; i++)
        for (int j = i + 1; j < w; j++)
            Assert.True(got[(long)b * w * w + i * w + j] == 0, $"T⁻¹[{b}, {i}, {j}] above the diagonal is {got[(long)b * w * w + i * w + j]}");
        TestData.AssertClose(expected, got, TestData.KernelTol<T>() * w, $"{typeof(T).Name} TRTRI w={w} leaves of {m}");
    }

    /// <summary>
    /// The pool bytes a two-level forward and reverse each hold at their peak besides L and L̄ stay
    /// within the plan's <see cref="CholeskyPlan.ForwardWorkspaceBytes"/> (which the GP's memory
    /// estimate adds) and <see cref="CholeskyPlan.BackwardWorkspaceBytes"/>, and reach at least the
    /// panel's copy the estimate names.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.CpuTuned, 300, 64, 16)]
    public void TwoLevelWorkspaceStaysWithinThePlansBytes(KernelFamily family, int n, int outer, int leaf) => Workspace(family, n, outer, leaf);

    /// <summary>The same on the emulated GPU (its TRTRI's scratch block too).</summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 45, 16, 8)]
    [Trait("Tier", "Slow")]
    public void TwoLevelWorkspaceStaysWithinThePlansBytesOnTheEmulatedGpu(KernelFamily family, int n, int outer, int leaf) => Workspace(family, n, outer, leaf);

    /// <summary>The same with the blocks' reverse by inverse (two more squares in the reverse).</summary>
    [Theory]
    [InlineData(KernelFamily.CpuTuned, 300, 64, 16)]
    public void BlockReverseByInverseStaysWithinThePlansBytes(KernelFamily family, int n, int outer, int leaf) => Workspace(family, n, outer, leaf, blockByInverse: true);

    private void Workspace(KernelFamily family, int n, int outer, int leaf, bool blockByInverse = false)
    {
        var device = devices.Get(family);
        const int batch = 2;
        var shape = new Shape(batch, n, n);
        var original = device.Tuning;
        CholeskyPlan plan;
        try
        {
            // Two streams: the reverse's inverses alternate between two buffers.
            device.Tuning = original with { PotrfStreams = 2, PotrfBlockReverseByInverse = blockByInverse };
            plan = CholeskyPlan.For<double>(device, n, batch, CholeskyAlgorithm.Blocked, leaf, outerBlockSize: outer);
        }
        finally
        {
            device.Tuning = original;
        }
        Assert.Equal(2, plan.Streams);
        var a = TestData.Spd(batch, n, seed: 13);
        using var da = TestData.Upload<double>(device, a, shape);
        using var dbar = TestData.Upload<double>(device, TestData.Random(shape, seed: 14), shape);
        using var info = device.Allocate<int>(new Shape(batch, 1, 1));
        device.Synchronize();
        long baseline = device.Pool.BytesInUse;
        device.Pool.ResetPeak();
        Blas.Potrf(device, da.Mat, info, plan);
        device.Synchronize();
        long forwardPeak = device.Pool.PeakBytes - baseline;
        device.Pool.ResetPeak();
        Blas.PotrfBackward(device, da.Mat, dbar.Mat, plan, symmetrize: true);
        device.Synchronize();
        long backwardPeak = device.Pool.PeakBytes - baseline, peak = Math.Max(forwardPeak, backwardPeak);
        long estimate = plan.WorkspaceBytes(sizeof(double), BufferPool.SizeClass);
        long forward = plan.ForwardWorkspaceBytes(sizeof(double), BufferPool.SizeClass), backward = plan.BackwardWorkspaceBytes(sizeof(double), BufferPool.SizeClass);
        Assert.Equal(new int[batch], info.ToArray());
        Assert.Equal(Math.Max(forward, backward), estimate);
        Assert.True(forwardPeak <= forward, $"{family} n={n}: the forward's peak {forwardPeak:N0} bytes above the plan's {forward:N0}");
        Assert.True(backwardPeak <= backward, $"{family} n={n}: the reverse's peak {backwardPeak:N0} bytes above the plan's {backward:N0}");
        Assert.True(backward > forward, $"{family} n={n}: two streams hold a second inverse in the reverse only ({backward:N0} against {forward:N0})");
        Assert.True(peak >= (long)batch * (n - outer) * outer * sizeof(double), $"{family} n={n}: peak {peak:N0} bytes below the panel's copy");
    }

    /// <summary>
    /// Two streams: the forward's trailing updates beyond the next outer block, and the reverse's
    /// inverses of the next block, run on the device's side stream (the launches it counts there
    /// are the plan's side steps'), and the factor and the gradient are bitwise the one-stream
    /// order's (<see cref="CholeskyPlan.OnOneStream"/>) and match the float64 references. The emulated GPU runs each launch to completion, so this checks the steps,
    /// their split and the side launches; the host's waits are what orders the streams on a GPU.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 45, 16, 8)]
    [InlineData(KernelFamily.CpuTuned, 300, 64, 16)]
    public void TwoStreamsGiveTheOneStreamResultsBitwise(KernelFamily family, int n, int outer, int leaf) => TwoStreams<double>(n, outer, leaf, family);

    /// <summary>
    /// Left-looking on two streams: the next block column's update by the columns already final
    /// runs on the side stream (K from 0 to the current block), the rest after the Join, and the
    /// factor is bitwise the one-stream order's.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 61, 16, 8)]
    [InlineData(KernelFamily.CpuTuned, 300, 64, 16)]
    public void LeftLookingOnTwoStreamsGivesTheOneStreamResultsBitwise(KernelFamily family, int n, int outer, int leaf) =>
        TwoStreams<double>(n, outer, leaf, family, leftLooking: true);

    /// <summary>The same in float32, and in outer blocks of 64 in leaves of 16 at n = 300.</summary>
    [Theory]
    [InlineData("f32", 40, 16, 8)]
    [InlineData("f64", 300, 64, 16)]
    [Trait("Tier", "Slow")]
    public void TwoStreamsGiveTheOneStreamResultsBitwiseInFloat32AndOuterBlocksOf64(string dtype, int n, int outer, int leaf)
    {
        if (dtype == "f64") TwoStreams<double>(n, outer, leaf);
        else TwoStreams<float>(n, outer, leaf);
    }

    /// <summary>
    /// The block reverse by inverse on two streams: the last block inverted on the default stream
    /// first (the host waits for it before the side stream's first inverse, which would share the
    /// TRTRI's scratch), every other inverse on the side stream, the gradient bitwise the one-stream order's.
    /// </summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 45, 16, 8)]
    [InlineData(KernelFamily.CpuTuned, 300, 64, 16)]
    public void BlockReverseByInverseOnTwoStreamsGivesTheOneStreamResultsBitwise(KernelFamily family, int n, int outer, int leaf) =>
        TwoStreams<double>(n, outer, leaf, family, blockByInverse: true);

    private void TwoStreams<T>(int n, int outer, int leaf, KernelFamily family = KernelFamily.GpuTuned, bool leftLooking = false, bool blockByInverse = false)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Get(family);
        var original = device.Tuning;
        try
        {
            device.Tuning = original with { PotrfStreams = 2, PotrfLeftLooking = leftLooking, PotrfBlockReverseByInverse = blockByInverse };
            const int batch = 2;
            var shape = new Shape(batch, n, n);
            var plan = CholeskyPlan.For<T>(device, n, batch, CholeskyAlgorithm.Blocked, leaf, outerBlockSize: outer);
            var one = plan.OnOneStream();
            Assert.Equal((2, 1), (plan.Streams, one.Streams));
            var sideSteps = plan.Forward.Where(s => s.Side).ToArray();
            int outerBlocks = (n + outer - 1) / outer;
            Assert.Equal(outerBlocks - 2, sideSteps.Length); // every outer block's update but the last two has a rest beyond the next block
            if (leftLooking)
            {
                // Block k (0 < k < last) runs block k + 1's update by its first k0 columns on the side; block k + 1 adds its own after the Join.
                Assert.All(sideSteps, s => Assert.Equal((CholeskyStepKind.ColumnUpdate, 0, s.J0 - outer), (s.Kind, s.KFrom, s.KTo)));
                var rest = plan.Forward.Where(s => s.Kind == CholeskyStepKind.ColumnUpdate && !s.Side).ToArray();
                Assert.Equal(outerBlocks - 1, rest.Length);
                Assert.All(rest, s => Assert.Equal((s.J0 <= outer ? 0 : s.J0 - outer, s.J0), (s.KFrom, s.KTo)));
                Assert.DoesNotContain(plan.Forward, s => s.Kind == CholeskyStepKind.TrailingUpdate);
            }
            Assert.Equal(sideSteps.Length, plan.Forward.Count(s => s.Kind == CholeskyStepKind.Fork));
            Assert.Equal(sideSteps.Length, plan.Forward.Count(s => s.Kind == CholeskyStepKind.Join));
            Assert.Equal(plan.ForwardLaunches, one.ForwardLaunches);

            var a = TestData.Spd(batch, n, seed: 7 * n);
            double[] Factor(CholeskyPlan p, out long launches, out long side)
            {
                using var da = TestData.Upload<T>(device, a, shape);
                using var info = device.Allocate<int>(new Shape(batch, 1, 1));
                long before = device.Launches, sideBefore = device.SideLaunches;
                Blas.Potrf(device, da.Mat, info, p);
                launches = device.Launches - before;
                side = device.SideLaunches - sideBefore;
                Assert.Equal(new int[batch], info.ToArray());
                return TestData.ToDouble(da.ToArray());
            }
            var two = Factor(plan, out long twoLaunches, out long twoSide);
            var single = Factor(one, out long oneLaunches, out long oneSide);
            Assert.Equal(plan.ForwardLaunches, twoLaunches);
            Assert.Equal(one.ForwardLaunches, oneLaunches);
            Assert.Equal(sideSteps.Sum(s => s.Launches), twoSide);
            Assert.Equal(0, oneSide);
            for (int i = 0; i < two.Length; i++)
                Assert.True(two[i].Equals(single[i]), $"n={n}: element {i} is {two[i]} on two streams, {single[i]} on one");
            TestData.AssertClose(Reference.Cholesky(a, batch, n), two, TestData.KernelTol<T>() * Math.Max(1, n / 16.0), $"two streams n={n}");

            // The reverse: each next block's inverse on the side stream, the gradient bitwise the one-stream order's.
            var sideBack = plan.Backward.Where(s => s.Side).ToArray();
            Assert.Equal(outerBlocks - 1, sideBack.Length); // every block with a panel below it
            Assert.All(sideBack, s => Assert.Equal(CholeskyStepKind.InvertBlock, s.Kind));
            Assert.Equal(outerBlocks - 1, plan.Backward.Count(s => s.Kind == CholeskyStepKind.Join));
            if (blockByInverse)
            {
                // The last block's inverse, then the host's wait, then the side stream's first inverse.
                int last = (outerBlocks - 1) * outer;
                Assert.Equal((CholeskyStepKind.InvertBlock, last, false), (plan.Backward[0].Kind, plan.Backward[0].J0, plan.Backward[0].Side));
                Assert.Equal(CholeskyStepKind.Fork, plan.Backward[1].Kind);
                Assert.True(plan.Backward[2].Side);
                Assert.Equal(outerBlocks, plan.Backward.Count(s => s.Kind == CholeskyStepKind.ReverseBlockByInverse));
            }
            Assert.DoesNotContain(one.Backward, s => s.Side || s.Kind is CholeskyStepKind.Fork or CholeskyStepKind.Join);
            var lbar = TestData.Random(shape, seed: 8 * n);
            double[] Gradient(CholeskyPlan p, out long launches, out long side)
            {
                using var dl = TestData.Upload<T>(device, two, shape);
                using var dbar = TestData.Upload<T>(device, lbar, shape);
                long before = device.Launches, sideBefore = device.SideLaunches;
                Blas.PotrfBackward(device, dl.Mat, dbar.Mat, p, symmetrize: true);
                launches = device.Launches - before;
                side = device.SideLaunches - sideBefore;
                return TestData.ToDouble(dbar.ToArray());
            }
            var twoBar = Gradient(plan, out twoLaunches, out twoSide);
            var oneBar = Gradient(one, out oneLaunches, out oneSide);
            Assert.Equal(plan.BackwardLaunches(symmetrize: true), twoLaunches);
            Assert.Equal(twoLaunches, oneLaunches);
            Assert.Equal(sideBack.Sum(s => s.Launches), twoSide);
            Assert.Equal(0, oneSide);
            for (int i = 0; i < twoBar.Length; i++)
                Assert.True(twoBar[i].Equals(oneBar[i]), $"n={n}: Σ̄ element {i} is {twoBar[i]} on two streams, {oneBar[i]} on one");
            TestData.AssertClose(Reference.CholeskyBackward(two, lbar, batch, n), twoBar, TestData.KernelTol<T>() * Math.Max(1, n / 16.0), $"two streams Σ̄ n={n}");
        }
        finally
        {
            device.Tuning = original;
        }
    }

    /// <summary>
    /// CholeskyOptions.OuterBlockSize on the op, and on the tape under an op that leaves it
    /// automatic, makes the plan two-level on the CPU family (which never takes two levels by
    /// itself); the factor and the gradient match the composed algorithm's; negative sizes are refused.
    /// </summary>
    [Fact]
    public void CholeskyOptionsChooseTwoLevels()
    {
        var device = devices.Cpu;
        const int batch = 2, n = 130;
        var shape = new Shape(batch, n, n);
        var a = TestData.Spd(batch, n, seed: 61);
        var lbar = TestData.Random(shape, seed: 62);
        var options = new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = 16, OuterBlockSize = 48 };
        (double[] L, double[] Grad, CholeskyPlan Plan) Run(CholeskyOptions op, CholeskyOptions? onTape = null)
        {
            using var tape = new Tape(device);
            if (onTape is not null) tape.CholeskyOptions = onTape;
            var x = tape.Variable(a, shape);
            var l = Op.Cholesky(x, op).Keep();
            using var seed = device.Upload<double>(lbar, shape);
            tape.Backward(l, seed);
            return (l.ToArray(), x.Grad!.ToArray(), ((CholeskyNode<double>)l.Producer!).Plan);
        }
        var composed = Run(new CholeskyOptions { Algorithm = CholeskyAlgorithm.Composed });
        foreach (var (what, run) in new[] { ("op", Run(options)), ("tape", Run(new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked }, options)) })
        {
            Assert.Equal((2, 48, 16), (run.Plan.Levels, run.Plan.BlockSize, run.Plan.LeafBlockSize));
            TestData.AssertClose(composed.L, run.L, 1e-12 * n, $"{what}: two-level L");
            TestData.AssertClose(composed.Grad, run.Grad, 1e-10 * n / 16.0, $"{what}: two-level gradient against the composed algorithm's");
        }
        Assert.Equal(1, Run(options with { OuterBlockSize = n }).Plan.Levels);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CholeskyOptions { OuterBlockSize = -1 });
    }

    /// <summary>The plan refuses outer blocks that do not exceed the leaves, and takes one level where the outer blocks cover n.</summary>
    [Fact]
    public void OuterBlocksMustExceedTheLeaves()
    {
        var device = devices.Get(KernelFamily.CpuTuned);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => CholeskyPlan.For<double>(device, 100, 1, CholeskyAlgorithm.Blocked, 16, outerBlockSize: 16));
        Assert.Contains("outer blocks of order 16 must exceed the diagonal blocks of order 16", e.Message);
        Assert.Equal(1, CholeskyPlan.For<double>(device, 100, 1, CholeskyAlgorithm.Blocked, 16, outerBlockSize: 100).Levels);
        Assert.Equal(2, CholeskyPlan.For<double>(device, 100, 1, CholeskyAlgorithm.Blocked, 16, outerBlockSize: 99).Levels);
        Assert.Throws<ArgumentOutOfRangeException>(() => CholeskyPlan.For<double>(device, 100, 1, CholeskyAlgorithm.Blocked, 16, outerBlockSize: -1));
    }
}
