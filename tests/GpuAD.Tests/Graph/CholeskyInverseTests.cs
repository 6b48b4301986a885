using GpuAD.Kernels;
using GpuAD.Tests.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// Op.CholeskyInverse on both kernel families at sizes crossing the blocks of its in-place inverse
/// (64 on the CPU family, 32 on the emulated GPU): the value against a float64 reference, the VJP
/// and JVP against finite differences and each other (the adjoint identity), and a zero diagonal
/// reported by batch element and index with the input untouched.
/// </summary>
[Collection("Graph")]
public sealed class CholeskyInverseTests(DeviceFixture devices)
{
    public static TheoryData<KernelFamily, int> Sizes() => new()
    {
        { KernelFamily.CpuTuned, 1 }, { KernelFamily.CpuTuned, 65 }, { KernelFamily.CpuTuned, 130 },
        { KernelFamily.GpuTuned, 5 }, { KernelFamily.GpuTuned, 40 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void ValueMatchesFloat64Reference(KernelFamily family, int n)
    {
        var device = devices.Get(family);
        const int batch = 2;
        var l = Reference.Cholesky(TestData.Spd(batch, n, seed: 40 + n), batch, n);
        using var tape = new Tape(device);
        using var dl = device.Upload(l, batch, n, n);
        var s = Op.CholeskyInverse(tape.Variable(dl));
        TestData.AssertClose(PotriTests.ReferenceInverse(l, batch, n), s.Value.ToArray(), 1e-10 * Math.Max(1, n / 8.0), $"{family} n={n}");
    }

    public static TheoryData<KernelFamily, int> GradcheckSizes() => new()
    {
        { KernelFamily.CpuTuned, 70 }, { KernelFamily.GpuTuned, 3 },
    };

    [Theory]
    [MemberData(nameof(GradcheckSizes))]
    public void VjpAndJvpMatchFiniteDifferencesAndEachOther(KernelFamily family, int n) => Check(family, n);

    /// <summary>The GPU family past its block (the blocked TRTRI and LAUUM; the forward alone is in the fast tier, PotriTests).</summary>
    [Fact]
    [Trait("Tier", "Slow")]
    public void VjpAndJvpMatchFiniteDifferencesAndEachOtherOnTheGpuFamilyPastItsBlock() => Check(KernelFamily.GpuTuned, 37);

    private void Check(KernelFamily family, int n)
    {
        var shape = new Shape(2, n, n);
        var l = new GradcheckInput(TestData.Triangular(2, n, lower: true, seed: 70 + n), shape);
        var r = Gradcheck.Run(devices.Get(family), v => Op.CholeskyInverse(v[0]), [l]);
        Assert.True(r.Passed, $"{family} n={n}: {r}");
        Assert.Contains(r.Comparisons, c => c.Kind == GradcheckKind.Adjoint);
    }

    [Theory]
    [InlineData(KernelFamily.CpuTuned)]
    [InlineData(KernelFamily.GpuTuned)]
    public void ZeroDiagonalIsReportedByBatchElementAndIndex(KernelFamily family)
    {
        var device = devices.Get(family);
        const int batch = 3, n = 6;
        var l = TestData.Triangular(batch, n, lower: true, seed: 9);
        l[1 * n * n + 4 * n + 4] = 0; // batch element 1, L[5,5] one-based
        using var dl = device.Upload(l, batch, n, n);
        using var tape = new Tape(device);
        var e = Assert.Throws<SingularMatrixException>(() => Op.CholeskyInverse(tape.Variable(dl)));
        Assert.Equal(("CholeskyInverse", 1, 5), (e.Op, e.BatchIndex, e.Pivot));
        Assert.Contains("CholeskyInverse: batch element 1", e.Message);
        Assert.Contains("L[5,5]", e.Message);
        Assert.Equal(0, tape.NodeCount);
        Assert.Equal(l, dl.ToArray());
    }

    [Fact]
    public void NonSquareIsAShapeError()
    {
        using var tape = new Tape(devices.Cpu);
        using var a = devices.Cpu.Upload(new double[6], 1, 2, 3);
        var e = Assert.Throws<ArgumentException>(() => Op.CholeskyInverse(tape.Variable(a)));
        Assert.Contains("CholeskyInverse", e.Message);
    }
}
