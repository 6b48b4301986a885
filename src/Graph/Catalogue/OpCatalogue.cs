using static GpuAD.Float64Reference;
using R = GpuAD.Float64Reference;

namespace GpuAD;

/// <summary>
/// The op catalogue: one entry per differentiable op (after PyTorch's OpInfo), read by the CLI's
/// op list, <c>gpuad check</c>, the benchmark's graph ops, and the gradcheck, golden and reliability
/// tests. <see cref="Graph"/> holds the ops of this assembly; the Gaussian-process package adds its
/// negative log marginal likelihood (<c>Catalogue.All</c> there), since the NLL is built on these
/// ops and this assembly cannot see it. Adding an op is one entry class below and one line in
/// <see cref="Graph"/>.
/// </summary>
internal sealed class OpCatalogue
{
    private OpCatalogue(IReadOnlyList<OpInfo> entries)
    {
        var twice = entries.GroupBy(e => e.Name).Concat(entries.GroupBy(e => e.Kebab)).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null) throw new ArgumentException($"the catalogue names '{twice.Key}' twice.");
        Entries = entries;
    }

    /// <summary>The entries, in listing order (the CLI lists its ops in this order).</summary>
    public IReadOnlyList<OpInfo> Entries { get; }

    /// <summary>This catalogue and <paramref name="more"/>.</summary>
    public OpCatalogue With(params OpInfo[] more) => new([.. Entries, .. more]);

    /// <summary>The entry of an op by the name its errors spell (<c>TriangularSolve</c>).</summary>
    /// <exception cref="KeyNotFoundException">No entry has that name.</exception>
    public OpInfo Get(string name) => Entries.FirstOrDefault(e => e.Name == name)
        ?? throw new KeyNotFoundException($"the op catalogue has no op '{name}'.");

    /// <summary>The entry of a kebab name (<c>triangular-solve</c>), or null.</summary>
    public OpInfo? FindKebab(string kebab) => Entries.FirstOrDefault(e => e.Kebab == kebab);

    /// <summary>The entry a golden case names: its op, and where two share it, the flag that tells them apart.</summary>
    /// <param name="op">meta.json's op.</param>
    /// <param name="text">meta.json's string flags by name.</param>
    public OpInfo? FindGolden(string op, Func<string, string?> text) =>
        Entries.Where(e => e.GoldenOp == op).FirstOrDefault(e => e.GoldenKey is not { } key || text(key.Flag) == key.Value);

    /// <summary>The ops of the graph.</summary>
    public static OpCatalogue Graph { get; } = new(
    [
        new MatMulInfo() { OnCli = true },
        new AxbInfo() { OnCli = true },
        new CholeskyInfo() { OnCli = true },
        new TriangularSolveInfo() { OnCli = true },
        new AXInvBInfo() { OnCli = true },
        new LogDetInfo() { OnCli = true },
        new CholeskySolveInfo() { OnCli = true, GoldenKey = ("cholesky-solve", "factor", "sigma") },
        new CholeskySolveFactorInfo() { ErrorName = "CholeskySolve", GoldenKey = ("cholesky-solve", "factor", "l") },
        new CholeskyInverseInfo(),
        new SolveInfo(),
        new AddInfo(),
        new SubtractInfo(),
        new ScaleInfo(),
        new MultiplyInfo(),
        new MultiplyScalarInfo(),
        new AddDiagonalInfo(),
        new TransposeInfo(),
        new ExpInfo(),
        new LogInfo(),
        new SumInfo(),
        new SumBatchInfo(),
        new DotInfo(),
        new TraceInfo(),
        new DiagInfo(),
        new TrilInfo(),
        new SinInfo(),
        new CosInfo(),
        new TanhInfo(),
        new SquareInfo(),
        new NegateInfo(),
        new AbsInfo(),
        new SqrtInfo(),
        new ReciprocalInfo(),
        new DivideInfo(),
        new PowInfo() { GoldenKey = ("pow", "form", "var") },
        new PowConstantInfo() { ErrorName = "Pow", GoldenKey = ("pow", "form", "constant") },
        new DistancesInfo(),
        new ColumnsInfo(),
    ]);

    private static OpInput G(string name, string shape) => new(name, InputKind.General, shape);

    private static OpInput Spd(string name) => new(name, InputKind.Spd, "SPD [batch, n, n]", typeof(NotPositiveDefiniteException));

    private static OpFlag Flag(string name, bool value = false) => new(name, value ? 1 : 0);

    /// <summary>Every combination of the boolean flags, each first at false, then true.</summary>
    private static IReadOnlyList<OpArgs> Combinations(params string[] names) => names.Aggregate(
        (IEnumerable<OpArgs>)[OpArgs.None],
        (all, name) => all.SelectMany(a => new[] { a.With(name, false), a.With(name, true) })).ToList();

    // ---- products ----

    private sealed class MatMulInfo() : OpInfo("MatMul", "matmul", "Y = A·B", ["m", "k", "n"],
        [G("a", "[batch, m, k]"), G("b", "[batch, k, n]")], [Flag("transA"), Flag("transB")])
    {
        public override IReadOnlyList<OpArgs> Variants { get; } = Combinations("transA", "transB");

        public override int[] Around(int n) => [3, n, 2];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) =>
            [f.Bool("transA") ? (d[1], d[0]) : (d[0], d[1]), f.Bool("transB") ? (d[2], d[1]) : (d[1], d[2])];

        public override double[,] Reference(double[][,] x, OpArgs f) => Mul(R.Op(x[0], f.Bool("transA")), R.Op(x[1], f.Bool("transB")));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.MatMul(v[0], v[1], transposeA: f.Bool("transA"), transposeB: f.Bool("transB"));
    }

    private sealed class AxbInfo() : OpInfo("Axb", "axb", "Y = A·X·B", ["p", "m", "n", "q"],
        [G("a", "[batch, p, m]"), G("x", "[batch, m, n]"), G("b", "[batch, n, q]")])
    {
        public override int[] Around(int n) => [2, n, n, 3];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1]), (d[1], d[2]), (d[2], d[3])];

        public override double[,] Reference(double[][,] x, OpArgs f) => Mul(Mul(x[0], x[1]), x[2]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Axb(v[0], v[1], v[2]);
    }

    // ---- factorizations and solves ----

    private sealed class CholeskyInfo() : OpInfo("Cholesky", "cholesky", "L with Σ = L·Lᵀ (lower triangle of Σ read)", ["n"], [Spd("sigma")])
    {
        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0])];

        public override double[,] Reference(double[][,] x, OpArgs f) => R.Cholesky(x[0]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Cholesky(v[0]);
    }

    private sealed class TriangularSolveInfo() : OpInfo("TriangularSolve", "triangular-solve",
        "Y = op(T)⁻¹·B (--left true) or B·op(T)⁻¹; op(T) = Tᵀ with --transpose true", ["n", "k"],
        [new("t", InputKind.Lower, "triangular [batch, n, n]"), G("rhs", "[batch, n, k] (left) or [batch, k, n] (right)")],
        [Flag("lower", true), Flag("left", true), Flag("transpose"), Flag("unitDiagonal")])
    {
        public override IReadOnlyList<OpArgs> Variants { get; } =
        [
            .. from lower in new[] { true, false }
               from left in new[] { true, false }
               from transpose in new[] { false, true }
               from unit in new[] { false, true }
               select OpArgs.None.With("lower", lower).With("left", left).With("transpose", transpose).With("unitDiagonal", unit),
        ];

        public override int[] Around(int n) => [n, 2];

        public override InputKind KindOf(int input, OpArgs f) => input == 0 ? (f.Bool("lower") ? InputKind.Lower : InputKind.Upper) : InputKind.General;

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0]), f.Bool("left") ? (d[0], d[1]) : (d[1], d[0])];

        public override double[,] Reference(double[][,] x, OpArgs f) => R.TriangularSolve(x[0], x[1], f.Bool("lower"), f.Bool("left"), f.Bool("transpose"), f.Bool("unitDiagonal"));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) =>
            Op.TriangularSolve(v[0], v[1], lower: f.Bool("lower"), left: f.Bool("left"), transpose: f.Bool("transpose"), unitDiagonal: f.Bool("unitDiagonal"));
    }

    private sealed class AXInvBInfo() : OpInfo("AXInvB", "a-xinv-b", "Y = A·X⁻¹·B through LU with partial pivoting", ["p", "n", "q"],
        [G("a", "[batch, p, n]"), new("x", InputKind.Invertible, "invertible [batch, n, n]", typeof(SingularMatrixException)), G("b", "[batch, n, q]")])
    {
        public override int[] Around(int n) => [2, n, 3];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1]), (d[1], d[1]), (d[1], d[2])];

        public override double[,] Reference(double[][,] x, OpArgs f) => Mul(x[0], R.Solve(x[1], x[2]));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.AXInvB(v[0], v[1], v[2]);
    }

    private sealed class LogDetInfo() : OpInfo("LogDet", "logdet", "log det Σ → [batch, 1, 1], through Cholesky", ["n"], [Spd("sigma")])
    {
        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0])];

        public override double[,] Reference(double[][,] x, OpArgs f) => Scalar(R.LogDet(x[0]));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.LogDet(v[0]);
    }

    private sealed class CholeskySolveInfo() : OpInfo("CholeskySolve", "cholesky-solve", "Y = Σ⁻¹·B through Cholesky", ["n", "k"],
        [Spd("sigma"), G("rhs", "[batch, n, k]")])
    {
        public override int[] Around(int n) => [n, 2];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0]), (d[0], d[1])];

        public override double[,] Reference(double[][,] x, OpArgs f) => R.Solve(x[0], x[1]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.CholeskySolve(v[0], v[1]);
    }

    private sealed class CholeskyInverseInfo() : OpInfo("CholeskyInverse", "cholesky-inverse", "S = (L·Lᵀ)⁻¹ from a Cholesky factor L (lower triangle read)", ["n"],
        // A zero, NaN or infinite diagonal entry raises SingularMatrixException (CholeskyInverseTests);
        // a non-finite entry below the diagonal propagates to S, so the input rejects no non-finite value as such.
        [new("l", InputKind.Lower, "lower triangular [batch, n, n]")])
    {
        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0])];

        public override double[,] Reference(double[][,] x, OpArgs f)
        {
            int n = x[0].GetLength(0);
            var eye = new double[n, n];
            for (int i = 0; i < n; i++) eye[i, i] = 1;
            var l = Tril(x[0], 0);
            return R.Solve(Mul(l, T(l)), eye);
        }

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.CholeskyInverse(v[0]);
    }

    private sealed class CholeskySolveFactorInfo() : OpInfo("CholeskySolveFactor", "cholesky-solve-factor", "Y = (L·Lᵀ)⁻¹·B from a Cholesky factor L (lower triangle read)", ["n", "k"],
        [new("l", InputKind.Lower, "lower triangular [batch, n, n]"), G("rhs", "[batch, n, k]")])
    {
        public override int[] Around(int n) => [n, 2];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0]), (d[0], d[1])];

        public override double[,] Reference(double[][,] x, OpArgs f) => R.Solve(Mul(Tril(x[0], 0), T(Tril(x[0], 0))), x[1]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.CholeskySolveFactor(v[0], v[1]);
    }

    private sealed class SolveInfo() : OpInfo("Solve", "solve", "Y = X⁻¹·B through LU with partial pivoting", ["n", "k"],
        [new("x", InputKind.Invertible, "invertible [batch, n, n]", typeof(SingularMatrixException)), G("b", "[batch, n, k]")])
    {
        public override int[] Around(int n) => [n, 2];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0]), (d[0], d[1])];

        public override double[,] Reference(double[][,] x, OpArgs f) => R.Solve(x[0], x[1]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Solve(v[0], v[1]);
    }

    // ---- elementwise ops ----

    /// <summary>An op of one [rows, cols] matrix that keeps or reduces its shape; dimensions rows, cols.</summary>
    private abstract class Unary(string name, string kebab, string formula, InputKind kind = InputKind.General, OpFlag[]? flags = null)
        : OpInfo(name, kebab, formula, ["rows", "cols"], [new("a", kind, "[batch, m, n]")], flags)
    {
        public override int[] Around(int n) => [n, 3];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1])];
    }

    /// <summary>An op of two matrices of one shape; dimensions rows, cols.</summary>
    private abstract class Binary(string name, string kebab, string formula)
        : OpInfo(name, kebab, formula, ["rows", "cols"], [G("a", "[batch, m, n]"), G("b", "[batch, m, n]")])
    {
        public override int[] Around(int n) => [n, 3];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1]), (d[0], d[1])];
    }

    private sealed class AddInfo() : Binary("Add", "add", "Y = A + B")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], x[1], (p, q) => p + q);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Add(v[0], v[1]);
    }

    private sealed class SubtractInfo() : Binary("Subtract", "subtract", "Y = A − B")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], x[1], (p, q) => p - q);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Subtract(v[0], v[1]);
    }

    private sealed class MultiplyInfo() : Binary("Multiply", "multiply", "Y = A∘B (elementwise)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], x[1], (p, q) => p * q);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Multiply(v[0], v[1]);
    }

    private sealed class ScaleInfo() : Unary("Scale", "scale", "Y = α·A", flags: [new("alpha", null)])
    {
        public override IReadOnlyList<OpArgs> Variants { get; } = [OpArgs.None.With("alpha", -2.5)];

        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], p => f.Number("alpha") * p);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Scale(v[0], T.CreateChecked(f.Number("alpha")));
    }

    private sealed class MultiplyScalarInfo() : OpInfo("MultiplyScalar", "multiply-scalar", "Y = s·A, s [batch, 1, 1]", ["rows", "cols"],
        [G("a", "[batch, m, n]"), G("s", "[batch, 1, 1]")])
    {
        public override int[] Around(int n) => [n, 3];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1]), (1, 1)];

        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], p => x[1][0, 0] * p);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.MultiplyScalar(v[0], v[1]);
    }

    private sealed class AddDiagonalInfo() : OpInfo("AddDiagonal", "add-diagonal", "Y = A + s·I, s [batch, 1, 1]", ["n"],
        [G("a", "[batch, n, n]"), G("s", "[batch, 1, 1]")])
    {
        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0]), (1, 1)];

        public override double[,] Reference(double[][,] x, OpArgs f) => R.AddDiagonal(x[0], x[1][0, 0]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.AddDiagonal(v[0], v[1]);
    }

    private sealed class TransposeInfo() : Unary("Transpose", "transpose", "Y = Aᵀ")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => T(x[0]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Transpose(v[0]);
    }

    private sealed class ExpInfo() : Unary("Exp", "exp", "Y = exp(A) (elementwise)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Exp);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Exp(v[0]);
    }

    private sealed class LogInfo() : Unary("Log", "log", "Y = log(A) (elementwise, A > 0)", InputKind.Positive)
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Log);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Log(v[0]);
    }

    private sealed class SinInfo() : Unary("Sin", "sin", "Y = sin(A) (elementwise)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Sin);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Sin(v[0]);
    }

    private sealed class CosInfo() : Unary("Cos", "cos", "Y = cos(A) (elementwise)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Cos);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Cos(v[0]);
    }

    private sealed class TanhInfo() : Unary("Tanh", "tanh", "Y = tanh(A) (elementwise)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Tanh);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Tanh(v[0]);
    }

    private sealed class SquareInfo() : Unary("Square", "square", "Y = A∘A (elementwise)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], p => p * p);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Square(v[0]);
    }

    private sealed class NegateInfo() : Unary("Negate", "negate", "Y = −A")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], p => -p);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Negate(v[0]);
    }

    private sealed class AbsInfo() : Unary("Abs", "abs", "Y = |A| (elementwise; derivative sign(A), 0 at 0)")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Abs);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Abs(v[0]);
    }

    private sealed class SqrtInfo() : Unary("Sqrt", "sqrt", "Y = √A (elementwise, A ≥ 0; derivative 0 at 0)", InputKind.Positive)
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], Math.Sqrt);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Sqrt(v[0]);
    }

    private sealed class ReciprocalInfo() : Unary("Reciprocal", "reciprocal", "Y = 1/A (elementwise)", InputKind.Positive)
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], p => 1 / p);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Reciprocal(v[0]);
    }

    /// <summary>An op of a positive matrix A and a matrix B of one shape (B may also be a scalar per matrix: the golden data's broadcast cases).</summary>
    private abstract class PositiveBinary(string name, string kebab, string formula, InputKind a, InputKind b)
        : OpInfo(name, kebab, formula, ["rows", "cols"], [new("a", a, "[batch, m, n]"), new("b", b, "[batch, m, n] or [batch or 1, 1, 1]")])
    {
        public override int[] Around(int n) => [n, 3];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1]), (d[0], d[1])];
    }

    private sealed class DivideInfo() : PositiveBinary("Divide", "divide", "Y = A / B (elementwise)", InputKind.General, InputKind.Positive)
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], x[1], (p, q) => p / q);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Divide(v[0], v[1]);
    }

    private sealed class PowInfo() : PositiveBinary("Pow", "pow", "Y = A^E (elementwise; E a matrix or a scalar per matrix)", InputKind.Positive, InputKind.General)
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], x[1], Math.Pow);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Pow(v[0], v[1]);
    }

    private sealed class PowConstantInfo() : Unary("PowConstant", "pow-constant", "Y = A^p for a constant p (elementwise)", InputKind.Positive, [new("exponent", 1.5)])
    {
        public override IReadOnlyList<OpArgs> Variants { get; } = [OpArgs.None.With("exponent", 1.5)];

        public override double[,] Reference(double[][,] x, OpArgs f) => Map(x[0], p => Math.Pow(p, f.Number("exponent")));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Pow(v[0], f.Number("exponent"));
    }

    private sealed class ColumnsInfo() : OpInfo("Columns", "columns", "Y = A[:, start : start + count] (adjacent columns)", ["rows", "cols"],
        [G("a", "[batch, m, n]")], [new("start", 1), new("count", 2)])
    {
        public override IReadOnlyList<OpArgs> Variants { get; } = [OpArgs.None.With("start", 1).With("count", 2)];

        public override int[] Around(int n) => [n, 4];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[1])];

        public override double[,] Reference(double[][,] x, OpArgs f)
        {
            int rows = x[0].GetLength(0), start = f.Int("start"), count = f.Int("count");
            var y = new double[rows, count];
            for (int i = 0; i < rows; i++)
            for (int j = 0; j < count; j++) y[i, j] = x[0][i, start + j];
            return y;
        }

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Columns(v[0], f.Int("start"), f.Int("count"));
    }

    private sealed class DistancesInfo() : OpInfo("Distances", "distances", "Rᵢⱼ = ‖X1ᵢ − X2ⱼ‖ (Euclidean; derivative 0 at coincident points)", ["n", "m", "d"],
        [G("x1", "[batch, n, d]"), G("x2", "[batch, m, d]")])
    {
        public override int[] Around(int n) => [n, 3, 2];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[2]), (d[1], d[2])];

        public override double[,] Reference(double[][,] x, OpArgs f)
        {
            int n = x[0].GetLength(0), m = x[1].GetLength(0), d = x[0].GetLength(1);
            var r = new double[n, m];
            for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int k = 0; k < d; k++) s += (x[0][i, k] - x[1][j, k]) * (x[0][i, k] - x[1][j, k]);
                r[i, j] = Math.Sqrt(s);
            }
            return r;
        }

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Distances(v[0], v[1]);
    }

    // ---- reductions and structure ----

    private sealed class SumInfo() : Unary("Sum", "sum", "Σᵢⱼ Aᵢⱼ → [batch, 1, 1]")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Scalar(R.Sum(x[0]));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Sum(v[0]);
    }

    private sealed class SumBatchInfo() : Unary("SumBatch", "sum-batch", "Σ_b A_b → [1, m, n]")
    {
        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.SumBatch(v[0]);
    }

    private sealed class DotInfo() : Binary("Dot", "dot", "⟨A, B⟩ = Σᵢⱼ Aᵢⱼ·Bᵢⱼ → [batch, 1, 1]")
    {
        public override double[,] Reference(double[][,] x, OpArgs f) => Scalar(R.Sum(Map(x[0], x[1], (p, q) => p * q)));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Dot(v[0], v[1]);
    }

    private sealed class TraceInfo() : OpInfo("Trace", "trace", "tr A → [batch, 1, 1]", ["n"], [G("a", "[batch, n, n]")])
    {
        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0])];

        public override double[,] Reference(double[][,] x, OpArgs f) => Scalar(Enumerable.Range(0, x[0].GetLength(0)).Sum(i => x[0][i, i]));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Trace(v[0]);
    }

    private sealed class DiagInfo() : OpInfo("Diag", "diag", "the diagonal of A → [batch, n, 1]", ["n"], [G("a", "[batch, n, n]")])
    {
        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0])];

        public override double[,] Reference(double[][,] x, OpArgs f) => Column([.. Enumerable.Range(0, x[0].GetLength(0)).Select(i => x[0][i, i])]);

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Diag(v[0]);
    }

    private sealed class TrilInfo() : Unary("Tril", "tril", "the lower triangle of A on and below diagonal k", flags: [new("k", 0)])
    {
        public override IReadOnlyList<OpArgs> Variants { get; } = [OpArgs.None.With("k", 0), OpArgs.None.With("k", -1)];

        public override double[,] Reference(double[][,] x, OpArgs f) => Tril(x[0], f.Int("k"));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => Op.Tril(v[0], f.Int("k"));
    }
}
