using System.Numerics;
using GpuAD.Kernels;
using Xunit;

namespace GpuAD.Tests.Kernels;

[Collection("Potrf")]
public sealed class PotriTests(DeviceFixture devices)
{
    /// <summary>
    /// (family, dtype, n, block size; 0 = the family's Cholesky blocks: 64 on the CPU family, 32 on
    /// the emulated GPU). Explicit small blocks cross many block boundaries with ragged last blocks;
    /// n ≤ block takes the one-block path.
    /// </summary>
    public static TheoryData<KernelFamily, string, int, int> Cases()
    {
        var data = new TheoryData<KernelFamily, string, int, int>();
        foreach (var dtype in new[] { "f64", "f32" })
        {
            foreach (int n in new[] { 1, 2, 17, 64, 65, 130 })
                data.Add(KernelFamily.CpuTuned, dtype, n, 0);
            data.Add(KernelFamily.CpuTuned, dtype, 33, 7);
            data.Add(KernelFamily.GpuTuned, dtype, 1, 0);
            data.Add(KernelFamily.GpuTuned, dtype, 20, 8);
        }
        data.Add(KernelFamily.CpuTuned, "f64", 16, 16);
        data.Add(KernelFamily.CpuTuned, "f64", 0, 0);
        data.Add(KernelFamily.GpuTuned, "f64", 45, 0);
        data.Add(KernelFamily.GpuTuned, "f64", 70, 32);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void InverseMatchesFloat64Reference(KernelFamily family, string dtype, int n, int blockSize)
    {
        if (dtype == "f64") Run<double>(family, n, blockSize);
        else Run<float>(family, n, blockSize);
    }

    private void Run<T>(KernelFamily family, int n, int blockSize) where T : unmanaged, INumber<T>
    {
        var device = devices.Get(family);
        foreach (int batch in new[] { 1, 3 })
        {
            var a = TestData.Spd(batch, n, seed: n * 17 + batch);
            var l = Reference.Cholesky(a, batch, n);
            var expected = ReferenceInverse(l, batch, n);
            using var dl = TestData.Upload<T>(device, TestData.WithNaNAbove(l, batch, n), new Shape(batch, n, n));
            var plan = CholeskyInversePlan.For<T>(device, n, batch, blockSize);
            long before = device.Launches;
            Blas.Potri(device, dl.Mat, plan);
            string what = $"{family} {typeof(T).Name} n={n} batch={batch} block={blockSize}";
            Assert.True(plan.Launches == device.Launches - before, $"{what}: the plan counts {plan.Launches} launches, the pass made {device.Launches - before}");
            double tol = TestData.KernelTol<T>() * Math.Max(1, n / 8.0);
            TestData.AssertClose(expected, dl.ToArray(), tol, what + ": (L·Lᵀ)⁻¹");
        }
    }

    [Fact]
    public void BlockedPlanCountsItsSteps()
    {
        var plan = CholeskyInversePlan.For<double>(devices.Cpu, 130, 2, blockSize: 64);
        // Three diagonal blocks: two panels and three diagonal inversions (TRTRI), two rows and three diagonal products (LAUUM), one mirror.
        Assert.Equal(new[] { 2, 3, 2, 3, 1 },
            new[] { CholeskyInverseStepKind.InvertPanel, CholeskyInverseStepKind.InvertDiagonal, CholeskyInverseStepKind.ProductRow,
                    CholeskyInverseStepKind.ProductDiagonal, CholeskyInverseStepKind.Mirror }.Select(k => plan.Steps.Count(s => s.Kind == k)).ToArray());
        Assert.Equal(64L * 130 + 64 * 64, plan.WorkElementsPerMatrix);
    }

    /// <summary>S = L⁻ᵀ·L⁻¹ by substitution against I.</summary>
    internal static double[] ReferenceInverse(double[] l, int batch, int n)
    {
        var eye = new double[batch * n * n];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++) eye[b * n * n + i * n + i] = 1;
        var linv = Reference.TriangularSolve(l, batch, n, eye, batch, n, n, left: true, lower: true, transpose: false, unitDiagonal: false, 1);
        return Reference.Gemm(linv, (batch, n, n), true, linv, (batch, n, n), false, null, batch, 1, 0);
    }
}
