using System.Numerics;
using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Frontend;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned batched GEMM: one simulated thread per 64×64 block of one matrix of C, no barriers.
/// K is walked in slices of 128; for each slice the thread packs its 64×128 block of op(A) into
/// micro-panels of 8 rows (k-major) and its 128×64 block of op(B) into micro-panels of NR columns
/// (k-major), zero-padded, on its own stack. Packing makes every operand layout (transposed or not,
/// any leading dimension — powers of two alias in the caches otherwise) read the same contiguous
/// streams. An 8×NR register tile, NR = two SIMD vectors (<see cref="Vector{T}"/>: 8 doubles or 16
/// floats with 256-bit vectors), accumulates each micro-panel pair: per k, two vector loads of B,
/// eight broadcasts of A and sixteen vector multiply-adds into sixteen accumulators. The tile is
/// unrolled by hand (ILGPU and the JIT do not unroll loops). Elements are addressed through
/// pointers taken once per launch: the CPU accelerator runs this method's own code, and ILGPU's
/// view indexer checks bounds and the accelerator type on every access.
/// </summary>
/// <remarks>
/// Packing and the vector register tile make the inner loop contiguous vector loads and
/// multiply-adds, where an unpacked scalar tile reads strided elements one at a time. Vectors are
/// 256-bit: 512-bit ones run no faster on CPUs that split them into two 256-bit halves (Zen 4).
/// </remarks>
internal static class GemmCpu
{
    internal const int BlockM = 64, BlockN = 64, BlockK = 128; // BlockM = BlockN: the lower-only mapping needs square tiles
    private const int Mr = 8;                                   // rows of the register tile

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmArgs<T>>(Kernel<T>));
        long tilesM = (args.M + BlockM - 1) / BlockM, tilesN = (args.N + BlockN - 1) / BlockN;
        long tiles = (args.LowerOnly != 0 ? tilesM * (tilesM + 1) / 2 : tilesM * tilesN) * batch;
        if (tiles > int.MaxValue) throw new ArgumentException($"Gemm: {tiles} blocks exceed one launch.");
        args.BatchBase = 0;
        kernel((int)tiles, a, b, c, args);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Kernel<T>(Index1D task, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        int tilesM = (p.M + BlockM - 1) / BlockM, tilesN = (p.N + BlockN - 1) / BlockN;
        int perMatrix = p.LowerOnly != 0 ? tilesM * (tilesM + 1) / 2 : tilesM * tilesN;
        int batch = task / perMatrix, t = task % perMatrix;
        int ti = t / tilesN, tj = t % tilesN;
        if (p.LowerOnly != 0)
        {
            // Square C and square tiles: the lower tiles (tj ≤ ti) numbered row by row, t = ti(ti+1)/2 + tj.
            ti = (int)((XMath.Sqrt(8.0 * t + 1) - 1) / 2);
            while (ti * (ti + 1) / 2 > t) ti--;
            while ((ti + 1) * (ti + 2) / 2 <= t) ti++;
            tj = t - ti * (ti + 1) / 2;
        }
        fixed (T* a0 = &a[0L])
        fixed (T* b0 = &b[0L])
        fixed (T* c0 = &c[0L])
        {
            Tile(a0 + p.A.Offset + batch * p.A.BatchStride, b0 + p.B.Offset + batch * p.B.BatchStride,
                c0 + p.C.Offset + batch * p.C.BatchStride, p, ti * BlockM, tj * BlockN);
        }
    }

    /// <summary>
    /// C[i0.., j0..] (one 64×64 block, clipped to C) = α·op(A)·op(B) + β·C. Plain .NET code, opaque to
    /// ILGPU's IR ([External]): ILGPU compiles a CPU kernel's IL to check it but runs the method
    /// itself, and its front end accepts neither SIMD vectors nor stackalloc, which this needs.
    /// </summary>
    [External("gpuad_gemm_cpu_tile")]
    [SkipLocalsInit] // the packing buffers are written before they are read
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Tile<T>(T* pa, T* pb, T* pc, GemmArgs<T> p, int i0, int j0)
        where T : unmanaged, INumber<T>
    {
        int rows = Math.Min(BlockM, p.M - i0), cols = Math.Min(BlockN, p.N - j0);
        int nr = 2 * Vector<T>.Count;
        long ldc = p.C.Ld;
        pc += i0 * ldc + j0;
        for (int i = 0; i < rows; i++)
        {
            T* row = pc + i * ldc;
            for (int j = 0; j < cols; j++)
                row[j] = p.Beta == T.Zero ? T.Zero : p.Beta * row[j];
        }

        T* packA = stackalloc T[BlockM * BlockK];
        T* packB = stackalloc T[BlockK * BlockN];
        for (int k0 = 0; k0 < p.K; k0 += BlockK)
        {
            int kc = Math.Min(BlockK, p.K - k0);
            PackA(pa, p.A.Ld, p.TransA != 0, i0, k0, rows, kc, packA);
            PackB(pb, p.B.Ld, p.TransB != 0, k0, j0, kc, cols, nr, packB);
            for (int jr = 0; jr < cols; jr += nr)
            {
                for (int ir = 0; ir < rows; ir += Mr)
                {
                    if (p.LowerOnly != 0 && i0 + ir + Mr - 1 < j0 + jr)
                        continue; // the register tile lies above the diagonal: left undefined
                    Micro(packA + ir * kc, packB + jr * kc, kc, pc + ir * ldc + jr, ldc,
                        Math.Min(Mr, rows - ir), Math.Min(nr, cols - jr), p.Alpha);
                }
            }
        }
    }

    /// <summary>
    /// op(A)[i0.., k0..] (rows × kc) into micro-panels of <see cref="Mr"/> rows: panel r, element
    /// (k, i) at r·Mr·kc + k·Mr + i; rows past the end are 0. Each stored row of A is read once, in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackA<T>(T* a, long lda, bool trans, int i0, int k0, int rows, int kc, T* dst)
        where T : unmanaged, INumber<T>
    {
        if (!trans)
        {
            for (int i = 0; i < rows; i++)
            {
                T* src = a + (i0 + i) * lda + k0; // row i of A: contiguous in k
                T* d = dst + i / Mr * Mr * kc + i % Mr;
                for (int k = 0; k < kc; k++) d[k * Mr] = src[k];
            }
        }
        else
        {
            for (int k = 0; k < kc; k++)
            {
                T* src = a + (k0 + k) * lda + i0; // row k of A's storage: contiguous in i
                for (int r0 = 0; r0 < rows; r0 += Mr)
                {
                    T* d = dst + r0 * kc + k * Mr;
                    int mr = Math.Min(Mr, rows - r0);
                    for (int i = 0; i < mr; i++) d[i] = src[r0 + i];
                }
            }
        }
        int last = rows / Mr * Mr;
        if (last == rows) return;
        T* ragged = dst + last * kc;
        for (int k = 0; k < kc; k++)
            for (int i = rows - last; i < Mr; i++) ragged[k * Mr + i] = T.Zero;
    }

    /// <summary>
    /// op(B)[k0.., j0..] (kc × cols) into micro-panels of nr columns: panel s, element (k, j) at
    /// s·nr·kc + k·nr + j; columns past the end are 0. Each stored row of B is read once, in order.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void PackB<T>(T* b, long ldb, bool trans, int k0, int j0, int kc, int cols, int nr, T* dst)
        where T : unmanaged, INumber<T>
    {
        if (!trans)
        {
            for (int k = 0; k < kc; k++)
            {
                T* src = b + (k0 + k) * ldb + j0; // row k of B: contiguous in j
                for (int c0 = 0; c0 < cols; c0 += nr)
                {
                    T* d = dst + c0 * kc + k * nr;
                    int w = Math.Min(nr, cols - c0);
                    for (int j = 0; j < w; j++) d[j] = src[c0 + j];
                }
            }
        }
        else
        {
            for (int j = 0; j < cols; j++)
            {
                T* src = b + (j0 + j) * ldb + k0; // row j of B's storage: contiguous in k
                T* d = dst + j / nr * nr * kc + j % nr;
                for (int k = 0; k < kc; k++) d[k * nr] = src[k];
            }
        }
        int last = cols / nr * nr;
        if (last == cols) return;
        T* ragged = dst + last * kc;
        for (int k = 0; k < kc; k++)
            for (int j = cols - last; j < nr; j++) ragged[k * nr + j] = T.Zero;
    }

    /// <summary>
    /// C[0..mr, 0..nc] += α·Ap·Bp for one packed micro-panel pair (Ap: kc×8, Bp: kc×2 vectors), with
    /// sixteen vector accumulators: row i of the tile is (c{i}0, c{i}1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Micro<T>(T* ap, T* bp, int kc, T* cp, long ldc, int mr, int nc, T alpha)
        where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count;
        Vector<T> c00 = Vector<T>.Zero, c01 = Vector<T>.Zero, c10 = Vector<T>.Zero, c11 = Vector<T>.Zero;
        Vector<T> c20 = Vector<T>.Zero, c21 = Vector<T>.Zero, c30 = Vector<T>.Zero, c31 = Vector<T>.Zero;
        Vector<T> c40 = Vector<T>.Zero, c41 = Vector<T>.Zero, c50 = Vector<T>.Zero, c51 = Vector<T>.Zero;
        Vector<T> c60 = Vector<T>.Zero, c61 = Vector<T>.Zero, c70 = Vector<T>.Zero, c71 = Vector<T>.Zero;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector.Load(bp);
            var b1 = Vector.Load(bp + w);
            var x = new Vector<T>(ap[0]); c00 += x * b0; c01 += x * b1;
            x = new Vector<T>(ap[1]); c10 += x * b0; c11 += x * b1;
            x = new Vector<T>(ap[2]); c20 += x * b0; c21 += x * b1;
            x = new Vector<T>(ap[3]); c30 += x * b0; c31 += x * b1;
            x = new Vector<T>(ap[4]); c40 += x * b0; c41 += x * b1;
            x = new Vector<T>(ap[5]); c50 += x * b0; c51 += x * b1;
            x = new Vector<T>(ap[6]); c60 += x * b0; c61 += x * b1;
            x = new Vector<T>(ap[7]); c70 += x * b0; c71 += x * b1;
            ap += Mr;
            bp += 2 * w;
        }
        var va = new Vector<T>(alpha);
        if (mr == Mr && nc == 2 * w)
        {
            AddRow(cp, w, va, c00, c01); cp += ldc;
            AddRow(cp, w, va, c10, c11); cp += ldc;
            AddRow(cp, w, va, c20, c21); cp += ldc;
            AddRow(cp, w, va, c30, c31); cp += ldc;
            AddRow(cp, w, va, c40, c41); cp += ldc;
            AddRow(cp, w, va, c50, c51); cp += ldc;
            AddRow(cp, w, va, c60, c61); cp += ldc;
            AddRow(cp, w, va, c70, c71);
            return;
        }
        // A ragged tile: through a buffer, only the elements inside C.
        T* tile = stackalloc T[Mr * 2 * w];
        int s = 2 * w;
        Vector.Store(c00, tile); Vector.Store(c01, tile + w);
        Vector.Store(c10, tile + s); Vector.Store(c11, tile + s + w);
        Vector.Store(c20, tile + 2 * s); Vector.Store(c21, tile + 2 * s + w);
        Vector.Store(c30, tile + 3 * s); Vector.Store(c31, tile + 3 * s + w);
        Vector.Store(c40, tile + 4 * s); Vector.Store(c41, tile + 4 * s + w);
        Vector.Store(c50, tile + 5 * s); Vector.Store(c51, tile + 5 * s + w);
        Vector.Store(c60, tile + 6 * s); Vector.Store(c61, tile + 6 * s + w);
        Vector.Store(c70, tile + 7 * s); Vector.Store(c71, tile + 7 * s + w);
        for (int i = 0; i < mr; i++)
            for (int j = 0; j < nc; j++)
                cp[i * ldc + j] += alpha * tile[i * s + j];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void AddRow<T>(T* row, int w, Vector<T> alpha, Vector<T> v0, Vector<T> v1)
        where T : unmanaged, INumber<T>
    {
        Vector.Store(Vector.Load(row) + alpha * v0, row);
        Vector.Store(Vector.Load(row + w) + alpha * v1, row + w);
    }
}
