using System.Runtime.CompilerServices;

namespace GpuAD.Kernels;

/// <summary>
/// How the GPU family runs one launch of products: a tile shape and per product its splits along K
/// (ILGPU's tilings), or cuBLAS.
/// </summary>
/// <param name="Tiling">The tile shape of the launch.</param>
/// <param name="Splits">Splits along K of each product (1: not split).</param>
/// <param name="SplitK">The K range of each split, a multiple of the tiling's slice.</param>
/// <param name="Provider">Who runs the products.</param>
/// <param name="Shapes">The (M, N, K) of each product, in the order of <paramref name="Splits"/>: what a time estimate reads (<c>CholeskyPlanModel</c>).</param>
internal readonly record struct GemmPlan(GemmTiling Tiling, int[] Splits, int[] SplitK, GemmProvider Provider = GemmProvider.Ilgpu, (int M, int N, int K)[]? Shapes = null)
{
    /// <summary>The launches the products make: one per product through cuBLAS; one ILGPU launch, two when any product is split along K.</summary>
    public int Launches => Provider == GemmProvider.Cublas ? Splits.Length : Splits.Any(s => s > 1) ? 2 : 1;
}

/// <summary>Who runs a GEMM launch on the GPU family.</summary>
internal enum GemmProvider
{
    /// <summary>GpuAD's own ILGPU tilings (SIMT or DMMA), the reference and the fallback.</summary>
    Ilgpu,

    /// <summary>cuBLAS, where it loads (<see cref="Device.BlasProvider"/>).</summary>
    Cublas,
}

/// <summary>The shape classes a tuning table gives a GEMM provider by (<see cref="TuningTable.GemmCublas"/>).</summary>
internal enum GemmShapeClass
{
    /// <summary>M, N and K above <see cref="GemmShapeClasses.Narrow"/>.</summary>
    Large,

    /// <summary>K at most <see cref="GemmShapeClasses.Narrow"/>, M and N above: a blocked Cholesky's trailing update.</summary>
    KPanel,

    /// <summary>M or N at most <see cref="GemmShapeClasses.Narrow"/>, K above: its reverse's T̄ and C̄ updates.</summary>
    MnPanel,

    /// <summary>K and M or N at most <see cref="GemmShapeClasses.Narrow"/>: batches of small products.</summary>
    Small,
}

/// <summary>Names and the rule of <see cref="GemmShapeClass"/>.</summary>
internal static class GemmShapeClasses
{
    /// <summary>The largest dimension that counts as narrow.</summary>
    internal const int Narrow = 256;

    /// <summary>The names in tables, in the enum's order.</summary>
    internal static readonly string[] Names = ["large", "k-panel", "mn-panel", "small"];

    internal static GemmShapeClass? Parse(string name)
    {
        int i = Array.IndexOf(Names, name);
        return i < 0 ? null : (GemmShapeClass)i;
    }

    internal static string Name(GemmShapeClass shape) => Names[(int)shape];

    /// <summary>The class of an M×N×K product.</summary>
    internal static GemmShapeClass Of(int m, int n, int k)
    {
        bool narrowK = k <= Narrow, narrowMn = Math.Min(m, n) <= Narrow;
        return narrowK ? narrowMn ? GemmShapeClass.Small : GemmShapeClass.KPanel
            : narrowMn ? GemmShapeClass.MnPanel : GemmShapeClass.Large;
    }
}

/// <summary>
/// Chooses the GPU GEMM's tiling and split-K from the device's <see cref="TuningTable"/>: the large
/// tiling when the launch has at least GroupsPerMultiprocessor groups per multiprocessor with it,
/// else the small tiling. Then every product is split along K so that no group's K range exceeds
/// the launch's balanced share, its total tile-K work over the groups that run at once
/// (GroupsPerMultiprocessor per multiprocessor), and at least MinSplitK: a launch of few tiles is
/// split until it has enough groups, and in a grouped launch a product of few long-K tiles (the
/// blocked Cholesky backward's C̄ −= B̄ᵀ·D and T̄ −= B̄ᵀ·B beside D̄ −= B̄·C's many short ones) is split
/// so that it is not the launch's critical path. At most MaxSplits ways, each split at least
/// MinSplitK long, the workspace at most <see cref="MaxWorkElements"/>.
/// </summary>
internal static class GemmPolicy
{
    /// <summary>Largest split-K workspace, in elements (128 MiB of float64).</summary>
    internal const long MaxWorkElements = 16L << 20;

    internal static GemmPlan Choose<T>(Device device, ReadOnlySpan<GemmArgs<T>> products, int batch) where T : unmanaged =>
        Choose(device.Tuning, device.Multiprocessors, products, batch, device.SupportsDmma, cublas: device.Cublas is not null);

    /// <summary>
    /// The plan for a device with a table and a number of multiprocessors; a DMMA tiling of the
    /// table runs as its SIMT shape on a device without fp64 tensor cores (<paramref name="dmma"/>
    /// false); where cuBLAS is loaded (<paramref name="cublas"/>) and the table gives it the class of
    /// the launch's largest product, cuBLAS runs the launch.
    /// </summary>
    internal static GemmPlan Choose<T>(TuningTable table, int multiprocessors, ReadOnlySpan<GemmArgs<T>> products, int batch, bool dmma = true, bool cublas = false) where T : unmanaged
    {
        int size = Unsafe.SizeOf<T>();
        var shapes = new (int M, int N, int K)[products.Length];
        for (int i = 0; i < products.Length; i++) shapes[i] = (products[i].M, products[i].N, products[i].K);
        if (cublas && products.Length > 0 && table.UsesCublas(ClassOf(products)))
            return new GemmPlan(table.Gemm(size), Enumerable.Repeat(1, products.Length).ToArray(), new int[products.Length], GemmProvider.Cublas, shapes);
        long target = (long)Math.Ceiling(table.GroupsPerMultiprocessor * Math.Max(1, multiprocessors));
        var tiling = table.Gemm(size);
        if (Groups(products, tiling, batch) < target) tiling = table.GemmSmall(size);
        if (!dmma) tiling = tiling.Simt;
        double tileK = 0; // the launch's work: tiles times their K
        foreach (var p in products) tileK += (double)GemmGpu.Tiles(p, tiling.TileM, tiling.TileN) * batch * p.K;
        double share = Math.Max(table.MinSplitK, tileK / target);
        var splits = new int[products.Length];
        var splitK = new int[products.Length];
        long work = 0;
        for (int i = 0; i < products.Length; i++)
        {
            var p = products[i];
            int s = (int)Math.Min(Math.Min(table.MaxSplits, Math.Ceiling(p.K / share)), p.K / table.MinSplitK);
            if (p.K < 2 * table.MinSplitK) s = 1;
            while (s > 1 && work + (long)s * batch * p.M * p.N > MaxWorkElements) s--;
            if (s > 1)
            {
                (s, splitK[i]) = Split(p.K, s, tiling.SliceK);
                work += (long)s * batch * p.M * p.N;
            }
            splits[i] = Math.Max(1, s);
        }
        return new GemmPlan(tiling, splits, splitK, Shapes: shapes);
    }

    /// <summary>
    /// K cut into about <paramref name="splits"/> ranges of whole slices: the range, and the number
    /// of splits it gives (at most the number asked for; fewer when slices round up).
    /// </summary>
    internal static (int Splits, int Range) Split(int k, int splits, int slice)
    {
        int range = Math.Max(slice, (k + splits - 1) / splits);
        range = (range + slice - 1) / slice * slice;
        return ((k + range - 1) / range, range);
    }

    /// <summary>
    /// Launches one GEMM launch of these products makes: one on the GPU family, two when the policy
    /// splits any product along K (the reduction), one per product through cuBLAS; one per product
    /// on the CPU family.
    /// </summary>
    internal static int Launches<T>(Device device, ReadOnlySpan<GemmArgs<T>> products, int batch) where T : unmanaged
    {
        if (device.Family != KernelFamily.GpuTuned) return products.Length;
        return Choose<T>(device, products, batch).Launches;
    }

    /// <summary>The shape class of a launch: its largest product's (by M·N·K).</summary>
    internal static GemmShapeClass ClassOf<T>(ReadOnlySpan<GemmArgs<T>> products) where T : unmanaged
    {
        var largest = products[0];
        foreach (var p in products)
            if ((long)p.M * p.N * p.K > (long)largest.M * largest.N * largest.K) largest = p;
        return GemmShapeClasses.Of(largest.M, largest.N, largest.K);
    }

    /// <summary>The tiling the policy gives one product of a batch.</summary>
    internal static GemmTiling TilingFor<T>(Device device, int m, int n, int k, int batch) where T : unmanaged =>
        Choose<T>(device, [new GemmArgs<T> { M = m, N = n, K = k }], batch).Tiling;

    private static long Groups<T>(ReadOnlySpan<GemmArgs<T>> products, GemmTiling tiling, int batch) where T : unmanaged
    {
        long groups = 0;
        foreach (var p in products) groups += GemmGpu.Tiles(p, tiling.TileM, tiling.TileN);
        return groups * batch;
    }
}
