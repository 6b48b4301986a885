namespace GpuAD;

/// <summary>What values an op's input holds, so that the op is defined (and well-conditioned) at it.</summary>
internal enum InputKind
{
    /// <summary>Uniform(−1, 1) entries.</summary>
    General,

    /// <summary>Uniform(1, 3) entries: inside the domain of log.</summary>
    Positive,

    /// <summary>Symmetric positive-definite A·Aᵀ/n + I (square).</summary>
    Spd,

    /// <summary>2·I + E/√n with E uniform: invertible and well-conditioned (square).</summary>
    Invertible,

    /// <summary>Lower triangular with a dominant diagonal, zeros above it (square).</summary>
    Lower,

    /// <summary>Upper triangular with a dominant diagonal, zeros below it (square).</summary>
    Upper,
}

/// <summary>
/// The one generator of op inputs: deterministic for a seed, row-major <c>[batch, rows, cols]</c>,
/// float64. The tests, <c>gpuad check</c> and the reliability table all draw from it.
/// </summary>
internal static class InputData
{
    /// <summary>Data of <paramref name="kind"/> and <paramref name="shape"/> (the square kinds need rows = cols).</summary>
    /// <exception cref="ArgumentException">A square kind with a non-square shape.</exception>
    public static double[] Generate(InputKind kind, Shape shape, int seed)
    {
        if (kind is not (InputKind.General or InputKind.Positive) && !shape.IsSquare)
            throw new ArgumentException($"{kind} inputs are square; {shape} is not.", nameof(shape));
        return kind switch
        {
            InputKind.General => Uniform(shape, seed),
            InputKind.Positive => Positive(shape, seed),
            InputKind.Spd => Spd(shape.Batch, shape.Rows, seed),
            InputKind.Invertible => Invertible(shape.Batch, shape.Rows, seed),
            InputKind.Lower => Triangular(shape.Batch, shape.Rows, lower: true, seed),
            _ => Triangular(shape.Batch, shape.Rows, lower: false, seed),
        };
    }

    /// <summary>Uniform(−1, 1) entries.</summary>
    public static double[] Uniform(Shape shape, int seed)
    {
        var rng = new Random(seed);
        var a = new double[shape.Length];
        for (long i = 0; i < a.Length; i++) a[i] = 2 * rng.NextDouble() - 1;
        return a;
    }

    /// <summary>Uniform(1, 3) entries: Uniform(−1, 1) of the same seed, plus 2.</summary>
    public static double[] Positive(Shape shape, int seed)
    {
        var a = Uniform(shape, seed);
        for (long i = 0; i < a.Length; i++) a[i] += 2;
        return a;
    }

    /// <summary>
    /// Symmetric positive-definite matrices A·Aᵀ/n + shift·I with A uniform (O(n³): small sizes).
    /// Eigenvalues lie in [shift, shift + n/3] roughly; shift = 1 keeps them well-conditioned.
    /// </summary>
    public static double[] Spd(int batch, int n, int seed, double shift = 1.0)
    {
        var a = Uniform(new Shape(batch, n, n), seed);
        var s = new double[(long)batch * n * n];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double v = 0;
                for (int k = 0; k < n; k++) v += a[o + (long)i * n + k] * a[o + (long)j * n + k];
                v = v / Math.Max(1, n) + (i == j ? shift : 0);
                s[o + (long)i * n + j] = v;
                s[o + (long)j * n + i] = v;
            }
        }
        return s;
    }

    /// <summary>A general square matrix 2·I + E/√n with E uniform: invertible and well-conditioned.</summary>
    public static double[] Invertible(int batch, int n, int seed)
    {
        var a = Uniform(new Shape(batch, n, n), seed);
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                a[o + (long)i * n + j] = (i == j ? 2 : 0) + a[o + (long)i * n + j] / Math.Sqrt(n);
        }
        return a;
    }

    /// <summary>
    /// Triangular matrices with |diagonal| in [1, 2] of random sign and off-diagonal entries of
    /// magnitude below 1/√n; zeros in the other triangle.
    /// </summary>
    public static double[] Triangular(int batch, int n, bool lower, int seed)
    {
        var rng = new Random(seed);
        var t = new double[(long)batch * n * n];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (i == j) t[o + (long)i * n + j] = (1 + rng.NextDouble()) * (rng.Next(2) == 0 ? -1 : 1);
                else if (lower ? j < i : j > i) t[o + (long)i * n + j] = (2 * rng.NextDouble() - 1) / Math.Sqrt(n);
            }
        }
        return t;
    }
}
