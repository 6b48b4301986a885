using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The dataflow Cholesky and its reverse (<see cref="CholeskyAlgorithm.Dataflow"/>,
/// <see cref="PotrfDataflowGpu"/>): every tile a task of one persistent launch per pass. On the
/// emulated GPU, at orders with a ragged last tile, in every tile order: the factor against the
/// float64 factor over NaN above the diagonal, the upper triangle cleared, the gradient (symmetric,
/// and Ā's lower triangle) against the float64 formula and the device's composed backward, the
/// first failing minor in any tile, the plan's launches (two and five at any order), the automatic
/// choice from the tuning table, and Op.Cholesky on a tape. The emulated GPU's one multiprocessor
/// runs the groups one after another, so no group ever waits there; an emulated GPU with four
/// multiprocessors runs them side by side, each waiting on the flags of the tiles it reads.
/// </summary>
[Collection("EmulatedGpu")]
public sealed class DataflowCholeskyTests(DeviceFixture devices)
{
    [Theory]
    [InlineData("f64", 45, 8, 2)]
    [InlineData("f64", 37, 16, 1)]
    [InlineData("f32", 30, 8, 3)]
    [InlineData("f64", 70, 32, 1)]
    [InlineData("f64", 5, 8, 2)]
    public void FactorAndGradientMatchTheFloat64References(string dtype, int n, int tile, int batch)
    {
        if (dtype == "f64") Check<double>(devices.GpuEmulated, n, tile, batch);
        else Check<float>(devices.GpuEmulated, n, tile, batch);
    }

    /// <summary>
    /// Four multiprocessors running groups side by side, so tasks wait on the flags of tiles that
    /// other groups are still computing: the same results as in order.
    /// </summary>
    [Theory]
    [InlineData("f64", 53, 8, 2)]
    [InlineData("f32", 40, 8, 1)]
    [InlineData("f64", 20, 8, 1)] // three tiles a side, four groups: every task's inputs are in flight when it starts
    [InlineData("f64", 16, 8, 1)]
    public void GroupsRunningSideBySideWaitForTheTilesTheyRead(string dtype, int n, int tile, int batch)
    {
        using var device = Device.CreateEmulatedGpu(multiprocessors: 4, groupSize: PotrfDataflowGpu.GroupSize);
        Assert.Equal(4, device.Multiprocessors);
        if (dtype == "f64") Check<double>(device, n, tile, batch);
        else Check<float>(device, n, tile, batch);
    }

    private void Check<T>(Device device, int n, int tile, int batch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = new Shape(batch, n, n);
        var plan = CholeskyPlan.For<T>(device, n, batch, CholeskyAlgorithm.Dataflow, tile);
        string what = $"{device.Name} {typeof(T).Name} n={n} tile={tile} batch={batch}";
        Assert.Equal(CholeskyAlgorithm.Dataflow, plan.Algorithm);
        Assert.False(plan.Whole);
        Assert.Equal((2, 5, 5), (plan.ForwardLaunches, plan.BackwardLaunches(symmetrize: true), plan.BackwardLaunches(symmetrize: false)));

        var a = TestData.Spd(batch, n, seed: 7 * n + tile);
        double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
        using var da = TestData.Upload<T>(device, TestData.WithNaNAbove(a, batch, n), shape);
        using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
        var l = CholeskyPlanChecks.Factor(device, plan, da, info, a, batch, n, tol, what);

        // Reverse, reading only the lower triangles of L and L̄ (NaN above): the symmetric gradient, then Ā.
        var lbar = TestData.Random(shape, seed: 13 * n + tile);
        var got = CholeskyPlanChecks.Reverse<T>(device, plan, l, lbar, batch, n, tol, what);
        var emulated = devices.GpuEmulated; // the composed backward's GEMM groups need its 256 threads
        using var cl = TestData.Upload<T>(emulated, l, shape);
        using var cbar = TestData.Upload<T>(emulated, lbar, shape);
        using var composed = CholeskyNode<T>.ComposedBackward(emulated, cl, cbar);
        TestData.AssertClose(TestData.ToDouble(composed.ToArray()), got, tol, what + ": Σ̄ against the device's composed backward");

        var above = Enumerable.Repeat(3.0, (int)shape.Length).ToArray();
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++)
            above[(long)b * n * n + i * n + j] = lbar[(long)b * n * n + i * n + j];
        using var dl = TestData.Upload<T>(device, TestData.WithNaNAbove(l, batch, n), shape);
        using var dlower = TestData.Upload<T>(device, above, shape);
        Blas.PotrfBackward(device, dl.Mat, dlower.Mat, plan, symmetrize: false);
        var gradient = Reference.CholeskyBackward(l, lbar, batch, n);
        var lower = TestData.ToDouble(dlower.ToArray());
        var expectedLower = (double[])above.Clone(); // Ā: Σ̄'s strict lower triangle doubled, its diagonal kept, the strict upper triangle untouched
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++)
        {
            long e = (long)b * n * n + i * n + j;
            expectedLower[e] = i == j ? gradient[e] : 2 * gradient[e];
        }
        TestData.AssertClose(expectedLower, lower, 2 * tol, what + ": Ā (lower triangle, upper untouched)");

        // A failing minor in the first tile, in the second, and in the last tile of the second matrix.
        if (batch < 2) return;
        foreach (int k in new[] { 0, Math.Min(tile + 1, n - 1), n - 2 }.Where(k => k >= 0).Distinct())
        {
            var broken = (double[])a.Clone();
            TestData.BreakPivot(broken, n, b: 1, k);
            da.CopyFrom(TestData.To<T>(broken));
            Blas.Potrf(device, da.Mat, info, plan);
            var expectedInfo = new int[batch];
            expectedInfo[1] = k + 1;
            Assert.Equal(expectedInfo, info.ToArray());
        }
    }

    /// <summary>
    /// The plan: chosen automatically only on the GPU family and only up to the table's
    /// <see cref="TuningTable.PotrfDataflowUpTo"/> (off by default), in batches whose rows (batch·n)
    /// are at most that order (2 of 1024 or 16 of 128 under 2048, not 1024 of 128), two and five launches at any
    /// order (a single matrix of 1,024 or 2,048 included, against the blocked path's dozens), tiles
    /// of 8, 16 or 32 only, and a clear error on the CPU family.
    /// </summary>
    [Fact]
    public void ThePlanChoosesDataflowFromTheTableOnTheGpuFamilyOnly()
    {
        var gpu = devices.GpuEmulated;
        var original = gpu.Tuning;
        try
        {
            Assert.Equal(0, TuningTable.Defaults.PotrfDataflowUpTo);
            Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPlan.For<double>(gpu, 1024, 1).Algorithm);
            gpu.Tuning = original with { PotrfDataflowUpTo = 2048 };
            foreach (int n in new[] { 1024, 2048 })
            {
                var plan = CholeskyPlan.For<double>(gpu, n, 1);
                var blocked = CholeskyPlan.For<double>(gpu, n, 1, CholeskyAlgorithm.Blocked);
                Assert.Equal(CholeskyAlgorithm.Dataflow, plan.Algorithm);
                Assert.Equal(PotrfDataflowGpu.Tile, plan.BlockSize);
                Assert.Equal(7, plan.ForwardLaunches + plan.BackwardLaunches(symmetrize: true));
                Assert.True(blocked.ForwardLaunches + blocked.BackwardLaunches(symmetrize: true) > 40);
            }
            Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPlan.For<double>(gpu, 2049, 1).Algorithm);
            // A batch as far as its rows (batch·n) are the limit's order: not a large batch of small matrices.
            Assert.Equal(CholeskyAlgorithm.Dataflow, CholeskyPlan.For<double>(gpu, 1024, 2).Algorithm);
            Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPlan.For<double>(gpu, 1024, 3).Algorithm);
            Assert.Equal(CholeskyAlgorithm.Dataflow, CholeskyPlan.For<double>(gpu, 128, 16).Algorithm);
            Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPlan.For<double>(gpu, 128, 17).Algorithm);
            Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPlan.For<double>(gpu, 128, 1024).Algorithm);
            Assert.Equal(CholeskyAlgorithm.Whole, CholeskyPlan.For<double>(gpu, 40, 1).Algorithm);
            Assert.Equal(CholeskyAlgorithm.Blocked, CholeskyPlan.For<double>(devices.Cpu, 1024, 1).Algorithm);
        }
        finally
        {
            gpu.Tuning = original;
        }
        var cpuError = Assert.Throws<ArgumentException>(() => CholeskyPlan.For<double>(devices.Cpu, 100, 1, CholeskyAlgorithm.Dataflow));
        Assert.Contains("GPU family", cpuError.Message);
        var tileError = Assert.Throws<ArgumentOutOfRangeException>(() => CholeskyPlan.For<double>(gpu, 100, 1, CholeskyAlgorithm.Dataflow, 12));
        Assert.Contains("8, 16 or 32", tileError.Message);
    }

    /// <summary>
    /// Op.Cholesky on a tape with the automatic choice taken from a table that turns the dataflow
    /// path on: the value, and the gradient equal to the composed algorithm's on the same device.
    /// </summary>
    [Fact]
    public void OpCholeskyTakesDataflowFromTheTuningTable()
    {
        var device = devices.GpuEmulated;
        var original = device.Tuning;
        const int n = 41, batch = 2;
        try
        {
            device.Tuning = original with { PotrfDataflowUpTo = 96, PotrfWholeUpTo = 16 };
            Assert.Equal(CholeskyAlgorithm.Dataflow, CholeskyPlan.For<double>(device, n, batch).Algorithm);
            TestData.AssertTapeCholeskyMatchesComposed(device, CholeskyAlgorithm.Auto, batch, n, seed: 51, "dataflow");
        }
        finally
        {
            device.Tuning = original;
        }
    }

    /// <summary>The pool bytes the reverse holds at its peak besides L and L̄ are within the plan's <see cref="CholeskyPlan.WorkspaceBytes"/> and reach its two n² temporaries.</summary>
    [Fact]
    public void TheReverseWorkspaceStaysWithinThePlansBytes()
    {
        var device = devices.GpuEmulated;
        const int n = 40, batch = 2;
        var shape = new Shape(batch, n, n);
        var plan = CholeskyPlan.For<double>(device, n, batch, CholeskyAlgorithm.Dataflow, 16);
        var l = Reference.Cholesky(TestData.Spd(batch, n, seed: 3), batch, n);
        using var dl = TestData.Upload<double>(device, l, shape);
        using var dbar = TestData.Upload<double>(device, TestData.Random(shape, seed: 4), shape);
        device.Synchronize();
        long baseline = device.Pool.BytesInUse;
        device.Pool.ResetPeak();
        Blas.PotrfBackward(device, dl.Mat, dbar.Mat, plan, symmetrize: true);
        device.Synchronize();
        long peak = device.Pool.PeakBytes - baseline;
        long planned = plan.WorkspaceBytes(sizeof(double), BufferPool.SizeClass);
        Assert.InRange(peak, 2L * batch * n * n * sizeof(double), planned);
    }

    /// <summary>
    /// The benchmark case <c>cholesky-dataflow</c> runs the dataflow path on the GPU family and
    /// counts the flops it executes (the forward n³/3; the reverse M = tril(Lᵀ·L̄), n³/3, and two
    /// triangular solves with n right-hand sides, n³ each); on the CPU family it is skipped, saying why.
    /// </summary>
    [Fact]
    public void TheBenchmarkCaseRunsTheDataflowPathAndCountsItsFlops()
    {
        const int n = 40, batch = 2;
        var settings = new GpuAD.Bench.MeasureSettings(Warmup: 1, Reps: 1, CapSeconds: 60);
        var problem = new GpuAD.Bench.Problem(GpuAD.Bench.BenchOp.CholeskyDataflow, GpuAD.Bench.DType.Fp64, batch, n);
        var r = GpuAD.Bench.Engine.Measure(devices.GpuEmulated, problem, settings, new HashSet<(GpuAD.Bench.BenchOp, GpuAD.Bench.DType)>());
        Assert.True(r.Ran, r.Note);
        Assert.Equal("cholesky-dataflow/fp64/2x40", r.Id);
        Assert.Equal("Dataflow", r.Path);
        double cube = (double)n * n * n;
        Assert.Equal(batch * cube / 3, r.PhaseFlops!["forward"], 6);
        Assert.Equal(batch * (cube / 3 + 2 * cube), r.PhaseFlops!["backward"], 6);

        var cpu = GpuAD.Bench.Engine.Measure(devices.Cpu, problem, settings, new HashSet<(GpuAD.Bench.BenchOp, GpuAD.Bench.DType)>());
        Assert.Equal("skipped", cpu.Status);
        Assert.Equal($"the dataflow algorithm runs on the GPU family's kernels; {devices.Cpu.Name} runs the CPU family's", cpu.Note);
    }

    /// <summary>
    /// Empty problems: order 0 clears info and launches nothing else, an empty batch launches
    /// nothing, and the reverse of either launches nothing.
    /// </summary>
    [Theory]
    [InlineData(0, 2, 1, 0)]
    [InlineData(5, 0, 0, 0)]
    public void EmptyProblemsLaunchOnlyTheInfoClear(int n, int batch, int forwardLaunches, int backwardLaunches)
    {
        var device = devices.GpuEmulated;
        var shape = new Shape(batch, n, n);
        var plan = CholeskyPlan.For<double>(device, n, batch, CholeskyAlgorithm.Dataflow);
        using var a = device.Allocate<double>(shape);
        using var lbar = device.Allocate<double>(shape);
        using var info = device.Upload(Enumerable.Repeat(-7, batch).ToArray(), batch, 1, 1);
        long before = device.Launches;
        Blas.Potrf(device, a.Mat, info, plan);
        Assert.Equal(forwardLaunches, device.Launches - before);
        Assert.Equal(new int[batch], info.ToArray());
        before = device.Launches;
        Blas.PotrfBackward(device, a.Mat, lbar.Mat, plan, symmetrize: true);
        Assert.Equal(backwardLaunches, device.Launches - before);
        Assert.Equal(0, plan.WorkspaceBytes(sizeof(double), BufferPool.SizeClass));
    }

    /// <summary>
    /// Bitwise reproducible although groups take tasks in a different order each run: every tile
    /// is computed in one fixed order of operations, whichever group runs it. Four multiprocessors,
    /// groups side by side, the factor and the gradient run three times.
    /// </summary>
    [Fact]
    public void ResultsAreBitwiseTheSameFromRunToRun()
    {
        using var device = Device.CreateEmulatedGpu(multiprocessors: 4, groupSize: PotrfDataflowGpu.GroupSize);
        const int n = 37, batch = 2, tile = 8;
        var shape = new Shape(batch, n, n);
        var plan = CholeskyPlan.For<double>(device, n, batch, CholeskyAlgorithm.Dataflow, tile);
        var a = TestData.Spd(batch, n, seed: 61);
        var lbar = TestData.Random(shape, seed: 62);
        (long[] L, long[] Grad) Run()
        {
            using var da = TestData.Upload<double>(device, a, shape);
            using var info = device.Zeros<int>(new Shape(batch, 1, 1));
            Blas.Potrf(device, da.Mat, info, plan);
            using var dbar = TestData.Upload<double>(device, lbar, shape);
            Blas.PotrfBackward(device, da.Mat, dbar.Mat, plan, symmetrize: true);
            return (da.ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray(), dbar.ToArray().Select(BitConverter.DoubleToInt64Bits).ToArray());
        }
        var first = Run();
        for (int run = 1; run < 3; run++)
        {
            var again = Run();
            Assert.True(first.L.SequenceEqual(again.L), $"run {run}: the factor's bits differ");
            Assert.True(first.Grad.SequenceEqual(again.Grad), $"run {run}: the gradient's bits differ");
        }
    }
}
