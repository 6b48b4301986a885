namespace GpuAD.Kernels;

/// <summary>
/// One launch's share of a batch of matrices: matrices <c>BatchBase …</c>, rows <c>RowBase …</c>,
/// columns <c>ColBase …</c>, with <c>BatchCount·RowCount·ColCount</c> work items. A kernel maps
/// its launch index to (b, i, j) in int arithmetic: <c>j = ColBase + index % ColCount</c>,
/// <c>i = RowBase + (index / ColCount) % RowCount</c>, <c>b = BatchBase + index / (ColCount·RowCount)</c>.
/// </summary>
internal struct LaunchSegment
{
    public int BatchBase, BatchCount, RowBase, RowCount, ColBase, ColCount;

    /// <summary>Work items of the launch.</summary>
    public readonly long Items => (long)BatchCount * RowCount * ColCount;

    /// <summary>The matrix of work item <paramref name="index"/>.</summary>
    public readonly int Batch(int index) => BatchBase + index / ColCount / RowCount;

    /// <summary>The row of work item <paramref name="index"/>.</summary>
    public readonly int Row(int index) => RowBase + index / ColCount % RowCount;

    /// <summary>The column of work item <paramref name="index"/>.</summary>
    public readonly int Col(int index) => ColBase + index % ColCount;
}

/// <summary>
/// Plans the launches of a kernel with one work item per element (or per row) of a batch of
/// matrices, so that no shape is limited by the int index of one launch: whole matrices per
/// launch while they fit, row ranges of one matrix beyond that, column ranges of one row beyond
/// that. Every work item lands in exactly one launch.
/// </summary>
internal static class Launches
{
    /// <summary>Work items per launch at most (2³⁰): indexes and group counts stay well inside int on every accelerator.</summary>
    internal const int MaxItems = 1 << 30;

    /// <summary>The launches covering <c>[batch, rows, cols]</c> work items, none over <paramref name="maxItems"/>.</summary>
    internal static List<LaunchSegment> Plan(int batch, int rows, int cols, int maxItems = MaxItems)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxItems, 1);
        var plan = new List<LaunchSegment>();
        if (batch <= 0 || rows <= 0 || cols <= 0) return plan;
        long matrix = (long)rows * cols;
        if (matrix <= maxItems)
        {
            int perLaunch = (int)Math.Min(batch, maxItems / matrix);
            for (long b = 0; b < batch; b += perLaunch) // long: b + perLaunch may pass int.MaxValue
                plan.Add(new LaunchSegment { BatchBase = (int)b, BatchCount = (int)Math.Min(perLaunch, batch - b), RowCount = rows, ColCount = cols });
        }
        else if (cols <= maxItems)
        {
            int perLaunch = maxItems / cols;
            for (int b = 0; b < batch; b++)
                for (long r = 0; r < rows; r += perLaunch)
                    plan.Add(new LaunchSegment { BatchBase = b, BatchCount = 1, RowBase = (int)r, RowCount = (int)Math.Min(perLaunch, rows - r), ColCount = cols });
        }
        else
        {
            for (int b = 0; b < batch; b++)
                for (int r = 0; r < rows; r++)
                    for (long c = 0; c < cols; c += maxItems)
                        plan.Add(new LaunchSegment { BatchBase = b, BatchCount = 1, RowBase = r, RowCount = 1, ColBase = (int)c, ColCount = (int)Math.Min(maxItems, cols - c) });
        }
        return plan;
    }
}
