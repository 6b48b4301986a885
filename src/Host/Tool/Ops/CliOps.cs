using GpuAD.Kernels;
using GpuAD.Tool.Cli;

namespace GpuAD.Tool.Ops;

/// <summary>What kind of matrix an operand must be (for generated inputs and for help texts).</summary>
internal enum OperandKind
{
    /// <summary>Any matrix.</summary>
    General,

    /// <summary>Symmetric positive-definite.</summary>
    Spd,

    /// <summary>Triangular with a non-zero diagonal.</summary>
    Triangular,

    /// <summary>Square and invertible.</summary>
    Invertible,
}

/// <summary>One named input of an op.</summary>
/// <param name="Name">The name used in --input NAME=PATH and in grad_NAME.npy.</param>
/// <param name="Shape">Its shape in words, for help.</param>
/// <param name="Kind">What kind of matrix it must be.</param>
internal sealed record Operand(string Name, string Shape, OperandKind Kind);

/// <summary>The flags of triangular-solve (the other ops take none).</summary>
internal readonly record struct TriangularFlags(bool Lower, bool Left, bool Transpose, bool UnitDiagonal)
{
    public static TriangularFlags Default => new(Lower: true, Left: true, Transpose: false, UnitDiagonal: false);
}

/// <summary>An op the tool runs by name (vjp, jvp, bench): its inputs and the library call.</summary>
/// <param name="Name">The name on the command line.</param>
/// <param name="Formula">What it computes.</param>
/// <param name="Operands">Its inputs, in the library call's order.</param>
internal sealed record CliOp(string Name, string Formula, Operand[] Operands)
{
    /// <summary>True for triangular-solve, the one op with flags.</summary>
    public bool HasFlags => Name == CliOps.TriangularSolveName;

    /// <summary>Records the op on the inputs' tape.</summary>
    public Var<T> Apply<T>(Var<T>[] v, TriangularFlags f) where T : unmanaged, IFloatingPointIeee754<T> => Name switch
    {
        "matmul" => Op.MatMul(v[0], v[1]),
        "axb" => Op.Axb(v[0], v[1], v[2]),
        "cholesky" => Op.Cholesky(v[0]),
        CliOps.TriangularSolveName => Op.TriangularSolve(v[0], v[1], lower: f.Lower, left: f.Left, transpose: f.Transpose, unitDiagonal: f.UnitDiagonal),
        "a-xinv-b" => Op.AXInvB(v[0], v[1], v[2]),
        "logdet" => Op.LogDet(v[0]),
        "cholesky-solve" => Op.CholeskySolve(v[0], v[1]),
        _ => throw new InvalidOperationException($"No library call for op '{Name}'."),
    };
}

/// <summary>The ops the tool knows by name.</summary>
internal static class CliOps
{
    public const string TriangularSolveName = "triangular-solve";

    public static readonly IReadOnlyList<CliOp> All =
    [
        new("matmul", "Y = A·B",
            [new("a", "[batch, m, k]", OperandKind.General), new("b", "[batch, k, n]", OperandKind.General)]),
        new("axb", "Y = A·X·B",
            [new("a", "[batch, p, m]", OperandKind.General), new("x", "[batch, m, n]", OperandKind.General), new("b", "[batch, n, q]", OperandKind.General)]),
        new("cholesky", "L with Σ = L·Lᵀ (lower triangle of Σ read)",
            [new("sigma", "SPD [batch, n, n]", OperandKind.Spd)]),
        new(TriangularSolveName, "Y = op(T)⁻¹·B (--left true) or B·op(T)⁻¹; op(T) = Tᵀ with --transpose true",
            [new("t", "triangular [batch, n, n]", OperandKind.Triangular), new("rhs", "[batch, n, k] (left) or [batch, k, n] (right)", OperandKind.General)]),
        new("a-xinv-b", "Y = A·X⁻¹·B through LU with partial pivoting",
            [new("a", "[batch, p, n]", OperandKind.General), new("x", "invertible [batch, n, n]", OperandKind.Invertible), new("b", "[batch, n, q]", OperandKind.General)]),
        new("logdet", "log det Σ → [batch, 1, 1], through Cholesky",
            [new("sigma", "SPD [batch, n, n]", OperandKind.Spd)]),
        new("cholesky-solve", "Y = Σ⁻¹·B through Cholesky",
            [new("sigma", "SPD [batch, n, n]", OperandKind.Spd), new("rhs", "[batch, n, k]", OperandKind.General)]),
    ];

    /// <summary>Names for help texts: "matmul, axb, …".</summary>
    public static string Names => string.Join(", ", All.Select(o => o.Name));

    /// <summary>A one-line-per-op listing of the ops and their inputs, for help texts.</summary>
    public static string Listing => string.Join(Environment.NewLine, All.Select(o =>
        $"  {o.Name,-17} {string.Join(", ", o.Operands.Select(x => $"{x.Name} {x.Shape}"))}: {o.Formula}"));

    /// <summary>The op of that name.</summary>
    /// <exception cref="UsageException">No op has that name.</exception>
    public static CliOp Find(string name) =>
        All.FirstOrDefault(o => o.Name == name.Trim().ToLowerInvariant())
        ?? throw new UsageException($"unknown op '{name}'; the ops are {Names}.");
}
