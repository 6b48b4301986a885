using System.Numerics;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// The singularity rule of Solve, AXInvB and TriangularSolve: a pivot (or diagonal entry of T)
/// that is zero or at most n·ε times the largest entry of its column raises
/// <see cref="SingularMatrixException"/> naming the batch element and the pivot, as numpy, SciPy
/// and PyTorch raise on [[1,2,3],[4,5,6],[7,8,9]]; matrices of condition 1e12 still solve; the Ex
/// variants return the info codes instead.
/// </summary>
[Collection("Reliability")]
public sealed class SingularityTests(DeviceFixture devices)
{
    public static TheoryData<KernelFamily> Families() => new(KernelFamily.CpuTuned, KernelFamily.GpuTuned);

    // Batch element 0 is regular, element 1 the classic singular matrix: LAPACK's getrf finds an
    // exactly zero third pivot; GpuAD's LU finds one of rounding size (about 1e-16).
    private static readonly double[] ClassicSingular = [2, 1, 0, 1, 3, 1, 0, 1, 4, /**/ 1, 2, 3, 4, 5, 6, 7, 8, 9];

    [Theory]
    [MemberData(nameof(Families))]
    public void TheClassicSingularMatrixIsSingular(KernelFamily family)
    {
        Singular<double>(family);
        Singular<float>(family);
    }

    private void Singular<T>(KernelFamily family) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var device = devices.Get(family);
        var xShape = new Shape(2, 3, 3);
        var b = TestData.Random(new Shape(2, 3, 2), 1);
        var a = TestData.Random(new Shape(2, 4, 3), 2);
        long inUse = device.Pool.BytesInUse;
        using (var tape = new Tape(device))
        {
            var x = tape.Variable(TestData.To<T>(ClassicSingular), xShape);
            var bv = tape.Variable(TestData.To<T>(b), new Shape(2, 3, 2));
            var av = tape.Variable(TestData.To<T>(a), new Shape(2, 4, 3));
            var e = Assert.Throws<SingularMatrixException>(() => Op.Solve(x, bv));
            Assert.Equal(("Solve", 1, 3), (e.Op, e.BatchIndex, e.Pivot));
            Assert.Contains("Solve: batch element 1: the matrix is singular to working precision: the pivot U[3,3]", e.Message);
            e = Assert.Throws<SingularMatrixException>(() => Op.AXInvB(av, x, bv));
            Assert.Equal(("AXInvB", 1, 3), (e.Op, e.BatchIndex, e.Pivot));

            var (y, info) = Op.SolveEx(x, bv);
            using (info)
            {
                Assert.Equal([0, 3], info.ToArray());
                Assert.Equal(new Shape(2, 3, 2), y.Shape);
            }
            var (z, info2) = Op.AXInvBEx(av, x, bv);
            using (info2) Assert.Equal([0, 3], info2.ToArray());
            Assert.Equal(new Shape(2, 4, 2), z.Shape);
        }
        Assert.Equal(inUse, device.Pool.BytesInUse);
    }

    /// <summary>X = Q·diag(1 … 1e-12)·Qᵀ, and badly scaled but regular matrices, solve to the accuracy their conditioning allows.</summary>
    [Theory]
    [MemberData(nameof(Families))]
    public void IllConditionedButRegularMatricesSolve(KernelFamily family)
    {
        var device = devices.Get(family);
        const int n = 8;
        var x = new double[3 * n * n];
        // Element 0: condition 1e12 through a Householder reflector Q = I − 2vvᵀ/vᵀv.
        var v = TestData.Random(new Shape(1, n, 1), 3);
        double vv = v.Sum(t => t * t);
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        for (int k = 0; k < n; k++)
        {
            double qik = (i == k ? 1 : 0) - 2 * v[i] * v[k] / vv, qjk = (j == k ? 1 : 0) - 2 * v[j] * v[k] / vv;
            x[i * n + j] += qik * Math.Pow(1e-12, k / (n - 1.0)) * qjk;
        }
        // Element 1: diagonal with entries from 1e-20 to 1e20 (condition 1e40, exact to solve).
        for (int i = 0; i < n; i++) x[n * n + i * n + i] = Math.Pow(10, 40.0 * i / (n - 1) - 20);
        // Element 2: upper triangular with a tiny last pivot relative to the matrix, alone in its column.
        for (int i = 0; i < n; i++)
        for (int j = i; j < n; j++)
            x[2 * n * n + i * n + j] = j == n - 1 ? (i == n - 1 ? 1e-30 : 0) : 1 + i + j;
        var b = TestData.Random(new Shape(3, n, 2), 4);
        using var tape = new Tape(device);
        var y = Op.Solve(tape.Constant(x, new Shape(3, n, n)), tape.Constant(b, new Shape(3, n, 2))).ToArray();
        for (int m = 0; m < 3; m++)
        {
            // Backward stability: the residual is of rounding size relative to |X|·|y|.
            double xMax = x[(m * n * n)..((m + 1) * n * n)].Max(Math.Abs), yMax = y[(m * n * 2)..((m + 1) * n * 2)].Max(Math.Abs);
            for (int i = 0; i < n; i++)
            for (int j = 0; j < 2; j++)
            {
                double r = -b[(m * n + i) * 2 + j];
                for (int k = 0; k < n; k++) r += x[(m * n + i) * n + k] * y[(m * n + k) * 2 + j];
                Assert.True(Math.Abs(r) <= 1e-13 * n * xMax * yMax, $"element {m}: residual {r:e2} at [{i}, {j}]");
            }
        }
        for (int i = 0; i < n; i++)
        for (int j = 0; j < 2; j++)
            Assert.Equal(b[(n + i) * 2 + j] / x[n * n + i * n + i], y[(n + i) * 2 + j], 1e-14 * Math.Abs(y[(n + i) * 2 + j]));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void TriangularSolveNamesAZeroOrNumericallyZeroDiagonalEntry(KernelFamily family)
    {
        var device = devices.Get(family);
        const int n = 5;
        foreach (bool lower in new[] { true, false })
        foreach (double tiny in new[] { 0.0, 1e-17, -1e-17 })
        {
            var t = TestData.Triangular(3, n, lower, 5);
            t[(2 * n + 3) * n + 3] = tiny;          // element 2, T[4,4] one-based
            t[(1 * n + 1) * n + 1] = tiny * 1e-300; // element 1, T[2,2]: the first failing element
            var b = TestData.Random(new Shape(3, n, 2), 6);
            long inUse = device.Pool.BytesInUse;
            using (var tape = new Tape(device))
            {
                var tv = tape.Variable(t, new Shape(3, n, n));
                var bv = tape.Variable(b, new Shape(3, n, 2));
                var e = Assert.Throws<SingularMatrixException>(() => Op.TriangularSolve(tv, bv, lower: lower));
                Assert.Equal(("TriangularSolve", 1, 2), (e.Op, e.BatchIndex, e.Pivot));
                Assert.Contains("TriangularSolve: batch element 1: the matrix is singular to working precision: the diagonal entry T[2,2]", e.Message);
                Assert.Throws<SingularMatrixException>(() => Op.TriangularSolve(tv, Op.Transpose(bv), lower: lower, left: false, transpose: true));

                var (y, info) = Op.TriangularSolveEx(tv, bv, lower: lower);
                using (info) Assert.Equal([0, 2, 4], info.ToArray());
                // A unit diagonal is not read, so it cannot be singular.
                var (unit, unitInfo) = Op.TriangularSolveEx(tv, bv, lower: lower, unitDiagonal: true);
                using (unitInfo) Assert.Equal([0, 0, 0], unitInfo.ToArray());
                Assert.True(unit.ToArray().All(double.IsFinite));
                Op.TriangularSolve(tv, bv, lower: lower, unitDiagonal: true);
            }
            Assert.Equal(inUse, device.Pool.BytesInUse);
        }
    }

    /// <summary>A diagonal entry is judged against its own column: small but not rounding-level entries solve.</summary>
    [Fact]
    public void TriangularSolveJudgesEachEntryAgainstItsColumn()
    {
        const int n = 4;
        var device = devices.Cpu;
        var t = TestData.Triangular(2, n, lower: true, 7);
        for (int i = n * n; i < 2 * n * n; i++) t[i] *= 1e-200; // element 1: every entry tiny, none relative to its column
        t[2 * n + 2] = 1e-13;                                     // element 0: T[3,3] small, but 1e-13 of its column, not rounding-level
        using var tape = new Tape(device);
        var (y, info) = Op.TriangularSolveEx(tape.Constant(t, new Shape(2, n, n)), tape.Constant(TestData.Random(new Shape(2, n, 1), 8), new Shape(2, n, 1)), lower: true);
        using (info) Assert.Equal([0, 0], info.ToArray());
        Assert.True(y.ToArray().All(double.IsFinite));
    }

    /// <summary>The check's kernels compile to PTX (the emulated GPU runs their .NET code, not CUDA's).</summary>
    [Fact]
    public void CheckKernelsCompileToPtx()
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
        Action<Index1D, ArrayView<float>, ArrayView<int>, DiagonalCheckArgs<float>> f = Blas.CheckKernel;
        Action<Index1D, ArrayView<double>, ArrayView<int>, DiagonalCheckArgs<double>> d = Blas.CheckKernel;
        Action<Index1D, ArrayView<int>, ArrayView<int>, int> first = Blas.FirstFlagKernel;
        foreach (var method in new[] { f.Method, d.Method, first.Method })
        {
            var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromImplicitlyGroupedKernel(method), KernelSpecialization.Empty);
            Assert.Contains(".entry", compiled.PTXAssembly);
        }
    }
}
