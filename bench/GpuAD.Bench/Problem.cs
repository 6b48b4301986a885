namespace GpuAD.Bench;

/// <summary>The operations measured.</summary>
public enum BenchOp
{
    /// <summary>C = A·B, all [batch, n, n].</summary>
    Gemm,

    /// <summary>B := L⁻¹·B, L lower triangular [batch, n, n], B [batch, n, n] (n right-hand sides).</summary>
    Trsm,

    /// <summary>In-place Cholesky factorization of A [batch, n, n] (info left on the device).</summary>
    Potrf,

    /// <summary>L = Op.Cholesky(Σ) recorded on a tape, then Tape.Backward(L, L̄): Σ̄ (the automatic algorithm).</summary>
    CholeskyForwardBackward,

    /// <summary>
    /// The same with the composed backward (PyTorch's formula on GpuAD's kernels,
    /// <c>CholeskyAlgorithm.Composed</c>): a GpuAD-only variant that shows what the blocked backward gains.
    /// </summary>
    CholeskyComposed,

    /// <summary>The same with <c>CholeskyAlgorithm.Blocked</c> forced (GpuAD-only; for choosing the policy).</summary>
    CholeskyBlocked,

    /// <summary>The same with <c>CholeskyAlgorithm.SmallBatched</c> forced: whole-matrix kernels (GpuAD-only; for choosing the policy).</summary>
    CholeskyWhole,
}

/// <summary>Element types measured.</summary>
public enum DType
{
    /// <summary>float.</summary>
    Fp32,

    /// <summary>double.</summary>
    Fp64,
}

/// <summary>One measured problem: an op on a batch of n×n matrices of one element type.</summary>
/// <param name="Op">The operation.</param>
/// <param name="DType">The element type.</param>
/// <param name="Batch">Matrices in the batch.</param>
/// <param name="N">Order of each matrix.</param>
public sealed record Problem(BenchOp Op, DType DType, int Batch, int N)
{
    /// <summary>The op's key in suites.json and in the result files.</summary>
    public string OpKey => Op switch
    {
        BenchOp.Gemm => "gemm",
        BenchOp.Trsm => "trsm",
        BenchOp.Potrf => "potrf",
        BenchOp.CholeskyComposed => "cholesky_fwd_bwd_composed",
        BenchOp.CholeskyBlocked => "cholesky_fwd_bwd_blocked",
        BenchOp.CholeskyWhole => "cholesky_fwd_bwd_whole",
        _ => "cholesky_fwd_bwd",
    };

    /// <summary>The element type's key: fp32 or fp64.</summary>
    public string DTypeKey => DType == DType.Fp32 ? "fp32" : "fp64";

    /// <summary>The identifier shared by every result file: op/dtype/batch x n.</summary>
    public string Id => $"{OpKey}/{DTypeKey}/{Batch}x{N}";

    /// <summary>The nominal flop count of one run (see <see cref="Flops"/>).</summary>
    public double NominalFlops => Batch * Op switch
    {
        BenchOp.Gemm => Flops.Gemm(N, N, N),
        BenchOp.Trsm => Flops.Trsm(N, N),
        BenchOp.Potrf => Flops.Potrf(N),
        _ => Flops.Potrf(N) + Flops.CholeskyBackward(N),
    };

    /// <summary>Parses an op key of suites.json.</summary>
    public static BenchOp ParseOp(string key) => key switch
    {
        "gemm" => BenchOp.Gemm,
        "trsm" => BenchOp.Trsm,
        "potrf" => BenchOp.Potrf,
        "cholesky_fwd_bwd" => BenchOp.CholeskyForwardBackward,
        "cholesky_fwd_bwd_composed" => BenchOp.CholeskyComposed,
        "cholesky_fwd_bwd_blocked" => BenchOp.CholeskyBlocked,
        "cholesky_fwd_bwd_whole" => BenchOp.CholeskyWhole,
        _ => throw new ArgumentException($"unknown op '{key}' (gemm, trsm, potrf, cholesky_fwd_bwd[_composed|_blocked|_whole])"),
    };

    /// <summary>Parses fp32 or fp64.</summary>
    public static DType ParseDType(string key) => key switch
    {
        "fp32" => DType.Fp32,
        "fp64" => DType.Fp64,
        _ => throw new ArgumentException($"unknown dtype '{key}' (fp32, fp64)"),
    };

    /// <inheritdoc/>
    public override string ToString() => Id;
}

/// <summary>
/// Nominal flop counts, the usual LAPACK ones (a multiply-add counts 2). GFLOP/s figures divide
/// these by the measured time whatever the algorithm actually executes, so they compare
/// implementations of the same operation, not hardware efficiency.
/// </summary>
public static class Flops
{
    /// <summary>GEMM of [m, k]·[k, n]: 2·m·n·k.</summary>
    public static double Gemm(int m, int n, int k) => 2.0 * m * n * k;

    /// <summary>TRSM with an n×n triangle and k right-hand sides: n²·k.</summary>
    public static double Trsm(int n, int k) => (double)n * n * k;

    /// <summary>POTRF of order n: n³/3.</summary>
    public static double Potrf(int n) => (double)n * n * n / 3;

    /// <summary>
    /// Cholesky backward Σ̄ = L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹ of order n: 3n³, a triangular-times-full
    /// product Lᵀ·L̄ (n³, TRMM) and two triangular solves with n right-hand sides (n³ each).
    /// </summary>
    public static double CholeskyBackward(int n) => 3.0 * n * n * n;
}
