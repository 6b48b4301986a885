using GpuAD.Kernels;
using GpuAD.Tool.Commands;
using GpuAD.Tool.Ops;

namespace GpuAD.Tests.Cli;

/// <summary>
/// The blocked-path cases of <c>gpuad check</c>'s table (Cholesky, the GP likelihood, triangular
/// and LU solves at <see cref="CheckCases.BlockedOrders"/>, float64 against finite differences and
/// float32 against float64) pass on the CPU accelerator, checked in process through the verb's
/// own <see cref="CheckCommand.Check"/>: order 120 in the fast tier, 600 (blocks of 64 on either
/// family) in the slow one. The table's small cases are the ops' gradchecks of
/// <c>GradcheckTests</c> again; <c>CliVerbTests</c> runs the verb itself on a few.
/// </summary>
[Collection("Cli")]
public sealed class CheckCasesTests(DeviceFixture devices)
{
    private static readonly IReadOnlyList<CheckCase> Table = CheckCases.All();

    private static string Name(CheckCase c) => $"{c.Op} {c.Detail} {c.DType}";

    private static TheoryData<string> Names(Func<CheckCase, bool> which)
    {
        var data = new TheoryData<string>();
        foreach (var c in Table.Where(which)) data.Add(Name(c));
        return data;
    }

    public static TheoryData<string> Blocked() => Names(c => c.Order is > 0 and <= 512 && !c.GpuFamilyOnly);

    public static TheoryData<string> GpuFamilyOnly() => Names(c => c.GpuFamilyOnly);

    public static TheoryData<string> Large() => Names(c => c.Order > 512);

    [Theory]
    [MemberData(nameof(Blocked))]
    public void BlockedCasesUpToOrder512Pass(string name) => Check(name);

    [Theory]
    [MemberData(nameof(Large))]
    [Trait("Tier", "Slow")]
    public void BlockedCasesPastOrder512Pass(string name) => Check(name);

    /// <summary>The cases that force a GPU-family path (the dataflow Cholesky), on the emulated GPU; the CPU family's table leaves them out.</summary>
    [Theory]
    [MemberData(nameof(GpuFamilyOnly))]
    [Trait("Tier", "Slow")]
    public void GpuFamilyCasesPassOnTheEmulatedGpu(string name)
    {
        var c = Table.Single(x => Name(x) == name);
        var r = CheckCommand.Check(devices.GpuEmulated, c);
        Assert.True(r.Passed, $"{name}: {r.Worst()}");
        Assert.DoesNotContain(CheckCases.All(gpuFamily: false), x => Name(x) == name);
    }

    [Fact]
    public void TheTableCoversEveryOpAndBothBlockedOrders()
    {
        foreach (var op in Catalogue.All.Entries)
            Assert.Contains(Table, c => c.Op == op.Title);
        Assert.Contains(Table, c => c.Op == "GP NLL");
        Assert.True(Table.Count >= 50, $"only {Table.Count} cases");
        Assert.Equal(Table.Count, Table.Select(Name).Distinct().Count()); // each name picks one case
        foreach (int n in CheckCases.BlockedOrders)
            Assert.Contains(Table, c => c.Order == n && c.DType == "f32");
        Assert.Contains(Table, c => c.GpuFamilyOnly && c.DType == "f64");
    }

    private void Check(string name)
    {
        var c = Table.Single(x => Name(x) == name);
        var r = CheckCommand.Check(devices.Cpu, c);
        Assert.True(r.Passed, $"{name}: {r.Worst()}");
    }
}
