namespace GpuAD;

/// <summary>
/// How the Cholesky-based ops factor Σ and differentiate the factorization, per call
/// (<see cref="Op.Cholesky{T}(Var{T}, CholeskyOptions)"/>, composite functions such as
/// <c>GaussianProcess.NegativeLogMarginalLikelihood</c>) or per tape
/// (<see cref="Tape.CholeskyOptions"/>). Immutable: derive variants with <c>with</c>.
/// </summary>
/// <remarks>
/// A field left at its automatic value (<see cref="CholeskyAlgorithm.Auto"/>, block size 0) is
/// taken from the next level: the op's options, then the tape's, then the plan's automatic choice
/// (<see cref="CholeskyPolicy.Choose{T}"/>) and block size. Every op that factors Σ reads them:
/// <see cref="Op.Cholesky{T}(Var{T}, CholeskyOptions)"/>, <c>CholeskyEx</c>, <c>LogDet</c>,
/// <c>CholeskySolve</c> and the Gaussian-process likelihoods.
/// </remarks>
public sealed record CholeskyOptions
{
    private readonly CholeskyAlgorithm algorithm;
    private readonly int blockSize;
    private readonly int outerBlockSize;

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
    /// <see cref="CholeskyAlgorithm.Whole"/> always works on whole matrices and ignores it.
    /// On the GPU family a block may not exceed the whole-matrix kernels' largest order (see <see cref="CholeskyAlgorithm.Whole"/>; checked when the op is recorded).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int BlockSize
    {
        get => blockSize;
        init => blockSize = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(BlockSize), value, "CholeskyOptions: the block size cannot be negative.");
    }

    /// <summary>
    /// Two levels: outer diagonal blocks of this order, each factored and differentiated in blocks
    /// of <see cref="BlockSize"/> (which it must exceed), their panels and trailing updates large
    /// GEMMs; an order of at least n means one level. 0 defers to the next level, and at the last
    /// to the device's tuning table (<see cref="TuningTable.PotrfOuterBlock"/> beyond
    /// <see cref="TuningTable.PotrfOuterFrom"/> on the GPU family; one level on the CPU family).
    /// Ignored by <see cref="CholeskyAlgorithm.Whole"/>.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">Negative.</exception>
    public int OuterBlockSize
    {
        get => outerBlockSize;
        init => outerBlockSize = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(OuterBlockSize), value, "CholeskyOptions: the outer block size cannot be negative.");
    }

    /// <summary>These options with each automatic field taken from <paramref name="fallback"/>.</summary>
    internal CholeskyOptions Over(CholeskyOptions fallback) => new()
    {
        Algorithm = Algorithm != CholeskyAlgorithm.Auto ? Algorithm : fallback.Algorithm,
        BlockSize = BlockSize != 0 ? BlockSize : fallback.BlockSize,
        OuterBlockSize = OuterBlockSize != 0 ? OuterBlockSize : fallback.OuterBlockSize,
    };
}

/// <summary>
/// The Cholesky algorithm a call gets where it leaves it to <see cref="CholeskyAlgorithm.Auto"/>:
/// the plan's automatic choice (<see cref="Kernels.CholeskyPlan"/>, where every Cholesky's
/// algorithm and block size are decided). It never picks <see cref="CholeskyAlgorithm.Composed"/>:
/// the blocked reverse does about a sixth of its flops ((2/3)·n³ against about 4·n³), with fewer
/// launches and less memory. It
/// picks <see cref="CholeskyAlgorithm.Whole"/> (each matrix whole, one launch per pass) up
/// to an order that depends on the kernel family and element type, and
/// <see cref="CholeskyAlgorithm.Blocked"/> above.
/// </summary>
public static class CholeskyPolicy
{
    /// <summary>
    /// The algorithm a Cholesky of Σ [batch, n, n] uses: <paramref name="requested"/> unless it is
    /// Auto, else <see cref="Choose{T}"/>.
    /// </summary>
    /// <param name="device">The device that will run it.</param>
    /// <param name="shape">Σ's shape.</param>
    /// <param name="requested">The per-call algorithm.</param>
    /// <exception cref="ArgumentException">
    /// <see cref="CholeskyAlgorithm.Whole"/> on the GPU family with n above
    /// the whole-matrix kernels' largest order (see <see cref="CholeskyAlgorithm.Whole"/>).
    /// </exception>
    public static CholeskyAlgorithm Resolve<T>(Device device, Shape shape, CholeskyAlgorithm requested = CholeskyAlgorithm.Auto)
        where T : unmanaged, IFloatingPointIeee754<T> =>
        CholeskyPlan.For<T>(device, shape.Rows, shape.Batch, requested, op: CholeskyNode<T>.OpName, paramName: nameof(requested)).Algorithm;

    /// <summary>
    /// The automatic choice for Σ [batch, n, n]: <see cref="CholeskyAlgorithm.Whole"/> up to
    /// the plan's whole-matrix order for the device and element type, else
    /// <see cref="CholeskyAlgorithm.Blocked"/>.
    /// </summary>
    /// <param name="device">The device that will run it.</param>
    /// <param name="n">The order of the matrices.</param>
    /// <param name="batch">The number of matrices.</param>
    public static CholeskyAlgorithm Choose<T>(Device device, int n, int batch) where T : unmanaged, IFloatingPointIeee754<T> =>
        CholeskyPlan.For<T>(device, n, batch).Algorithm;

    /// <summary>
    /// The plan of a Cholesky of Σ [batch, n, n] recorded with <paramref name="options"/> (each
    /// automatic field already taken from the tape's): its algorithm and block size, steps and
    /// launches.
    /// </summary>
    /// <exception cref="ArgumentException">As <see cref="Resolve{T}(Device, Shape, CholeskyAlgorithm)"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">On the GPU family, a block size whose diagonal blocks exceed <see cref="Blas.PotrfMaxWholeOrder{T}"/>.</exception>
    internal static CholeskyPlan Plan<T>(Device device, Shape shape, CholeskyOptions options, string op = CholeskyNode<double>.OpName)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(device);
        return CholeskyPlan.For<T>(device, shape.Rows, shape.Batch, options.Algorithm, options.BlockSize, op, nameof(options), options.OuterBlockSize);
    }
}
