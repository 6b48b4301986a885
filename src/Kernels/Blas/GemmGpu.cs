using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>
/// GPU-tuned batched GEMM: one 16×16 thread group per 64×64 tile of C, K walked in slices of
/// 16 staged through shared memory; each thread keeps a 4×4 register tile (rows ty+16r,
/// columns tx+16c, so shared-memory reads are broadcast or conflict-free). The 4×4 update is
/// unrolled by hand: ILGPU 1.5.3 does not unroll loops. For a lower-triangle update, groups whose
/// tile lies strictly above the diagonal return at once.
/// </summary>
internal static class GemmGpu
{
    internal const int TileM = 64, TileN = 64, TileK = 16;
    internal const int ThreadsX = 16, ThreadsY = 16, GroupSize = ThreadsX * ThreadsY;
    private const int StrideA = TileM + 1, StrideB = TileN + 1; // padding against bank conflicts on stores
    private const int MaxGridZ = 65535;

    internal static void Launch<T>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmArgs<T>>(Kernel<T>));
        var group = new Index3D(ThreadsX, ThreadsY, 1);
        for (int start = 0; start < batch; start += MaxGridZ)
        {
            args.BatchBase = start;
            var grid = new Index3D((args.N + TileN - 1) / TileN, (args.M + TileM - 1) / TileM, Math.Min(MaxGridZ, batch - start));
            kernel(new KernelConfig(grid, group), a, b, c, args);
        }
    }

    /// <summary>Most products of one grouped launch.</summary>
    internal const int MaxGroup = 3;

    /// <summary>
    /// Up to three products in one launch: the grid's x index runs over the tiles of the first
    /// product, then the second's, then the third's (each row-major over its tile grid).
    /// </summary>
    internal static void LaunchGrouped<T>(Device device, ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmGroupArgs<T> args, int batch)
        where T : unmanaged, INumber<T>
    {
        var kernel = device.Kernel(GroupedKernel<T>, acc => acc.LoadStreamKernel<ArrayView<T>, ArrayView<T>, ArrayView<T>, GemmGroupArgs<T>>(GroupedKernel<T>));
        var group = new Index3D(ThreadsX, ThreadsY, 1);
        int tiles = Tiles(args.P0) + (args.Count > 1 ? Tiles(args.P1) : 0) + (args.Count > 2 ? Tiles(args.P2) : 0);
        for (int start = 0; start < batch; start += MaxGridZ)
        {
            args.P0.BatchBase = args.P1.BatchBase = args.P2.BatchBase = start;
            kernel(new KernelConfig(new Index3D(tiles, 1, Math.Min(MaxGridZ, batch - start)), group), a, b, c, args);
        }
    }

    private static int Tiles<T>(GemmArgs<T> p) where T : unmanaged => TileColumns(p) * ((p.M + TileM - 1) / TileM);

    private static int TileColumns<T>(GemmArgs<T> p) where T : unmanaged => (p.N + TileN - 1) / TileN;

    internal static void GroupedKernel<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmGroupArgs<T> g)
        where T : unmanaged, INumber<T>
    {
        var sa = SharedMemory.Allocate<T>(TileK * StrideA);
        var sb = SharedMemory.Allocate<T>(TileK * StrideB);
        int x = Grid.IdxX, t0 = Tiles(g.P0), t1 = g.Count > 1 ? Tiles(g.P1) : 0;
        var p = x < t0 ? g.P0 : x < t0 + t1 ? g.P1 : g.P2;
        x = x < t0 ? x : x < t0 + t1 ? x - t0 : x - t0 - t1;
        int cols = TileColumns(p);
        Tile(a, b, c, p, sa, sb, x / cols, x % cols);
    }

    internal static void Kernel<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs<T> p)
        where T : unmanaged, INumber<T>
    {
        var sa = SharedMemory.Allocate<T>(TileK * StrideA); // sa[kk·StrideA + ii] = op(A)[i0+ii, k0+kk]
        var sb = SharedMemory.Allocate<T>(TileK * StrideB); // sb[kk·StrideB + jj] = op(B)[k0+kk, j0+jj]
        Tile(a, b, c, p, sa, sb, Grid.IdxY, Grid.IdxX);
    }

    /// <summary>One 64×64 tile of C, at tile row <paramref name="tileRow"/> and column <paramref name="tileCol"/>, of matrix Grid.IdxZ + BatchBase.</summary>
    private static void Tile<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs<T> p, ArrayView<T> sa, ArrayView<T> sb, int tileRow, int tileCol)
        where T : unmanaged, INumber<T>
    {
        if (p.LowerOnly != 0 && tileCol * TileN > tileRow * TileM + TileM - 1)
            return; // the whole tile lies above the diagonal (uniform over the group, before any barrier)
        int tx = Group.IdxX, ty = Group.IdxY, tid = ty * ThreadsX + tx;
        int batch = Grid.IdxZ + p.BatchBase;
        int i0 = tileRow * TileM, j0 = tileCol * TileN;
        long aBase = p.A.Offset + batch * p.A.BatchStride;
        long bBase = p.B.Offset + batch * p.B.BatchStride;
        long cBase = p.C.Offset + batch * p.C.BatchStride;

        T c00 = T.Zero, c01 = T.Zero, c02 = T.Zero, c03 = T.Zero;
        T c10 = T.Zero, c11 = T.Zero, c12 = T.Zero, c13 = T.Zero;
        T c20 = T.Zero, c21 = T.Zero, c22 = T.Zero, c23 = T.Zero;
        T c30 = T.Zero, c31 = T.Zero, c32 = T.Zero, c33 = T.Zero;

        for (int k0 = 0; k0 < p.K; k0 += TileK)
        {
            // Stage the tiles: 1024 elements each, 4 per thread, consecutive threads reading
            // consecutive addresses of the stored (possibly transposed) operand.
            for (int r = 0; r < TileM * TileK / GroupSize; r++)
            {
                int e = tid + r * GroupSize;
                int ii, kk;
                if (p.TransA == 0) { kk = e % TileK; ii = e / TileK; }
                else { ii = e % TileM; kk = e / TileM; }
                int gi = i0 + ii, gk = k0 + kk;
                T v = T.Zero;
                if (gi < p.M && gk < p.K)
                    v = a[p.TransA == 0 ? aBase + (long)gi * p.A.Ld + gk : aBase + (long)gk * p.A.Ld + gi];
                sa[kk * StrideA + ii] = v;

                int jj;
                if (p.TransB == 0) { jj = e % TileN; kk = e / TileN; }
                else { kk = e % TileK; jj = e / TileK; }
                int gj = j0 + jj;
                gk = k0 + kk;
                T w = T.Zero;
                if (gj < p.N && gk < p.K)
                    w = b[p.TransB == 0 ? bBase + (long)gk * p.B.Ld + gj : bBase + (long)gj * p.B.Ld + gk];
                sb[kk * StrideB + jj] = w;
            }
            Group.Barrier();
            for (int kk = 0; kk < TileK; kk++)
            {
                int ra = kk * StrideA + ty, rb = kk * StrideB + tx;
                T a0 = sa[ra], a1 = sa[ra + 16], a2 = sa[ra + 32], a3 = sa[ra + 48];
                T b0 = sb[rb], b1 = sb[rb + 16], b2 = sb[rb + 32], b3 = sb[rb + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        int row = i0 + ty, col = j0 + tx;
        StoreRow(c, p, cBase, row, col, c00, c01, c02, c03);
        StoreRow(c, p, cBase, row + 16, col, c10, c11, c12, c13);
        StoreRow(c, p, cBase, row + 32, col, c20, c21, c22, c23);
        StoreRow(c, p, cBase, row + 48, col, c30, c31, c32, c33);
    }

    private static void StoreRow<T>(ArrayView<T> c, GemmArgs<T> p, long cBase, int row, int col, T v0, T v1, T v2, T v3)
        where T : unmanaged, INumber<T>
    {
        if (row >= p.M) return;
        long rowBase = cBase + (long)row * p.C.Ld;
        Store(c, p, rowBase, col, v0);
        Store(c, p, rowBase, col + 16, v1);
        Store(c, p, rowBase, col + 32, v2);
        Store(c, p, rowBase, col + 48, v3);
    }

    private static void Store<T>(ArrayView<T> c, GemmArgs<T> p, long rowBase, int col, T v)
        where T : unmanaged, INumber<T>
    {
        if (col >= p.N) return;
        long idx = rowBase + col;
        c[idx] = p.Beta == T.Zero ? p.Alpha * v : p.Alpha * v + p.Beta * c[idx];
    }
}
