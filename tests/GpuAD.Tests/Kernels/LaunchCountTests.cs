using System.Numerics;
using GpuAD.Kernels;
using Xunit.Abstractions;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The launches of a blocked Cholesky forward and backward, counted by <see cref="Device.Launches"/>
/// while the kernels run (and checked for correct results), equal the counts the planning code
/// predicts without running; the predicted counts of the GPU family at the orders that matter,
/// where the emulated GPU is too slow to run them, are pinned so they cannot creep back.
/// </summary>
[Collection("Potrf")]
public sealed class LaunchCountTests(DeviceFixture devices, ITestOutputHelper output)
{
    /// <summary>
    /// (family, dtype, n, block, batch): ragged last blocks, both GPU block sizes (32 up to n = 512,
    /// 64 above), the automatic choice, and a batch.
    /// </summary>
    public static TheoryData<KernelFamily, string, int, int, int> Cases() => new()
    {
        { KernelFamily.GpuTuned, "f64", 70, 64, 1 },
        { KernelFamily.GpuTuned, "f32", 40, 16, 3 },
        { KernelFamily.GpuTuned, "f64", 90, 0, 1 },
        { KernelFamily.CpuTuned, "f64", 150, 64, 2 },
        { KernelFamily.CpuTuned, "f64", 40, 0, 2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CountedLaunchesEqualThePlan(KernelFamily family, string dtype, int n, int blockSize, int batch)
    {
        if (dtype == "f64") Run<double>(family, n, blockSize, batch);
        else Run<float>(family, n, blockSize, batch);
    }

    /// <summary>Blocks of 32 given explicitly, four of them with a ragged last one, in a batch of 2.</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void CountedLaunchesEqualThePlanInBlocksOf32() => Run<double>(KernelFamily.GpuTuned, 100, 32, 2);

    private void Run<T>(KernelFamily family, int n, int blockSize, int batch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Get(family);
        var shape = new Shape(batch, n, n);
        var sigma = TestData.Spd(batch, n, seed: 5 * n + batch);
        var lbar = TestData.Random(shape, seed: 9 * n + batch);
        var l = Reference.Cholesky(sigma, batch, n);
        var expectedBar = Reference.CholeskyBackward(l, lbar, batch, n);
        using var da = TestData.Upload<T>(device, sigma, shape);
        using var info = device.Allocate<int>(new Shape(batch, 1, 1));
        using var dbar = TestData.Upload<T>(device, lbar, shape);
        string what = $"{family} {typeof(T).Name} n={n} block={blockSize} batch={batch}";

        long before = device.Launches;
        Blas.Potrf(device, da.Mat, info, blockSize);
        long forward = device.Launches - before;
        Blas.PotrfBackward(device, da.Mat, dbar.Mat, blockSize, symmetrize: true);
        long backward = device.Launches - before - forward;

        Assert.Equal(new int[batch], info.ToArray());
        double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
        TestData.AssertClose(l, TestData.ToDouble(da.ToArray()), tol, what + ": L");
        TestData.AssertClose(expectedBar, TestData.ToDouble(dbar.ToArray()), tol, what + ": Σ̄");
        var plan = CholeskyPlan.ForBlockSize<T>(device, n, batch, blockSize);
        Assert.Equal(plan.ForwardLaunches, forward);
        Assert.Equal(plan.BackwardLaunches(symmetrize: true), backward);
        output.WriteLine($"{what}: forward {forward}, backward {backward} launches");
    }

    /// <summary>
    /// The GPU family's planned launches of a one-level float64 Cholesky forward + backward
    /// (symmetrized, as the tape runs it), batch 1, with the default table: at most 400 at n = 8192. Forward: one
    /// launch per block of 64, the block's factor and panel solve beside the previous panel's
    /// trailing update (look-ahead). Backward: per block one launch for the three GEMM updates and
    /// one for the diagonal block's reverse fused with C̄ −= (T̄ + T̄ᵀ)·C and the previous block's
    /// panel TRSM, and one symmetrization. Before these fusions: about 1,650 at n = 8192; 639 with
    /// a trailing-update launch between panels and the panel TRSM in a launch of its own. On the
    /// emulated GPU (one multiprocessor) the first block's lone T̄ update has one tile: the policy
    /// splits it along K, which adds its reduction launch.
    /// </summary>
    [Theory]
    [InlineData(1024, 16, 33)]
    [InlineData(8192, 128, 257)]
    public void GpuFamilyLaunchesArePinned(int n, int forward, int backward)
    {
        var device = devices.GpuEmulated;
        var plan = CholeskyPlan.For<double>(device, n, 1, CholeskyAlgorithm.Blocked, outerBlockSize: n);
        Assert.Equal(1, plan.Levels);
        int f = plan.ForwardLaunches, b = plan.BackwardLaunches(symmetrize: true);
        output.WriteLine($"GPU family, float64, n={n}: forward {f}, backward {b}, total {f + b} launches");
        Assert.Equal(forward, f);
        Assert.Equal(backward, b);
        if (n == 8192) Assert.True(f + b <= 400, $"{f + b} launches at n = 8192");
    }

    /// <summary>
    /// The same plan for an H100 (its committed table, 132 multiprocessors): the GEMM policy splits
    /// most of the backward's grouped updates along K there, each adding its ordered reduction
    /// launch, so the count is above the emulated GPU's; with the separate updates of the first
    /// H100 runs (look-ahead off) the forward has one more launch per block. Printed for the
    /// results; pinned so a change of plan shows.
    /// </summary>
    [Theory]
    [InlineData(1024, true, 16, 40)]
    [InlineData(8192, true, 128, 376)]
    [InlineData(8192, false, 255, 376)]
    public void H100LaunchesArePinned(int n, bool lookAhead, int forward, int backward)
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        var h100 = TuningTable.Committed.Single(t => t.Device == "NVIDIA H100 80GB HBM3");
        try
        {
            device.Tuning = h100 with { PotrfLookAhead = lookAhead };
            device.PlannedMultiprocessors = 132;
            var plan = CholeskyPlan.For<double>(device, n, 1, CholeskyAlgorithm.Blocked, outerBlockSize: n);
            Assert.Equal(1, plan.Levels);
            int f = plan.ForwardLaunches, b = plan.BackwardLaunches(symmetrize: true);
            output.WriteLine($"H100 plan, float64, n={n}, look-ahead {lookAhead}: forward {f}, backward {b}, total {f + b} launches");
            Assert.Equal(forward, f);
            Assert.Equal(backward, b);
        }
        finally
        {
            device.Tuning = original;
            device.PlannedMultiprocessors = null;
        }
    }

    /// <summary>
    /// The two-level plans with outer blocks of 512 in leaves of 64 (the defaults beyond n = 8192),
    /// float64, batch 1, on the emulated GPU's defaults and on the H100's
    /// table: per outer block the inner plan's launches (8 panel launches with look-ahead), the
    /// TRTRI (one leaf launch and eight grouped GEMM launches for 512 in leaves of 64), the panel's
    /// copy and GEMM, and the trailing update; backward the same TRTRI and panel, the three updates,
    /// the inner reverse, T̄ + T̄ᵀ and its GEMM. Printed for the results, pinned so a change shows.
    /// </summary>
    [Theory]
    [InlineData(false, 4096, 150, 219)]
    [InlineData(false, 8192, 310, 451)]
    [InlineData(true, 8192, 316, 461)]
    [InlineData(false, 16384, 630, 915)]
    public void TwoLevelLaunchesArePinned(bool h100, int n, int forward, int backward)
    {
        Assert.Equal(n > TuningTable.Defaults.PotrfOuterFrom ? 2 : 1, CholeskyPlan.For<double>(devices.GpuEmulated, n, 1).Levels);
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        try
        {
            if (h100)
            {
                device.Tuning = TuningTable.Committed.Single(t => t.Device == "NVIDIA H100 80GB HBM3");
                device.PlannedMultiprocessors = 132;
            }
            var plan = CholeskyPlan.For<double>(device, n, 1, CholeskyAlgorithm.Blocked, outerBlockSize: 512);
            Assert.Equal(2, plan.Levels);
            Assert.Equal((512, 64), (plan.BlockSize, plan.LeafBlockSize));
            int f = plan.ForwardLaunches, b = plan.BackwardLaunches(symmetrize: true);
            int inner = plan.Forward.Where(s => s.Kind == CholeskyStepKind.FactorBlock).Sum(s => s.Launches);
            int trtri = plan.Forward.Where(s => s.Kind == CholeskyStepKind.InvertBlock).Sum(s => s.Launches);
            Assert.Equal(n / 64, inner);               // one panel launch per leaf block (look-ahead)
            Assert.Equal((n / 512 - 1) * (1 + 8), trtri); // every outer block but the last: the leaf launch and 2·(2 + 1 + 1) GEMM launches
            output.WriteLine($"{(h100 ? "H100" : "defaults")}, float64, n={n}, two levels: forward {f} (inner {inner}, TRTRI {trtri}), backward {b}, total {f + b} launches");
            Assert.Equal(forward, f);
            Assert.Equal(backward, b);
        }
        finally
        {
            device.Tuning = original;
            device.PlannedMultiprocessors = null;
        }
    }
}
