using System.Numerics;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// CPU-tuned batched GEMM: one simulated thread per 64×64 block of one matrix of C, no
/// barriers; K walked in slices of 256 so the A and B panels stay in cache; a hand-unrolled
/// 4×4 register tile. Elements are addressed through pointers taken once per launch: the CPU
/// accelerator runs this method's own code, and ILGPU's view indexer checks bounds and the
/// accelerator type on every access (measured 4× slower at n = 1024).
/// </summary>
internal static class GemmCpu
{
    internal const int BlockM = 64, BlockN = 64, BlockK = 256; // BlockM = BlockN: the lower-only mapping needs square tiles

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
        int i0 = ti * BlockM, j0 = tj * BlockN;
        int iEnd = Math.Min(i0 + BlockM, p.M), jEnd = Math.Min(j0 + BlockN, p.N);

        fixed (T* a0 = &a[0L])
        fixed (T* b0 = &b[0L])
        fixed (T* c0 = &c[0L])
        {
            T* pa = a0 + p.A.Offset + batch * p.A.BatchStride;
            T* pb = b0 + p.B.Offset + batch * p.B.BatchStride;
            T* pc = c0 + p.C.Offset + batch * p.C.BatchStride;
            // op(A)[i, k] = pa[i·sAi + k·sAk]; op(B)[k, j] = pb[k·sBk + j·sBj]
            long sAi = p.TransA == 0 ? p.A.Ld : 1, sAk = p.TransA == 0 ? 1 : p.A.Ld;
            long sBk = p.TransB == 0 ? p.B.Ld : 1, sBj = p.TransB == 0 ? 1 : p.B.Ld;
            long ldc = p.C.Ld;

            for (int i = i0; i < iEnd; i++)
            {
                T* row = pc + i * ldc;
                for (int j = j0; j < jEnd; j++)
                    row[j] = p.Beta == T.Zero ? T.Zero : p.Beta * row[j];
            }

            for (int k0 = 0; k0 < p.K; k0 += BlockK)
            {
                int kc = Math.Min(BlockK, p.K - k0);
                for (int i = i0; i < iEnd; i += 4)
                {
                    for (int j = j0; j < jEnd; j += 4)
                    {
                        T* ap = pa + i * sAi + k0 * sAk;
                        T* bp = pb + k0 * sBk + j * sBj;
                        T* cp = pc + i * ldc + j;
                        if (i + 4 <= iEnd && j + 4 <= jEnd)
                            Micro4x4(ap, bp, cp, kc, sAi, sAk, sBk, sBj, ldc, p.Alpha);
                        else
                            MicroEdge(ap, bp, cp, kc, Math.Min(4, iEnd - i), Math.Min(4, jEnd - j), sAi, sAk, sBk, sBj, ldc, p.Alpha);
                    }
                }
            }
        }
    }

    private static unsafe void Micro4x4<T>(T* ap, T* bp, T* cp, int kc, long sAi, long sAk, long sBk, long sBj, long ldc, T alpha)
        where T : unmanaged, INumber<T>
    {
        T c00 = T.Zero, c01 = T.Zero, c02 = T.Zero, c03 = T.Zero;
        T c10 = T.Zero, c11 = T.Zero, c12 = T.Zero, c13 = T.Zero;
        T c20 = T.Zero, c21 = T.Zero, c22 = T.Zero, c23 = T.Zero;
        T c30 = T.Zero, c31 = T.Zero, c32 = T.Zero, c33 = T.Zero;
        long sAi2 = 2 * sAi, sAi3 = 3 * sAi, sBj2 = 2 * sBj, sBj3 = 3 * sBj;
        for (int k = 0; k < kc; k++)
        {
            T a0 = ap[0], a1 = ap[sAi], a2 = ap[sAi2], a3 = ap[sAi3];
            T b0 = bp[0], b1 = bp[sBj], b2 = bp[sBj2], b3 = bp[sBj3];
            c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
            c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
            c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
            c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            ap += sAk;
            bp += sBk;
        }
        cp[0] += alpha * c00; cp[1] += alpha * c01; cp[2] += alpha * c02; cp[3] += alpha * c03;
        cp += ldc;
        cp[0] += alpha * c10; cp[1] += alpha * c11; cp[2] += alpha * c12; cp[3] += alpha * c13;
        cp += ldc;
        cp[0] += alpha * c20; cp[1] += alpha * c21; cp[2] += alpha * c22; cp[3] += alpha * c23;
        cp += ldc;
        cp[0] += alpha * c30; cp[1] += alpha * c31; cp[2] += alpha * c32; cp[3] += alpha * c33;
    }

    private static unsafe void MicroEdge<T>(T* ap, T* bp, T* cp, int kc, int mr, int nr, long sAi, long sAk, long sBk, long sBj, long ldc, T alpha)
        where T : unmanaged, INumber<T>
    {
        for (int i = 0; i < mr; i++)
        {
            for (int j = 0; j < nr; j++)
            {
                T s = T.Zero;
                T* x = ap + i * sAi;
                T* y = bp + j * sBj;
                for (int k = 0; k < kc; k++)
                {
                    s += *x * *y;
                    x += sAk;
                    y += sBk;
                }
                cp[i * ldc + j] += alpha * s;
            }
        }
    }
}
