using CsCheck;
using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// Property tests (CsCheck): random shapes, batch sizes with broadcasting, and flags for every op;
/// each case checks the forward value against a float64 managed reference and the adjoint identity
/// ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ (<see cref="Gradcheck"/>'s AdjointError). Sizes reach past the kernels'
/// block sizes (64 CPU-tuned; 32 GPU-tuned, where the emulated GPU runs a few small cases). A
/// failure is shrunk by CsCheck to a small case and reported with the case and its seed; set the
/// environment variable CsCheck_Seed to that seed to replay it.
/// </summary>
[Collection("Reliability")]
public sealed class PropertyTests(DeviceFixture devices)
{
    private const double AdjointTol = 1e-10;

    /// <summary>Runs the property on <paramref name="iter"/> random cases on one thread (the device serializes anyway).</summary>
    private static void Check<TCase>(Gen<TCase> gen, Action<TCase> property, int iter) where TCase : notnull =>
        gen.Sample(property, iter: iter, threads: 1, print: c => c.ToString()!);

    /// <summary>A size: anything in [1, max], or a block boundary (±1) more often than chance.</summary>
    private static Gen<int> Size(int max, params int[] boundaries) =>
        Gen.Frequency((3, Gen.Int[1, max]), (1, Gen.OneOfConst([1, .. boundaries.SelectMany(b => new[] { b - 1, b, b + 1 }).Where(s => s <= max)])));

    private static double[] Expand(double[] x, Shape s, int batch)
    {
        if (s.Batch == batch) return x;
        return Enumerable.Range(0, batch).SelectMany(_ => x).ToArray();
    }

    private static void AssertAdjoint(Device device, Func<Var<double>[], Var<double>> f, GradcheckInput[] inputs, int seed, object c)
    {
        var r = Gradcheck.Run(device, f, inputs, new GradcheckOptions(Directions: 1, Seed: seed, NoiseStep: 0));
        Assert.True(r.AdjointError <= AdjointTol, $"{c}: adjoint error {r.AdjointError:E2}");
    }

    private static double[] Forward(Device device, Func<Var<double>[], Var<double>> f, params GradcheckInput[] inputs)
    {
        using var tape = new Tape(device);
        return f(inputs.Select(i => tape.Constant(i.Data, i.Shape)).ToArray()).ToArray();
    }

    private static float[] ForwardFloat(Device device, Func<Var<float>[], Var<float>> f, params GradcheckInput[] inputs)
    {
        using var tape = new Tape(device);
        return f(inputs.Select(i => tape.Constant(TestData.To<float>(i.Data), i.Shape)).ToArray()).ToArray();
    }

    private static void AssertClose(double[] expected, double[] actual, double tol, object c, string what)
    {
        double err = TestData.RelErr(expected, actual);
        Assert.True(err <= tol, $"{c}: {what}: relative error {err:E2} > {tol:E0}");
    }

    // ---- MatMul: every flag pair, broadcasting either operand, sizes across the GEMM blocks ----

    public sealed record MatMulCase(KernelFamily Family, int BatchA, int BatchB, int M, int K, int N, bool TransA, bool TransB, int Seed);

    private static Gen<MatMulCase> MatMulCases(KernelFamily family, int max) =>
        from batch in Gen.Int[1, 3]
        from broadcast in Gen.Int[0, 2] // 0: none, 1: A has batch 1, 2: B has batch 1
        from m in Size(max, 64)
        from k in Size(max, 64)
        from n in Size(max, 64)
        from ta in Gen.Bool
        from tb in Gen.Bool
        from seed in Gen.Int[0, 1 << 20]
        select new MatMulCase(family, broadcast == 1 ? 1 : batch, broadcast == 2 ? 1 : batch, m, k, n, ta, tb, seed);

    private void MatMulProperty(MatMulCase c)
    {
        var device = devices.Get(c.Family);
        var sa = c.TransA ? new Shape(c.BatchA, c.K, c.M) : new Shape(c.BatchA, c.M, c.K);
        var sb = c.TransB ? new Shape(c.BatchB, c.N, c.K) : new Shape(c.BatchB, c.K, c.N);
        GradcheckInput a = new(TestData.Random(sa, c.Seed), sa), b = new(TestData.Random(sb, c.Seed + 1), sb);
        int batch = Math.Max(c.BatchA, c.BatchB);
        var expected = Reference.Gemm(a.Data, (sa.Batch, sa.Rows, sa.Cols), c.TransA, b.Data, (sb.Batch, sb.Rows, sb.Cols), c.TransB, null, batch, 1, 0);
        AssertClose(expected, Forward(device, v => Op.MatMul(v[0], v[1], c.TransA, c.TransB), a, b), 1e-12 * c.K + 1e-14, c, "float64 forward");
        AssertClose(expected, TestData.ToDouble(ForwardFloat(device, v => Op.MatMul(v[0], v[1], c.TransA, c.TransB), a, b)), 1e-4, c, "float32 forward");
        AssertAdjoint(device, v => Op.MatMul(v[0], v[1], c.TransA, c.TransB), [a, b], c.Seed, c);
    }

    [Fact]
    public void MatMulAgreesWithTheReferenceAndItsAdjointCpuTuned() => Check(MatMulCases(KernelFamily.CpuTuned, 80), MatMulProperty, 20);

    [Fact]
    public void MatMulAgreesWithTheReferenceAndItsAdjointGpuTuned() => Check(MatMulCases(KernelFamily.GpuTuned, 66), MatMulProperty, 3);

    // ---- Axb: three factors, any of them broadcast ----

    public sealed record AxbCase(int BatchA, int BatchX, int BatchB, int P, int M, int N, int Q, int Seed);

    [Fact]
    public void AxbAgreesWithTheReferenceAndItsAdjoint() => Check(
        from batch in Gen.Int[1, 3]
        from broadcast in Gen.Int[0, 3]
        from p in Size(40) from m in Size(40) from n in Size(40) from q in Size(40)
        from seed in Gen.Int[0, 1 << 20]
        select new AxbCase(broadcast == 1 ? 1 : batch, broadcast == 2 ? 1 : batch, broadcast == 3 ? 1 : batch, p, m, n, q, seed),
        c =>
        {
            var device = devices.Cpu;
            Shape sa = new(c.BatchA, c.P, c.M), sx = new(c.BatchX, c.M, c.N), sb = new(c.BatchB, c.N, c.Q);
            GradcheckInput a = new(TestData.Random(sa, c.Seed), sa), x = new(TestData.Random(sx, c.Seed + 1), sx), b = new(TestData.Random(sb, c.Seed + 2), sb);
            int batch = new[] { c.BatchA, c.BatchX, c.BatchB }.Max();
            var ax = Reference.Gemm(a.Data, (sa.Batch, c.P, c.M), false, x.Data, (sx.Batch, c.M, c.N), false, null, batch, 1, 0);
            var expected = Reference.Gemm(ax, (batch, c.P, c.N), false, b.Data, (sb.Batch, c.N, c.Q), false, null, batch, 1, 0);
            AssertClose(expected, Forward(device, v => Op.Axb(v[0], v[1], v[2]), a, x, b), 1e-11, c, "forward");
            AssertAdjoint(device, v => Op.Axb(v[0], v[1], v[2]), [a, x, b], c.Seed, c);
        }, 12);

    // ---- TriangularSolve: all 16 flag combinations, broadcast T or B, sizes across the TRSM blocks ----

    public sealed record TrsmCase(KernelFamily Family, int BatchT, int BatchB, int N, int K, bool Lower, bool Left, bool Transpose, bool Unit, int Seed);

    private static Gen<TrsmCase> TrsmCases(KernelFamily family, int max) =>
        from batch in Gen.Int[1, 3]
        from broadcast in Gen.Int[0, 2]
        from n in Size(max, 32, 64)
        from k in Gen.Int[1, 6]
        from lower in Gen.Bool from left in Gen.Bool from transpose in Gen.Bool from unit in Gen.Bool
        from seed in Gen.Int[0, 1 << 20]
        select new TrsmCase(family, broadcast == 1 ? 1 : batch, broadcast == 2 ? 1 : batch, n, k, lower, left, transpose, unit, seed);

    private void TrsmProperty(TrsmCase c)
    {
        var device = devices.Get(c.Family);
        Shape st = new(c.BatchT, c.N, c.N), sb = c.Left ? new(c.BatchB, c.N, c.K) : new(c.BatchB, c.K, c.N);
        GradcheckInput t = new(TestData.Triangular(c.BatchT, c.N, c.Lower, c.Seed), st), b = new(TestData.Random(sb, c.Seed + 1), sb);
        int batch = Math.Max(c.BatchT, c.BatchB);
        var expected = Reference.TriangularSolve(t.Data, c.BatchT, c.N, Expand(b.Data, sb, batch), batch, sb.Rows, sb.Cols, c.Left, c.Lower, c.Transpose, c.Unit, 1);
        Var<double> F(Var<double>[] v) => Op.TriangularSolve(v[0], v[1], c.Lower, c.Left, c.Transpose, c.Unit);
        AssertClose(expected, Forward(device, F, t, b), 1e-10, c, "forward");
        AssertAdjoint(device, F, [t, b], c.Seed, c);
    }

    [Fact]
    public void TriangularSolveAgreesWithTheReferenceAndItsAdjointCpuTuned() => Check(TrsmCases(KernelFamily.CpuTuned, 80), TrsmProperty, 20);

    [Fact]
    public void TriangularSolveAgreesWithTheReferenceAndItsAdjointGpuTuned() => Check(TrsmCases(KernelFamily.GpuTuned, 34), TrsmProperty, 3);

    // ---- Cholesky, LogDet, CholeskySolve (from Σ or from L), GP NLL: sizes 1 and across the POTRF blocks ----

    public sealed record SpdCase(KernelFamily Family, string Op, int BatchS, int BatchB, int N, int K, int Seed);

    private static Gen<SpdCase> SpdCases(KernelFamily family, int max) =>
        from op in Gen.OneOfConst("Cholesky", "LogDet", "CholeskySolve", "CholeskySolveFactor", "NegativeLogMarginalLikelihood")
        from batch in Gen.Int[1, 3]
        from broadcast in Gen.Int[0, 2]
        from n in Size(max, 32, 64)
        from k in Gen.Int[1, 4]
        from seed in Gen.Int[0, 1 << 20]
        let single = op is "Cholesky" or "LogDet"
        select new SpdCase(family, op, broadcast == 1 && !single ? 1 : batch, broadcast == 2 && !single ? 1 : batch, n, op == "NegativeLogMarginalLikelihood" ? 1 : k, seed);

    private void SpdProperty(SpdCase c)
    {
        var device = devices.Get(c.Family);
        int n = c.N, batch = Math.Max(c.BatchS, c.BatchB);
        bool factor = c.Op == "CholeskySolveFactor";
        Shape ss = new(c.BatchS, n, n), sb = new(c.BatchB, n, c.K);
        var spd = TestData.Spd(c.BatchS, n, c.Seed);
        var l = Reference.Cholesky(spd, c.BatchS, n);
        GradcheckInput s = factor ? new(l, ss) : new(spd, ss, PerturbationKind.Symmetric), b = new(TestData.Random(sb, c.Seed + 1), sb);
        var lb = Expand(l, ss, batch);
        double[] Solve(double[] rhs) // Σ⁻¹·rhs = L⁻ᵀ·(L⁻¹·rhs)
        {
            var z = Reference.TriangularSolve(lb, batch, n, rhs, batch, n, c.K, left: true, lower: true, transpose: false, unitDiagonal: false, 1);
            return Reference.TriangularSolve(lb, batch, n, z, batch, n, c.K, left: true, lower: true, transpose: true, unitDiagonal: false, 1);
        }
        double LogDet(int m) => 2 * Enumerable.Range(0, n).Sum(i => Math.Log(l[((long)m * n + i) * n + i]));
        Func<Var<double>[], Var<double>> f;
        double[] expected;
        GradcheckInput[] inputs = [s, b];
        switch (c.Op)
        {
            case "Cholesky":
                f = v => Op.Cholesky(v[0]);
                expected = l;
                inputs = [s];
                break;
            case "LogDet":
                f = v => Op.LogDet(v[0]);
                expected = Enumerable.Range(0, c.BatchS).Select(LogDet).ToArray();
                inputs = [s];
                break;
            case "NegativeLogMarginalLikelihood":
                f = v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]);
                var yb = Expand(b.Data, sb, batch);
                var alpha = Solve(yb);
                expected = Enumerable.Range(0, batch).Select(m =>
                    0.5 * Enumerable.Range(0, n).Sum(i => yb[m * n + i] * alpha[m * n + i]) + 0.5 * LogDet(c.BatchS == 1 ? 0 : m) + 0.5 * n * Math.Log(2 * Math.PI)).ToArray();
                break;
            default:
                f = factor ? v => Op.CholeskySolveFactor(v[0], v[1]) : v => Op.CholeskySolve(v[0], v[1]);
                expected = Solve(Expand(b.Data, sb, batch));
                break;
        }
        AssertClose(expected, Forward(device, f, inputs), 1e-10, c, "forward");
        AssertAdjoint(device, f, inputs, c.Seed, c);
    }

    [Fact]
    public void FactorizationOpsOfSpdMatricesAgreeWithTheReferenceAndTheirAdjointsCpuTuned() => Check(SpdCases(KernelFamily.CpuTuned, 80), SpdProperty, 20);

    [Fact]
    public void FactorizationOpsOfSpdMatricesAgreeWithTheReferenceAndTheirAdjointsGpuTuned() => Check(SpdCases(KernelFamily.GpuTuned, 34), SpdProperty, 3);

    // ---- Solve and AXInvB (LU with partial pivoting): broadcast X, sizes across the LU panels ----

    public sealed record LuCase(KernelFamily Family, bool WithA, int BatchA, int BatchX, int BatchB, int P, int N, int Q, int Seed);

    private static Gen<LuCase> LuCases(KernelFamily family, int max) =>
        from withA in Gen.Bool
        from batch in Gen.Int[1, 3]
        from broadcast in Gen.Int[0, 3]
        from p in Gen.Int[1, 5]
        from n in Size(max, 32, 64)
        from q in Gen.Int[1, 5]
        from seed in Gen.Int[0, 1 << 20]
        select new LuCase(family, withA, broadcast == 1 ? 1 : batch, broadcast == 2 ? 1 : batch, broadcast == 3 ? 1 : batch, p, n, q, seed);

    private void LuProperty(LuCase c)
    {
        var device = devices.Get(c.Family);
        int n = c.N;
        Shape sa = new(c.BatchA, c.P, n), sx = new(c.BatchX, n, n), sb = new(c.BatchB, n, c.Q);
        var xs = TestData.Invertible(sx.Batch, n, c.Seed);
        GradcheckInput a = new(TestData.Random(sa, c.Seed + 1), sa), x = new(xs, sx), b = new(TestData.Random(sb, c.Seed + 2), sb);
        int batch = c.WithA ? new[] { c.BatchA, c.BatchX, c.BatchB }.Max() : Math.Max(c.BatchX, c.BatchB);
        var z = LuReference.Solve(xs, c.BatchX, n, Expand(b.Data, sb, batch), batch, c.Q, left: true, transpose: false);
        Func<Var<double>[], Var<double>> f = c.WithA ? v => Op.AXInvB(v[0], v[1], v[2]) : v => Op.Solve(v[0], v[1]);
        GradcheckInput[] inputs = c.WithA ? [a, x, b] : [x, b];
        var expected = c.WithA ? Reference.Gemm(a.Data, (sa.Batch, c.P, n), false, z, (batch, n, c.Q), false, null, batch, 1, 0) : z;
        AssertClose(expected, Forward(device, f, inputs), 1e-10, c, "forward");
        AssertAdjoint(device, f, inputs, c.Seed, c);
    }

    [Fact]
    public void SolveAndAXInvBAgreeWithTheReferenceAndTheirAdjointsCpuTuned() => Check(LuCases(KernelFamily.CpuTuned, 80), LuProperty, 16);

    [Fact]
    public void SolveAndAXInvBAgreeWithTheReferenceAndTheirAdjointsGpuTuned() => Check(LuCases(KernelFamily.GpuTuned, 34), LuProperty, 3);

    // ---- The elementwise ops and reductions, broadcasting either operand ----

    public sealed record ElementwiseCase(string Op, int BatchA, int BatchB, int Rows, int Cols, int Diagonal, int Seed);

    [Fact]
    public void ElementwiseOpsAndReductionsAgreeWithTheReferenceAndTheirAdjoints() => Check(
        from op in Gen.OneOfConst("Add", "Subtract", "Multiply", "Dot", "MultiplyScalar", "Scale", "Transpose", "Sum", "Trace", "Diag", "Tril", "Exp", "Log")
        from batch in Gen.Int[1, 4]
        from broadcast in Gen.Int[0, 2]
        from rows in Size(70)
        from cols in Size(70)
        from diagonal in Gen.Int[-3, 3]
        from seed in Gen.Int[0, 1 << 20]
        let square = op is "Trace" or "Diag"
        select new ElementwiseCase(op, broadcast == 1 ? 1 : batch, broadcast == 2 ? 1 : batch, rows, square ? rows : cols, diagonal, seed),
        c =>
        {
            int batch = Math.Max(c.BatchA, c.BatchB), r = c.Rows, k = c.Cols;
            Shape sa = new(c.BatchA, r, k), sb = c.Op == "MultiplyScalar" ? new(c.BatchB, 1, 1) : new(c.BatchB, r, k);
            var ad = TestData.Random(sa, c.Seed);
            if (c.Op == "Log") ad = ad.Select(v => v + 2).ToArray();
            GradcheckInput a = new(ad, sa), b = new(TestData.Random(sb, c.Seed + 1), sb);
            double A(int m, int i, int j) => a.Data[((long)(c.BatchA == 1 ? 0 : m) * r + i) * k + j];
            double B(int m, int i, int j) => c.Op == "MultiplyScalar" ? b.Data[c.BatchB == 1 ? 0 : m] : b.Data[((long)(c.BatchB == 1 ? 0 : m) * r + i) * k + j];
            double[] Each(int mats, int rows, int cols, Func<int, int, int, double> e) =>
                Enumerable.Range(0, mats).SelectMany(m => Enumerable.Range(0, rows).SelectMany(i => Enumerable.Range(0, cols).Select(j => e(m, i, j)))).ToArray();
            double[] PerMatrix(int mats, Func<int, double> e) => Enumerable.Range(0, mats).Select(e).ToArray();
            (Func<Var<double>[], Var<double>> f, double[] expected, bool binary) = c.Op switch
            {
                "Add" => ((Func<Var<double>[], Var<double>>)(v => Op.Add(v[0], v[1])), Each(batch, r, k, (m, i, j) => A(m, i, j) + B(m, i, j)), true),
                "Subtract" => (v => Op.Subtract(v[0], v[1]), Each(batch, r, k, (m, i, j) => A(m, i, j) - B(m, i, j)), true),
                "Multiply" => (v => Op.Multiply(v[0], v[1]), Each(batch, r, k, (m, i, j) => A(m, i, j) * B(m, i, j)), true),
                "MultiplyScalar" => (v => Op.MultiplyScalar(v[0], v[1]), Each(batch, r, k, (m, i, j) => A(m, i, j) * B(m, 0, 0)), true),
                "Dot" => (v => Op.Dot(v[0], v[1]), PerMatrix(batch, m => Each(1, r, k, (_, i, j) => A(m, i, j) * B(m, i, j)).Sum()), true),
                "Scale" => (v => Op.Scale(v[0], -1.75), Each(c.BatchA, r, k, (m, i, j) => -1.75 * A(m, i, j)), false),
                "Transpose" => (v => Op.Transpose(v[0]), Each(c.BatchA, k, r, (m, i, j) => A(m, j, i)), false),
                "Sum" => (v => Op.Sum(v[0]), PerMatrix(c.BatchA, m => Each(1, r, k, (_, i, j) => A(m, i, j)).Sum()), false),
                "Trace" => (v => Op.Trace(v[0]), PerMatrix(c.BatchA, m => Enumerable.Range(0, r).Sum(i => A(m, i, i))), false),
                "Diag" => (v => Op.Diag(v[0]), Each(c.BatchA, r, 1, (m, i, _) => A(m, i, i)), false),
                "Tril" => (v => Op.Tril(v[0], c.Diagonal), Each(c.BatchA, r, k, (m, i, j) => j - i <= c.Diagonal ? A(m, i, j) : 0), false),
                "Exp" => (v => Op.Exp(v[0]), Each(c.BatchA, r, k, (m, i, j) => Math.Exp(A(m, i, j))), false),
                _ => (v => Op.Log(v[0]), Each(c.BatchA, r, k, (m, i, j) => Math.Log(A(m, i, j))), false),
            };
            GradcheckInput[] inputs = binary ? [a, b] : [a];
            AssertClose(expected, Forward(devices.Cpu, f, inputs), 1e-13 * Math.Max(1, r * k), c, "forward");
            AssertAdjoint(devices.Cpu, f, inputs, c.Seed, c);
        }, 30);

    // ---- The failure report ----

    [Fact]
    public void AFailingPropertyReportsTheShrunkCaseAndItsSeed()
    {
        // A stand-in defect: every product with M ≥ 20 and A transposed "fails".
        var e = Assert.ThrowsAny<Exception>(() => Check(MatMulCases(KernelFamily.CpuTuned, 80), c => Assert.False(c.M >= 20 && c.TransA, "defect"), 200));
        Assert.Contains("MatMulCase {", e.Message);
        Assert.Contains("TransA = True", e.Message);
        Assert.Contains("CsCheck_Seed=", e.Message); // how to replay it
        var m = System.Text.RegularExpressions.Regex.Match(e.Message, @"M = (\d+)");
        Assert.True(m.Success && int.Parse(m.Groups[1].Value) >= 20, e.Message); // the printed case does fail
    }
}
