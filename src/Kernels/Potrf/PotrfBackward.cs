using System.Numerics;
using ILGPU;

namespace GpuAD.Kernels;

/// <summary>Parameters of one unblocked reverse-mode Cholesky launch: one diagonal block of every matrix.</summary>
internal struct PotrfBackwardArgs
{
    public MatLayout L;    // the diagonal block of L: its (0, 0) is the block's corner
    public MatLayout LBar; // the same block of the cotangent, overwritten by Ā
    public MatLayout W;    // [N, N] per matrix: receives Ā₁₁ + Ā₁₁ᵀ when WriteSym
    public int N;          // order of the block
    public int WriteSym;
    public int Symmetrize; // the block is the whole matrix: finish with ½(Ā + Āᵀ) in all of L̄
    public int BatchBase;  // first batch element of this launch
    public int Lanes;      // GPU family: threads per row of the reverse (1, 2 or 4)
}

internal static partial class Blas
{
    /// <summary>
    /// Reverse mode of the Cholesky factorization, in place: given L (A = L·Lᵀ) and a cotangent L̄
    /// of L, overwrites L̄'s lower triangle with Ā, the gradient with respect to the lower triangle
    /// of A read as independent entries (Murray 2016, "Differentiation of the Cholesky
    /// decomposition", arXiv:1602.07527, §4). The gradient with respect to a symmetric A, the one
    /// PyTorch returns, is ½(Ā + Āᵀ): Ā's strict lower triangle halved and mirrored, its diagonal
    /// kept. Only the lower triangles of L and L̄ are read; L̄'s strict upper triangle is
    /// unspecified afterwards, unless <paramref name="symmetrize"/> asks for that symmetric
    /// gradient in the whole of L̄.
    /// </summary>
    /// <param name="device">The device holding both operands.</param>
    /// <param name="l">The Cholesky factors, [n, n] each (batch stride 0 broadcasts one factor).</param>
    /// <param name="lbar">The cotangents L̄, [n, n] each, overwritten by Ā.</param>
    /// <param name="blockSize">
    /// Order of the diagonal blocks; 0 chooses it from n and the device: each matrix whole up to
    /// n = 512 on the CPU family and up to <see cref="PotrfMaxWholeOrder{T}"/> on the GPU
    /// family, else blocks of 64 (CPU), or of 32 (GPU; 64 beyond n = 512). A block size of at
    /// least n differentiates each matrix in one launch: one thread group per matrix in shared
    /// memory (GPU family, n ≤ <see cref="PotrfMaxWholeOrder{T}"/>) or one thread per matrix
    /// (CPU family).
    /// </param>
    /// <param name="symmetrize">
    /// Overwrite all of L̄ with ½(Ā + Āᵀ) (in the same launch when the matrices are differentiated
    /// whole, else in one more) rather than its lower triangle with Ā.
    /// </param>
    /// <exception cref="ArgumentException">
    /// L is not square, L̄'s shape differs from L's, the batches do not agree, or L̄ broadcasts (batch stride 0).
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The block size is negative, or on the GPU family its diagonal blocks, min(blockSize, n),
    /// exceed <see cref="PotrfMaxWholeOrder{T}"/>.
    /// </exception>
    /// <exception cref="NotSupportedException">The element type is neither float nor double.</exception>
    /// <remarks>
    /// <para>
    /// Murray's blocked algorithm, the reverse of a right-looking blocked POTRF, over the diagonal
    /// blocks from the last to the first. With the current block at rows J..J+JB−1, T the diagonal
    /// block of L, B the block below it, C the block left of it and D the block below C (and the
    /// same blocks of Ā barred):
    /// B̄ ← B̄·T⁻¹ (TRSM); T̄ −= tril(B̄ᵀ·B); D̄ −= B̄·C; C̄ −= B̄ᵀ·D (GEMMs);
    /// T̄ ← the unblocked reverse of T's factorization applied to T̄; C̄ −= (T̄ + T̄ᵀ)·C.
    /// About (2/3)·n³ flops, against ~4·n³ for the composed L⁻ᵀ·Φ*(tril(Lᵀ·L̄))·L⁻¹.
    /// </para>
    /// <para>
    /// The unblocked reverse of row j (from the last row up; r, d, c the row left of the pivot, the
    /// pivot and the column below it, Bm the rows below r): d̄ −= c̄·c/d; d̄ /= d; c̄ /= d;
    /// r̄ −= d̄·r + Bmᵀ·c̄; B̄m −= c̄·r; d̄ /= 2.
    /// </para>
    /// <para>
    /// Workspace: besides L̄ itself, one [batch, NB, NB] buffer from the device pool for T̄ + T̄ᵀ
    /// (on the GPU family for the reversed T̄ between launches; none when the matrices are
    /// differentiated whole). Launches per block on the GPU family: the three GEMM updates in one,
    /// and the block's reverse fused with C̄ −= (T̄ + T̄ᵀ)·C and the panel TRSM of the block before
    /// it in the walk (<see cref="PotrfBackwardPanelGpu"/>), so no TRSM launch of its own.
    /// </para>
    /// </remarks>
    public static void PotrfBackward<T>(Device device, MatRef<T> l, MatRef<T> lbar, int blockSize = 0, bool symmetrize = false)
        where T : unmanaged, INumber<T>
    {
        CheckPotrfBackward(l, lbar);
        var plan = CholeskyPlan.ForBlockSize<T>(device, l.Rows, lbar.Batch, blockSize, "PotrfBackward");
        RunBackward(device, l, lbar, plan, symmetrize);
    }

    /// <summary>
    /// <see cref="PotrfBackward{T}(Device, MatRef{T}, MatRef{T}, int, bool)"/> executing a plan made
    /// for L̄'s order and batch on this device (<see cref="CholeskyPlan.For{T}"/>), the plan of the
    /// forward that made L.
    /// </summary>
    internal static void PotrfBackward<T>(Device device, MatRef<T> l, MatRef<T> lbar, CholeskyPlan plan, bool symmetrize)
        where T : unmanaged, INumber<T>
    {
        CheckPotrfBackward(l, lbar);
        CheckPlan(plan, device, lbar.Rows, lbar.Batch, "PotrfBackward");
        RunBackward(device, l, lbar, plan, symmetrize);
    }

    private static void CheckPotrfBackward<T>(MatRef<T> l, MatRef<T> lbar) where T : unmanaged, INumber<T>
    {
        CheckFloatingPoint<T>("PotrfBackward");
        var lShape = new Shape(l.Batch, l.Rows, l.Cols);
        var barShape = new Shape(lbar.Batch, lbar.Rows, lbar.Cols);
        if (l.Rows != l.Cols)
            throw ShapeErrors.Mismatch("PotrfBackward", "L must be square", lShape, barShape);
        if (lbar.Rows != l.Rows || lbar.Cols != l.Cols)
            throw ShapeErrors.Mismatch("PotrfBackward", "L̄ must have L's shape", lShape, barShape);
        if (l.Batch != lbar.Batch && l.BatchStride != 0)
            throw ShapeErrors.Mismatch("PotrfBackward", "L's batch must be L̄'s (or L broadcast)", lShape, barShape);
        if (lbar.Batch > 1 && lbar.BatchStride == 0 && lbar.Rows > 0)
            throw ShapeErrors.Invalid("PotrfBackward", "a broadcast cotangent (batch stride 0) cannot be overwritten in place", barShape);
    }

    /// <summary>
    /// Executes the reverse's steps, from the last diagonal block to the first; with two levels each
    /// outer diagonal block's reverse is its inner plan's (this method on the block).
    /// </summary>
    private static void RunBackward<T>(Device device, MatRef<T> l, MatRef<T> lbar, CholeskyPlan plan, bool symmetrize)
        where T : unmanaged, INumber<T>
    {
        if (plan.Backward.Count == 0) return;
        int n = l.Rows, nb = plan.BlockSize, batch = lbar.Batch;
        bool twoLevel = plan.Levels == 2, byInverse = twoLevel && plan.PanelByInverse, inverts = plan.Backward.Any(s => s.Kind == CholeskyStepKind.InvertBlock);
        l = l.WithBatch(batch);
        using var _ = device.Enter();
        using var work = plan.BackwardWorkBlock ? device.Allocate<T>(new Shape(batch, nb, nb)) : null;
        using var inverse = inverts ? device.Allocate<T>(new Shape(batch, nb, nb)) : null;
        using var inverse2 = plan.TwoInverses ? device.Allocate<T>(new Shape(batch, nb, nb)) : null; // the inverses alternate
        using var scratch = inverts && device.Family == KernelFamily.GpuTuned ? device.Allocate<T>(new Shape(batch, nb, nb)) : null;
        using var square1 = plan.BlockReverseByInverse ? device.Allocate<T>(new Shape(batch, nb, nb)) : null;
        using var square2 = plan.BlockReverseByInverse ? device.Allocate<T>(new Shape(batch, nb, nb)) : null;
        DeviceTensor<T> InverseOf(int j0) => inverse2 is not null && j0 / nb % 2 == 1 ? inverse2 : inverse!;
        using var panel = byInverse ? device.Allocate<T>(new Shape(batch, n - nb, nb)) : null;
        foreach (var step in plan.Backward)
        {
            if (OrderStreams(device, step.Kind)) continue;
            int j0 = step.J0, jb = step.Width, j1 = j0 + jb, below = n - j1;
            var t = l.Block(j0, j0, jb, jb);
            var tBar = lbar.Block(j0, j0, jb, jb);
            var c = l.Block(j0, 0, jb, j0);
            var cBar = lbar.Block(j0, 0, jb, j0);
            switch (step.Kind)
            {
                case CholeskyStepKind.ReverseWhole:
                    ReverseDiagonalBlock(device, l, lbar, w: null, symmetrize, plan.WholeLanes);
                    break;
                case CholeskyStepKind.ReverseDataflow:
                    PotrfDataflowGpu.Reverse(device, l, lbar, plan.BlockSize, symmetrize);
                    break;
                case CholeskyStepKind.ReversePanelSolve: // B̄ ← B̄·T⁻¹; on the GPU family the previous ReversePanel solved it
                    Trsm(device, t, lbar.Block(j1, j0, below, jb), left: false, lower: true, transpose: false, unitDiagonal: false, T.One,
                        blockSize: twoLevel ? Math.Min(plan.LeafBlockSize, jb) : jb);
                    break;
                case CholeskyStepKind.InvertBlock:
                {
                    using var side = device.OnSide(step.Side);
                    InvertLower(device, t, InverseOf(j0).Mat.Block(0, 0, jb, jb), scratch?.Mat.Block(0, 0, jb, jb), Math.Min(plan.LeafBlockSize, jb), step);
                    break;
                }
                case CholeskyStepKind.ReversePanelByInverse: // B̄ ← B̄·T⁻¹
                    TimesInverse(device, lbar.Block(j1, j0, below, jb), panel!.Mat.Block(0, 0, below, jb), InverseOf(j0).Mat.Block(0, 0, jb, jb), transpose: false, step.Gemm);
                    break;
                case CholeskyStepKind.ReverseBlockByInner:
                {
                    RunBackward(device, t, tBar, step.Inner!, symmetrize: false); // T̄ ← the reverse of the block's factorization
                    if (j0 == 0) break;
                    var w = work!.Mat.Block(0, 0, jb, jb);
                    Elementwise.Map(device, new Maps.LowerPlusTranspose<T>(), tBar, tBar, YAccess.Transposed, w); // W = T̄ + T̄ᵀ
                    Gemm(device, w, transA: false, c, transB: false, cBar, -T.One, T.One, lowerOnly: false, step.Gemm); // C̄ −= W·C
                    break;
                }
                case CholeskyStepKind.ReverseBlockByInverse:
                {
                    // The composed formula on the block against its inverse: S = T⁻ᵀ·Φ*(tril(Tᵀ·tril(T̄)))·T⁻¹,
                    // then T̄ ← 2·tril(S, −1) + diag(S) (T̄'s strict upper triangle kept). The triangles are
                    // copied first, so that their other halves (never read, NaN for all that is known) stay out of the products.
                    var inv = InverseOf(j0).Mat.Block(0, 0, jb, jb);
                    var p = work!.Mat.Block(0, 0, jb, jb);
                    var s1 = square1!.Mat.Block(0, 0, jb, jb);
                    var s2 = square2!.Mat.Block(0, 0, jb, jb);
                    var g = step.Gemms;
                    Elementwise.Map(device, new Maps.Tril<T>(0, T.One), t, s1);
                    Elementwise.Map(device, new Maps.Tril<T>(0, T.One), tBar, s2);
                    Gemm(device, s1, transA: true, s2, transB: false, p, T.One, T.Zero, lowerOnly: false, g?[0]);      // Tᵀ·T̄
                    Elementwise.Map(device, new Maps.PhiStarOfTril<T>(), p, p, YAccess.Transposed, s2);               // Φ*(tril(Tᵀ·T̄))
                    Gemm(device, inv, transA: true, s2, transB: false, p, T.One, T.Zero, lowerOnly: false, g?[1]);    // T⁻ᵀ·Φ*
                    Gemm(device, p, transA: false, inv, transB: false, s2, T.One, T.Zero, lowerOnly: false, g?[2]);   // ·T⁻¹ = S
                    Elementwise.Map(device, new Maps.LowerOfSymmetric<T>(), s2, tBar, YAccess.Same, tBar);
                    if (j0 == 0) break;
                    Elementwise.Map(device, new Maps.LowerPlusTranspose<T>(), tBar, tBar, YAccess.Transposed, p); // W = T̄ + T̄ᵀ
                    Gemm(device, p, transA: false, c, transB: false, cBar, -T.One, T.One, lowerOnly: false, step.Gemm); // C̄ −= W·C
                    break;
                }
                case CholeskyStepKind.ReverseUpdates:
                {
                    // Three independent updates reading B̄, in one launch on the GPU family.
                    var b = l.Block(j1, j0, below, jb);
                    var bBar = lbar.Block(j1, j0, below, jb);
                    var d = l.Block(j1, 0, below, j0);
                    ReadOnlySpan<GemmProduct<T>> updates =
                    [
                        new(bBar, true, b, false, tBar, -T.One, T.One, LowerOnly: true),      // T̄ −= tril(B̄ᵀ·B)
                        new(bBar, false, c, false, lbar.Block(j1, 0, below, j0), -T.One, T.One), // D̄ −= B̄·C
                        new(bBar, true, d, false, cBar, -T.One, T.One),                        // C̄ −= B̄ᵀ·D
                    ];
                    GemmGrouped(device, j0 > 0 ? updates : updates[..1], step.Gemm);
                    break;
                }
                case CholeskyStepKind.ReversePanel:
                {
                    // T̄ ← unblocked reverse and C̄ −= (T̄ + T̄ᵀ)·C in one launch; the reversed T̄ goes
                    // through the workspace and is moved into place by the next block's launch. The
                    // same launch solves the previous block's panel, B̄₋₁ ← B̄₋₁·T₋₁⁻¹, whose rows
                    // start at this block's (the last rows of its C̄ update).
                    int prev = j1 < n ? Math.Min(nb, n - j1) : 0, s0 = j0 - nb;
                    var args = new PotrfBackwardPanelArgs
                    {
                        L = t.Layout, LBar = tBar.Layout, C = c.Layout, CBar = cBar.Layout, Work = work!.Mat.Layout,
                        Prev = prev > 0 ? lbar.Block(j1, j1, prev, prev).Layout : default, PrevN = prev,
                        N = jb, Cols = j0, Lanes = plan.PanelLanes,
                        Tri = j0 > 0 ? l.Block(s0, s0, nb, nb).Layout : default,
                        Solve = j0 > 0 ? lbar.Block(j0, s0, n - j0, nb).Layout : default,
                        SolveN = j0 > 0 ? nb : 0, SolveRows = j0 > 0 ? n - j0 : 0,
                    };
                    PotrfBackwardPanelGpu.Launch(device, l.Data, lbar.Data, work.View, args, batch);
                    break;
                }
                case CholeskyStepKind.ReverseBlock:
                    if (j0 == 0)
                    {
                        ReverseDiagonalBlock(device, t, tBar, w: null, symmetrize: false, plan.WholeLanes);
                        break;
                    }
                    var sym = work!.Mat.Block(0, 0, jb, jb);
                    ReverseDiagonalBlock(device, t, tBar, sym, symmetrize: false, plan.WholeLanes); // T̄ ← unblocked reverse; W = T̄ + T̄ᵀ
                    Gemm(device, sym, transA: false, c, transB: false, cBar, -T.One, T.One);       // C̄ −= (T̄ + T̄ᵀ)·C
                    break;
                case CholeskyStepKind.Symmetrize:
                    if (!symmetrize) break;
                    if (device.Family == KernelFamily.GpuTuned)
                        PotrfBackwardGpu.LaunchSymmetrize(device, lbar);
                    else
                        PotrfBackwardCpu.LaunchSymmetrize(device, lbar);
                    break;
                default:
                    throw new InvalidOperationException($"PotrfBackward: a reverse plan cannot hold a {step.Kind} step.");
            }
        }
    }

    /// <summary>
    /// Runs the unblocked reverse on one diagonal block of every matrix with the family's kernel,
    /// optionally writing W = Ā₁₁ + Ā₁₁ᵀ, or (for a whole matrix) finishing with ½(Ā + Āᵀ).
    /// </summary>
    private static void ReverseDiagonalBlock<T>(Device device, MatRef<T> l11, MatRef<T> lbar11, MatRef<T>? w, bool symmetrize, int lanes)
        where T : unmanaged, INumber<T>
    {
        var args = new PotrfBackwardArgs
        {
            L = l11.Layout, LBar = lbar11.Layout, W = w?.Layout ?? default,
            N = l11.Rows, WriteSym = w is null ? 0 : 1, Symmetrize = symmetrize ? 1 : 0, Lanes = lanes,
        };
        var wData = w?.Data ?? lbar11.Data;
        if (device.Family == KernelFamily.GpuTuned)
            PotrfBackwardGpu.Launch(device, l11.Data, lbar11.Data, wData, args, lbar11.Batch);
        else
            PotrfBackwardCpu.Launch(device, l11.Data, lbar11.Data, wData, args, lbar11.Batch);
    }
}
