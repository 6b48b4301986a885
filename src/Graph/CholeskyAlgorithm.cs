namespace GpuAD;

/// <summary>How <see cref="Op.Cholesky{T}(Var{T}, CholeskyAlgorithm)"/> factors Σ and computes its VJP.</summary>
public enum CholeskyAlgorithm
{
    /// <summary>
    /// The tape's <see cref="Tape.CholeskyOptions"/>, else <see cref="CholeskyPolicy.Default"/>,
    /// unless Auto too; then <see cref="CholeskyPolicy.Choose{T}"/> picks by device, element type,
    /// order and batch.
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
    /// <see cref="Kernels.Blas.PotrfMaxUnblockedOrder{T}"/>: 77 in float64, 110 in float32), one
    /// thread per matrix on the CPU family (any n; SIMD row operations). For batches of small
    /// matrices, where the blocked path's launches cost more than its arithmetic.
    /// </summary>
    SmallBatched,
}

/// <summary>
/// How the Cholesky-based ops factor Σ and differentiate the factorization, per call
/// (<see cref="Op.Cholesky{T}(Var{T}, CholeskyOptions)"/>, composite functions such as
/// <see cref="GaussianProcess.NegativeLogMarginalLikelihood{T}(Var{T}, Var{T}, CholeskyOptions)"/>) or per tape
/// (<see cref="Tape.CholeskyOptions"/>). Immutable: derive variants with <c>with</c>.
/// </summary>
/// <remarks>
/// A field left at its automatic value (<see cref="CholeskyAlgorithm.Auto"/>, block size 0) is
/// taken from the next level: the op's options, then the tape's, then
/// <see cref="CholeskyPolicy.Default"/> (the algorithm only), then the automatic choice of
/// <see cref="CholeskyPolicy.Choose{T}"/> and the kernels' block size.
/// </remarks>
public sealed record CholeskyOptions
{
    private readonly CholeskyAlgorithm algorithm;
    private readonly int blockSize;

    /// <summary>Every field automatic.</summary>
    public static CholeskyOptions Default { get; } = new();

    /// <summary>The algorithm; <see cref="CholeskyAlgorithm.Auto"/> defers to the next level.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined algorithm.</exception>
    public CholeskyAlgorithm Algorithm
    {
        get => algorithm;
        init => algorithm = Enum.IsDefined(value) ? value : throw new ArgumentOutOfRangeException(nameof(Algorithm), value, "CholeskyOptions: unknown algorithm.");
    }

    /// <summary>
    /// The order of the diagonal blocks of <see cref="CholeskyAlgorithm.Blocked"/> and
    /// <see cref="CholeskyAlgorithm.Composed"/> (forward and backward); 0 defers to the next level.
    /// <see cref="CholeskyAlgorithm.SmallBatched"/> always works on whole matrices and ignores it.
    /// On the GPU family a block may not exceed <see cref="Blas.PotrfMaxUnblockedOrder{T}"/> (checked when the op is recorded).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int BlockSize
    {
        get => blockSize;
        init => blockSize = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(BlockSize), value, "CholeskyOptions: the block size cannot be negative.");
    }

    /// <summary>These options with each automatic field taken from <paramref name="fallback"/>.</summary>
    internal CholeskyOptions Over(CholeskyOptions fallback) => new()
    {
        Algorithm = Algorithm != CholeskyAlgorithm.Auto ? Algorithm : fallback.Algorithm,
        BlockSize = BlockSize != 0 ? BlockSize : fallback.BlockSize,
    };
}

/// <summary>
/// Chooses the Cholesky algorithm where a call leaves it to <see cref="CholeskyAlgorithm.Auto"/>.
/// </summary>
/// <remarks>
/// <para>
/// The automatic choice never picks <see cref="CholeskyAlgorithm.Composed"/>: the blocked reverse
/// does about a sixth of its flops ((2/3)·n³ against about 4·n³), with fewer launches and less
/// memory. It picks
/// <see cref="CholeskyAlgorithm.SmallBatched"/> up to an order that depends on the kernel family,
/// and <see cref="CholeskyAlgorithm.Blocked"/> above.
/// </para>
/// <para>
/// CPU family: whole matrices, one thread each, up to n = 512. A blocked forward and backward
/// launch about nine kernels per block of 64 (three forward, six backward) and each launch wakes
/// the CPU accelerator's threads; below n ≈ 512 that costs more than the blocked path's parallel
/// SIMD GEMMs save, even with one matrix on one thread, and batches of small matrices are as fast
/// or faster whole. The threshold comes from timing each algorithm forced (suite cpu-policy of
/// bench/suites.json; the run is bench/results/2026-11-26-cpu-policy.md).
/// </para>
/// <para>
/// GPU family: a thread group per matrix runs each pass in one launch with every intermediate in
/// shared memory, where the blocked path launches one kernel per block forward (with look-ahead;
/// two without) and two backward, plus a reduction for each GEMM update split along K, each a
/// small grid, and round-trips the panels through global memory; so one group per matrix up to
/// the largest order whose two packed triangles fit the 48 KiB of shared memory a group gets by
/// default (77 in float64, 110 in float32), or the lower limit a device's tuning table sets after
/// timing both, then blocks of 32, and of 64 beyond n = 512 (the table's block sizes).
/// </para>
/// </remarks>
public static class CholeskyPolicy
{
    private static volatile CholeskyAlgorithm defaultAlgorithm = CholeskyAlgorithm.Auto;

    /// <summary>
    /// The process-wide fallback for a Cholesky whose options (the op's and its tape's, see
    /// <see cref="CholeskyOptions"/>) leave the algorithm to <see cref="CholeskyAlgorithm.Auto"/>;
    /// <see cref="CholeskyAlgorithm.Auto"/> (the initial value) lets <see cref="Choose{T}"/> decide
    /// per call. Prefer per-call or per-tape options: this is shared by every thread. Read when an
    /// op is recorded: changing it does not affect ops already on a tape.
    /// </summary>
    public static CholeskyAlgorithm Default
    {
        get => defaultAlgorithm;
        set
        {
            if (!Enum.IsDefined(value)) throw new ArgumentOutOfRangeException(nameof(value), value, "CholeskyPolicy: unknown algorithm.");
            defaultAlgorithm = value;
        }
    }

    /// <summary>
    /// The algorithm a Cholesky of Σ [batch, n, n] uses: <paramref name="requested"/> unless it is
    /// Auto, else <see cref="Default"/> unless that is Auto, else <see cref="Choose{T}"/>.
    /// </summary>
    /// <param name="device">The device that will run it.</param>
    /// <param name="shape">Σ's shape.</param>
    /// <param name="requested">The per-call algorithm.</param>
    /// <exception cref="ArgumentException">
    /// <see cref="CholeskyAlgorithm.SmallBatched"/> on the GPU family with n above
    /// <see cref="Kernels.Blas.PotrfMaxUnblockedOrder{T}"/>.
    /// </exception>
    public static CholeskyAlgorithm Resolve<T>(Device device, Shape shape, CholeskyAlgorithm requested = CholeskyAlgorithm.Auto)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(device);
        var algorithm = requested != CholeskyAlgorithm.Auto ? requested
            : Default != CholeskyAlgorithm.Auto ? Default
            : Choose<T>(device, shape.Rows, shape.Batch);
        if (!Enum.IsDefined(algorithm))
            throw new ArgumentOutOfRangeException(nameof(requested), requested, "Cholesky: unknown algorithm.");
        int max = Blas.PotrfMaxUnblockedOrder<T>(device);
        if (algorithm == CholeskyAlgorithm.SmallBatched && shape.Rows > max)
            throw ShapeErrors.Invalid(CholeskyNode<T>.OpName,
                $"the small-matrix algorithm handles n ≤ {max} for {typeof(T).Name} on {device.Name} (one thread group's shared memory)", shape);
        return algorithm;
    }

    /// <summary>
    /// The automatic choice for Σ [batch, n, n]: <see cref="CholeskyAlgorithm.SmallBatched"/> for
    /// n up to 512 on the CPU family and up to <see cref="Blas.PotrfMaxUnblockedOrder{T}"/> on the
    /// GPU family, else <see cref="CholeskyAlgorithm.Blocked"/> (see the remarks on
    /// <see cref="CholeskyPolicy"/>).
    /// </summary>
    /// <param name="device">The device that will run it.</param>
    /// <param name="n">The order of the matrices.</param>
    /// <param name="batch">The number of matrices.</param>
    public static CholeskyAlgorithm Choose<T>(Device device, int n, int batch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(device);
        return n <= Blas.PotrfSmallOrder<T>(device, batch) ? CholeskyAlgorithm.SmallBatched : CholeskyAlgorithm.Blocked;
    }

    /// <summary>
    /// The algorithm and block size a Cholesky of Σ [batch, n, n] recorded with
    /// <paramref name="options"/> uses (see <see cref="Resolve{T}(Device, Shape, CholeskyAlgorithm)"/>
    /// for the algorithm). The block size is the options' unless 0, else the kernels' choice for
    /// the algorithm; at least n (each matrix whole) for <see cref="CholeskyAlgorithm.SmallBatched"/>.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Resolve{T}(Device, Shape, CholeskyAlgorithm)"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">On the GPU family, a block size whose diagonal blocks exceed <see cref="Blas.PotrfMaxUnblockedOrder{T}"/>.</exception>
    internal static (CholeskyAlgorithm Algorithm, int BlockSize) Resolve<T>(Device device, Shape shape, CholeskyOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var algorithm = Resolve<T>(device, shape, options.Algorithm);
        int n = shape.Rows;
        if (algorithm == CholeskyAlgorithm.SmallBatched) return (algorithm, Math.Max(n, 1));
        if (options.BlockSize == 0) return (algorithm, Blas.PotrfBlockedBlockSize(device, n));
        int max = Blas.PotrfMaxUnblockedOrder<T>(device);
        if (Math.Min(options.BlockSize, n) > max)
            throw new ArgumentOutOfRangeException(nameof(options), options.BlockSize,
                $"{CholeskyNode<T>.OpName}: blocks of {options.BlockSize} exceed the largest order one thread group factors for {typeof(T).Name} on {device.Name} ({max}).");
        return (algorithm, options.BlockSize);
    }
}
