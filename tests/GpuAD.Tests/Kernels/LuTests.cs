using System.Numerics;
using System.Reflection;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using Device = GpuAD.Device;
using ILGPU.Runtime.Cuda;
using Xunit;

namespace GpuAD.Tests.Kernels;

[Collection("Lu")]
public sealed class LuTests(DeviceFixture devices)
{
    private const int IntPoison = -7;

    public static TheoryData<KernelFamily, string, int> FactorCases()
    {
        var data = new TheoryData<KernelFamily, string, int>();
        foreach (var dtype in new[] { "f64", "f32" })
        {
            foreach (int n in new[] { 1, 2, 7, 16, 33, 65, 130 }) data.Add(KernelFamily.CpuTuned, dtype, n);
            // GPU panels are 32 wide: 33 crosses one panel boundary (65, two, in the slow tier).
            foreach (int n in new[] { 1, 2, 7, 16, 33 }) data.Add(KernelFamily.GpuTuned, dtype, n);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(FactorCases))]
    public void GetrfReconstructsAAndMatchesReference(KernelFamily family, string dtype, int n)
    {
        if (dtype == "f64") Factor<double>(family, n);
        else Factor<float>(family, n);
    }

    /// <summary>The GPU family across two panel boundaries (GpuProductionConfigurationTests crosses two in the fast tier, in float64).</summary>
    [Theory]
    [InlineData(KernelFamily.GpuTuned, "f64", 65)]
    [InlineData(KernelFamily.GpuTuned, "f32", 65)]
    [Trait("Tier", "Slow")]
    public void GetrfReconstructsAAndMatchesReferenceAcrossTwoPanels(KernelFamily family, string dtype, int n) =>
        GetrfReconstructsAAndMatchesReference(family, dtype, n);

    private void Factor<T>(KernelFamily family, int n) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        foreach (int batch in new[] { 1, 3 })
        {
            var shape = new Shape(batch, n, n);
            var a = TestData.Random(shape, 1000 * n + batch);
            var expected = LuReference.Getrf(a, batch, n);
            Assert.All(expected.Info, i => Assert.Equal(0, i)); // random matrices are regular

            using var da = TestData.Upload<T>(device, a, shape);
            using var pivots = PoisonedInts(device, new Shape(batch, n, 1));
            using var info = PoisonedInts(device, new Shape(batch, 1, 1));
            Blas.Getrf(da, pivots, info);
            var lu = TestData.ToDouble(da.ToArray());
            var piv = pivots.ToArray();
            string what = $"{family} {typeof(T).Name} n={n} batch={batch}";

            Assert.Equal(expected.Info, info.ToArray());
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
                Assert.InRange(piv[b * n + i], i, n - 1);
            double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
            TestData.AssertClose(a, LuReference.Reconstruct(lu, piv, batch, n), tol, $"P·L·U vs A, {what}");
            if (typeof(T) == typeof(double))
            {
                Assert.Equal(expected.Pivots, piv);
                TestData.AssertClose(expected.Lu, lu, tol, $"factors, {what}");
            }
            else
            {
                // In float32, rows whose |a| differ by less than the rounding may legitimately
                // swap places in the pivot order; partial pivoting itself must still hold.
                for (int b = 0; b < batch; b++)
                for (int i = 0; i < n; i++)
                for (int j = 0; j < i; j++)
                    Assert.True(Math.Abs(lu[(long)b * n * n + i * n + j]) <= 1, $"|L[{i},{j}]| > 1 in {what}");
            }
        }
    }

    public static TheoryData<KernelFamily, string, int, int> SingularCases()
    {
        var data = new TheoryData<KernelFamily, string, int, int>();
        foreach (var dtype in new[] { "f64", "f32" })
        {
            // (n, k): column k is zero (exactly zero at step k in any blocking); k = −1 makes two
            // rows equal instead, which leaves an exact zero row only when no GEMM reassociates
            // the update: n within one panel (64 CPU, 32 GPU), as with LAPACK's own blocking.
            foreach (var (n, k) in new[] { (9, 4), (9, -1), (60, -1), (70, 0), (70, 66) }) data.Add(KernelFamily.CpuTuned, dtype, n, k);
            foreach (var (n, k) in new[] { (9, 4), (9, -1), (40, 35) }) data.Add(KernelFamily.GpuTuned, dtype, n, k);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(SingularCases))]
    public void SingularMatrixGetsLapackInfoInItsBatchElementOnly(KernelFamily family, string dtype, int n, int zeroColumn)
    {
        if (dtype == "f64") Singular<double>(family, n, zeroColumn);
        else Singular<float>(family, n, zeroColumn);
    }

    private void Singular<T>(KernelFamily family, int n, int zeroColumn) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        const int batch = 3;
        var shape = new Shape(batch, n, n);
        var a = TestData.Random(shape, 77 + n);
        long o = (long)n * n; // matrix 1
        if (zeroColumn >= 0)
            for (int i = 0; i < n; i++) a[o + i * n + zeroColumn] = 0;
        else
            for (int j = 0; j < n; j++) a[o + (n - 2) * n + j] = a[o + 3 * n + j];
        var expected = LuReference.Getrf(a, batch, n);
        Assert.Equal(0, expected.Info[0]);
        Assert.Equal(0, expected.Info[2]);
        if (zeroColumn >= 0) Assert.Equal(zeroColumn + 1, expected.Info[1]);
        else Assert.NotEqual(0, expected.Info[1]);

        using var da = TestData.Upload<T>(device, a, shape);
        using var pivots = PoisonedInts(device, new Shape(batch, n, 1));
        using var info = PoisonedInts(device, new Shape(batch, 1, 1));
        Blas.Getrf(da, pivots, info);
        Assert.Equal(expected.Info, info.ToArray());
        // The factorization goes on past the zero pivot, so P·L·U still reproduces A.
        TestData.AssertClose(a, LuReference.Reconstruct(TestData.ToDouble(da.ToArray()), pivots.ToArray(), batch, n),
            TestData.KernelTol<T>() * Math.Max(1, n / 16.0), $"P·L·U vs singular A, {family} {typeof(T).Name} n={n}");
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, "f64")]
    [InlineData(KernelFamily.CpuTuned, "f32")]
    [InlineData(KernelFamily.GpuTuned, "f64")]
    [InlineData(KernelFamily.GpuTuned, "f32")]
    public void NaNInputGivesNonZeroInfo(KernelFamily family, string dtype)
    {
        if (dtype == "f64") NaNInput<double>(family);
        else NaNInput<float>(family);
    }

    private void NaNInput<T>(KernelFamily family) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        const int batch = 3, n = 12;
        var shape = new Shape(batch, n, n);
        var a = TestData.Random(shape, 5);
        a[n * n + 7 * n + 5] = double.NaN;
        var expected = LuReference.Getrf(a, batch, n);
        using var da = TestData.Upload<T>(device, a, shape);
        using var pivots = PoisonedInts(device, new Shape(batch, n, 1));
        using var info = PoisonedInts(device, new Shape(batch, 1, 1));
        Blas.Getrf(da, pivots, info);
        var got = info.ToArray();
        Assert.Equal(0, got[0]);
        Assert.NotEqual(0, got[1]);
        Assert.Equal(0, got[2]);
        Assert.Equal(expected.Info, got);
    }

    public static TheoryData<KernelFamily, string, int> SolveCases()
    {
        var data = new TheoryData<KernelFamily, string, int>();
        foreach (var dtype in new[] { "f64", "f32" })
        {
            foreach (int n in new[] { 1, 2, 7, 16, 33, 65, 130 }) data.Add(KernelFamily.CpuTuned, dtype, n);
            // Past the panel on the GPU family: 33 here in the slow tier; 37 and 70 in GpuProductionConfigurationTests.
            foreach (int n in new[] { 1, 7 }) data.Add(KernelFamily.GpuTuned, dtype, n);
        }
        return data;
    }

    [Theory]
    [InlineData(KernelFamily.GpuTuned, "f64", 33)]
    [InlineData(KernelFamily.GpuTuned, "f32", 33)]
    [Trait("Tier", "Slow")]
    public void GetrsMatchesReferenceSolvesPastThePanel(KernelFamily family, string dtype, int n) =>
        GetrsMatchesReferenceSolvesOnEverySideAndTranspose(family, dtype, n);

    [Theory]
    [MemberData(nameof(SolveCases))]
    public void GetrsMatchesReferenceSolvesOnEverySideAndTranspose(KernelFamily family, string dtype, int n)
    {
        if (dtype == "f64") Solve<double>(family, n);
        else Solve<float>(family, n);
    }

    private void Solve<T>(KernelFamily family, int n) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        const int leftCols = 3, rightRows = 4; // B is [n, 3] (left) or [4, n] (right)
        int seed = 31 * n;
        // (factor batch, B batch): one each, a batch of three, and one factorization broadcast over three.
        foreach (var (batchA, batch) in new[] { (1, 1), (3, 3), (1, 3) })
        {
            var a = PermutedWellConditioned(batchA, n, seed++);
            using var lu = TestData.Upload<T>(device, a, new Shape(batchA, n, n));
            using var pivots = PoisonedInts(device, new Shape(batchA, n, 1));
            using var info = PoisonedInts(device, new Shape(batchA, 1, 1));
            Blas.Getrf(lu, pivots, info);
            Assert.All(info.ToArray(), i => Assert.Equal(0, i));
            foreach (bool left in new[] { true, false })
            foreach (bool transpose in new[] { false, true })
            {
                var shape = left ? new Shape(batch, n, leftCols) : new Shape(batch, rightRows, n);
                var b = TestData.Random(shape, seed++);
                var expected = LuReference.Solve(a, batchA, n, b, batch, left ? leftCols : rightRows, left, transpose);
                using var x = TestData.Upload<T>(device, b, shape);
                Blas.Getrs(lu, pivots, x, left, transpose);
                TestData.AssertClose(expected, x.ToArray(), TestData.KernelTol<T>() * Math.Max(1, n / 16.0),
                    $"{family} {typeof(T).Name} n={n} factors batch {batchA}, B batch {batch}, left={left} transpose={transpose}");
            }
        }
    }

    /// <summary>
    /// Π·(R + 2√n·I), R uniform(−1, 1), Π a random row permutation: condition number below ~4
    /// (the singular values of R stay under ≈1.2√n), and pivoting must undo Π.
    /// </summary>
    private static double[] PermutedWellConditioned(int batch, int n, int seed)
    {
        var r = TestData.Random(new Shape(batch, n, n), seed);
        var rng = new Random(seed);
        var a = new double[r.Length];
        for (int b = 0; b < batch; b++)
        {
            var perm = Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                long src = (long)b * n * n + perm[i] * n + j;
                a[(long)b * n * n + i * n + j] = r[src] + (perm[i] == j ? 2 * Math.Sqrt(n) : 0);
            }
        }
        return a;
    }

    [Fact]
    public void GetrsRejectsMismatchedRightHandSides()
    {
        var device = devices.Cpu;
        using var lu = device.Zeros<double>(new Shape(2, 5, 5));
        using var pivots = device.Zeros<int>(new Shape(2, 5, 1));
        using var b = device.Zeros<double>(new Shape(2, 4, 3));
        var e = Assert.Throws<ArgumentException>(() => Blas.Getrs(lu, pivots, b));
        Assert.Contains("Getrs", e.Message);
        Assert.Contains("[2, 5, 5]", e.Message);
        Assert.Contains("[2, 4, 3]", e.Message);
        using var b3 = device.Zeros<double>(new Shape(3, 5, 3));
        e = Assert.Throws<ArgumentException>(() => Blas.Getrs(lu, pivots, b3));
        Assert.Contains("[3, 5, 3]", e.Message);
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned, 70, 75, 77)]
    [InlineData(KernelFamily.GpuTuned, 40, 45, 47)]
    public void GetrfOnSubBlockLeavesTheRestAlone(KernelFamily family, int n, int rows, int cols)
    {
        var device = devices.Get(family);
        const int batch = 2, r0 = 3, c0 = 5;
        var shape = new Shape(batch, rows, cols);
        var big = TestData.Random(shape, 11);
        var a = new double[batch * n * n];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            a[b * n * n + i * n + j] = big[(long)b * rows * cols + (r0 + i) * cols + c0 + j];
        var expected = LuReference.Getrf(a, batch, n);

        using var dbig = TestData.Upload<double>(device, big, shape);
        using var pivots = PoisonedInts(device, new Shape(batch, n, 1));
        using var info = PoisonedInts(device, new Shape(batch, 1, 1));
        Blas.Getrf(device, dbig.Mat.Block(r0, c0, n, n), pivots, info);
        var got = dbig.ToArray();
        var want = (double[])big.Clone();
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            want[(long)b * rows * cols + (r0 + i) * cols + c0 + j] = expected.Lu[b * n * n + i * n + j];
        TestData.AssertClose(want, got, 1e-10 * n / 16.0, $"{family} sub-block factors (elements outside the block must stay)");
        Assert.Equal(expected.Pivots, pivots.ToArray());
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void LaswpAppliesInterchangesToRowsOrColumnsInEitherOrder(KernelFamily family)
    {
        var device = devices.Get(family);
        const int batch = 3, n = 9, m = 70; // m > 64: two blocks of lines on the CPU family
        var rng = new Random(3);
        foreach (int pivotBatch in new[] { batch, 1 })
        {
            var piv = new int[pivotBatch * n];
            for (int b = 0; b < pivotBatch; b++)
            for (int i = 0; i < n; i++)
                piv[b * n + i] = rng.Next(i, n);
            using var dpiv = device.Upload<int>(piv, new Shape(pivotBatch, n, 1));
            foreach (bool columns in new[] { false, true })
            foreach (bool backward in new[] { false, true })
            {
                var shape = columns ? new Shape(batch, m, n) : new Shape(batch, n, m);
                var x = TestData.Random(shape, 17);
                var want = (double[])x.Clone();
                for (int b = 0; b < batch; b++)
                for (int s = 0; s < n; s++)
                {
                    int k = backward ? n - 1 - s : s, p = piv[(pivotBatch == 1 ? 0 : b) * n + k];
                    for (int l = 0; l < m; l++)
                    {
                        long ek = columns ? (long)b * m * n + l * n + k : (long)b * n * m + k * m + l;
                        long ep = columns ? (long)b * m * n + l * n + p : (long)b * n * m + p * m + l;
                        (want[ek], want[ep]) = (want[ep], want[ek]);
                    }
                }
                using var dx = TestData.Upload<double>(device, x, shape);
                Blas.Laswp(device, dx.Mat, dpiv, columns, backward);
                Assert.Equal(want, dx.ToArray());
            }
        }
    }

    [Fact]
    public void GetrfRejectsNonSquareAndMismatchedPivots()
    {
        var device = devices.Cpu;
        using var a = device.Zeros<double>(new Shape(2, 3, 4));
        using var pivots = device.Zeros<int>(new Shape(2, 3, 1));
        using var info = device.Zeros<int>(new Shape(2, 1, 1));
        var e = Assert.Throws<ArgumentException>(() => Blas.Getrf(a, pivots, info));
        Assert.Contains("Getrf", e.Message);
        Assert.Contains("[2, 3, 4]", e.Message);

        using var square = device.Zeros<double>(new Shape(2, 3, 3));
        using var shortPivots = device.Zeros<int>(new Shape(2, 2, 1));
        e = Assert.Throws<ArgumentException>(() => Blas.Getrf(square, shortPivots, info));
        Assert.Contains("[2, 3, 3]", e.Message);
        Assert.Contains("[2, 2, 1]", e.Message);
    }

    /// <summary>
    /// The GPU-family LU kernels compile to PTX (the emulated GPU runs their .NET code, which
    /// cannot show what ILGPU's CUDA back end rejects). The panel's pivot order ranks NaN first
    /// through !(|a| ≤ max finite), which must stay an unordered comparison (setp.gtu) in PTX.
    /// </summary>
    [Fact]
    public void GpuKernelsCompileToPtx()
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        foreach (var (method, explicitGroups, type) in new (MethodInfo, bool, string)[]
        {
            (((Action<ArrayView<float>, ArrayView<int>, ArrayView<int>, LuArgs<float>>)LuGpu.PanelKernel).Method, true, "f32"),
            (((Action<ArrayView<double>, ArrayView<int>, ArrayView<int>, LuArgs<double>>)LuGpu.PanelKernel).Method, true, "f64"),
            (((Action<ArrayView<float>, ArrayView<int>, LuArgs<float>, int>)LuGpu.SwapAndSolveKernel).Method, true, "f32"),
            (((Action<ArrayView<double>, ArrayView<int>, LuArgs<double>, int>)LuGpu.SwapAndSolveKernel).Method, true, "f64"),
            (((Action<Index1D, ArrayView<float>, ArrayView<int>, SwapArgs>)LuGpu.LaswpKernel).Method, false, "f32"),
            (((Action<Index1D, ArrayView<double>, ArrayView<int>, SwapArgs>)LuGpu.LaswpKernel).Method, false, "f64"),
        })
        {
            var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
            var entry = explicitGroups ? EntryPointDescription.FromExplicitlyGroupedKernel(method) : EntryPointDescription.FromImplicitlyGroupedKernel(method);
            string ptx = ((PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty)).PTXAssembly;
            Assert.Contains(".entry", ptx);
            if (method.Name == nameof(LuGpu.PanelKernel)) Assert.Contains($"setp.gtu.{type}", ptx);
        }
    }

    private static DeviceTensor<int> PoisonedInts(Device device, Shape shape)
    {
        var data = new int[shape.Length];
        Array.Fill(data, IntPoison);
        return device.Upload<int>(data, shape);
    }
}
