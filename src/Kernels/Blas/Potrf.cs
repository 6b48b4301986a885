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

public static partial class Blas
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
    /// n = 512 on the CPU family and up to <see cref="PotrfMaxUnblockedOrder{T}"/> on the GPU
    /// family, else blocks of 64 (CPU), or of 32 (GPU; 64 beyond n = 512). A block size of at
    /// least n factors each matrix in one launch: one thread group per matrix in shared
    /// memory (GPU family, n ≤ <see cref="PotrfMaxUnblockedOrder{T}"/>) or one thread per matrix
    /// (CPU family).
    /// </param>
    /// <exception cref="ArgumentException">A is not square, info's shape is not [batch, 1, 1], or A broadcasts (batch stride 0).</exception>
    /// <exception cref="ArgumentOutOfRangeException">
    /// The block size is negative, or on the GPU family its diagonal blocks, min(blockSize, n),
    /// exceed <see cref="PotrfMaxUnblockedOrder{T}"/>.
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
        int n = a.Rows;
        int nb = CheckBlockSize<T>(device, "Potrf", blockSize, n, PotrfBlockSize<T>(device, n, a.Batch));
        if (a.Batch == 0) return;

        using var _ = device.Enter();
        if (n == 0)
        {
            info.Clear();
            return;
        }
        if (nb >= n)
        {
            FactorDiagonalBlock(device, a, info.View, 0, whole: true); // writes info and clears the upper triangle itself
            return;
        }
        if (device.Family == KernelFamily.GpuTuned)
        {
            FactorBlockedGpu(device, a, info, nb);
            return;
        }
        info.Clear();
        for (int k0 = 0; k0 < n; k0 += nb)
        {
            int w = Math.Min(nb, n - k0), k1 = k0 + w;
            var a11 = a.Block(k0, k0, w, w);
            FactorDiagonalBlock(device, a11, info.View, k0, whole: false);
            if (k1 == n) break;
            var a21 = a.Block(k1, k0, n - k1, w);
            Trsm(device, a11, a21, left: false, lower: true, transpose: true, unitDiagonal: false, T.One);
            Gemm(device, a21, transA: false, a21, transB: true, a.Block(k1, k1, n - k1, n - k1), -T.One, T.One, lowerOnly: true);
        }
        Elementwise.Map(device, new Maps.Tril<T>(0, T.One), a, a);
    }

    /// <summary>
    /// The GPU family's blocked factorization: per diagonal block one launch factoring it, solving
    /// the panel below it and clearing the upper triangle of its rows (<see cref="PotrfPanelGpu"/>,
    /// which also writes info). With the table's look-ahead (<see cref="TuningTable.PotrfLookAhead"/>)
    /// that launch also runs the previous panel's trailing update right of the block, A[k1.., k1..]
    /// −= L21·L21ᵀ, as GEMM tiles beside the panel groups, which update the block's own columns
    /// themselves first: one launch per block. Without it, one trailing-update launch follows each
    /// panel launch. No separate TRSM, clearing of info or final tril. <see cref="PotrfLaunches"/>
    /// counts these launches.
    /// </summary>
    private static void FactorBlockedGpu<T>(Device device, MatRef<T> a, DeviceTensor<int> info, int nb) where T : unmanaged, INumber<T>
    {
        int n = a.Rows;
        bool lookAhead = device.Tuning.PotrfLookAhead;
        using var work = device.Allocate<T>(new Shape(a.Batch, nb, nb));
        for (int k0 = 0; k0 < n; k0 += nb)
        {
            int w = Math.Min(nb, n - k0), k1 = k0 + w;
            var args = new PotrfPanelArgs
            {
                A = a.Block(k0, k0, w, w).Layout, Work = work.Mat.Layout,
                Prev = k0 > 0 ? a.Block(k0 - nb, k0 - nb, nb, nb).Layout : default, PrevN = k0 > 0 ? nb : 0,
                N = w, Rows = n - k1, Offset = k0, Lanes = device.Tuning.PotrfPanelLanes,
                LookAhead = lookAhead && k0 > 0 ? 1 : 0,
            };
            if (lookAhead)
            {
                // The previous panel's update right of this block (none for the first and last blocks).
                GemmArgs<T> update = default;
                if (k0 > 0 && k1 < n)
                {
                    var l21 = a.Block(k1, k0 - nb, n - k1, nb);
                    GemmArgsOf(device, l21, false, l21, true, a.Block(k1, k1, n - k1, n - k1), -T.One, T.One, lowerOnly: true, out update);
                }
                var tiling = GemmPolicy.TilingFor<T>(device, n - k1, n - k1, nb, a.Batch);
                if (typeof(T) == typeof(double))
                    PotrfPanelGpu.LaunchLookAhead(device, a.Data.Cast<double>(), work.View.Cast<double>(), info.View, args,
                        Unsafe.As<GemmArgs<T>, GemmArgs<double>>(ref update), tiling, a.Batch);
                else
                    PotrfPanelGpu.LaunchLookAhead(device, a.Data.Cast<float>(), work.View.Cast<float>(), info.View, args,
                        Unsafe.As<GemmArgs<T>, GemmArgs<float>>(ref update), tiling, a.Batch);
                continue;
            }
            if (typeof(T) == typeof(double))
                PotrfPanelGpu.Launch(device, a.Data.Cast<double>(), work.View.Cast<double>(), info.View, args, a.Batch);
            else
                PotrfPanelGpu.Launch(device, a.Data.Cast<float>(), work.View.Cast<float>(), info.View, args, a.Batch);
            if (k1 == n) break;
            var a21 = a.Block(k1, k0, n - k1, w);
            Gemm(device, a21, transA: false, a21, transB: true, a.Block(k1, k1, n - k1, n - k1), -T.One, T.One, lowerOnly: true);
        }
    }

    /// <summary>
    /// The kernel launches (and fills) <see cref="Potrf{T}(Device, MatRef{T}, DeviceTensor{int}, int)"/>
    /// makes for a batch of order-n matrices with diagonal blocks of <paramref name="blockSize"/>
    /// (0: the automatic choice), as <see cref="Device.Launches"/> counts them, without running it:
    /// the same block walk as the factorization. Assumes a batch within one launch's grid.
    /// </summary>
    /// <param name="device">The device whose kernel family and policy decide.</param>
    /// <param name="n">The order of the matrices.</param>
    /// <param name="batch">The number of matrices.</param>
    /// <param name="blockSize">The block size, as given to Potrf.</param>
    internal static int PotrfLaunches<T>(Device device, int n, int batch, int blockSize = 0) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(device);
        if (n == 0 || batch == 0) return n == 0 && batch > 0 ? 1 : 0;
        int nb = blockSize == 0 ? PotrfBlockSize<T>(device, n, batch) : blockSize;
        if (nb >= n) return 1;
        int blocks = (n + nb - 1) / nb;
        if (device.Family == KernelFamily.GpuTuned)
        {
            if (device.Tuning.PotrfLookAhead) return blocks; // the trailing updates run inside the panel launches
            // Per block the panel step, and the trailing update (split along K where the policy says) but after the last.
            int launches = blocks;
            for (int k1 = nb; k1 < n; k1 += nb)
                launches += GemmPolicy.Launches<T>(device, [new GemmArgs<T> { M = n - k1, N = n - k1, K = nb }], batch);
            return launches;
        }
        int trsm = TrsmLaunches(device, nb, 0);
        return 1 + blocks + (blocks - 1) * (trsm + 1) + 1; // clear info, per block factor (+ TRSM + update), tril
    }

    /// <summary>
    /// The largest order whose matrices one kernel factors (<see cref="Potrf{T}(Device, MatRef{T}, DeviceTensor{int}, int)"/>)
    /// or differentiates (<see cref="PotrfBackward{T}"/>) whole, one matrix per launch unit: on the
    /// GPU family the largest n whose two packed triangles, n(n+1)·sizeof(T) bytes, fit the 48 KiB of
    /// shared memory a CUDA thread group gets by default (77 in float64, 110 in float32); unlimited
    /// (<see cref="int.MaxValue"/>) on the CPU family, where one thread works on each matrix in place.
    /// </summary>
    /// <param name="device">The device whose kernel family decides.</param>
    public static int PotrfMaxUnblockedOrder<T>(Device device) where T : unmanaged, INumber<T> =>
        device.Family == KernelFamily.GpuTuned ? PotrfGpu.MaxOrder(Unsafe.SizeOf<T>()) : int.MaxValue;

    /// <summary>
    /// The block size <see cref="Potrf{T}(Device, MatRef{T}, DeviceTensor{int}, int)"/> and
    /// <see cref="PotrfBackward{T}"/> use when given 0: the whole matrix (one launch per pass) up
    /// to <see cref="PotrfSmallOrder{T}"/>, else <see cref="PotrfBlockedBlockSize"/>.
    /// </summary>
    internal static int PotrfBlockSize<T>(Device device, int n, int batch) where T : unmanaged, INumber<T> =>
        n <= PotrfSmallOrder<T>(device, batch) ? Math.Max(n, 1) : PotrfBlockedBlockSize(device, n);

    /// <summary>
    /// The largest order factored and differentiated whole (one kernel launch per pass, one
    /// thread group or thread per matrix). GPU family: <see cref="PotrfMaxUnblockedOrder{T}"/>, as
    /// far as shared memory allows — one launch per pass against, per block, one (forward, with
    /// look-ahead) or two (backward) plus split-K reductions — or the tuning table's lower
    /// <see cref="TuningTable.PotrfWholeUpTo"/>. CPU family: <see cref="PotrfCpu.WholeUpTo"/> (timed).
    /// </summary>
    internal static int PotrfSmallOrder<T>(Device device, int batch) where T : unmanaged, INumber<T> =>
        device.Family != KernelFamily.GpuTuned ? PotrfCpu.WholeUpTo
        : device.Tuning.PotrfWholeUpTo > 0 ? Math.Min(device.Tuning.PotrfWholeUpTo, PotrfMaxUnblockedOrder<T>(device))
        : PotrfMaxUnblockedOrder<T>(device);

    /// <summary>
    /// The diagonal blocks of a blocked factorization or reverse. GPU family: the device's
    /// <see cref="TuningTable"/>, by default 32, and 64 beyond n = 512 (half the launches, and GEMM updates with K = 64 that reuse each staged tile twice
    /// as long; the unblocked kernels' serial chain is n steps whatever the block). CPU family: 64,
    /// the CPU GEMM's tiles and the CPU TRSM's blocks.
    /// </summary>
    internal static int PotrfBlockedBlockSize(Device device, int n) =>
        device.Family == KernelFamily.CpuTuned ? PotrfCpu.BlockSize
        : n > device.Tuning.PotrfLargeFrom ? device.Tuning.PotrfLargeBlock : device.Tuning.PotrfBlock;

    /// <summary>
    /// The block size to use: <paramref name="requested"/>, or <paramref name="automatic"/> for 0.
    /// Throws when it is negative, or when the GPU family's diagonal blocks would not fit a group's
    /// shared memory.
    /// </summary>
    private static int CheckBlockSize<T>(Device device, string op, int requested, int n, int automatic) where T : unmanaged, INumber<T>
    {
        if (requested < 0)
            throw new ArgumentOutOfRangeException("blockSize", requested, $"{op}: the block size must be positive (or 0 to choose it), got {requested}.");
        int nb = requested == 0 ? automatic : requested;
        int max = PotrfMaxUnblockedOrder<T>(device);
        if (Math.Min(nb, n) > max)
            throw new ArgumentOutOfRangeException("blockSize", requested,
                $"{op}: diagonal blocks of order {Math.Min(nb, n)} do not fit one thread group's shared memory on {device.Name}: at most {max} for {typeof(T).Name}.");
        return nb;
    }

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
    private static void FactorDiagonalBlock<T>(Device device, MatRef<T> a11, ArrayView<int> info, int offset, bool whole)
        where T : unmanaged, INumber<T>
    {
        if (typeof(T) == typeof(double))
            FactorDiagonalBlockOf(device, Unsafe.As<MatRef<T>, MatRef<double>>(ref a11), info, offset, whole);
        else
            FactorDiagonalBlockOf(device, Unsafe.As<MatRef<T>, MatRef<float>>(ref a11), info, offset, whole);
    }

    private static void FactorDiagonalBlockOf<T>(Device device, MatRef<T> a11, ArrayView<int> info, int offset, bool whole)
        where T : unmanaged, INumber<T>, IRootFunctions<T>
    {
        var args = new PotrfArgs { A = a11.Layout, N = a11.Rows, Offset = offset, Whole = whole ? 1 : 0, Lanes = device.Tuning.PotrfWholeLanes };
        if (device.Family == KernelFamily.GpuTuned)
            PotrfGpu.Launch(device, a11.Data, info, args, a11.Batch);
        else
            PotrfCpu.Launch(device, a11.Data, info, args, a11.Batch);
    }
}
