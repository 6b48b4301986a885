namespace GpuAD.Bench;

/// <summary>The operations the benchmark engine times.</summary>
public enum BenchOp
{
    /// <summary>C = A·B, all [batch, n, n] (Blas.Gemm).</summary>
    Gemm,

    /// <summary>B := L⁻¹·B, L lower triangular [batch, n, n], B [batch, n, n] (n right-hand sides; Blas.Trsm).</summary>
    Trsm,

    /// <summary>In-place Cholesky factorization of A [batch, n, n], info left on the device (Blas.Potrf).</summary>
    Potrf,

    /// <summary>L = Op.Cholesky(Σ) recorded on a tape, then Tape.Backward(L, L̄): Σ̄ (the algorithm the policy picks).</summary>
    Cholesky,

    /// <summary>The same with the composed backward forced (PyTorch's formula on GpuAD's kernels; GpuAD-only).</summary>
    CholeskyComposed,

    /// <summary>The same with <c>CholeskyAlgorithm.Blocked</c> forced (GpuAD-only; for choosing the policy).</summary>
    CholeskyBlocked,

    /// <summary>The same with <c>CholeskyAlgorithm.Whole</c> forced: whole-matrix kernels (GpuAD-only).</summary>
    CholeskyWhole,

    /// <summary>Y = A·B forward and backward through a tape.</summary>
    MatMul,

    /// <summary>Y = A·X·B forward and backward.</summary>
    Axb,

    /// <summary>Y = T⁻¹·B (T lower triangular) forward and backward.</summary>
    TriangularSolve,

    /// <summary>Y = A·X⁻¹·B through LU forward and backward.</summary>
    AXInvB,

    /// <summary>log det Σ through Cholesky forward and backward.</summary>
    LogDet,

    /// <summary>Y = Σ⁻¹·B through Cholesky forward and backward.</summary>
    CholeskySolve,

    /// <summary>
    /// A Gaussian process end to end: the RBF covariance from pairwise squared distances and the
    /// hyperparameters (log ℓ, log s², log σ²), its negative log marginal likelihood, and the
    /// gradient with respect to the hyperparameters.
    /// </summary>
    GpNll,

    /// <summary>Cholesky with one level of blocks forced (<c>CholeskyOptions.OuterBlockSize</c> = n; GpuAD-only, for choosing the design).</summary>
    CholeskyOneLevel,

    /// <summary>Cholesky with two levels forced: outer blocks of the table's order (512 if it has none), streams as the table says (GpuAD-only).</summary>
    CholeskyTwoLevel,

    /// <summary>Two levels forced on two streams (<c>potrfStreams</c> = 2 while it runs; GpuAD-only).</summary>
    CholeskyTwoStreams,

    /// <summary>Cholesky with the dataflow path forced (<c>CholeskyAlgorithm.Dataflow</c>: one persistent launch per pass; GpuAD-only, GPU family).</summary>
    CholeskyDataflow,

    /// <summary>Two levels forced with the left-looking forward (<c>potrfLeftLooking</c> while it runs, streams as the table says; GpuAD-only).</summary>
    CholeskyLeftLooking,

    /// <summary>Two levels forced with each outer block's reverse by GEMMs against its inverse (<c>potrfBlockReverseByInverse</c> while it runs; GpuAD-only).</summary>
    CholeskyReverseByInverse,
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
    private static readonly (BenchOp Op, string Key)[] Keys =
    [
        (BenchOp.Gemm, "gemm"), (BenchOp.Trsm, "trsm"), (BenchOp.Potrf, "potrf"),
        (BenchOp.Cholesky, "cholesky"), (BenchOp.CholeskyComposed, "cholesky-composed"),
        (BenchOp.CholeskyBlocked, "cholesky-blocked"), (BenchOp.CholeskyWhole, "cholesky-whole"),
        (BenchOp.MatMul, "matmul"), (BenchOp.Axb, "axb"), (BenchOp.TriangularSolve, "triangular-solve"),
        (BenchOp.AXInvB, "a-xinv-b"), (BenchOp.LogDet, "logdet"), (BenchOp.CholeskySolve, "cholesky-solve"), (BenchOp.GpNll, "gp-nll"),
        (BenchOp.CholeskyOneLevel, "cholesky-one-level"), (BenchOp.CholeskyTwoLevel, "cholesky-two-level"), (BenchOp.CholeskyTwoStreams, "cholesky-two-streams"),
        (BenchOp.CholeskyDataflow, "cholesky-dataflow"), (BenchOp.CholeskyLeftLooking, "cholesky-left-looking"),
        (BenchOp.CholeskyReverseByInverse, "cholesky-reverse-by-inverse"),
    ];

    /// <summary>Every op key, for help texts.</summary>
    public static IEnumerable<string> OpKeys => Keys.Select(k => k.Key);

    /// <summary>The op's key in suites.json, on the command line and in the result files.</summary>
    public string OpKey => Keys.First(k => k.Op == Op).Key;

    /// <summary>The element type's key: fp32 or fp64.</summary>
    public string DTypeKey => DType == DType.Fp32 ? "fp32" : "fp64";

    /// <summary>The identifier shared by every result file: op/dtype/BATCHxN.</summary>
    public string Id => $"{OpKey}/{DTypeKey}/{Batch}x{N}";

    /// <summary>True for ops timed as a forward and a backward pass through a tape.</summary>
    public bool IsGraph => Op is not (BenchOp.Gemm or BenchOp.Trsm or BenchOp.Potrf);

    /// <summary>
    /// Executed flops of one run, the whole batch (<see cref="Flops.Of"/>); the Cholesky backward is
    /// counted by the algorithm the op forces, Murray's reverse where it forces none.
    /// </summary>
    public double ExecutedFlops
    {
        get
        {
            var (forward, backward) = Flops.Of(Op, N);
            return Batch * (forward + backward);
        }
    }

    /// <summary>
    /// The Cholesky algorithm a Cholesky case forces (<see cref="CholeskyAlgorithm.Auto"/>: the
    /// policy's choice; the one- and two-level cases force blocks), or null for an op that is not a
    /// Cholesky case.
    /// </summary>
    public static CholeskyAlgorithm? ForcedCholesky(BenchOp op) => op switch
    {
        BenchOp.Cholesky => CholeskyAlgorithm.Auto,
        BenchOp.CholeskyComposed => CholeskyAlgorithm.Composed,
        BenchOp.CholeskyWhole => CholeskyAlgorithm.Whole,
        BenchOp.CholeskyBlocked or BenchOp.CholeskyOneLevel or BenchOp.CholeskyTwoLevel or BenchOp.CholeskyTwoStreams or BenchOp.CholeskyLeftLooking
            or BenchOp.CholeskyReverseByInverse => CholeskyAlgorithm.Blocked,
        BenchOp.CholeskyDataflow => CholeskyAlgorithm.Dataflow,
        _ => null,
    };

    /// <summary>Parses an op key.</summary>
    /// <exception cref="ArgumentException">No op has that key.</exception>
    public static BenchOp ParseOp(string key) =>
        Keys.FirstOrDefault(k => k.Key == key.Trim().ToLowerInvariant()) is { Key: not null } found
            ? found.Op
            : throw new ArgumentException($"unknown op '{key}' (the ops are {string.Join(", ", OpKeys)})");

    /// <summary>Parses fp32 or fp64.</summary>
    public static DType ParseDType(string key) => key switch
    {
        "fp32" or "f32" => DType.Fp32,
        "fp64" or "f64" => DType.Fp64,
        _ => throw new ArgumentException($"unknown dtype '{key}' (fp32, fp64)"),
    };

    /// <inheritdoc/>
    public override string ToString() => Id;
}

/// <summary>
/// Executed flop counts: the floating-point operations the algorithm that ran performs (a
/// multiply-add counts 2), from its formula per path, to leading order in n. A rate is these
/// divided by the measured time; a count of another algorithm (PyTorch's composed Cholesky
/// backward, say) divided by GpuAD's time is an "effective" rate and is labelled so.
/// </summary>
public static class Flops
{
    /// <summary>GEMM of [m, k]·[k, n]: 2·m·n·k.</summary>
    public static double Gemm(double m, double n, double k) => 2.0 * m * n * k;

    /// <summary>TRSM with an n×n triangle and k right-hand sides: n²·k.</summary>
    public static double Trsm(double n, double k) => n * n * k;

    /// <summary>POTRF of order n: n³/3.</summary>
    public static double Potrf(double n) => n * n * n / 3;

    /// <summary>GETRF of order n: 2n³/3.</summary>
    public static double Getrf(double n) => 2 * n * n * n / 3;

    /// <summary>
    /// The Cholesky backward of the algorithm that ran: Murray's reverse of POTRF (blocked or whole
    /// matrix) 2n³/3; the composed Σ̄ = L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹ one GEMM and two TRSMs, 4n³; the
    /// dataflow reverse by tiles M = tril(Lᵀ·L̄) over k ≥ i only (2·Σᵢ (i + 1)(n − i) ≈ n³/3) and
    /// two triangular solves with n right-hand sides (n³ each).
    /// </summary>
    public static double CholeskyBackward(double n, CholeskyAlgorithm ran) => ran switch
    {
        CholeskyAlgorithm.Composed => Gemm(n, n, n) + 2 * Trsm(n, n),
        CholeskyAlgorithm.Dataflow => n * n * n / 3 + 2 * Trsm(n, n),
        _ => 2 * n * n * n / 3,
    };

    /// <summary>
    /// What two levels execute beyond one level, per pass of a Cholesky of order n in outer blocks of
    /// <paramref name="outer"/>: for each outer block with r rows below it, its inverse (TRTRI, w³/3)
    /// and the panel as a GEMM against it (2·r·w²) where one level solves it (r·w²).
    /// </summary>
    public static double TwoLevelExtra(double n, int outer)
    {
        double extra = 0;
        for (double k0 = 0; k0 + outer < n; k0 += outer)
        {
            double rows = n - k0 - outer;
            extra += (double)outer * outer * outer / 3 + rows * outer * outer;
        }
        return extra;
    }

    /// <summary>
    /// What the reverse executes beyond Murray's when each outer block of <paramref name="outer"/>
    /// is differentiated by GEMMs against its inverse: per block of order w, three w×w×w GEMMs
    /// (6w³) in place of its reverse ((2/3)·w³), and the last block's inverse (w³/3), which no
    /// panel computed.
    /// </summary>
    public static double BlockReverseExtra(double n, int outer)
    {
        double extra = 0, last = 0;
        for (double k0 = 0; k0 < n; k0 += outer)
        {
            double w = Math.Min(outer, n - k0);
            extra += 6 * w * w * w - 2 * w * w * w / 3;
            last = w;
        }
        return extra + last * last * last / 3;
    }

    /// <summary>
    /// Forward and backward flops per matrix of the op on n×n operands, as GpuAD's forward and VJP
    /// rules compute them: a Cholesky's backward by the algorithm that <paramref name="ran"/>, or
    /// (<see cref="CholeskyAlgorithm.Auto"/>: not known) the one the op forces, Murray's reverse
    /// where it forces none. Kernel ops have no backward (0); NaN where the engine does not count
    /// an op (gp-nll).
    /// </summary>
    public static (double Forward, double Backward) Of(BenchOp op, double n, CholeskyAlgorithm ran = CholeskyAlgorithm.Auto) => op switch
    {
        BenchOp.Gemm => (Gemm(n, n, n), 0),
        BenchOp.Trsm => (Trsm(n, n), 0),
        BenchOp.Potrf => (Potrf(n), 0),
        BenchOp.Cholesky or BenchOp.CholeskyComposed or BenchOp.CholeskyBlocked or BenchOp.CholeskyWhole
            or BenchOp.CholeskyOneLevel or BenchOp.CholeskyTwoLevel or BenchOp.CholeskyTwoStreams or BenchOp.CholeskyLeftLooking or BenchOp.CholeskyReverseByInverse or BenchOp.CholeskyDataflow =>
            (Potrf(n), CholeskyBackward(n, ran != CholeskyAlgorithm.Auto ? ran : Problem.ForcedCholesky(op)!.Value)),
        // Ā = Ȳ·Bᵀ, B̄ = Aᵀ·Ȳ
        BenchOp.MatMul => (Gemm(n, n, n), 2 * Gemm(n, n, n)),
        // X̄ = Aᵀ·Ȳ·Bᵀ, Ā = Ȳ·(X·B)ᵀ, B̄ = (A·X)ᵀ·Ȳ: six GEMMs
        BenchOp.Axb => (2 * Gemm(n, n, n), 6 * Gemm(n, n, n)),
        // B̄ = T⁻ᵀ·Ȳ (TRSM), T̄ = −B̄·Yᵀ (GEMM, then projected)
        BenchOp.TriangularSolve => (Trsm(n, n), Trsm(n, n) + Gemm(n, n, n)),
        // forward GETRF, GETRS (two TRSMs), GEMM; backward Ā = Ȳ·Zᵀ, Aᵀ·Ȳ, GETRS, X̄ = −B̄·Zᵀ
        BenchOp.AXInvB => (Getrf(n) + 2 * Trsm(n, n) + Gemm(n, n, n), 3 * Gemm(n, n, n) + 2 * Trsm(n, n)),
        // backward L⁻¹ then L⁻ᵀ·L⁻¹: two TRSMs
        BenchOp.LogDet => (Potrf(n), 2 * Trsm(n, n)),
        // forward POTRF and two TRSMs; backward B̄ = Σ⁻¹·Ȳ (two TRSMs), Σ̄ from B̄·Yᵀ + Y·B̄ᵀ (two GEMMs)
        BenchOp.CholeskySolve => (Potrf(n) + 2 * Trsm(n, n), 2 * Trsm(n, n) + 2 * Gemm(n, n, n)),
        // not counted: its backward runs through several ops whose paths depend on the shapes
        BenchOp.GpNll => (double.NaN, double.NaN),
        _ => throw new ArgumentOutOfRangeException(nameof(op), op, null),
    };
}
