using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// The elementwise ops, their scalar-per-matrix broadcasting, Distances and two covariances
/// composed from them, against PyTorch's float64 values, VJPs and JVPs (tests/golden/elementwise,
/// written by tests/oracle/generate.py --elementwise-only): float64 on both kernel families (the
/// emulated GPU's in the slow tier), float32 on the CPU-tuned one.
/// </summary>
[Collection("Graph")]
public sealed class ElementwiseGoldenTests(DeviceFixture devices)
{
    private const string Folder = "elementwise";

    public static TheoryData<string> Cases() => new(CaseNames());

    internal static List<string> CaseNames()
    {
        var root = Path.Combine(Golden.Root, Folder);
        var names = Directory.EnumerateDirectories(root)
            .Where(d => File.Exists(Path.Combine(d, "meta.json")))
            .Select(d => Path.Combine(Folder, Path.GetFileName(d)))
            .Order(StringComparer.Ordinal)
            .ToList();
        Assert.True(names.Count >= 80, $"{names.Count} golden cases in {root}");
        return names;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float64MatchesPyTorch(string name) => Run<double>(Golden.Load(name), devices.Cpu, 1e-9);

    [Theory]
    [Trait("Tier", "Slow")]
    [MemberData(nameof(Cases))]
    public void Float64OnTheGpuFamilyMatchesPyTorch(string name) => Run<double>(Golden.Load(name), devices.GpuEmulated, 1e-9);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Float32MatchesPyTorch(string name) => Run<float>(Golden.Load(name), devices.Cpu, 1e-3);

    /// <summary>
    /// The op a case names, applied to vars in the case's input order: its catalogue entry, but for
    /// Distances with inverse lengthscales (a third input the entry does not sample) and the two
    /// composed covariances.
    /// </summary>
    private static Var<T> Apply<T>(GoldenCase c, Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T> => c.Op switch
    {
        "distances" when v.Length == 3 => Op.Distances(v[0], v[1], v[2]),
        "exp-sine-squared" => ComposedCovariances.ExpSineSquared(v[0], v[1], v[2], v[3]),
        "rational-quadratic" => ComposedCovariances.RationalQuadratic(v[0], v[1], v[2], v[3]),
        _ => c.Entry.Apply(v, c.Args),
    };

    private static void Run<T>(GoldenCase c, Device device, double tol) where T : unmanaged, IFloatingPointIeee754<T> => Golden.Check<T>(device, c, tol, Apply);
}
