namespace GpuAD;

/// <summary>How a Cholesky factors Σ and computes its VJP (<c>Op.Cholesky</c> and every op that factors).</summary>
public enum CholeskyAlgorithm
{
    /// <summary>
    /// The next level of options (the op's, then the tape's), else the plan's automatic choice
    /// (<see cref="Kernels.CholeskyPlan"/>): whole matrices up to an order that depends on the
    /// device and element type, blocks above.
    /// </summary>
    Auto,

    /// <summary>
    /// Blocked factorization; the VJP composed of device operations,
    /// Σ̄ = L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹ symmetrized (PyTorch's formula): one GEMM and two triangular
    /// solves, about 4·n³ flops and two n² temporaries per matrix. The reference the others are
    /// tested against.
    /// </summary>
    Composed,

    /// <summary>
    /// Blocked factorization and Murray's blocked reverse mode (arXiv:1602.07527, §4), in place in
    /// the cotangent: about (2/3)·n³ flops, a [NB, NB] workspace and the n² gradient per matrix.
    /// </summary>
    Blocked,

    /// <summary>
    /// Each matrix factored, and differentiated, whole by one kernel launch per pass for the whole
    /// batch: one thread group per matrix in shared memory on the GPU family (n at most
    /// <see cref="Kernels.Blas.PotrfMaxWholeOrder{T}"/>: 77 in float64, 110 in float32), one
    /// thread per matrix on the CPU family (any n; SIMD row operations). For batches of small
    /// matrices, where the blocked path's launches cost more than its arithmetic.
    /// </summary>
    Whole,

    /// <summary>
    /// GPU family: every tile of the matrices a task, one persistent launch per pass running all
    /// of them as their inputs become ready (tiles of 32, or of the block size: 8, 16 or 32): the
    /// factor left-looking by tiles, the reverse PyTorch's formula
    /// Σ̄ = L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹ with both triangular solves by tiles, 2 + 5 launches for any n
    /// (about 4·n³ reverse flops, two n² temporaries per matrix). For single matrices and small
    /// batches of moderate order, where the blocked path's chain of launches is latency-bound.
    /// </summary>
    Dataflow,
}

