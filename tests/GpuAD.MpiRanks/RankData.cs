namespace GpuAD.MpiRanks;

/// <summary>
/// Each rank's contribution to the all-reduce tests: a large value, a small one and the large one
/// negated, so that the sum depends on the order of addition and only rank order gives the
/// expected bits ((1e16 + 1) − 1e16 = 0 in float64, not 1).
/// </summary>
public static class RankData
{
    public static double Double(int rank, int i) => (rank % 3) switch
    {
        0 => 1e16 + i,
        1 => 1.0 + 0.25 * i,
        _ => -1e16 + 0.5 * i,
    };

    public static float Float(int rank, int i) => (rank % 3) switch
    {
        0 => 1e8f + i,
        1 => 1f + 0.25f * i,
        _ => -1e8f + 0.5f * i,
    };
}
