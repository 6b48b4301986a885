using static GpuAD.Float64Reference;

namespace GpuAD.Tests.Oracle;

/// <summary>
/// The golden data itself (tests/golden/, written by tests/oracle/generate.py): every case folder
/// complete and consistent, every op covered, and the data obeying the semantics meta.json states,
/// checked against small managed float64 references.
/// </summary>
public sealed class GoldenDataTests
{
    /// <summary>
    /// The golden data's ops (the catalogue's, less those it lists as having none) and the flags
    /// each must carry: its entries' flags, and the flag that tells entries sharing the op apart.
    /// </summary>
    // The entries whose golden cases are the top-level folders of tests/golden (the elementwise
    // ops' are in tests/golden/elementwise, checked by ElementwiseGoldenTests).
    private static readonly Dictionary<string, string[]> OpFlags = Catalogue.All.Entries
        .Where(e => !GpuAD.Tests.Graph.CatalogueTests.WithoutGoldenData.ContainsKey(e.Name))
        .Where(e => TopLevelOps.Contains(e.GoldenOp))
        .GroupBy(e => e.GoldenOp)
        .ToDictionary(g => g.Key, g => g.SelectMany(e => e.Flags.Select(f => f.Name).Concat(e.GoldenKey is { } k ? [k.Flag] : [])).Distinct().ToArray());

    private static HashSet<string> TopLevelOps => topLevelOps ??= Golden.AllCases().Select(Golden.ReadOp).ToHashSet();

    private static HashSet<string>? topLevelOps;

    public static TheoryData<string> AllCases() => new(Golden.AllCases());

    [Theory]
    [MemberData(nameof(AllCases))]
    public void EveryCaseIsComplete(string name)
    {
        var c = Golden.Load(name);
        Assert.True(OpFlags.TryGetValue(c.Op, out var flags), $"{name}: unknown op '{c.Op}'");
        Assert.Equal(flags.Order(), c.Flags.Keys.Order());
        Assert.NotEmpty(c.InputNames);
        Assert.Equal(c.InputNames.Count, c.InputNames.Distinct().Count());
        Assert.All(c.SpdNames, s => Assert.Contains(s, c.InputNames));

        // exactly the files meta.json promises
        var expected = new List<string> { "meta.json", "y.npy", "cotangent.npy", "ydot.npy" };
        foreach (var x in c.InputNames) expected.AddRange([$"in_{x}.npy", $"grad_{x}.npy", $"tangent_{x}.npy"]);
        Assert.Equal(expected.Order(StringComparer.Ordinal),
            Directory.EnumerateFiles(c.Folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        AssertMatrices(name, "y", c.Y);
        Assert.Equal(c.Y.Shape, c.Cotangent.Shape);
        Assert.Equal(c.Y.Shape, c.Ydot.Shape);
        AssertMatrices(name, "cotangent", c.Cotangent);
        AssertMatrices(name, "ydot", c.Ydot);
        foreach (var x in c.InputNames)
        {
            AssertMatrices(name, $"in_{x}", c.Inputs[x]);
            AssertMatrices(name, $"grad_{x}", c.Grads[x]);
            AssertMatrices(name, $"tangent_{x}", c.Tangents[x]);
            Assert.Equal(c.Inputs[x].Shape, c.Grads[x].Shape);
            Assert.Equal(c.Inputs[x].Shape, c.Tangents[x].Shape);
            if (c.IsSpd(x))
            {
                Assert.True(c.Inputs[x].BatchShape.IsSquare, $"{name}: SPD input {x} is not square");
                AssertSymmetric(name, $"in_{x}", c.Inputs[x]);
                AssertSymmetric(name, $"grad_{x}", c.Grads[x]);
                AssertSymmetric(name, $"tangent_{x}", c.Tangents[x]);
            }
        }

        // ⟨ȳ, ẏ⟩ = Σₓ ⟨x̄, ẋ⟩: the VJP is the adjoint of the JVP on the tangents' space
        double lhs = Dot(c.Cotangent.ToDouble(), c.Ydot.ToDouble());
        double rhs = c.InputNames.Sum(x => Dot(c.Grads[x].ToDouble(), c.Tangents[x].ToDouble()));
        Assert.True(Math.Abs(lhs - rhs) <= 1e-10 * Math.Max(Math.Abs(lhs), Math.Abs(rhs)),
            $"{name}: adjoint identity fails: <cotangent, ydot> = {lhs}, sum <grad, tangent> = {rhs}");
    }

    [Fact]
    public void EveryOpHasCasesOfBatchOneAndThree()
    {
        foreach (var op in OpFlags.Keys)
        {
            var batches = Golden.Cases(op).Select(n => Golden.Load(n).Y.Shape[0]).ToHashSet();
            Assert.True(batches.Contains(1) && batches.Contains(3), $"{op}: cases of batch {string.Join(", ", batches)}; want 1 and 3");
        }
    }

    [Fact]
    public void CasesCoverFlagsAndSizes()
    {
        var trsm = Golden.Cases("triangular-solve").Select(Golden.Load).ToList();
        var combos = trsm.Select(c => (c.Flag("lower"), c.Flag("left"), c.Flag("transpose"), c.Flag("unitDiagonal"))).ToHashSet();
        Assert.Equal(16, combos.Count);

        var matmul = Golden.Cases("matmul").Select(Golden.Load).ToList();
        Assert.Equal(4, matmul.Select(c => (c.Flag("transA"), c.Flag("transB"))).Distinct().Count());
        Assert.Contains(matmul, c => c.Inputs["a"].Shape[0] == 1 && c.Inputs["b"].Shape[0] == 3);

        var choleskySizes = Golden.Cases("cholesky").Select(n => Golden.Load(n).Y.Shape[1]).ToHashSet();
        Assert.Superset(new HashSet<int> { 1, 7, 33, 70 }, choleskySizes);

        var factors = Golden.Cases("cholesky-solve").Select(n => Golden.Load(n).Text("factor")).ToHashSet();
        Assert.Equal(new HashSet<string> { "sigma", "l" }, factors);
        var trilK = Golden.Cases("tril").Select(n => Golden.Load(n).Number("k")).ToHashSet();
        Assert.Equal(new HashSet<double> { 0, -1 }, trilK);
    }

    /// <summary>
    /// Inputs of which an op reads one triangle: gradient and tangent vanish outside it, and the
    /// other triangle holds junk that changes the answer when read.
    /// </summary>
    [Fact]
    public void TriangularInputsHoldJunkOutsideTheTriangleRead()
    {
        var cases = Golden.Cases("triangular-solve").Concat(Golden.Cases("cholesky-solve")).Select(Golden.Load);
        int checkedCases = 0;
        foreach (var c in cases)
        {
            bool isTrsm = c.Op == "triangular-solve";
            if (!isTrsm && c.Text("factor") != "l") continue;
            string x = isTrsm ? "t" : "l";
            bool lower = !isTrsm || c.Flag("lower");
            bool unit = isTrsm && c.Flag("unitDiagonal");
            var t = c.Inputs[x];
            int batch = t.Shape[0], n = t.Shape[1];
            for (int b = 0; b < batch; b++)
            {
                var junk = Mat(t, b);
                var grad = Mat(c.Grads[x], b);
                var tangent = Mat(c.Tangents[x], b);
                for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    bool read = unit ? (lower ? j < i : j > i) : (lower ? j <= i : j >= i);
                    if (read) continue;
                    Assert.True(grad[i, j] == 0 && tangent[i, j] == 0, $"{c.Name}: grad or tangent nonzero at ({b}, {i}, {j}), outside the triangle read");
                    Assert.True(Math.Abs(junk[i, j]) >= 5, $"{c.Name}: in_{x}[{b}, {i}, {j}] = {junk[i, j]} is not junk");
                }
            }
            checkedCases++;
        }
        Assert.True(checkedCases >= 16 + 2, $"only {checkedCases} triangular cases");
    }

    /// <summary>y as meta.json's op defines it, from the catalogue entry's managed float64 reference.</summary>
    [Theory]
    [MemberData(nameof(AllCases))]
    public void OutputsFollowTheOpSemantics(string name)
    {
        var c = Golden.Load(name);
        var (op, args) = (c.Entry, c.Args);
        int batch = c.Y.Shape[0];
        for (int b = 0; b < batch; b++)
        {
            var expected = op.Reference([.. c.InputNames.Select(x => Mat(c.Inputs[x], b))], args)
                ?? throw new InvalidOperationException($"{name}: {op.Name} has no float64 reference");
            double err = RelErr(expected, Mat(c.Y, b));
            Assert.True(err <= 1e-11, $"{name}: batch element {b}: y differs from the op's definition by {err:E2}");
        }
    }

    /// <summary>A reader that takes the junk triangle of T gets a different answer.</summary>
    [Fact]
    public void ReadingTheJunkTriangleGivesAWrongAnswer()
    {
        int checkedCases = 0;
        foreach (var c in Golden.Cases("triangular-solve").Select(Golden.Load))
        {
            if (c.Inputs["t"].Shape[1] == 1 && !c.Flag("unitDiagonal")) continue; // no unread entries
            var t = Mat(c.Inputs["t"], 0);
            var rhs = Mat(c.Inputs["rhs"], 0);
            var a = Float64Reference.Op(t, c.Flag("transpose"));
            var full = c.Flag("left") ? Solve(a, rhs) : T(Solve(T(a), T(rhs)));
            Assert.True(RelErr(full, Mat(c.Y, 0)) > 1e-3, $"{c.Name}: the junk triangle does not change the solution");
            checkedCases++;
        }
        Assert.True(checkedCases >= 16);
    }

    private static void AssertMatrices(string name, string what, NpyArray a)
    {
        Assert.True(a.DType == "f8" && a.Shape.Length == 3, $"{name}: {what} is {a.DType} of {a.Shape.Length} dimensions; want 3-D f8");
        Assert.True(a.Shape[0] is >= 1 and <= 3 && a.Shape[1] <= 70 && a.Shape[2] <= 70, $"{name}: {what} is larger than golden cases should be");
        Assert.True(a.ToDouble().All(double.IsFinite), $"{name}: {what} holds non-finite values");
    }

    private static void AssertSymmetric(string name, string what, NpyArray a)
    {
        for (int b = 0; b < a.Shape[0]; b++)
        {
            var m = Mat(a, b);
            Assert.True(RelErr(m, T(m)) == 0, $"{name}: {what}[{b}] is not symmetric");
        }
    }

    /// <summary>Batch element b of a [batch, rows, cols] array; a batch of 1 broadcasts.</summary>
    private static double[,] Mat(NpyArray a, int b) => Float64Reference.Matrix(a.ToDouble(), a.BatchShape, b);

    private static double Dot(double[] a, double[] b) => a.Zip(b, (p, q) => p * q).Sum();

    private static double RelErr(double[,] expected, double[,] actual)
    {
        Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        Assert.Equal(expected.GetLength(1), actual.GetLength(1));
        return TestData.RelErr(expected.Cast<double>().ToArray(), actual.Cast<double>().ToArray());
    }
}
