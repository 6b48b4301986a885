using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;

namespace GpuAD.Kernels;

/// <summary>Parameters of one unblocked Cholesky launch: one diagonal block of every matrix.</summary>
internal struct PotrfArgs
{
    public MatLayout A;   // the diagonal block: its (0, 0) is the block's corner
    public int N;         // order of the block
    public int Offset;    // the block's first row in the whole matrix: a failure at local column j is minor Offset + j + 1
    public int Whole;     // the block is the whole matrix: write info (0 on success, without reading it) and clear the strict upper triangle
    public int BatchBase; // first batch element of this launch
    public int Lanes;     // GPU family: threads per row of the factor (1, 2 or 4)
}

internal static partial class Blas
{
    /// <summary>
    /// Cholesky factorization in place: each matrix's lower triangle becomes L with A = L·Lᵀ (only
    /// the lower triangle of A is read) and the strict upper triangle is set to zero.
    /// <paramref name="info"/>[b] receives 0, or the one-based order of the first leading minor of
    /// matrix b that is not positive-definite (a pivot ≤ 0, NaN or infinite), as LAPACK's info.
    /// Matrices that fail are left partially factored. Nothing is copied to the host: check info
    /// on the device or read it back when convenient.
    /// </summary>
    /// <param name="device">The device holding both operands.</param>
    /// <param name="a">The symmetric matrices, [n, n] each, overwritten by L.</param>
    /// <param name="info">[batch, 1, 1]: the status of every matrix.</param>
    /// <param name="blockSize">
    /// Order of the diagonal blocks; 0 chooses it from n and the device: each matrix whole up to
    /// n = 512 on the CPU family and up to <see cref="PotrfMaxWholeOrder{T}"/> on the GPU
    /// family, else blocks of 64 (CPU), or of 32 (GPU; 64 beyond n = 512). A block size of at
    /// least n factors each matrix in one launch: one thread group per matrix in shared
    /// memory (GPU family, n ≤ <see cref="PotrfMaxWholeOrder{T}"/>) or one thread per matrix
    /// (CPU family).
    /// </param>
    /// <exception cref="ArgumentException">A is not square, info's shape is not [batch, 1, 1], or A broadcasts (batch stride 0).</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The block size is negative, or on the GPU family its diagonal blocks, min(blockSize, n),
    /// exceed <see cref="PotrfMaxWholeOrder{T}"/>.
    /// </exception>
    /// <exception cref="NotSupportedException">The element type is neither float nor double.</exception>
    /// <remarks>
    /// Blocked right-looking: for each diagonal block, an unblocked kernel factors A11 = L11·L11ᵀ
    /// (recording a failure only while info is still 0, so the first failing minor is reported),
    /// the panel becomes L21 = A21·L11⁻ᵀ (TRSM), and the trailing matrix is updated,
    /// A22 −= L21·L21ᵀ, on its lower triangle only. A NaN in row k of A's lower triangle reaches
    /// the pivots of rows k and later only, so it is reported as minor k + 1 unless an earlier
    /// minor fails first.
    /// </remarks>
    public static void Potrf<T>(Device device, MatRef<T> a, DeviceTensor<int> info, int blockSize = 0) where T : unmanaged, INumber<T>
    {
        CheckPotrf(device, a, info);
        var plan = CholeskyPlan.ForBlockSize<T>(device, a.Rows, a.Batch, blockSize, "Potrf");
        Run(device, a, info, plan);
    }

    /// <summary>
    /// <see cref="Potrf{T}(Device, MatRef{T}, DeviceTensor{int}, int)"/> executing a plan made for
    /// A's order and batch on this device (<see cref="CholeskyPlan.For{T}"/>).
    /// </summary>
    internal static void Potrf<T>(Device device, MatRef<T> a, DeviceTensor<int> info, CholeskyPlan plan) where T : unmanaged, INumber<T>
    {
        CheckPotrf(device, a, info);
        CheckPlan(plan, device, a.Rows, a.Batch, "Potrf");
        Run(device, a, info, plan);
    }

    private static void CheckPotrf<T>(Device device, MatRef<T> a, DeviceTensor<int> info) where T : unmanaged, INumber<T>
    {
        var shape = new Shape(a.Batch, a.Rows, a.Cols);
        CheckFloatingPoint<T>("Potrf");
        if (a.Rows != a.Cols)
            throw ShapeErrors.Invalid("Potrf", "the matrices must be square", shape);
        if (info.Shape != new Shape(a.Batch, 1, 1))
            throw ShapeErrors.Mismatch("Potrf", "info must be [batch, 1, 1] for A of shape [batch, n, n]", shape, info.Shape);
        if (info.Device != device)
            throw new ArgumentException($"Potrf: info belongs to {info.Device}, not to {device}.");
        if (a.Batch > 1 && a.BatchStride == 0 && a.Rows > 0)
            throw ShapeErrors.Invalid("Potrf", "a broadcast matrix (batch stride 0) cannot be factored in place", shape);
    }

    private static void CheckPlan(CholeskyPlan plan, Device device, int n, int batch, string op)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.N != n || plan.Batch != batch || plan.Family != device.Family)
            throw new ArgumentException($"{op}: the plan is for {plan.Batch} matrices of order {plan.N} on the {plan.Family} family, not {batch} of order {n} on {device.Name}.");
    }

    /// <summary>
    /// Executes the forward's steps. Blocked right-looking; on the GPU family one launch per block
    /// factors it, solves the panel below it and clears the upper triangle of its rows
    /// (<see cref="PotrfPanelGpu"/>, which also writes info), and with look-ahead also runs the
    /// previous panel's trailing update right of the block as GEMM tiles beside the panel groups,
    /// which update the block's own columns themselves first. With two levels each outer diagonal
    /// block is factored by its inner plan (this method on the block, its minors numbered from
    /// <paramref name="offset"/>), its panel solved against it, and the trailing matrix updated.
    /// </summary>
    private static void Run<T>(Device device, MatRef<T> a, DeviceTensor<int> info, CholeskyPlan plan, int offset = 0) where T : unmanaged, INumber<T>
    {
        if (plan.Forward.Count == 0) return;
        int n = a.Rows, nb = plan.BlockSize;
        bool twoLevel = plan.Levels == 2, byInverse = twoLevel && plan.PanelByInverse;
        using var _ = device.Enter();
        using var work = plan.ForwardWorkBlock ? device.Allocate<T>(new Shape(a.Batch, nb, nb)) : null;
        using var inverse = byInverse ? device.Allocate<T>(new Shape(a.Batch, nb, nb)) : null;
        using var scratch = byInverse && device.Family == KernelFamily.GpuTuned ? device.Allocate<T>(new Shape(a.Batch, nb, nb)) : null;
        using var panel = byInverse ? device.Allocate<T>(new Shape(a.Batch, n - nb, nb)) : null;
        foreach (var step in plan.Forward)
        {
            if (OrderStreams(device, step.Kind)) continue;
            int k0 = step.J0, w = step.Width, k1 = k0 + w;
            switch (step.Kind)
            {
                case CholeskyStepKind.ClearInfo:
                    if (offset == 0) info.Clear();
                    break;
                case CholeskyStepKind.FactorWhole:
                    FactorDiagonalBlock(device, a, info.View, 0, whole: true, plan.WholeLanes); // writes info and clears the upper triangle itself
                    break;
                case CholeskyStepKind.FactorDataflow:
                    if (typeof(T) == typeof(double)) PotrfDataflowGpu.Factor(device, Unsafe.As<MatRef<T>, MatRef<double>>(ref a), info, plan.BlockSize);
                    else PotrfDataflowGpu.Factor(device, Unsafe.As<MatRef<T>, MatRef<float>>(ref a), info, plan.BlockSize);
                    break;
                case CholeskyStepKind.Factor:
                    FactorDiagonalBlock(device, a.Block(k0, k0, w, w), info.View, offset + k0, whole: false, plan.WholeLanes);
                    break;
                case CholeskyStepKind.PanelSolve:
                    Trsm(device, a.Block(k0, k0, w, w), a.Block(k1, k0, n - k1, w), left: false, lower: true, transpose: true, unitDiagonal: false, T.One,
                        blockSize: twoLevel ? Math.Min(plan.LeafBlockSize, w) : 0);
                    break;
                case CholeskyStepKind.TrailingUpdate when step.Columns > 0:
                {
                    // The next block's columns only: its diagonal block's lower triangle and the rows below it.
                    int c = step.Columns, k2 = k1 + c;
                    var next = a.Block(k1, k0, c, w);
                    ReadOnlySpan<GemmProduct<T>> products =
                    [
                        new(next, false, next, true, a.Block(k1, k1, c, c), -T.One, T.One, LowerOnly: true),
                        new(a.Block(k2, k0, n - k2, w), false, next, true, a.Block(k2, k1, n - k2, c), -T.One, T.One),
                    ];
                    GemmGrouped(device, products, step.Gemm);
                    break;
                }
                case CholeskyStepKind.TrailingUpdate:
                {
                    // All of the trailing matrix, or (Columns < 0) the part beyond the next block's columns, on the side stream when the step says.
                    int c0 = k1 - Math.Min(0, step.Columns);
                    var l21 = a.Block(c0, k0, n - c0, w);
                    using var side = device.OnSide(step.Side);
                    Gemm(device, l21, transA: false, l21, transB: true, a.Block(c0, c0, n - c0, n - c0), -T.One, T.One, lowerOnly: true, step.Gemm);
                    break;
                }
                case CholeskyStepKind.ColumnUpdate:
                {
                    // Left-looking: A[k0:n, k0:k1] −= L[k0:n, K]·L[k0:k1, K]ᵀ over the step's columns K, the diagonal block's lower triangle.
                    int kf = step.KFrom, kw = step.KTo - step.KFrom;
                    var top = a.Block(k0, kf, w, kw);
                    using var side = device.OnSide(step.Side);
                    ReadOnlySpan<GemmProduct<T>> products =
                    [
                        new(top, false, top, true, a.Block(k0, k0, w, w), -T.One, T.One, LowerOnly: true),
                        new(a.Block(k1, kf, n - k1, kw), false, top, true, a.Block(k1, k0, n - k1, w), -T.One, T.One),
                    ];
                    GemmGrouped(device, k1 < n ? products : products[..1], step.Gemm);
                    break;
                }
                case CholeskyStepKind.Tril:
                    Elementwise.Map(device, new Maps.Tril<T>(0, T.One), a, a);
                    break;
                case CholeskyStepKind.Panel:
                case CholeskyStepKind.PanelLookAhead:
                    LaunchPanel(device, a, work!, info, plan, step, offset);
                    break;
                case CholeskyStepKind.FactorBlock:
                    Run(device, a.Block(k0, k0, w, w), info, step.Inner!, offset + k0);
                    break;
                case CholeskyStepKind.InvertBlock:
                    InvertLower(device, a.Block(k0, k0, w, w), inverse!.Mat.Block(0, 0, w, w), scratch?.Mat.Block(0, 0, w, w), Math.Min(plan.LeafBlockSize, w), step);
                    break;
                case CholeskyStepKind.PanelByInverse: // L21 = A21·L11⁻ᵀ
                    TimesInverse(device, a.Block(k1, k0, n - k1, w), panel!.Mat.Block(0, 0, n - k1, w), inverse!.Mat.Block(0, 0, w, w), transpose: true, step.Gemm);
                    break;
                default:
                    throw new InvalidOperationException($"Potrf: a forward plan cannot hold a {step.Kind} step.");
            }
        }
    }

    /// <summary>Carries out a step that orders the two streams (the host waits: Fork, Join); false for any other step.</summary>
    private static bool OrderStreams(Device device, CholeskyStepKind kind)
    {
        if (kind == CholeskyStepKind.Fork) device.WaitForDefaultStream();
        else if (kind == CholeskyStepKind.Join) device.WaitForSideStream();
        else return false;
        return true;
    }

    /// <summary>
    /// X ← X·op(T⁻¹) against a diagonal block's inverse (op(T⁻¹) = T⁻ᵀ when <paramref name="transpose"/>),
    /// the panel step of both passes: X is copied to <paramref name="copy"/> first, as a product
    /// cannot be written over its own operand.
    /// </summary>
    private static void TimesInverse<T>(Device device, MatRef<T> x, MatRef<T> copy, MatRef<T> inverse, bool transpose, GemmPlan? gemm) where T : unmanaged, INumber<T>
    {
        Elementwise.Map(device, new Maps.Axpby<T>(T.One, T.Zero), x, copy);
        Gemm(device, copy, transA: false, inverse, transB: transpose, x, T.One, T.Zero, lowerOnly: false, gemm);
    }

    /// <summary>
    /// TRTRI of a diagonal block of every matrix, <paramref name="inverse"/> ← T⁻¹ for the lower
    /// triangle of <paramref name="t"/> (its upper triangle is not read), the inverse's strict upper
    /// triangle zero: on the GPU family leaves of <paramref name="blockSize"/> inverted in one
    /// launch and a doubling of GEMMs (<see cref="TrtriGpu"/>, whose GEMM plans the step carries),
    /// on the CPU family a left triangular solve against I in blocks of <paramref name="blockSize"/>.
    /// </summary>
    private static void InvertLower<T>(Device device, MatRef<T> t, MatRef<T> inverse, MatRef<T>? scratch, int blockSize, CholeskyStep step)
        where T : unmanaged, INumber<T>
    {
        if (device.Family == KernelFamily.GpuTuned)
        {
            TrtriGpu.Invert(device, t, inverse, scratch!.Value, blockSize, step.Gemms!);
            return;
        }
        Elementwise.Map(device, new Maps.Identity<T>(T.One), inverse, inverse);
        Trsm(device, t, inverse, left: true, lower: true, transpose: false, unitDiagonal: false, T.One, blockSize);
    }

    /// <summary>The GPU family's panel launch of one block, with the previous panel's trailing update beside it under look-ahead.</summary>
    private static void LaunchPanel<T>(Device device, MatRef<T> a, DeviceTensor<T> work, DeviceTensor<int> info, CholeskyPlan plan, CholeskyStep step, int offset)
        where T : unmanaged, INumber<T>
    {
        int n = a.Rows, nb = plan.BlockSize, k0 = step.J0, w = step.Width, k1 = k0 + w;
        bool lookAhead = step.Kind == CholeskyStepKind.PanelLookAhead;
        var args = new PotrfPanelArgs
        {
            A = a.Block(k0, k0, w, w).Layout, Work = work.Mat.Layout,
            Prev = k0 > 0 ? a.Block(k0 - nb, k0 - nb, nb, nb).Layout : default, PrevN = k0 > 0 ? nb : 0,
            N = w, Rows = n - k1, Offset = offset + k0, Lanes = plan.PanelLanes,
            LookAhead = lookAhead && k0 > 0 ? 1 : 0,
        };
        if (!lookAhead)
        {
            if (typeof(T) == typeof(double))
                PotrfPanelGpu.Launch(device, a.Data.Cast<double>(), work.View.Cast<double>(), info.View, args, a.Batch);
            else
                PotrfPanelGpu.Launch(device, a.Data.Cast<float>(), work.View.Cast<float>(), info.View, args, a.Batch);
            return;
        }
        // The previous panel's update right of this block (none for the first and last blocks).
        GemmArgs<T> update = default;
        if (k0 > 0 && k1 < n)
        {
            var l21 = a.Block(k1, k0 - nb, n - k1, nb);
            GemmArgsOf(device, l21, false, l21, true, a.Block(k1, k1, n - k1, n - k1), -T.One, T.One, lowerOnly: true, out update);
        }
        var tiling = step.Gemm!.Value.Tiling;
        if (typeof(T) == typeof(double))
            PotrfPanelGpu.LaunchLookAhead(device, a.Data.Cast<double>(), work.View.Cast<double>(), info.View, args,
                Unsafe.As<GemmArgs<T>, GemmArgs<double>>(ref update), tiling, a.Batch);
        else
            PotrfPanelGpu.LaunchLookAhead(device, a.Data.Cast<float>(), work.View.Cast<float>(), info.View, args,
                Unsafe.As<GemmArgs<T>, GemmArgs<float>>(ref update), tiling, a.Batch);
    }

    /// <summary>
    /// The largest order whose matrices one kernel factors or differentiates whole
    /// (<see cref="CholeskyPlan.MaxWholeOrder{T}"/>): on the GPU family the largest n whose two
    /// packed triangles, n(n+1)·sizeof(T) bytes, fit the 48 KiB of shared memory a CUDA thread group
    /// gets by default (77 in float64, 110 in float32); unlimited (<see cref="int.MaxValue"/>) on
    /// the CPU family, where one thread works on each matrix in place.
    /// </summary>
    /// <param name="device">The device whose kernel family decides.</param>
    public static int PotrfMaxWholeOrder<T>(Device device) where T : unmanaged, INumber<T> => CholeskyPlan.MaxWholeOrder<T>(device);

    private static void CheckFloatingPoint<T>(string op)
    {
        if (typeof(T) != typeof(double) && typeof(T) != typeof(float))
            throw new NotSupportedException($"{op}: element type {typeof(T).Name} is not supported (float or double).");
    }

    /// <summary>
    /// Cholesky factorization in place on a whole tensor A [batch, n, n]: the lower triangle becomes
    /// L with A = L·Lᵀ and the strict upper triangle zero. <paramref name="info"/> [batch, 1, 1]
    /// receives 0 or the one-based order of the first leading minor that is not positive-definite.
    /// </summary>
    /// <param name="a">The symmetric matrices (only the lower triangle is read), overwritten by L.</param>
    /// <param name="info">[batch, 1, 1]: the status of every matrix, on A's device.</param>
    /// <exception cref="ArgumentException">A is not square, info's shape is not [batch, 1, 1], or the devices differ.</exception>
    /// <exception cref="NotSupportedException">The element type is neither float nor double.</exception>
    public static void Potrf<T>(DeviceTensor<T> a, DeviceTensor<int> info) where T : unmanaged, INumber<T>
    {
        if (!a.Shape.IsSquare)
            throw ShapeErrors.Invalid("Potrf", "the matrices must be square", a.Shape);
        Potrf(a.Device, a.Mat, info);
    }

    /// <summary>
    /// Factors one diagonal block of every matrix with the family's unblocked kernel. The kernels
    /// need a square root, which generic math offers through <see cref="IRootFunctions{T}"/>: the
    /// element type, float or double, is resolved here on the host.
    /// </summary>
    private static void FactorDiagonalBlock<T>(Device device, MatRef<T> a11, ArrayView<int> info, int offset, bool whole, int lanes)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double))
            FactorDiagonalBlockOf(device, Unsafe.As<MatRef<T>, MatRef<double>>(ref a11), info, offset, whole, lanes);
        else
            FactorDiagonalBlockOf(device, Unsafe.As<MatRef<T>, MatRef<float>>(ref a11), info, offset, whole, lanes);
    }

    private static void FactorDiagonalBlockOf<T>(Device device, MatRef<T> a11, ArrayView<int> info, int offset, bool whole, int lanes)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var args = new PotrfArgs { A = a11.Layout, N = a11.Rows, Offset = offset, Whole = whole ? 1 : 0, Lanes = lanes };
        if (device.Family == KernelFamily.GpuTuned)
            PotrfGpu.Launch(device, a11.Data, info, args, a11.Batch);
        else
            PotrfCpu.Launch(device, a11.Data, info, args, a11.Batch);
    }
}
