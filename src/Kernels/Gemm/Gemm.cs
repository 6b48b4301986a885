using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of one batched GEMM launch (everything but the views).</summary>
internal struct GemmArgs<T> where T : unmanaged
{
    public MatLayout A, B, C;
    public int M, N, K;
    public int TransA, TransB;
    public T Alpha, Beta;
    public int BatchBase; // first batch element of this launch (launches are chunked over the grid's z limit)
    public int LowerOnly; // C is square: compute only the tiles that reach on or below the diagonal
    public int Splits;    // GPU family: splits along K (≤ 1: none)
    public int SplitK;    // GPU family: the K range of one split
    public int Batch;     // GPU family: matrices of the whole product (the split-K workspace's stride)
    public long WorkOffset; // GPU family: this product's first element in the split-K workspace
}

/// <summary>One product of a grouped GEMM: C = α·op(A)·op(B) + β·C, optionally C's lower triangle only.</summary>
internal readonly record struct GemmProduct<T>(MatRef<T> A, bool TransA, MatRef<T> B, bool TransB, MatRef<T> C, T Alpha, T Beta, bool LowerOnly = false)
    where T : unmanaged;

/// <summary>Up to three products of one grouped launch; the grid's x index runs over their tiles in order.</summary>
internal struct GemmGroupArgs<T> where T : unmanaged
{
    public GemmArgs<T> P0, P1, P2;
    public int Count;

    public void Set(int i, GemmArgs<T> args)
    {
        if (i == 0) P0 = args; else if (i == 1) P1 = args; else P2 = args;
        Count = Math.Max(Count, i + 1);
    }

    public readonly GemmArgs<T> Get(int i) => i == 0 ? P0 : i == 1 ? P1 : P2;
}

/// <summary>Batched dense matrix products.</summary>
internal static partial class Blas
{
    /// <summary>
    /// <c>C = α·op(A)·op(B) + β·C</c> for every matrix of the batch, op ∈ {none, transpose}, in
    /// one launch. op(A) is [m, k], op(B) is [k, n], C is [m, n]. An operand whose batch stride is
    /// 0 broadcasts. With β = 0, C is only written (its old contents, NaN included, are ignored).
    /// </summary>
    /// <exception cref="ArgumentException">The dimensions or batches do not agree.</exception>
    public static void Gemm<T>(Device device, MatRef<T> a, bool transA, MatRef<T> b, bool transB, MatRef<T> c, T alpha, T beta)
        where T : unmanaged, INumber<T> =>
        Gemm(device, a, transA, b, transB, c, alpha, beta, lowerOnly: false);

    /// <summary>
    /// <see cref="Gemm{T}(Device, MatRef{T}, bool, MatRef{T}, bool, MatRef{T}, T, T)"/>, optionally
    /// only for C's lower triangle (a SYRK-like update: a blocked Cholesky's trailing
    /// <c>A22 −= L21·L21ᵀ</c>). With <paramref name="lowerOnly"/>, C must be square; every element on
    /// or below the diagonal is computed, tiles strictly above it are skipped (half the flops), and
    /// the elements above the diagonal are left undefined. A plan made for this product's shape
    /// (a step of a <see cref="CholeskyPlan"/>) replaces the GEMM policy's choice on the GPU family.
    /// </summary>
    internal static void Gemm<T>(Device device, MatRef<T> a, bool transA, MatRef<T> b, bool transB, MatRef<T> c, T alpha, T beta, bool lowerOnly,
        GemmPlan? plan = null) where T : unmanaged, INumber<T>
    {
        if (!GemmArgsOf(device, a, transA, b, transB, c, alpha, beta, lowerOnly, out var args)) return;
        using var _ = device.Enter();
        if (device.Family == KernelFamily.GpuTuned)
        {
            var group = new GemmGroupArgs<T>();
            group.Set(0, args);
            LaunchGpu(device, a.Data, b.Data, c.Data, group, c.Batch, tiling: null, plan: plan);
        }
        else
            GemmCpu.Launch(device, a.Data, b.Data, c.Data, args, c.Batch);
    }

    /// <summary>
    /// Runs a group of products on the GPU family with a plan made for their shapes (a
    /// <see cref="CholeskyPlan"/>'s step), else the policy's (<see cref="GemmPolicy"/>), or with a
    /// given tiling and splits (the tuning sweep and the tests).
    /// </summary>
    internal static void LaunchGpu<T>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmGroupArgs<T> group, int batch,
        GemmTiling? tiling, int splits = 0, GemmPlan? plan = null) where T : unmanaged, INumber<T>
    {
        Span<GemmArgs<T>> products = [group.P0, group.P1, group.P2];
        if (plan is { } given && given.Splits.Length != group.Count)
            throw new InvalidOperationException($"Gemm: a plan for {given.Splits.Length} products given to a launch of {group.Count}.");
        var chosen = plan ?? GemmPolicy.Choose<T>(device, products[..group.Count], batch);
        if (tiling is null && splits == 0 && chosen.Provider == GemmProvider.Cublas && device.Cublas is { } cublas)
        {
            for (int i = 0; i < group.Count; i++)
                cublas.Gemm(a, b, c, group.Get(i), batch);
            return;
        }
        if (chosen.Provider == GemmProvider.Cublas) chosen = GemmPolicy.Choose<T>(device.Tuning, device.Multiprocessors, products[..group.Count], batch, device.SupportsDmma);
        for (int i = 0; i < group.Count; i++)
        {
            var p = group.Get(i);
            if (splits > 0)
            {
                // A forced split count: K ranges of whole slices, as many as K allows.
                (p.Splits, p.SplitK) = GemmPolicy.Split(p.K, splits, (tiling ?? chosen.Tiling).SliceK);
            }
            else
            {
                p.Splits = chosen.Splits[i];
                p.SplitK = chosen.SplitK[i];
            }
            group.Set(i, p);
        }
        GemmGpu.Launch(device, a, b, c, group, batch, tiling ?? chosen.Tiling);
    }

    /// <summary>
    /// <see cref="Gemm{T}(Device, MatRef{T}, bool, MatRef{T}, bool, MatRef{T}, T, T)"/> on the GPU
    /// family with a given tiling and number of splits along K (0: the policy's), bypassing the
    /// policy: the tuning sweep times each variant, and the tests check each one.
    /// </summary>
    internal static void GemmWith<T>(Device device, MatRef<T> a, bool transA, MatRef<T> b, bool transB, MatRef<T> c, T alpha, T beta,
        GemmTiling tiling, int splits, bool lowerOnly = false) where T : unmanaged, INumber<T>
    {
        if (device.Family != KernelFamily.GpuTuned)
            throw new ArgumentException("Gemm: tilings and split-K belong to the GPU family.");
        if (!GemmArgsOf(device, a, transA, b, transB, c, alpha, beta, lowerOnly, out var args)) return;
        using var _ = device.Enter();
        var group = new GemmGroupArgs<T>();
        group.Set(0, args);
        LaunchGpu(device, a.Data, b.Data, c.Data, group, c.Batch, tiling, Math.Max(1, splits));
    }

    /// <summary>
    /// Up to three independent products C_i = α_i·op(A_i)·op(B_i) + β_i·C_i over one batch, whose
    /// A, B and C views are each one array (blocks of the same tensors, the caller's promise,
    /// checked only by length: a blocked Cholesky reverse's updates): one launch on the GPU family, one per product on the CPU family. The
    /// outputs must not overlap each other or any input.
    /// </summary>
    internal static void GemmGrouped<T>(Device device, ReadOnlySpan<GemmProduct<T>> products, GemmPlan? plan = null) where T : unmanaged, INumber<T>
    {
        if (device.Family != KernelFamily.GpuTuned || products.Length > GemmGpu.MaxGroup)
        {
            foreach (var q in products)
                Gemm(device, q.A, q.TransA, q.B, q.TransB, q.C, q.Alpha, q.Beta, q.LowerOnly);
            return;
        }
        var group = new GemmGroupArgs<T>();
        int count = 0, batch = 0;
        ArrayView<T> av = default, bv = default, cv = default;
        foreach (var q in products)
        {
            if (count > 0 && (q.C.Batch != batch || q.A.Data.Length != av.Length || q.B.Data.Length != bv.Length || q.C.Data.Length != cv.Length))
                throw new ArgumentException("Gemm: grouped products must share their A, B and C arrays and their batch.");
            if (GemmArgsOf(device, q.A, q.TransA, q.B, q.TransB, q.C, q.Alpha, q.Beta, q.LowerOnly, out var args))
            {
                if (count == 0) { av = q.A.Data; bv = q.B.Data; cv = q.C.Data; batch = q.C.Batch; }
                group.Set(count++, args);
            }
        }
        if (count == 0) return;
        using var _ = device.Enter();
        LaunchGpu(device, av, bv, cv, group, batch, tiling: null, plan: count == products.Length ? plan : null);
    }

    /// <summary>Validates one product and builds its kernel arguments; false when nothing is left to launch.</summary>
    private static bool GemmArgsOf<T>(Device device, MatRef<T> a, bool transA, MatRef<T> b, bool transB, MatRef<T> c, T alpha, T beta, bool lowerOnly, out GemmArgs<T> args)
        where T : unmanaged, INumber<T>
    {
        args = default;
        int m = transA ? a.Cols : a.Rows, ka = transA ? a.Rows : a.Cols;
        int kb = transB ? b.Cols : b.Rows, n = transB ? b.Rows : b.Cols;
        if (ka != kb || c.Rows != m || c.Cols != n)
            throw new ArgumentException($"Gemm: op(A) is [{m}, {ka}], op(B) is [{kb}, {n}], C is [{c.Rows}, {c.Cols}]: the dimensions do not agree.");
        if (lowerOnly && m != n)
            throw new ArgumentException($"Gemm: a lower-triangle update needs a square C, got [{m}, {n}].");
        CheckBatch("Gemm", a.Batch, a.BatchStride, c.Batch);
        CheckBatch("Gemm", b.Batch, b.BatchStride, c.Batch);
        if (m == 0 || n == 0 || c.Batch == 0) return false;
        if (ka == 0 || alpha == T.Zero)
        {
            Elementwise.ScaleInPlace(device, c, beta);
            return false;
        }
        args = new GemmArgs<T>
        {
            A = a.Layout, B = b.Layout, C = c.Layout,
            M = m, N = n, K = ka,
            TransA = transA ? 1 : 0, TransB = transB ? 1 : 0,
            Alpha = alpha, Beta = beta,
            LowerOnly = lowerOnly ? 1 : 0,
        };
        return true;
    }

    /// <summary>
    /// <c>C = α·op(A)·op(B) + β·C</c> on whole tensors: A and B may have batch 1 (broadcast) or C's batch.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes or devices do not agree.</exception>
    public static void Gemm<T>(DeviceTensor<T> a, DeviceTensor<T> b, DeviceTensor<T> c, bool transA = false, bool transB = false, T? alpha = null, T? beta = null)
        where T : unmanaged, INumber<T>
    {
        SameDevice("Gemm", a, b, c);
        Gemm(a.Device, Broadcast(a, c.Batch, "Gemm"), transA, Broadcast(b, c.Batch, "Gemm"), transB, c.Mat, alpha ?? T.One, beta ?? T.Zero);
    }

    /// <summary>The tensor as a batch of <paramref name="batch"/> matrices, broadcasting a batch of 1.</summary>
    internal static MatRef<T> Broadcast<T>(DeviceTensor<T> t, int batch, string op) where T : unmanaged, INumber<T>
    {
        if (t.Batch == batch) return t.Mat;
        if (t.Batch == 1) return t.Mat with { BatchStride = 0, Batch = batch };
        throw new ArgumentException($"{op}: an operand of shape {t.Shape} cannot broadcast to a batch of {batch}.");
    }

    internal static void CheckBatch(string op, int operandBatch, long stride, int batch)
    {
        if (operandBatch != batch && !(stride == 0))
            throw new ArgumentException($"{op}: an operand has batch {operandBatch} but the result has batch {batch}.");
    }

    internal static void SameDevice<T>(string op, params DeviceTensor<T>[] tensors) where T : unmanaged, INumber<T>
    {
        foreach (var t in tensors)
            if (t.Device != tensors[0].Device)
                throw new ArgumentException($"{op}: the tensors belong to different devices ({tensors[0].Device} and {t.Device}).");
    }
}
