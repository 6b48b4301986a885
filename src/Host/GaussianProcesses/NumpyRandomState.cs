namespace GpuAD;

/// <summary>
/// NumPy's legacy <c>np.random.RandomState(seed)</c> for an integer seed: MT19937 seeded by
/// <c>init_genrand</c>, doubles by <c>genrand_res53</c> ((a ≫ 5)·2²⁶ + (b ≫ 6)) / 2⁵³, and
/// <c>uniform(low, high)</c> = low + (high − low)·u. With it <see cref="GpRegressor{T}"/> draws the
/// same restarts as scikit-learn's <c>GaussianProcessRegressor(random_state=seed)</c>.
/// </summary>
internal sealed class NumpyRandomState
{
    private const int N = 624, M = 397;
    private const uint MatrixA = 0x9908b0df, UpperMask = 0x80000000, LowerMask = 0x7fffffff;
    private readonly uint[] key = new uint[N];
    private int position;

    /// <summary>Seeds as <c>RandomState(seed)</c> (0 ≤ seed &lt; 2³²).</summary>
    public NumpyRandomState(uint seed)
    {
        for (int i = 0; i < N; i++)
        {
            key[i] = seed;
            seed = unchecked(1812433253u * (seed ^ (seed >> 30)) + (uint)i + 1);
        }
        position = N;
    }

    /// <summary>The next 32-bit output (<c>genrand_int32</c>).</summary>
    public uint NextUInt32()
    {
        if (position == N) Generate();
        uint y = key[position++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        return y ^ (y >> 18);
    }

    /// <summary>A double in [0, 1) with 53 random bits (<c>random_sample</c>).</summary>
    public double NextDouble()
    {
        uint a = NextUInt32() >> 5, b = NextUInt32() >> 6;
        return (a * 67108864.0 + b) / 9007199254740992.0;
    }

    /// <summary><c>uniform(low, high)</c> for arrays: one draw per entry, in order.</summary>
    public double[] Uniform(IReadOnlyList<double> low, IReadOnlyList<double> high)
    {
        var result = new double[low.Count];
        for (int i = 0; i < result.Length; i++) result[i] = low[i] + (high[i] - low[i]) * NextDouble();
        return result;
    }

    private void Generate()
    {
        int k;
        uint y;
        for (k = 0; k < N - M; k++)
        {
            y = (key[k] & UpperMask) | (key[k + 1] & LowerMask);
            key[k] = key[k + M] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        }
        for (; k < N - 1; k++)
        {
            y = (key[k] & UpperMask) | (key[k + 1] & LowerMask);
            key[k] = key[k + (M - N)] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        }
        y = (key[N - 1] & UpperMask) | (key[0] & LowerMask);
        key[N - 1] = key[M - 1] ^ (y >> 1) ^ ((y & 1) == 0 ? 0 : MatrixA);
        position = 0;
    }
}
