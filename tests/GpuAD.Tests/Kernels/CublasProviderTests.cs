using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Kernels;

[CollectionDefinition("Cublas", DisableParallelization = true)] public sealed class CublasCollection : ICollectionFixture<DeviceFixture>;

/// <summary>
/// The cuBLAS GEMM provider's calls, checked without a GPU: on the emulated GPU the managed
/// column-major reference of the same cuBLAS entry points (<see cref="CublasReference"/>) stands
/// behind the provider, and a tuning table gives it every shape class, so each call site's mapping
/// — operand swap, transposes, leading dimensions of sub-blocks, offsets, batch strides (a
/// broadcast operand's 0), α and β, the SYRK of a lower-triangle update — is compared with the
/// float64 references. Also: the library's load failures, one line each.
/// </summary>
[Collection("Cublas")]
public sealed class CublasProviderTests(DeviceFixture devices) : IDisposable
{
    private readonly Device gpu = devices.GpuEmulated;
    private readonly TuningTable original = devices.GpuEmulated.Tuning;
    private CublasReference reference = null!;

    private void UseReference(string classes = "all")
    {
        reference = new CublasReference();
        var (provider, status) = CublasProvider.Create(gpu, reference);
        Assert.True(provider is not null, status);
        gpu.Cublas = provider;
        gpu.Tuning = original with { GemmCublas = classes };
    }

    public void Dispose()
    {
        gpu.Cublas = null;
        gpu.Tuning = original;
    }

    /// <summary>
    /// C[batch, m, n] (a block at an offset inside a larger tensor) = α·op(A)·op(B) + β·C with A and
    /// B blocks of larger tensors too, A broadcast in the batched case.
    /// </summary>
    [Theory]
    [InlineData("f64", false, false, 1)]
    [InlineData("f64", true, false, 3)]
    [InlineData("f64", false, true, 3)]
    [InlineData("f32", true, true, 2)]
    public void GemmOfBlocksMatchesTheReference(string dtype, bool ta, bool tb, int batch)
    {
        UseReference();
        if (dtype == "f64") Gemm<double>(ta, tb, batch);
        else Gemm<float>(ta, tb, batch);
        Assert.True(reference.Calls > 0, "cuBLAS was not called");
    }

    private void Gemm<T>(bool ta, bool tb, int batch) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int m = 7, n = 5, k = 6, pad = 3;
        int aBatch = batch > 1 ? 1 : batch; // A broadcasts over the batch
        var (ar, ac) = ta ? (k, m) : (m, k);
        var (br, bc) = tb ? (n, k) : (k, n);
        var aShape = new Shape(aBatch, ar + pad, ac + pad);
        var bShape = new Shape(batch, br + pad, bc + pad);
        var cShape = new Shape(batch, m + pad, n + pad);
        var aData = TestData.Random(aShape, 1);
        var bData = TestData.Random(bShape, 2);
        var cData = TestData.Random(cShape, 3);
        using var da = TestData.Upload<T>(gpu, aData, aShape);
        using var db = TestData.Upload<T>(gpu, bData, bShape);
        using var dc = TestData.Upload<T>(gpu, cData, cShape);
        var aBlock = da.Mat.Block(2, 1, ar, ac);
        var aView = batch > 1 ? aBlock with { BatchStride = 0, Batch = batch } : aBlock;
        Blas.Gemm(gpu, aView, ta, db.Mat.Block(1, 3, br, bc), tb, dc.Mat.Block(3, 2, m, n), T.CreateTruncating(0.75), T.CreateTruncating(-0.5));

        var result = TestData.ToDouble(dc.ToArray());
        double Block(double[] x, Shape s, int b, int r0, int c0, int i, int j) => x[((long)b * s.Rows + r0 + i) * s.Cols + c0 + j];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < m + pad; i++)
        for (int j = 0; j < n + pad; j++)
        {
            bool inside = i >= 3 && i < 3 + m && j >= 2 && j < 2 + n;
            double expected = Block(cData, cShape, b, 0, 0, i, j);
            if (inside)
            {
                double s = 0;
                for (int l = 0; l < k; l++)
                {
                    double x = ta ? Block(aData, aShape, 0, 2, 1, l, i - 3) : Block(aData, aShape, 0, 2, 1, i - 3, l);
                    double y = tb ? Block(bData, bShape, b, 1, 3, j - 2, l) : Block(bData, bShape, b, 1, 3, l, j - 2);
                    s += x * y;
                }
                expected = 0.75 * s - 0.5 * expected;
            }
            double actual = result[((long)b * cShape.Rows + i) * cShape.Cols + j];
            Assert.True(Math.Abs(actual - expected) <= TestData.KernelTol<T>() * 10, $"C[{b}, {i}, {j}] = {actual}, expected {expected} (inside the block: {inside})");
        }
    }

    /// <summary>
    /// A lower-triangle update C −= A·Aᵀ of one operand runs as cuBLAS's SYRK on the column-major
    /// upper triangle, β = 0 ignores a NaN in C, and the lower triangle is the reference's.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LowerTriangleUpdateOfOneOperandIsASyrk(bool transposed)
    {
        UseReference();
        const int n = 9, k = 4, batch = 2;
        var aShape = transposed ? new Shape(batch, k, n) : new Shape(batch, n, k);
        var aData = TestData.Random(aShape, 4);
        using var a = TestData.Upload<double>(gpu, aData, aShape);
        using var c = TestData.Poisoned<double>(gpu, new Shape(batch, n, n));
        Blas.Gemm(gpu, a.Mat, transposed, a.Mat, !transposed, c.Mat, 2.0, 0.0, lowerOnly: true);
        var expected = Reference.Gemm(aData, (batch, aShape.Rows, aShape.Cols), transposed, aData, (batch, aShape.Rows, aShape.Cols), !transposed, null, batch, 2.0, 0.0);
        var actual = c.ToArray();
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j <= i; j++)
            Assert.True(Math.Abs(actual[(b * n + i) * n + j] - expected[(b * n + i) * n + j]) <= 1e-12, $"C[{b}, {i}, {j}]");
        Assert.Equal(batch, reference.Calls); // one SYRK per matrix, no GEMM
    }

    /// <summary>
    /// A blocked Cholesky forward and reverse with every GEMM step through the provider (the
    /// trailing updates instead of the look-ahead's tiles, the reverse's grouped updates) and with
    /// the large shapes only (a mixed plan): factor and gradient against the float64 references,
    /// the launches counted equal to the plan's, which holds cuBLAS steps.
    /// </summary>
    [Theory]
    [InlineData("f64")]
    [InlineData("f32")]
    public void BlockedCholeskyThroughTheProviderMatchesTheReferences(string dtype)
    {
        UseReference("all");
        if (dtype == "f64") Cholesky<double>(100, 16);
        else Cholesky<float>(100, 16);
    }

    /// <summary>
    /// A mixed plan: cuBLAS runs the updates of order above 256 (k-panel, mn-panel), the ILGPU
    /// look-ahead the rest, so the forward switches from separate cuBLAS updates to look-ahead
    /// launches part way (n = 300, blocks of 32: the first update is 268 wide).
    /// </summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void AMixedPlanMatchesTheReferences()
    {
        UseReference("k-panel,mn-panel");
        Cholesky<double>(300, 32);
    }

    private void Cholesky<T>(int n, int block) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int batch = 2;
        var shape = new Shape(batch, n, n);
        var sigma = TestData.Spd(batch, n, seed: n);
        var lbar = TestData.Random(shape, seed: n + 1);
        var l = Reference.Cholesky(sigma, batch, n);
        var expectedBar = Reference.CholeskyBackward(l, lbar, batch, n);
        using var da = TestData.Upload<T>(gpu, sigma, shape);
        using var info = gpu.Allocate<int>(new Shape(batch, 1, 1));
        using var dbar = TestData.Upload<T>(gpu, lbar, shape);
        var plan = CholeskyPlan.ForBlockSize<T>(gpu, n, batch, block);
        Assert.Contains(plan.Forward.Concat(plan.Backward), s => s.Gemm is { Provider: GemmProvider.Cublas });
        Assert.Contains(plan.Forward, s => s.Kind == CholeskyStepKind.TrailingUpdate);
        Assert.All(plan.Forward.Where(s => s.Kind == CholeskyStepKind.TrailingUpdate), s => Assert.Equal(GemmProvider.Cublas, s.Gemm!.Value.Provider));

        long before = gpu.Launches;
        Blas.Potrf(gpu, da.Mat, info, block);
        long forward = gpu.Launches - before;
        Blas.PotrfBackward(gpu, da.Mat, dbar.Mat, block, symmetrize: true);
        long backward = gpu.Launches - before - forward;

        Assert.Equal(new int[batch], info.ToArray());
        double tol = TestData.KernelTol<T>() * Math.Max(1, n / 16.0);
        TestData.AssertClose(l, TestData.ToDouble(da.ToArray()), tol, "L");
        TestData.AssertClose(expectedBar, TestData.ToDouble(dbar.ToArray()), tol, "Σ̄");
        Assert.Equal(plan.ForwardLaunches, forward);
        Assert.Equal(plan.BackwardLaunches(symmetrize: true), backward);
        Assert.True(reference.Calls > 0);
    }

    /// <summary>A left triangular solve's block updates go through the provider too.</summary>
    [Fact]
    public void TriangularSolveUpdatesThroughTheProviderMatchTheReference()
    {
        UseReference();
        const int n = 70, cols = 3, batch = 2;
        var t = TestData.Triangular(batch, n, lower: true, seed: 8);
        var b = TestData.Random(new Shape(batch, n, cols), 9);
        using var dt = TestData.Upload<double>(gpu, t, new Shape(batch, n, n));
        using var dx = TestData.Upload<double>(gpu, b, new Shape(batch, n, cols));
        Blas.Trsm(gpu, dt.Mat, dx.Mat, left: true, lower: true, transpose: false, unitDiagonal: false, 1.0);
        var expected = Reference.TriangularSolve(t, batch, n, b, batch, n, cols, left: true, lower: true, transpose: false, unitDiagonal: false, alpha: 1.0);
        TestData.AssertClose(expected, dx.ToArray(), 1e-10, "X");
        Assert.True(reference.Calls > 0);
    }

    /// <summary>
    /// The sweep's provider entry times cuBLAS against the ILGPU tilings on a shape class the
    /// sizes reach (a batch of small products) and writes the class when cuBLAS wins; a cuBLAS
    /// whose product differs from the tilings' is reported and never chosen.
    /// </summary>
    [Fact]
    public void TheSweepChoosesTheProviderOnlyAfterCheckingItsProduct()
    {
        var options = new GpuAD.Bench.TuneOptions { Repeats = 1, GemmOrder = 8, CholeskyLargeOrders = [8], CholeskySmallOrder = 8, CholeskySmallBatch = 3 };
        UseReference("");
        var report = GpuAD.Bench.Tuner.RunProviders(gpu, options);
        var rows = report.Rows.Where(r => r.What.StartsWith("gemmCublas: small", StringComparison.Ordinal)).ToArray();
        Assert.Equal(["ILGPU", "cuBLAS"], rows.Select(r => r.Candidate));
        Assert.All(rows, r => Assert.NotNull(r.MedianMs));
        Assert.Equal(rows[1].Chosen ? "small" : "", report.Table.GemmCublas);
        Assert.True(reference.Calls > 0);

        var (wrong, status) = CublasProvider.Create(gpu, new OffByOne(new CublasReference()));
        Assert.True(wrong is not null, status);
        gpu.Cublas = wrong;
        report = GpuAD.Bench.Tuner.RunProviders(gpu, options);
        var failed = report.Rows.Single(r => r.What.StartsWith("gemmCublas: small", StringComparison.Ordinal) && r.Candidate == "cuBLAS");
        Assert.Null(failed.MedianMs);
        Assert.Contains("the product", failed.Note);
        Assert.Equal("", report.Table.GemmCublas);
    }

    /// <summary>The reference's calls with one element of every GEMM result off by one: a provider that computes wrongly.</summary>
    private sealed unsafe class OffByOne(CublasReference inner) : ICublasApi
    {
        public string Description => "a wrong cuBLAS";
        public int Create(out nint handle) => inner.Create(out handle);
        public int Destroy(nint handle) => inner.Destroy(handle);
        public int SetStream(nint handle, nint stream) => inner.SetStream(handle, stream);
        public int SetMathMode(nint handle, int mode) => inner.SetMathMode(handle, mode);
        public int GetVersion(nint handle, out int version) => inner.GetVersion(handle, out version);
        public int Dgemm(nint h, CublasOperation ta, CublasOperation tb, int m, int n, int k, double* alpha, double* a, int lda, double* b, int ldb, double* beta, double* c, int ldc)
        {
            int status = inner.Dgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
            c[0] += 1;
            return status;
        }
        public int Sgemm(nint h, CublasOperation ta, CublasOperation tb, int m, int n, int k, float* alpha, float* a, int lda, float* b, int ldb, float* beta, float* c, int ldc) =>
            inner.Sgemm(h, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        public int DgemmStridedBatched(nint h, CublasOperation ta, CublasOperation tb, int m, int n, int k, double* alpha, double* a, int lda, long sa, double* b, int ldb, long sb, double* beta, double* c, int ldc, long sc, int count)
        {
            int status = inner.DgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, count);
            c[0] += 1;
            return status;
        }
        public int SgemmStridedBatched(nint h, CublasOperation ta, CublasOperation tb, int m, int n, int k, float* alpha, float* a, int lda, long sa, float* b, int ldb, long sb, float* beta, float* c, int ldc, long sc, int count) =>
            inner.SgemmStridedBatched(h, ta, tb, m, n, k, alpha, a, lda, sa, b, ldb, sb, beta, c, ldc, sc, count);
        public int Dsyrk(nint h, CublasFill uplo, CublasOperation trans, int n, int k, double* alpha, double* a, int lda, double* beta, double* c, int ldc) =>
            inner.Dsyrk(h, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
        public int Ssyrk(nint h, CublasFill uplo, CublasOperation trans, int n, int k, float* alpha, float* a, int lda, float* beta, float* c, int ldc) =>
            inner.Ssyrk(h, uplo, trans, n, k, alpha, a, lda, beta, c, ldc);
    }

    [Fact]
    public void WithoutTheProviderThePlanIsIlgpuOnly()
    {
        gpu.Cublas = null;
        gpu.Tuning = original with { GemmCublas = "all" };
        var plan = CholeskyPlan.For<double>(gpu, 1024, 1);
        Assert.All(plan.Forward.Concat(plan.Backward), s => Assert.NotEqual(GemmProvider.Cublas, s.Gemm?.Provider ?? GemmProvider.Ilgpu));
        Assert.All(plan.Forward, s => Assert.Equal(CholeskyStepKind.PanelLookAhead, s.Kind));
    }

    [Fact]
    public void LoadFailuresAreOneLineEach()
    {
        string dir = Directory.CreateTempSubdirectory("gpuad-cublas").FullName;
        try
        {
            string text = Path.Combine(dir, "libcublas.so.13");
            File.WriteAllText(text, "not a library");
            var cases = new (string Setting, CublasLoad Outcome, string Says)[]
            {
                ("off", CublasLoad.Off, "GPUAD_CUBLAS=off"),
                (Path.Combine(dir, "missing.so"), CublasLoad.NotFound, "no such file"),
                (dir, CublasLoad.Directory, "is a directory"),
                (text, CublasLoad.NotLoadable, "could not be loaded"),
                ("libc.so.6", CublasLoad.SymbolMissing, "has no cublasCreate_v2"),
            };
            foreach (var (setting, outcome, says) in cases)
            {
                if (outcome == CublasLoad.SymbolMissing && !File.Exists("/lib/x86_64-linux-gnu/libc.so.6")) continue;
                var (library, got, status) = CublasLibrary.Load(outcome == CublasLoad.SymbolMissing ? "/lib/x86_64-linux-gnu/libc.so.6" : setting);
                Assert.Null(library);
                Assert.Equal(outcome, got);
                Assert.Contains(says, status);
                Assert.DoesNotContain('\n', status);
            }
            var (found, how, unset) = CublasLibrary.Load(null);
            if (found is null) Assert.Equal((CublasLoad.NotFound, true), (how, unset.Contains("libcublas.so.13 and libcublas.so.12 not found")));
            Assert.Contains("not a CUDA device", devices.Cpu.BlasProvider);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void TheTableNamesTheShapeClasses()
    {
        Assert.True(TuningTable.FromJson("""{"gemmCublas": "large, k-panel"}""", "test").UsesCublas(GemmShapeClass.KPanel));
        Assert.False(TuningTable.FromJson("""{"gemmCublas": "large"}""", "test").UsesCublas(GemmShapeClass.Small));
        var e = Assert.Throws<FormatException>(() => TuningTable.FromJson("""{"gemmCublas": "large,square"}""", "test"));
        Assert.Contains("'square' is not a shape class", e.Message);
        Assert.Equal(GemmShapeClass.KPanel, GemmShapeClasses.Of(1000, 1000, 64));
        Assert.Equal(GemmShapeClass.MnPanel, GemmShapeClasses.Of(64, 1000, 1000));
        Assert.Equal(GemmShapeClass.Small, GemmShapeClasses.Of(64, 64, 64));
        Assert.Equal(GemmShapeClass.Large, GemmShapeClasses.Of(4096, 4096, 4096));
    }
}
