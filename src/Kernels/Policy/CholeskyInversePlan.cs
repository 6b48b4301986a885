using System.Numerics;

namespace GpuAD.Kernels;

/// <summary>What one step of a <see cref="CholeskyInversePlan"/> does to the diagonal block at rows J0..J0+Width−1.</summary>
internal enum CholeskyInverseStepKind
{
    /// <summary>TRTRI: the column panel below the block, A21 ← −L22⁻¹·A21·L11⁻¹ (a left and a right TRSM with the factor as it still is).</summary>
    InvertPanel,

    /// <summary>TRTRI: the diagonal block, L11 ← L11⁻¹ (the work block set to I, a left TRSM, the lower triangle copied back).</summary>
    InvertDiagonal,

    /// <summary>LAUUM: the block's row left of the diagonal, A10 ← A11ᵀ·A10 + A21ᵀ·A20 (a copy of A10 into the row buffer and one or two GEMMs).</summary>
    ProductRow,

    /// <summary>LAUUM: the diagonal block, A11 ← A11ᵀ·A11 + A21ᵀ·A21 on its lower triangle (a copy into the work block and one or two GEMMs).</summary>
    ProductDiagonal,

    /// <summary>The strict upper triangle set from the lower: the whole symmetric inverse.</summary>
    Mirror,
}

/// <summary>
/// One step of a Cholesky-inverse plan: its kind, the diagonal block it works on (J0, Width), the
/// kernel launches it makes as <see cref="Device.Launches"/> counts them, and on the GPU family the
/// GEMM policy's plans of its products.
/// </summary>
internal readonly record struct CholeskyInverseStep(CholeskyInverseStepKind Kind, int J0, int Width, int Launches,
    GemmPlan? Gemm = null, GemmPlan? Gemm2 = null);

/// <summary>
/// How S = (L·Lᵀ)⁻¹ of a batch of order-n lower factors is formed in place on one device, as
/// LAPACK's POTRI: a blocked TRTRI (L ← L⁻¹) then a blocked LAUUM (L⁻¹ ← L⁻ᵀ·L⁻¹), each about n³/3
/// flops, then the upper triangle mirrored. Built once (<see cref="For{T}"/>) and executed by
/// <see cref="Blas.Potri{T}(Device, MatRef{T}, CholeskyInversePlan)"/>; launch counts are read from
/// the steps.
/// </summary>
/// <remarks>
/// <para>
/// TRTRI walks the diagonal blocks forward: [L11 0; L21 L22]⁻¹ = [L11⁻¹ 0; −L22⁻¹·L21·L11⁻¹ L22⁻¹],
/// so each block's panel is two triangular solves with parts of L not yet inverted (L22 and
/// L11), and the blocks below are inverted by the later steps. No TRMM and no extra n×n memory.
/// </para>
/// <para>
/// LAUUM walks the diagonal blocks forward too: with X = L⁻¹, row block i of XᵀX left of the
/// diagonal is X11ᵀ·X10 + X21ᵀ·X20, its diagonal block X11ᵀ·X11 + X21ᵀ·X21, and both read only
/// rows of X from i on, which later steps have not yet overwritten. The products by the
/// triangular X11 are GEMMs from a copy (a row buffer of [nb, n] and a work block of [nb, nb]
/// per matrix); X11's upper triangle is zero, set so by TRTRI's copy of the diagonal block.
/// </para>
/// <para>
/// Small n (n ≤ the block): one diagonal block, inverted by one TRSM against I and squared by one
/// GEMM. Blocks: the family's Cholesky blocks (<see cref="CholeskyPlan.BlockedBlockSize"/>).
/// </para>
/// </remarks>
internal sealed class CholeskyInversePlan
{
    private CholeskyInversePlan(KernelFamily family, int n, int batch, int blockSize, CholeskyInverseStep[] steps)
    {
        Family = family;
        N = n;
        Batch = batch;
        BlockSize = blockSize;
        Steps = steps;
    }

    /// <summary>The kernel family the plan was made for.</summary>
    public KernelFamily Family { get; }

    /// <summary>The order of the matrices.</summary>
    public int N { get; }

    /// <summary>The number of matrices.</summary>
    public int Batch { get; }

    /// <summary>The order of the diagonal blocks (at least 1).</summary>
    public int BlockSize { get; }

    /// <summary>The steps, in order.</summary>
    public IReadOnlyList<CholeskyInverseStep> Steps { get; }

    /// <summary>The launches of the whole pass.</summary>
    public int Launches => Steps.Sum(s => s.Launches);

    /// <summary>The elements of device work memory the pass allocates per matrix: the row buffer [nb, n] (when blocked) and the work block [nb, nb].</summary>
    public long WorkElementsPerMatrix => (N > BlockSize ? (long)BlockSize * N : 0) + (long)Math.Min(BlockSize, N) * Math.Min(BlockSize, N);

    /// <summary>
    /// The plan for a batch of order-n factors of <typeparamref name="T"/> on <paramref name="device"/>.
    /// </summary>
    /// <param name="device">The device whose kernel family and tuning table decide.</param>
    /// <param name="n">The order of the matrices.</param>
    /// <param name="batch">The number of matrices.</param>
    /// <param name="blockSize">The diagonal blocks (0: the family's Cholesky blocks).</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative block size.</exception>
    public static CholeskyInversePlan For<T>(Device device, int n, int batch, int blockSize = 0) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(device);
        if (blockSize < 0)
            throw new ArgumentOutOfRangeException(nameof(blockSize), blockSize, $"CholeskyInverse: the block size must be positive (or 0 to choose it), got {blockSize}.");
        int nb = blockSize == 0 ? CholeskyPlan.BlockedBlockSize(device, n) : blockSize;
        if (device.Family == KernelFamily.GpuTuned)
            nb = Math.Min(nb, TrsmGpu.MaxBlockSize(System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
        return new CholeskyInversePlan(device.Family, n, batch, nb, Build<T>(device, n, batch, nb));
    }

    private static CholeskyInverseStep[] Build<T>(Device device, int n, int batch, int nb) where T : unmanaged, INumber<T>
    {
        if (n == 0 || batch == 0) return [];
        var steps = new List<CholeskyInverseStep>();
        for (int j0 = 0; j0 < n; j0 += nb)
        {
            int w = Math.Min(nb, n - j0), below = n - j0 - w;
            if (below > 0)
                steps.Add(new(CholeskyInverseStepKind.InvertPanel, j0, w, Blas.TrsmLaunches(device, below, 0) + Blas.TrsmLaunches(device, w, w)));
            steps.Add(new(CholeskyInverseStepKind.InvertDiagonal, j0, w, 2 + Blas.TrsmLaunches(device, w, w)));
        }
        for (int i0 = 0; i0 < n; i0 += nb)
        {
            int w = Math.Min(nb, n - i0), below = n - i0 - w;
            if (i0 > 0)
                steps.Add(Step<T>(device, batch, CholeskyInverseStepKind.ProductRow, i0, w, 1, (w, i0, w), below > 0 ? (w, i0, below) : null));
            steps.Add(Step<T>(device, batch, CholeskyInverseStepKind.ProductDiagonal, i0, w, 1, (w, w, w), below > 0 ? (w, w, below) : null));
        }
        steps.Add(new(CholeskyInverseStepKind.Mirror, 0, n, 1));
        return [.. steps];
    }

    /// <summary>A step of one copy and one or two GEMMs of (M, N, K): on the GPU family with the GEMM policy's plan of each.</summary>
    private static CholeskyInverseStep Step<T>(Device device, int batch, CholeskyInverseStepKind kind, int j0, int width, int copies,
        (int M, int N, int K) first, (int M, int N, int K)? second) where T : unmanaged, INumber<T>
    {
        if (device.Family != KernelFamily.GpuTuned)
            return new(kind, j0, width, copies + (second is null ? 1 : 2));
        var g1 = Gemm<T>(device, batch, first);
        var g2 = second is { } s ? Gemm<T>(device, batch, s) : (GemmPlan?)null;
        return new(kind, j0, width, copies + g1.Launches + (g2?.Launches ?? 0), g1, g2);
    }

    private static GemmPlan Gemm<T>(Device device, int batch, (int M, int N, int K) p) where T : unmanaged
    {
        ReadOnlySpan<GemmArgs<T>> args = [new GemmArgs<T> { M = p.M, N = p.N, K = p.K }];
        return GemmPolicy.Choose<T>(device.Tuning, device.Multiprocessors, args, batch, device.SupportsDmma, cublas: device.Cublas is not null);
    }
}
