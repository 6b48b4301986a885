namespace GpuAD.Tests.Oracle;

/// <summary>
/// The golden data itself (tests/golden/, written by tests/oracle/generate.py): every case folder
/// complete and consistent, every op covered, and the data obeying the semantics meta.json states,
/// checked against small managed float64 references.
/// </summary>
public sealed class GoldenDataTests
{
    /// <summary>The ops and the flags each must carry.</summary>
    private static readonly Dictionary<string, string[]> OpFlags = new()
    {
        ["matmul"] = ["transA", "transB"],
        ["axb"] = [],
        ["a-xinv-b"] = [],
        ["solve"] = [],
        ["cholesky"] = [],
        ["triangular-solve"] = ["lower", "left", "transpose", "unitDiagonal"],
        ["cholesky-solve"] = ["factor"],
        ["logdet"] = [],
        ["cholesky-inverse"] = [],
        ["add"] = [],
        ["subtract"] = [],
        ["scale"] = ["alpha"],
        ["multiply"] = [],
        ["transpose"] = [],
        ["sum"] = [],
        ["trace"] = [],
        ["add-diagonal"] = [],
        ["dot"] = [],
        ["diag"] = [],
        ["tril"] = ["k"],
        ["gp-nll"] = [],
    };

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
        var cases = Golden.Cases("triangular-solve").Concat(Golden.Cases("cholesky-solve")).Concat(Golden.Cases("cholesky-inverse")).Select(Golden.Load);
        int checkedCases = 0;
        foreach (var c in cases)
        {
            bool isTrsm = c.Op == "triangular-solve";
            if (c.Op == "cholesky-solve" && c.Text("factor") != "l") continue;
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

    /// <summary>y as meta.json's op defines it, from managed float64 references.</summary>
    [Theory]
    [MemberData(nameof(AllCases))]
    public void OutputsFollowTheOpSemantics(string name)
    {
        var c = Golden.Load(name);
        int batch = c.Y.Shape[0];
        for (int b = 0; b < batch; b++)
        {
            double[,] In(string x) => Mat(c.Inputs[x], b);
            double[,] expected = c.Op switch
            {
                "matmul" => Mul(Op(In("a"), c.Flag("transA")), Op(In("b"), c.Flag("transB"))),
                "axb" => Mul(Mul(In("a"), In("x")), In("b")),
                "a-xinv-b" => Mul(In("a"), Solve(In("x"), In("b"))),
                "solve" => Solve(In("x"), In("b")),
                "cholesky" => Cholesky(In("sigma")),
                "triangular-solve" => TriangularSolve(c, In("t"), In("rhs")),
                "cholesky-solve" when c.Text("factor") == "sigma" => Solve(In("sigma"), In("rhs")),
                "cholesky-solve" => Solve(Mul(Tril(In("l"), 0), T(Tril(In("l"), 0))), In("rhs")),
                "logdet" => Scalar(LogDet(In("sigma"))),
                "cholesky-inverse" => Solve(Mul(Tril(In("l"), 0), T(Tril(In("l"), 0))), Identity(In("l").GetLength(0))),
                "add" => Map(In("a"), In("b"), (p, q) => p + q),
                "subtract" => Map(In("a"), In("b"), (p, q) => p - q),
                "scale" => Map(In("a"), In("a"), (p, _) => c.Number("alpha") * p),
                "multiply" => Map(In("a"), In("b"), (p, q) => p * q),
                "transpose" => T(In("a")),
                "sum" => Scalar(In("a").Cast<double>().Sum()),
                "add-diagonal" => AddDiagonal(In("a"), In("s")[0, 0]),
                "trace" => Scalar(Enumerable.Range(0, In("a").GetLength(0)).Sum(i => In("a")[i, i])),
                "dot" => Scalar(In("a").Cast<double>().Zip(In("b").Cast<double>(), (p, q) => p * q).Sum()),
                "diag" => Column(Enumerable.Range(0, In("a").GetLength(0)).Select(i => In("a")[i, i]).ToArray()),
                "tril" => Tril(In("a"), (int)c.Number("k")),
                "gp-nll" => Scalar(0.5 * Mul(T(In("y")), Solve(In("sigma"), In("y")))[0, 0] + 0.5 * LogDet(In("sigma"))
                                   + 0.5 * In("y").GetLength(0) * Math.Log(2 * Math.PI)),
                _ => throw new InvalidOperationException($"{name}: unknown op '{c.Op}'"),
            };
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
            var a = Op(t, c.Flag("transpose"));
            var full = c.Flag("left") ? Solve(a, rhs) : T(Solve(T(a), T(rhs)));
            Assert.True(RelErr(full, Mat(c.Y, 0)) > 1e-3, $"{c.Name}: the junk triangle does not change the solution");
            checkedCases++;
        }
        Assert.True(checkedCases >= 16);
    }

    private static double[,] TriangularSolve(GoldenCase c, double[,] t, double[,] rhs)
    {
        bool lower = c.Flag("lower"), unit = c.Flag("unitDiagonal");
        var tri = Tril(lower ? t : T(t), unit ? -1 : 0);
        if (!lower) tri = T(tri);
        if (unit) for (int i = 0; i < tri.GetLength(0); i++) tri[i, i] = 1;
        var a = Op(tri, c.Flag("transpose"));
        return c.Flag("left") ? Solve(a, rhs) : T(Solve(T(a), T(rhs))); // X·A = B ⇔ Aᵀ·Xᵀ = Bᵀ
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

    // ---- small managed float64 references, one matrix at a time ----

    /// <summary>Batch element b of a [batch, rows, cols] array; a batch of 1 broadcasts.</summary>
    private static double[,] AddDiagonal(double[,] a, double s)
    {
        var y = (double[,])a.Clone();
        for (int i = 0; i < y.GetLength(0); i++) y[i, i] += s;
        return y;
    }

    private static double[,] Mat(NpyArray a, int b)
    {
        var s = a.BatchShape;
        var data = a.ToDouble();
        int offset = (s.Batch == 1 ? 0 : b) * s.Rows * s.Cols;
        var m = new double[s.Rows, s.Cols];
        for (int i = 0; i < s.Rows; i++)
        for (int j = 0; j < s.Cols; j++)
            m[i, j] = data[offset + i * s.Cols + j];
        return m;
    }

    private static double[,] Mul(double[,] a, double[,] b)
    {
        int m = a.GetLength(0), k = a.GetLength(1), n = b.GetLength(1);
        Assert.Equal(k, b.GetLength(0));
        var c = new double[m, n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++) s += a[i, p] * b[p, j];
            c[i, j] = s;
        }
        return c;
    }

    private static double[,] T(double[,] a)
    {
        var t = new double[a.GetLength(1), a.GetLength(0)];
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++)
            t[j, i] = a[i, j];
        return t;
    }

    private static double[,] Op(double[,] a, bool transpose) => transpose ? T(a) : a;

    private static double[,] Tril(double[,] a, int k)
    {
        var t = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++)
            if (j > i + k) t[i, j] = 0;
        return t;
    }

    private static double[,] Identity(int n)
    {
        var eye = new double[n, n];
        for (int i = 0; i < n; i++) eye[i, i] = 1;
        return eye;
    }

    private static double[,] Map(double[,] a, double[,] b, Func<double, double, double> f)
    {
        var c = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++)
            c[i, j] = f(a[i, j], b[i, j]);
        return c;
    }

    private static double[,] Scalar(double v) => new double[,] { { v } };

    private static double[,] Column(double[] v)
    {
        var c = new double[v.Length, 1];
        for (int i = 0; i < v.Length; i++) c[i, 0] = v[i];
        return c;
    }

    /// <summary>A⁻¹·B by Gaussian elimination with partial pivoting.</summary>
    private static double[,] Solve(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), q = b.GetLength(1);
        var lu = (double[,])a.Clone();
        var x = (double[,])b.Clone();
        for (int k = 0; k < n; k++)
        {
            int p = k;
            for (int i = k + 1; i < n; i++) if (Math.Abs(lu[i, k]) > Math.Abs(lu[p, k])) p = i;
            for (int j = 0; j < n; j++) (lu[k, j], lu[p, j]) = (lu[p, j], lu[k, j]);
            for (int j = 0; j < q; j++) (x[k, j], x[p, j]) = (x[p, j], x[k, j]);
            for (int i = k + 1; i < n; i++)
            {
                double f = lu[i, k] / lu[k, k];
                for (int j = k; j < n; j++) lu[i, j] -= f * lu[k, j];
                for (int j = 0; j < q; j++) x[i, j] -= f * x[k, j];
            }
        }
        for (int k = n - 1; k >= 0; k--)
        for (int j = 0; j < q; j++)
        {
            double s = x[k, j];
            for (int i = k + 1; i < n; i++) s -= lu[k, i] * x[i, j];
            x[k, j] = s / lu[k, k];
        }
        return x;
    }

    /// <summary>The lower Cholesky factor, reading the lower triangle; fails unless positive-definite.</summary>
    private static double[,] Cholesky(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int j = 0; j < n; j++)
        {
            double d = a[j, j];
            for (int k = 0; k < j; k++) d -= l[j, k] * l[j, k];
            Assert.True(d > 0, $"leading minor of order {j + 1} is not positive-definite");
            l[j, j] = Math.Sqrt(d);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = s / l[j, j];
            }
        }
        return l;
    }

    private static double LogDet(double[,] spd)
    {
        var l = Cholesky(spd);
        return Enumerable.Range(0, l.GetLength(0)).Sum(i => 2 * Math.Log(l[i, i]));
    }

    private static double Dot(double[] a, double[] b) => a.Zip(b, (p, q) => p * q).Sum();

    private static double RelErr(double[,] expected, double[,] actual)
    {
        Assert.Equal(expected.GetLength(0), actual.GetLength(0));
        Assert.Equal(expected.GetLength(1), actual.GetLength(1));
        return TestData.RelErr(expected.Cast<double>().ToArray(), actual.Cast<double>().ToArray());
    }
}
