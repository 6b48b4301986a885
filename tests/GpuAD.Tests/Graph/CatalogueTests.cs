using System.Reflection;
using GpuAD.Bench;
using GpuAD.Kernels;
using GpuAD.Tool.Ops;

namespace GpuAD.Tests.Graph;

/// <summary>
/// The op catalogue is complete and sound: every public op of <see cref="Op"/> is catalogued or
/// excluded here with why; every entry has golden data or says why not; every entry's samples run
/// and match its declared inputs; the one generator's kinds hold what they promise.
/// </summary>
[Collection("Graph")]
public sealed class CatalogueTests(DeviceFixture devices)
{
    /// <summary>Public methods of <see cref="Op"/> that are not catalogue entries, with why.</summary>
    private static readonly Dictionary<string, string> NotCatalogued = new()
    {
        // The same nodes as Cholesky, Solve, AXInvB and TriangularSolve, returning the failure codes
        // on the device instead of throwing; their values and gradients are the catalogued ops'.
        ["CholeskyEx"] = "Cholesky with device-side failure codes",
        ["SolveEx"] = "Solve with device-side failure codes",
        ["AXInvBEx"] = "AXInvB with device-side failure codes",
        ["TriangularSolveEx"] = "TriangularSolve with device-side failure codes",
        // Covariance building blocks of the GP package (points of any dimension, a kernel choice):
        // checked against finite differences and sklearn by GaussianProcessTests and the gp-sklearn
        // golden data, through GaussianProcess.Covariance.
        ["SquaredDistances"] = "pairwise squared distances of points, for GP covariances",
        ["Stationary"] = "a stationary kernel of squared distances, for GP covariances",
        // The fused GP likelihood from data and hyperparameters (X, y, θ and a kernel choice, not
        // matrices of the catalogue's kinds): checked against the composed graph, finite differences
        // and the gp-sklearn golden data by GpLikelihoodTests.
        ["RationalQuadratic"] = "the rational-quadratic kernel of squared distances, for GP covariances (KernelTests)",
        ["ExpSineSquared"] = "the periodic kernel of squared distances, for GP covariances (KernelTests)",
        ["GpNegativeLogMarginalLikelihood"] = "the fused one-buffer GP likelihood of X, y and θ",
        ["GpNegativeLogMarginalLikelihoodEx"] = "the fused GP likelihood with device-side failure codes",
    };

    /// <summary>Catalogue entries without golden data in tests/golden, with why.</summary>
    internal static readonly Dictionary<string, string> WithoutGoldenData = new()
    {
        // Golden cases hold per-matrix values (the data tests compare each batch element with the
        // op's float64 reference); a sum across the batch is checked by GradcheckTests instead.
        ["SumBatch"] = "a batch reduction; the golden cases are per batch element",
        ["Columns"] = "a slice, checked against its float64 reference (CatalogueTests) and by gradcheck; no PyTorch arithmetic to compare",
    };

    [Fact]
    public void EveryPublicOpIsCataloguedOrExcludedWithAReason()
    {
        var methods = typeof(Op).GetMethods(BindingFlags.Public | BindingFlags.Static).Select(m => m.Name).ToHashSet();
        var catalogued = Catalogue.All.Entries.Select(e => e.Name).ToHashSet();
        var missing = methods.Where(m => !catalogued.Contains(m) && !NotCatalogued.ContainsKey(m)).Order().ToList();
        Assert.True(missing.Count == 0, $"public ops neither catalogued nor excluded: {string.Join(", ", missing)}");
        foreach (var (name, why) in NotCatalogued)
        {
            Assert.True(methods.Contains(name), $"exclusion '{name}' ({why}) names no public op");
            Assert.DoesNotContain(name, catalogued);
        }
        // Every entry is a public op of Op, but for the GP likelihood, which its package adds, and
        // Pow's constant-exponent overload, an entry of its own (PowConstant).
        Assert.Equal(["NegativeLogMarginalLikelihood", "PowConstant"], catalogued.Where(n => !methods.Contains(n)).Order());
    }

    [Fact]
    public void EveryEntryHasGoldenDataOrSaysWhyNot()
    {
        // tests/golden holds the cases of GoldenTests; tests/golden/elementwise those of
        // ElementwiseGoldenTests (the elementwise ops, their scalar broadcasting, and two
        // covariances composed from them, which are not entries).
        var withData = Golden.AllCases().Select(Golden.Load).Select(c => c.Entry.Name).ToHashSet();
        withData.UnionWith(ElementwiseGoldenTests.CaseNames().Select(Golden.Load).Select(c => c.EntryOrNull?.Name).OfType<string>());
        foreach (var e in Catalogue.All.Entries)
        {
            if (WithoutGoldenData.TryGetValue(e.Name, out var why))
                Assert.False(withData.Contains(e.Name), $"{e.Name} has golden data now; drop it from the list ({why})");
            else
                Assert.True(withData.Contains(e.Name), $"{e.Name} ({e.GoldenOp}) has no golden case in tests/golden");
        }
    }

    /// <summary>The tool's op names and inputs, as its users call them.</summary>
    [Fact]
    public void TheToolOffersItsOpsUnderTheirNames()
    {
        Assert.StartsWith("matmul, axb, cholesky, triangular-solve, a-xinv-b, logdet, cholesky-solve, ", CliOps.Names);
        foreach (var kebab in new[] { "solve", "cholesky-solve-factor", "cholesky-inverse", "sin", "pow", "divide", "distances", "sum", "gp-nll" })
            Assert.Contains(kebab, CliOps.All.Select(o => o.Kebab));
        // The tool has options for triangular-solve's flags only: no entry with other flags is offered.
        Assert.All(CliOps.All.Where(o => o.Kebab != "triangular-solve"), o => Assert.True(o.Flags.Count == 0 || o.Kebab == "matmul", o.Kebab));
        Assert.Equal(["t", "rhs"], CliOps.Find("triangular-solve").Inputs.Select(i => i.Name));
        Assert.Equal(["sigma", "rhs"], CliOps.Find("cholesky-solve").Inputs.Select(i => i.Name));
        Assert.Equal(["a", "x", "b"], CliOps.Find("a-xinv-b").Inputs.Select(i => i.Name));
    }

    /// <summary>The benchmark's graph ops are catalogue entries under their keys (the workload runs the entry's call on inputs of its kinds).</summary>
    [Fact]
    public void TheBenchmarksGraphOpsAreCatalogued()
    {
        foreach (var op in new[] { BenchOp.MatMul, BenchOp.Axb, BenchOp.TriangularSolve, BenchOp.AXInvB, BenchOp.LogDet, BenchOp.CholeskySolve, BenchOp.Cholesky, BenchOp.GpNll })
        {
            string key = new Problem(op, DType.Fp64, 1, 4).OpKey;
            Assert.True(Catalogue.All.FindKebab(key) is not null, $"bench op {key} is not a catalogue entry's kebab name");
        }
    }

    public static TheoryData<string> Entries() => new(Catalogue.All.Entries.Select(e => e.Name));

    /// <summary>
    /// Each variant's sample at batch 2 around n = 5 (one input broadcast with batch 1 where it has
    /// several): the entry's inputs and flags, data of its kinds, the node whose name the op's
    /// errors spell, and float64 values equal to the entry's managed reference.
    /// </summary>
    [Theory]
    [MemberData(nameof(Entries))]
    public void EveryVariantsSampleMatchesItsFloat64Reference(string name)
    {
        var op = Catalogue.All.Get(name);
        Assert.Equal(op.Dims.Count, op.Around(5).Length);
        foreach (var args in op.Variants)
        {
            var s = op.SampleAround(2, 5, args);
            if (s.Shapes.Length > 1) s = s.Broadcast(s.Shapes.Length - 1);
            Assert.Equal(op.Inputs.Count, s.Shapes.Length);
            Assert.Equal(op.Flags.Select(f => f.Name).Order(), s.Args.Values.Keys.Order());
            using var tape = new Tape(devices.Cpu);
            var data = s.Shapes.Select((_, i) => s.Data(i, 10 + i)).ToArray();
            var y = s.Apply(s.Shapes.Select((shape, i) => tape.Variable(data[i], shape)).ToArray());
            if (name != "NegativeLogMarginalLikelihood") Assert.Equal(op.ErrorName, y.Producer!.Name); // the NLL's last node is not one op
            var values = y.Value.ToArray();
            if (name == "SumBatch")
            {
                Assert.Null(op.Reference([new double[1, 1]], args)); // a sum across the batch: no per-matrix reference
                continue;
            }
            for (int b = 0; b < y.Shape.Batch; b++)
            {
                var expected = op.Reference([.. data.Select((d, i) => Float64Reference.Matrix(d, s.Shapes[i], b))], args)!;
                var actual = Float64Reference.Matrix(values, y.Shape, b);
                Assert.Equal((expected.GetLength(0), expected.GetLength(1)), (actual.GetLength(0), actual.GetLength(1)));
                double err = TestData.RelErr(expected.Cast<double>().ToArray(), actual.Cast<double>().ToArray());
                Assert.True(err <= 1e-12, $"{s} {args}, batch element {b}: relative error {err:E2} against the float64 reference");
            }
        }
        Assert.Throws<ArgumentException>(() => op.Resolve(OpArgs.None.With("noSuchFlag", 1)));
    }

    /// <summary>The generator's kinds hold what they promise, at an odd order.</summary>
    [Fact]
    public void TheGeneratorsKindsHoldTheirPromise()
    {
        const int n = 7, batch = 2;
        var shape = new Shape(batch, n, n);
        Assert.Equal(InputData.Generate(InputKind.General, shape, 3), InputData.Generate(InputKind.General, shape, 3)); // seeded
        Assert.NotEqual(InputData.Generate(InputKind.General, shape, 3), InputData.Generate(InputKind.General, shape, 4));
        Assert.All(InputData.Generate(InputKind.General, shape, 3), x => Assert.InRange(x, -1, 1));
        Assert.All(InputData.Generate(InputKind.Positive, shape, 3), x => Assert.InRange(x, 1, 3));
        var spd = InputData.Generate(InputKind.Spd, shape, 3);
        var lower = InputData.Generate(InputKind.Lower, shape, 3);
        var upper = InputData.Generate(InputKind.Upper, shape, 3);
        var inv = InputData.Generate(InputKind.Invertible, shape, 3);
        var l = Reference.Cholesky(spd, batch, n);
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            long at = (long)b * n * n + i * n + j;
            Assert.Equal(spd[at], spd[(long)b * n * n + j * n + i]);
            if (j > i) Assert.Equal(0.0, lower[at]);
            if (j < i) Assert.Equal(0.0, upper[at]);
            if (i == j)
            {
                Assert.InRange(Math.Abs(lower[at]), 1, 2);
                Assert.InRange(Math.Abs(upper[at]), 1, 2);
                Assert.True(l[at] >= 1 - 1e-12, $"SPD pivot {i} of matrix {b}: {l[at]}, below the shift 1 (A·Aᵀ/n + I ⪰ I)");
                Assert.InRange(inv[at], 2 - 1 / Math.Sqrt(n), 2 + 1 / Math.Sqrt(n)); // 2 + E/√n on the diagonal
            }
            else if (j < i)
            {
                Assert.InRange(Math.Abs(lower[at]), 0, 1 / Math.Sqrt(n)); // the diagonal dominates
            }
        }
        Assert.Throws<ArgumentException>(() => InputData.Generate(InputKind.Spd, new Shape(1, 3, 4), 1));
    }
}
