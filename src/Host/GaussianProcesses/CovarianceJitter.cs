namespace GpuAD;

/// <summary>
/// How much diagonal jitter a covariance may receive before its Cholesky factorization is
/// declared failed (like GPyTorch's <c>psd_safe_cholesky</c>, but deterministic and reported per
/// batch element). Try t = 0 adds nothing; try t ≥ 1 adds
/// <c>Initial·Factor^(t−1)·mean(diag K)</c> to the diagonal of the matrices that failed, up to
/// <see cref="MaxTries"/> tries. Kept as its own small type so it can join per-call Cholesky options.
/// </summary>
/// <param name="Initial">First jitter, relative to the matrix's mean diagonal (0 disables jitter).</param>
/// <param name="Factor">Growth per try.</param>
/// <param name="MaxTries">Tries with jitter after the plain factorization.</param>
public sealed record CovarianceJitter(double Initial = 1e-8, double Factor = 10, int MaxTries = 4)
{
    /// <summary>No jitter: a matrix that is not positive-definite fails at once.</summary>
    public static CovarianceJitter None { get; } = new(0, 10, 0);

    /// <summary>The default for an element type: 1e−8 (float64) or 1e−6 (float32) of the mean diagonal, four tries growing ×10.</summary>
    public static CovarianceJitter For<T>() => typeof(T) == typeof(float) ? new(1e-6) : new(1e-8);

    /// <summary>The relative jitter of try <paramref name="attempt"/> (0 for the plain factorization).</summary>
    public double Relative(int attempt) => attempt == 0 ? 0 : Initial * Math.Pow(Factor, attempt - 1);
}

/// <summary>
/// A covariance stayed non-positive-definite after the jitter budget: names the batch element,
/// the largest jitter tried (absolute and relative to the mean diagonal) and the leading minor.
/// </summary>
public sealed class JitterExhaustedException : LinAlgException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="op">The operation.</param>
    /// <param name="batchIndex">Zero-based batch element.</param>
    /// <param name="jitter">Largest absolute jitter tried.</param>
    /// <param name="relative">The same relative to the mean diagonal.</param>
    /// <param name="minorOrder">One-based order of the failing leading minor at the last try.</param>
    public JitterExhaustedException(string op, int batchIndex, double jitter, double relative, int minorOrder)
        : base(op, batchIndex, minorOrder, $"the covariance is not positive-definite even with jitter {jitter:G3} ({relative:G3} of its mean diagonal) added; the leading minor of order {minorOrder} fails (its pivot is ≤ 0, NaN or infinite).")
    {
        Jitter = jitter;
    }

    /// <summary>Largest absolute jitter tried.</summary>
    public double Jitter { get; }

    /// <summary>One-based order of the failing leading minor (<see cref="LinAlgException.Index"/>).</summary>
    public int MinorOrder => Index;
}
