using GpuAD.Kernels;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The launch planning of the element maps, symmetrize and batch sums: every work item of a
/// <c>[batch, rows, cols]</c> shape lands in exactly one launch of at most the launch limit, for
/// shapes past 2³¹ elements (planned, never allocated); and the kernels, run with the limit
/// lowered on a device of their own, give the same results through split launches.
/// </summary>
[Collection("Elementwise")]
public sealed class LaunchPlanTests
{
    /// <summary>
    /// Checks that the plan tiles the shape in row-major order: each launch is a contiguous range
    /// of the linear index (whole matrices, rows of one matrix, or columns of one row), starting
    /// where the previous one ended, the last ending at batch·rows·cols.
    /// </summary>
    private static List<LaunchSegment> AssertTiles(int batch, int rows, int cols, int max)
    {
        var plan = Launches.Plan(batch, rows, cols, max);
        long next = 0;
        foreach (var s in plan)
        {
            Assert.InRange(s.Items, 1, max);
            Assert.True(s.BatchBase >= 0 && s.BatchCount >= 1 && s.BatchBase + (long)s.BatchCount <= batch, $"batch range {s.BatchBase}+{s.BatchCount} of {batch}");
            Assert.True(s.RowBase >= 0 && s.RowCount >= 1 && s.RowBase + (long)s.RowCount <= rows, $"row range {s.RowBase}+{s.RowCount} of {rows}");
            Assert.True(s.ColBase >= 0 && s.ColCount >= 1 && s.ColBase + (long)s.ColCount <= cols, $"column range {s.ColBase}+{s.ColCount} of {cols}");
            bool wholeMatrices = s.RowCount == rows && s.ColCount == cols;
            bool rowsOfOne = s.BatchCount == 1 && s.ColCount == cols;
            bool columnsOfOne = s.BatchCount == 1 && s.RowCount == 1;
            Assert.True(wholeMatrices || rowsOfOne || columnsOfOne, "a launch must be a contiguous range of the linear index");
            long start = ((long)s.BatchBase * rows + s.RowBase) * cols + s.ColBase;
            Assert.Equal(next, start);
            next = start + s.Items;
            // The int index decomposition reaches the range's last element.
            int last = (int)(s.Items - 1);
            Assert.Equal(s.BatchBase + s.BatchCount - 1, s.Batch(last));
            Assert.Equal(s.RowBase + s.RowCount - 1, s.Row(last));
            Assert.Equal(s.ColBase + s.ColCount - 1, s.Col(last));
        }
        Assert.Equal((long)batch * rows * cols, next);
        return plan;
    }

    [Theory]
    [InlineData(1, 65536, 65536, 4)]            // 2³² elements: one n = 65536 matrix in four launches of 2³⁰
    [InlineData(3, 46341, 46341, 9)]            // just past 2³¹ per matrix: rows split, three launches per matrix
    [InlineData(1, 1, int.MaxValue, 2)]         // one row longer than a launch: columns split
    [InlineData(3, 2, int.MaxValue, 12)]
    [InlineData(100_000, 1000, 1000, 94)]       // 10¹¹ elements in small matrices: batches of 1073 per launch
    [InlineData(int.MaxValue, 1, 1, 2)]         // the CPU maps' rows: batch·rows past int
    public void PlansPastTwoToTheThirtyOneElementsCoverEveryElementOnce(int batch, int rows, int cols, int launches)
    {
        var plan = AssertTiles(batch, rows, cols, Launches.MaxItems);
        Assert.Equal(launches, plan.Count);
    }

    [Fact]
    public void SmallPlansCoverEveryElementExactlyOnceForEveryLimit()
    {
        foreach (var (batch, rows, cols) in new[] { (1, 1, 1), (3, 5, 6), (2, 7, 3), (4, 1, 9), (5, 4, 1) })
        for (int max = 1; max <= 2 * batch * rows * cols; max++)
        {
            var seen = new int[batch * rows * cols];
            foreach (var s in AssertTiles(batch, rows, cols, max))
                for (int e = 0; e < s.Items; e++)
                    seen[(s.Batch(e) * rows + s.Row(e)) * cols + s.Col(e)]++;
            Assert.All(seen, count => Assert.Equal(1, count));
        }
    }

    [Fact]
    public void EmptyShapesPlanNoLaunch()
    {
        Assert.Empty(Launches.Plan(0, 5, 5));
        Assert.Empty(Launches.Plan(5, 0, 5));
        Assert.Empty(Launches.Plan(5, 5, 0));
    }

    /// <summary>Limits that make the planner split by matrices (64), by rows (7) and by columns (4) of a [3, 5, 6] shape.</summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, 64)]
    [InlineData(KernelFamily.GpuTuned, 7)]
    [InlineData(KernelFamily.GpuTuned, 4)]
    [InlineData(KernelFamily.CpuTuned, 2)]
    public void SplitLaunchesComputeWhatOneLaunchComputes(KernelFamily family, int max)
    {
        using var device = Device.CreateCpu(family);
        device.MaxLaunchItems = max;
        var s = new Shape(3, 5, 6);
        var xs = TestData.Random(s, 11);
        var ys = TestData.Random(s.Transposed, 12);
        using var x = TestData.Upload<double>(device, xs, s);
        using var y = TestData.Upload<double>(device, ys, s.Transposed);
        using var o = TestData.Poisoned<double>(device, s);
        Elementwise.Map(device, new Maps.AddTransposed<double>(2, -1), x.Mat, y.Mat, YAccess.Transposed, o.Mat);
        var expected = new double[s.Length];
        for (int b = 0; b < 3; b++)
        for (int i = 0; i < 5; i++)
        for (int j = 0; j < 6; j++)
            expected[(b * 5 + i) * 6 + j] = 2 * xs[(b * 5 + i) * 6 + j] - ys[(b * 6 + j) * 5 + i];
        TestData.AssertClose(expected, o.ToArray(), 1e-15, $"Map, {family}, {max} items per launch");

        using var sum = TestData.Poisoned<double>(device, s.WithBatch(1));
        Elementwise.SumBatch(device, x.Mat, sum.Mat, 0.5, 0.0);
        var expectedSum = new double[30];
        for (int b = 0; b < 3; b++)
            for (int e = 0; e < 30; e++) expectedSum[e] += 0.5 * xs[b * 30 + e];
        TestData.AssertClose(expectedSum, sum.ToArray(), 1e-15, $"SumBatch, {family}, {max} items per launch");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(30)]
    public void SplitSymmetrizeLaunchesMirrorEveryPair(int max)
    {
        using var device = Device.CreateCpu(KernelFamily.GpuTuned);
        device.MaxLaunchItems = max;
        var s = new Shape(2, 6, 6);
        var xs = TestData.Random(s, 21);
        using var a = TestData.Upload<double>(device, xs, s);
        PotrfBackwardGpu.LaunchSymmetrize(device, a.Mat);
        var expected = new double[s.Length];
        for (int b = 0; b < 2; b++)
        for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
        {
            int r = Math.Max(i, j), c = Math.Min(i, j); // the lower element (r, c) is read, halved off the diagonal
            double v = xs[(b * 6 + r) * 6 + c];
            expected[(b * 6 + i) * 6 + j] = i == j ? v : v / 2;
        }
        TestData.AssertClose(expected, a.ToArray(), 1e-15, $"symmetrize, {max} items per launch");
    }
}
