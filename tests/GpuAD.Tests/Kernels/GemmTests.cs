using ILGPU;
using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

[Collection("Gemm")]
public sealed class GemmTests(DeviceFixture devices)
{
    public static TheoryData<KernelFamily, string, int, int, int> Cases()
    {
        var data = new TheoryData<KernelFamily, string, int, int, int>();
        foreach (var family in new[] { KernelFamily.CpuTuned, KernelFamily.GpuTuned })
        foreach (var dtype in new[] { "f64", "f32" })
        {
            foreach (int s in new[] { 1, 2, 7, 16, 33, 65, 130 })
            {
                if (family == KernelFamily.GpuTuned && s > 65) continue;
                data.Add(family, dtype, s, s, s);
            }
            // non-square, M < K and M > K, not multiples of any tile size
            foreach (var (m, n, k) in new[] { (7, 33, 65), (65, 16, 33), (33, 130, 7), (2, 65, 130), (130, 1, 16) })
                data.Add(family, dtype, m, n, k);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void MatchesFloat64Reference(KernelFamily family, string dtype, int m, int n, int k)
    {
        if (dtype == "f64") Run<double>(family, m, n, k);
        else Run<float>(family, m, n, k);
    }

    private void Run<T>(KernelFamily family, int m, int n, int k) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        int seed = m * 10007 + n * 101 + k;
        foreach (int batch in new[] { 1, 3 })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (var (alpha, beta) in new[] { (1.0, 0.0), (0.5, -1.5) })
        {
            var sa = ta ? (batch, k, m) : (batch, m, k);
            var sb = tb ? (batch, n, k) : (batch, k, n);
            var a = TestData.Random(new Shape(sa.Item1, sa.Item2, sa.Item3), seed++);
            var b = TestData.Random(new Shape(sb.Item1, sb.Item2, sb.Item3), seed++);
            var c0 = TestData.Random(new Shape(batch, m, n), seed++);
            var expected = Reference.Gemm(a, sa, ta, b, sb, tb, c0, batch, alpha, beta);

            using var da = TestData.Upload<T>(device, a, new Shape(sa.Item1, sa.Item2, sa.Item3));
            using var db = TestData.Upload<T>(device, b, new Shape(sb.Item1, sb.Item2, sb.Item3));
            using var dc = beta == 0 ? TestData.Poisoned<T>(device, new Shape(batch, m, n)) : TestData.Upload<T>(device, c0, new Shape(batch, m, n));
            Blas.Gemm(da, db, dc, ta, tb, T.CreateChecked(alpha), T.CreateChecked(beta));
            TestData.AssertClose(expected, dc.ToArray(), TestData.KernelTol<T>() * Math.Max(1, k / 16.0),
                $"{family} {typeof(T).Name} m={m} n={n} k={k} batch={batch} ta={ta} tb={tb} α={alpha} β={beta}");
        }
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void BatchOneOperandBroadcasts(KernelFamily family)
    {
        var device = devices.Get(family);
        const int m = 9, n = 5, k = 11, batch = 3;
        var a = TestData.Random(new Shape(1, m, k), 1);
        var b = TestData.Random(new Shape(batch, k, n), 2);
        var expected = Reference.Gemm(a, (1, m, k), false, b, (batch, k, n), false, null, batch, 1, 0);
        using var da = TestData.Upload<double>(device, a, new Shape(1, m, k));
        using var db = TestData.Upload<double>(device, b, new Shape(batch, k, n));
        using var dc = TestData.Poisoned<double>(device, new Shape(batch, m, n));
        Blas.Gemm(da, db, dc);
        TestData.AssertClose(expected, dc.ToArray(), 1e-12, "broadcast A");

        // and the other operand
        var b1 = TestData.Random(new Shape(1, k, n), 3);
        var a3 = TestData.Random(new Shape(batch, m, k), 4);
        var expected2 = Reference.Gemm(a3, (batch, m, k), false, b1, (1, k, n), false, null, batch, 1, 0);
        using var da3 = TestData.Upload<double>(device, a3, new Shape(batch, m, k));
        using var db1 = TestData.Upload<double>(device, b1, new Shape(1, k, n));
        Blas.Gemm(da3, db1, dc);
        TestData.AssertClose(expected2, dc.ToArray(), 1e-12, "broadcast B");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void SubBlocksWithLeadingDimension(KernelFamily family)
    {
        // C[2:9, 3:8] = A[1:8, 0:6] · B[4:10, 2:7] inside larger matrices: what blocked algorithms do.
        var device = devices.Get(family);
        var a = TestData.Random(new Shape(2, 12, 10), 5);
        var b = TestData.Random(new Shape(2, 11, 9), 6);
        var c = TestData.Random(new Shape(2, 13, 14), 7);
        using var da = TestData.Upload<double>(device, a, new Shape(2, 12, 10));
        using var db = TestData.Upload<double>(device, b, new Shape(2, 11, 9));
        using var dc = TestData.Upload<double>(device, c, new Shape(2, 13, 14));
        Blas.Gemm(device, da.Mat.Block(1, 0, 7, 6), false, db.Mat.Block(4, 2, 6, 5), false, dc.Mat.Block(2, 3, 7, 5), 2.0, 1.0);
        var got = dc.ToArray();
        var expected = (double[])c.Clone();
        for (int bt = 0; bt < 2; bt++)
        for (int i = 0; i < 7; i++)
        for (int j = 0; j < 5; j++)
        {
            double s = 0;
            for (int p = 0; p < 6; p++) s += a[bt * 120 + (1 + i) * 10 + p] * b[bt * 99 + (4 + p) * 9 + 2 + j];
            expected[bt * 182 + (2 + i) * 14 + 3 + j] += 2 * s;
        }
        TestData.AssertClose(expected, got, 1e-13, "sub-block GEMM (elements outside the block must stay)");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void EmptyInnerDimensionOrZeroAlphaGivesBetaTimesC(KernelFamily family)
    {
        // k = 0 or α = 0: C = β·C, and β = 0 clears NaN poison rather than propagating it.
        var device = devices.Get(family);
        using var a = device.Allocate<double>(new Shape(2, 3, 0));
        using var b = device.Allocate<double>(new Shape(2, 0, 4));
        using var c = TestData.Poisoned<double>(device, new Shape(2, 3, 4));
        Blas.Gemm(a, b, c);
        Assert.All(c.ToArray(), v => Assert.Equal(0.0, v));
        var c0 = TestData.Random(new Shape(2, 3, 4), 9);
        using var c2 = device.Upload<double>(c0, new Shape(2, 3, 4));
        using var a2 = TestData.Poisoned<double>(device, new Shape(2, 3, 5));
        using var b2 = TestData.Poisoned<double>(device, new Shape(2, 5, 4));
        Blas.Gemm(a2, b2, c2, alpha: 0.0, beta: -2.0);
        TestData.AssertClose(c0.Select(v => -2 * v).ToArray(), c2.ToArray(), 0, "α = 0 ignores A and B");
    }

    [Fact]
    public void MismatchedInnerDimensionsThrowBeforeLaunch()
    {
        var device = devices.Cpu;
        using var a = device.Zeros<double>(new Shape(1, 3, 4));
        using var b = device.Zeros<double>(new Shape(1, 5, 2));
        using var c = device.Zeros<double>(new Shape(1, 3, 2));
        var e = Assert.Throws<ArgumentException>(() => Blas.Gemm(a, b, c));
        Assert.Contains("Gemm", e.Message);
        Assert.Contains("[3, 4]", e.Message);
    }
}

/// <summary>
/// Every compiled tiling of the GPU GEMM and split-K, on the emulated GPU: shapes past two tiles
/// of the largest tiling in M and N and ragged in K, all four op flags, batch 2 with a broadcast
/// operand, α and β non-trivial, a lower-triangle update, and the split-K reduction's determinism.
/// </summary>
[Collection("EmulatedGpu")]
public sealed class GemmTilingTests(DeviceFixture devices)
{
    /// <summary>
    /// Every tiling of each element type unsplit, and the first (64×64, the cheapest to emulate)
    /// split in 3 as well: every tiling and the split-K reduction in each type. The other tilings
    /// split in 3 are <paramref name="complement"/>'s (the slow tier: the emulated DMMA tiles cost most).
    /// </summary>
    private static TheoryData<string, string, int> Cases(bool complement)
    {
        var data = new TheoryData<string, string, int>();
        foreach (var (dtype, size) in new[] { ("f64", 8), ("f32", 4) })
        foreach (var (tiling, i) in GemmGpu.TilingsFor(size).Select((t, i) => (t, i)))
        foreach (int splits in new[] { 1, 3 })
            if ((splits == 1 || i == 0) != complement)
                data.Add(dtype, tiling.ToString(), splits);
        return data;
    }

    public static TheoryData<string, string, int> EveryTiling() => Cases(complement: false);

    public static TheoryData<string, string, int> TheOtherTilingsSplitInThree() => Cases(complement: true);

    [Theory]
    [MemberData(nameof(EveryTiling))]
    public void EveryTilingAndSplitMatchesTheReference(string dtype, string tiling, int splits) => RunCase(dtype, tiling, splits);

    [Theory]
    [MemberData(nameof(TheOtherTilingsSplitInThree))]
    [Trait("Tier", "Slow")]
    public void TheOtherTilingsSplitInThreeMatchTheReference(string dtype, string tiling, int splits) => RunCase(dtype, tiling, splits);

    private void RunCase(string dtype, string tiling, int splits)
    {
        var t = GemmTiling.Parse(tiling)!.Value;
        if (dtype == "f64") Run<double>(t, splits);
        else Run<float>(t, splits);
    }

    private void Run<T>(GemmTiling tiling, int splits) where T : unmanaged, INumber<T>
    {
        var device = devices.GpuEmulated;
        const int batch = 2;
        int m = tiling.TileM + 13, n = tiling.TileN + 7, k = 3 * tiling.SliceK * splits + 5;
        int seed = 7;
        foreach (var (ta, tb, aBatch) in new[] { (false, false, batch), (true, false, 1), (false, true, batch), (true, true, batch) })
        {
            var sa = ta ? (aBatch, k, m) : (aBatch, m, k);
            var sb = tb ? (batch, n, k) : (batch, k, n);
            var a = TestData.Random(new Shape(sa.Item1, sa.Item2, sa.Item3), seed++);
            var b = TestData.Random(new Shape(sb.Item1, sb.Item2, sb.Item3), seed++);
            var c0 = TestData.Random(new Shape(batch, m, n), seed++);
            var expected = Reference.Gemm(a, sa, ta, b, sb, tb, c0, batch, 0.5, -1.5);
            using var da = TestData.Upload<T>(device, a, new Shape(sa.Item1, sa.Item2, sa.Item3));
            using var db = TestData.Upload<T>(device, b, new Shape(sb.Item1, sb.Item2, sb.Item3));
            using var dc = TestData.Upload<T>(device, c0, new Shape(batch, m, n));
            Blas.GemmWith(device, Blas.Broadcast(da, batch, "test"), ta, db.Mat, tb, dc.Mat, T.CreateChecked(0.5), T.CreateChecked(-1.5), tiling, splits);
            var got = dc.ToArray();
            TestData.AssertClose(expected, got, TestData.KernelTol<T>() * Math.Max(1, k / 16.0), $"{tiling} splits={splits} ta={ta} tb={tb}");

            // Split-K adds the splits in a fixed order: a second run is bitwise the same.
            using var again = TestData.Upload<T>(device, c0, new Shape(batch, m, n));
            Blas.GemmWith(device, Blas.Broadcast(da, batch, "test"), ta, db.Mat, tb, again.Mat, T.CreateChecked(0.5), T.CreateChecked(-1.5), tiling, splits);
            Assert.Equal(got, again.ToArray());
        }

        // Lower-triangle update C −= A·Aᵀ on a square C of two tile rows and one more.
        int order = 2 * tiling.TileM + 1;
        var x = TestData.Random(new Shape(batch, order, k), seed++);
        var c = TestData.Random(new Shape(batch, order, order), seed++);
        var full = Reference.Gemm(x, (batch, order, k), false, x, (batch, order, k), true, c, batch, -1, 1);
        using var dx = TestData.Upload<T>(device, x, new Shape(batch, order, k));
        using var dlow = TestData.Upload<T>(device, c, new Shape(batch, order, order));
        Blas.GemmWith(device, dx.Mat, false, dx.Mat, true, dlow.Mat, -T.One, T.One, tiling, splits, lowerOnly: true);
        var low = dlow.ToArray();
        for (int bt = 0; bt < batch; bt++)
        for (int i = 0; i < order; i++)
        for (int j = 0; j < order; j++)
        {
            long idx = (long)bt * order * order + (long)i * order + j;
            if (j <= i)
                Assert.True(Math.Abs(double.CreateChecked(low[idx]) - full[idx]) <= TestData.KernelTol<T>() * Math.Max(1, k / 16.0) * Math.Max(1, Math.Abs(full[idx])),
                    $"{tiling} splits={splits}: lower C[{bt}, {i}, {j}] = {low[idx]}, expected {full[idx]}");
            else if (j / tiling.TileN * tiling.TileN > i / tiling.TileM * tiling.TileM + tiling.TileM - 1)
                Assert.True(double.CreateChecked(low[idx]) == double.CreateChecked(T.CreateChecked(c[idx])), $"{tiling} splits={splits}: C[{bt}, {i}, {j}] in a tile above the diagonal was written");
        }
    }

    [Fact]
    public void ADmmaTilingOfTheTableRunsAsItsSimtShapeWhereTheDeviceHasNoDmma()
    {
        var table = TuningTable.Defaults with { GemmF64 = "128x128k8mma", GemmSmallF64 = "64x64k16mma" };
        var large = new GemmArgs<double> { M = 4096, N = 4096, K = 4096 };
        var small = new GemmArgs<double> { M = 64, N = 64, K = 64 };
        Assert.Equal(GemmTiling.Parse("128x128k8mma"), GemmPolicy.Choose<double>(table, 132, [large], batch: 1, dmma: true).Tiling);
        Assert.Equal(GemmTiling.Parse("128x128k8"), GemmPolicy.Choose<double>(table, 132, [large], batch: 1, dmma: false).Tiling);
        Assert.Equal(GemmTiling.Parse("64x64k16mma"), GemmPolicy.Choose<double>(table, 132, [small], batch: 1, dmma: true).Tiling);
        Assert.Equal(GemmTiling.Parse("64x64k16"), GemmPolicy.Choose<double>(table, 132, [small], batch: 1, dmma: false).Tiling);
        // The split along K is the same either way: the SIMT shape has the DMMA shape's slice.
        var longK = new GemmArgs<double> { M = 64, N = 64, K = 8192 };
        var withDmma = GemmPolicy.Choose<double>(table, 132, [longK], batch: 1, dmma: true);
        var without = GemmPolicy.Choose<double>(table, 132, [longK], batch: 1, dmma: false);
        Assert.Equal(withDmma.Splits, without.Splits);
        Assert.Equal(withDmma.SplitK, without.SplitK);
        // The emulated GPU runs DMMA tilings (emulated); the CPU family has no GPU tilings at all.
        Assert.True(devices.GpuEmulated.SupportsDmma);
        Assert.False(devices.Get(KernelFamily.CpuTuned).SupportsDmma);
        Assert.Contains(GemmGpu.TilingsFor(devices.GpuEmulated, sizeof(double)), t => t.Mma);
        Assert.DoesNotContain(GemmGpu.TilingsFor(sizeof(float)), t => t.Mma);
    }

    [Fact]
    public void ThePolicySplitsLongNarrowProductsUntilTheDeviceIsFull()
    {
        var device = devices.GpuEmulated;
        // One multiprocessor (target: two groups): a 64×64 product with long K takes the small
        // tiling and two splits; a batch of two fills it without splitting.
        var plan = GemmPolicy.Choose<double>(device, [new GemmArgs<double> { M = 64, N = 64, K = 8192 }], batch: 1);
        Assert.Equal(2, plan.Splits[0]);
        Assert.Equal(GemmTiling.Parse(device.Tuning.GemmSmallF64), plan.Tiling);
        Assert.Equal(1, GemmPolicy.Choose<double>(device, [new GemmArgs<double> { M = 64, N = 64, K = 8192 }], batch: 2).Splits[0]);
        // 132 multiprocessors (an H100): the same product splits, K ranges of whole slices covering K.
        var plan132 = GemmPolicy.Choose<double>(TuningTable.Defaults, 132, [new GemmArgs<double> { M = 64, N = 64, K = 8192 }], batch: 1);
        Assert.Equal(TuningTable.Defaults.MaxSplits, plan132.Splits[0]);
        Assert.Equal(0, plan132.SplitK[0] % plan132.Tiling.SliceK);
        Assert.True((plan132.Splits[0] - 1) * plan132.SplitK[0] < 8192 && plan132.Splits[0] * plan132.SplitK[0] >= 8192);
        // A product that fills the device keeps the large tiling and is not split.
        var big = GemmPolicy.Choose<double>(TuningTable.Defaults, 132, [new GemmArgs<double> { M = 4096, N = 4096, K = 4096 }], batch: 1);
        Assert.Equal(GemmTiling.Parse(TuningTable.Defaults.GemmF64), big.Tiling);
        Assert.Equal(1, big.Splits[0]);
        // Short K never splits.
        var shortK = GemmPolicy.Choose<double>(TuningTable.Defaults, 132, [new GemmArgs<double> { M = 64, N = 64, K = 300 }], batch: 1);
        Assert.Equal(1, shortK.Splits[0]);
    }

    [Theory]
    [InlineData(4096, 4096)]
    [InlineData(7680, 448)]
    [InlineData(1024, 7104)]
    public void InAGroupedLaunchTheLongKProductsAreSplitToTheBalancedShare(int below, int left)
    {
        // The blocked Cholesky backward's launch at one block of 64 (n = below + 64 + left) on an
        // H100's 132 multiprocessors: D̄ −= B̄·C has many tiles with K = 64, C̄ −= B̄ᵀ·D and
        // T̄ −= tril(B̄ᵀ·B) few tiles with K = below. No group's K range may exceed the launch's
        // balanced share (its tile-K work over the groups that run at once) by more than a slice,
        // unless the product is already split MaxSplits ways or into ranges of MinSplitK.
        var table = TuningTable.Defaults;
        GemmArgs<double>[] products =
        [
            new() { M = 64, N = 64, K = below, LowerOnly = 1 },
            new() { M = below, N = left, K = 64 },
            new() { M = 64, N = left, K = below },
        ];
        var plan = GemmPolicy.Choose<double>(table, 132, products, batch: 1);
        double work = products.Sum(p => (double)GemmGpu.Tiles(p, plan.Tiling.TileM, plan.Tiling.TileN) * p.K);
        double share = Math.Max(table.MinSplitK, work / (table.GroupsPerMultiprocessor * 132));
        for (int i = 0; i < products.Length; i++)
        {
            int range = plan.Splits[i] > 1 ? plan.SplitK[i] : products[i].K;
            bool capped = plan.Splits[i] == table.MaxSplits || range <= table.MinSplitK + plan.Tiling.SliceK;
            Assert.True(range <= share + plan.Tiling.SliceK || capped,
                $"product {i} ({products[i].M}×{products[i].N}×{products[i].K}): {plan.Splits[i]} splits of {range}, balanced share {share:F0}");
            Assert.True(plan.Splits[i] == 1 || (plan.Splits[i] - 1) * plan.SplitK[i] < products[i].K && plan.Splits[i] * plan.SplitK[i] >= products[i].K);
        }
        Assert.Equal(1, plan.Splits[1]); // K = 64: never split
        Assert.True(plan.Splits[2] > 1, "C̄'s long-K product is split");
    }
}

/// <summary>
/// Every GEMM tiling compiles to PTX for sm_90 in both precisions with its register tile in
/// registers: no local-memory (.local) array, which a register tile that ILGPU could not keep in
/// SSA values would become, and multiply-adds that ptxas can contract into fma. The DMMA tilings
/// keep their accumulators in named PTX registers, declared once before their first use, updated
/// by one mma.sync per 8×8 tile and k-step, and read out once (the only local memory: ILGPU passes
/// an inline-PTX output through a local).
/// </summary>
public sealed class GemmTilingPtxTests
{
    private const string Dmma = "mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64";

    [Fact]
    public void EveryTilingCompilesWithoutLocalMemory()
    {
        using var context = ILGPU.Context.Create(builder => builder.EnableAlgorithms().Optimize(ILGPU.OptimizationLevel.O2));
        var failures = new List<string>();
        foreach (var (element, size) in new[] { (typeof(double), 8), (typeof(float), 4) })
        foreach (var tiling in GemmGpu.TilingsFor(size))
        {
            var micro = typeof(GemmGpu).Assembly.GetType($"GpuAD.Kernels.{(tiling.Mma ? "Mma" : "Micro")}{tiling.MicroRows}x{tiling.MicroCols}`1")!.MakeGenericType(element);
            var slice = typeof(GemmGpu).Assembly.GetType($"GpuAD.Kernels.Slice{tiling.SliceK}")!;
            Assert.Equal(tiling, GemmGpu.TilingOf(micro, slice));
            var method = typeof(GemmGpu).GetMethod(nameof(GemmGpu.Kernel), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!
                .MakeGenericMethod(element, micro, slice);
            var backend = new ILGPU.Backends.PTX.PTXBackend(context, new ILGPU.Runtime.Cuda.CudaCapabilityContext(ILGPU.Runtime.Cuda.CudaArchitecture.SM_90),
                ILGPU.Runtime.Cuda.CudaArchitecture.SM_90, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80, nvvmAPI: null!);
            var compiled = (ILGPU.Backends.PTX.PTXCompiledKernel)backend.Compile(
                ILGPU.Backends.EntryPoints.EntryPointDescription.FromExplicitlyGroupedKernel(method), ILGPU.Runtime.KernelSpecialization.Empty);
            string ptx = compiled.PTXAssembly;
            if (Environment.GetEnvironmentVariable("GPUAD_DUMP_PTX") is { } dump) File.WriteAllText(Path.Combine(dump, $"gemm_{element.Name}_{tiling}.ptx"), ptx);
            if (!ptx.Contains("bar.sync", StringComparison.Ordinal)) failures.Add($"{element.Name} {tiling}: no barrier");
            int accumulators = tiling.MicroRows * tiling.MicroCols;
            if (tiling.Mma)
            {
                failures.AddRange(DmmaProblems(ptx, accumulators).Select(p => $"{element.Name} {tiling}: {p}"));
                continue;
            }
            if (ptx.Contains(".local", StringComparison.Ordinal)) failures.Add($"{element.Name} {tiling}: local memory in the PTX");
            // ILGPU emits the register tile's a·b + c as mul and add without rounding modifiers, which
            // ptxas contracts into fma (a mul.rn would forbid it): one of each per accumulator at least.
            string f = element == typeof(double) ? "f64" : "f32";
            int muls = System.Text.RegularExpressions.Regex.Matches(ptx, $@"\bmul\.{f}\b").Count;
            int adds = System.Text.RegularExpressions.Regex.Matches(ptx, $@"\badd\.{f}\b").Count;
            if (muls < accumulators || adds < accumulators)
                failures.Add($"{element.Name} {tiling}: {muls} mul.{f} and {adds} add.{f}, fewer than the {accumulators} of one register-tile step");
            if (ptx.Contains($"mul.rn.{f}", StringComparison.Ordinal)) failures.Add($"{element.Name} {tiling}: mul.rn.{f} cannot be contracted into fma");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>
    /// The blocked Cholesky's look-ahead launch runs GEMM tiles beside its panel step in one
    /// kernel: with every float64 tiling it compiles for sm_90, its DMMA accumulators declared in
    /// the kernel's first block before any mma (the panel code before the tiles does not move the
    /// declaration), with the tiles' mma count and no call; the SIMT ones without local memory.
    /// </summary>
    [Fact]
    public void TheLookAheadKernelCompilesWithEveryFloat64Tiling()
    {
        using var context = ILGPU.Context.Create(builder => builder.EnableAlgorithms().Optimize(ILGPU.OptimizationLevel.O2));
        var failures = new List<string>();
        foreach (var tiling in GemmGpu.TilingsFor(sizeof(double)))
        {
            var micro = typeof(GemmGpu).Assembly.GetType($"GpuAD.Kernels.{(tiling.Mma ? "Mma" : "Micro")}{tiling.MicroRows}x{tiling.MicroCols}`1")!.MakeGenericType(typeof(double));
            var slice = typeof(GemmGpu).Assembly.GetType($"GpuAD.Kernels.Slice{tiling.SliceK}")!;
            var method = typeof(PotrfPanelGpu).GetMethod(nameof(PotrfPanelGpu.LookAheadKernel), System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.NonPublic)!
                .MakeGenericMethod(typeof(double), micro, slice);
            var backend = new ILGPU.Backends.PTX.PTXBackend(context, new ILGPU.Runtime.Cuda.CudaCapabilityContext(ILGPU.Runtime.Cuda.CudaArchitecture.SM_90),
                ILGPU.Runtime.Cuda.CudaArchitecture.SM_90, ILGPU.Runtime.Cuda.CudaInstructionSet.ISA_80, nvvmAPI: null!);
            string ptx = ((ILGPU.Backends.PTX.PTXCompiledKernel)backend.Compile(
                ILGPU.Backends.EntryPoints.EntryPointDescription.FromExplicitlyGroupedKernel(method), ILGPU.Runtime.KernelSpecialization.Empty)).PTXAssembly;
            if (tiling.Mma)
                failures.AddRange(DmmaProblems(ptx, tiling.MicroRows * tiling.MicroCols).Select(p => $"look-ahead {tiling}: {p}"));
            else if (ptx.Contains(".local", StringComparison.Ordinal))
                failures.Add($"look-ahead {tiling}: local memory in the PTX");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    /// <summary>What is wrong with a DMMA kernel's PTX: the named accumulators, the mma count, calls, local memory.</summary>
    private static IEnumerable<string> DmmaProblems(string ptx, int accumulators)
    {
        string declaration = $".reg .f64 gad_d<{accumulators}>;";
        int declared = ptx.IndexOf(declaration, StringComparison.Ordinal);
        if (declared < 0 || ptx.IndexOf(declaration, declared + 1, StringComparison.Ordinal) >= 0)
            yield return $"'{declaration}' not declared exactly once";
        int firstMma = ptx.IndexOf(Dmma, StringComparison.Ordinal);
        if (firstMma < 0 || firstMma < declared) yield return "an mma before the accumulators' declaration";
        // One mma per 8×8 tile of the warp in the (single) k-step of the slice loop.
        int mmas = System.Text.RegularExpressions.Regex.Matches(ptx, System.Text.RegularExpressions.Regex.Escape(Dmma)).Count;
        if (mmas != accumulators / 2) yield return $"{mmas} mma.sync, expected {accumulators / 2}";
        for (int r = 0; r < accumulators; r += 2)
            if (!ptx.Contains($"{{gad_d{r}, gad_d{r + 1}}}, {{", StringComparison.Ordinal)) yield return $"no mma accumulates gad_d{r}, gad_d{r + 1}";
        // Every statement of the named registers' scope is in the kernel's one body: no call.
        if (ptx.Contains(".func", StringComparison.Ordinal) || ptx.Contains("call", StringComparison.Ordinal)) yield return "a function call: the named registers would be out of scope";
        // Local memory only for the read-out of the accumulators, once per tile: one 8-byte local per
        // accumulator (an inline-PTX output), loaded on the two sides of the store's row test.
        int depots = System.Text.RegularExpressions.Regex.Matches(ptx, @"\.local \.align 8 \.b8 __local_depot\d+\[8\];").Count;
        int locals = System.Text.RegularExpressions.Regex.Matches(ptx, @"\.local ").Count;
        if (depots != accumulators || locals != accumulators) yield return $"{locals} local declarations ({depots} of 8 bytes), expected the read-out's {accumulators}";
        int localLoads = System.Text.RegularExpressions.Regex.Matches(ptx, @"\bld\.local\.").Count;
        if (localLoads > 2 * accumulators) yield return $"{localLoads} local loads, more than twice the read-out's {accumulators}";
        // Statements end in ';' (ILGPU pastes inline PTX as written).
        foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(ptx, @"(mma\.sync[^\n]*|mov\.f64 [^\n]*gad_d[^\n]*)"))
            if (!m.Value.TrimEnd().EndsWith(';')) { yield return $"unterminated statement '{m.Value}'"; break; }
    }
}
