using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>A function of some inputs, to differentiate in tests.</summary>
public sealed record OpCase(string Name, Func<Var<double>[], Var<double>> F, GradcheckInput[] Inputs)
{
    public override string ToString() => Name;

    /// <summary>A catalogued op's sample as a case, input i from seed <paramref name="firstSeed"/> + i.</summary>
    internal static OpCase Of(string name, OpSample sample, int firstSeed) => new(name, v => sample.Apply(v), sample.GradcheckInputs(firstSeed));
}

/// <summary>
/// The cases every op of the catalogue that does not factor a matrix is checked on: batch 1 and 3,
/// n = 1, odd and non-square sizes, every flag variant (<see cref="OpInfo.Variants"/>), and batch-1
/// operands broadcast against batch 3. The factorization-based ops are <see cref="LinalgCases"/>.
/// </summary>
public static class OpCases
{
    private static OpInfo Entry(string name) => Catalogue.All.Get(name);

    /// <summary>The dimensions of each op's cases (see <see cref="OpInfo.Dims"/>).</summary>
    private static readonly Dictionary<string, int[][]> Sizes = new()
    {
        ["MatMul"] = [[1, 1, 1], [3, 5, 2], [7, 4, 9]],
        ["Axb"] = [[1, 1, 1, 2], [3, 5, 2, 4], [7, 4, 9, 8]],
        ["Trace"] = [[6]],
        ["Diag"] = [[6]],
        ["AddDiagonal"] = [[6]],
        ["Tril"] = [[6, 6], [4, 7]],
        ["Distances"] = [[5, 4, 3]],
    };

    /// <summary>The ops of the catalogue that factor no matrix (in catalogue order).</summary>
    private static IEnumerable<OpInfo> Ops() => Catalogue.All.Entries.Where(o => !LinalgCases.Factors(o));

    public static IEnumerable<OpCase> Small()
    {
        int seed = 100;
        foreach (int batch in new[] { 1, 3 })
        foreach (var op in Ops())
        foreach (var dims in Sizes.GetValueOrDefault(op.Name, [[5, 3]]))
        foreach (var args in op.Variants)
        {
            // Tril's variants are its diagonals: k = 0 on the square, −1 on the wide matrix.
            if (op.Name == "Tril" && (args.Int("k") == 0) != (dims[0] == dims[1])) continue;
            var sample = op.Sample(batch, dims, args);
            string flags = args.Values.Count == 0 ? "" : $" {args}";
            yield return OpCase.Of($"{op.Name} b{batch} {string.Join("x", dims)}{flags}", sample, seed);
            seed += sample.Shapes.Length;
        }
        // Broadcasting: a batch-1 operand against batch 3 (its gradient is summed over the batch).
        yield return OpCase.Of("MatMul broadcast A", Entry("MatMul").Sample(3, [4, 5, 2]).Broadcast(0), 1);
        yield return OpCase.Of("MatMul broadcast B", Entry("MatMul").Sample(3, [4, 5, 2], OpArgs.None.With("transA", true)).Broadcast(1), 3);
        yield return OpCase.Of("Axb broadcast X", Entry("Axb").Sample(3, [2, 4, 4, 3]).Broadcast(1), 5);
        yield return OpCase.Of("Add broadcast", Entry("Add").Sample(3, [4, 5]).Broadcast(1), 8);
        yield return OpCase.Of("Multiply broadcast", Entry("Multiply").Sample(3, [4, 5]).Broadcast(0), 10);
        yield return OpCase.Of("Dot broadcast", Entry("Dot").Sample(3, [4, 5]).Broadcast(1), 12);
        yield return OpCase.Of("MultiplyScalar broadcast s", Entry("MultiplyScalar").Sample(3, [4, 5]).Broadcast(1), 16);
        yield return OpCase.Of("MultiplyScalar broadcast A", Entry("MultiplyScalar").Sample(3, [4, 5]).Broadcast(0), 18);
        yield return OpCase.Of("AddDiagonal broadcast s", Entry("AddDiagonal").Sample(3, [4]).Broadcast(1), 20);
        yield return OpCase.Of("AddDiagonal broadcast A", Entry("AddDiagonal").Sample(3, [5]).Broadcast(0), 22);
        // Composite: a variable used twice accumulates its gradient.
        Shape sx = new(2, 4, 3), sw = new(2, 4, 4);
        yield return new("Composite x used twice", v => Op.Sum(Op.Multiply(Op.MatMul(v[0], v[0], false, true), v[1])),
            [new(InputData.Uniform(sx, 14), sx), new(InputData.Uniform(sw, 15), sw)]);
    }

    public static TheoryData<OpCase> SmallData() => new(Small());
}
