using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>A function of some inputs, to differentiate in tests.</summary>
public sealed record OpCase(string Name, Func<Var<double>[], Var<double>> F, GradcheckInput[] Inputs)
{
    public override string ToString() => Name;
}

/// <summary>The cases every op is checked on: batch 1 and 3, n = 1, odd and non-square sizes.</summary>
public static class OpCases
{
    private static GradcheckInput G(Shape s, int seed) => new(TestData.Random(s, seed), s);

    private static GradcheckInput Spd(int batch, int n, int seed) =>
        new(TestData.Spd(batch, n, seed), new Shape(batch, n, n), PerturbationKind.Symmetric);

    private static GradcheckInput Positive(Shape s, int seed) => new(TestData.Random(s, seed).Select(x => x + 2).ToArray(), s);

    public static IEnumerable<OpCase> Small()
    {
        int seed = 100;
        foreach (int batch in new[] { 1, 3 })
        {
            foreach (var (m, k, n) in new[] { (1, 1, 1), (3, 5, 2), (7, 4, 9) })
            {
                foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    var sa = ta ? new Shape(batch, k, m) : new Shape(batch, m, k);
                    var sb = tb ? new Shape(batch, n, k) : new Shape(batch, k, n);
                    yield return new($"MatMul b{batch} {m}x{k}x{n} ta={ta} tb={tb}", v => Op.MatMul(v[0], v[1], ta, tb), [G(sa, seed++), G(sb, seed++)]);
                }
                yield return new($"Axb b{batch} {m}x{k}x{n}", v => Op.Axb(v[0], v[1], v[2]),
                    [G(new Shape(batch, m, k), seed++), G(new Shape(batch, k, n), seed++), G(new Shape(batch, n, m + 1), seed++)]);
            }
            var s = new Shape(batch, 5, 3);
            var sq = new Shape(batch, 6, 6);
            yield return new($"Add b{batch}", v => Op.Add(v[0], v[1]), [G(s, seed++), G(s, seed++)]);
            yield return new($"Subtract b{batch}", v => Op.Subtract(v[0], v[1]), [G(s, seed++), G(s, seed++)]);
            yield return new($"Scale b{batch}", v => Op.Scale(v[0], -2.5), [G(s, seed++)]);
            yield return new($"Multiply b{batch}", v => Op.Multiply(v[0], v[1]), [G(s, seed++), G(s, seed++)]);
            yield return new($"Transpose b{batch}", v => Op.Transpose(v[0]), [G(s, seed++)]);
            yield return new($"Sum b{batch}", v => Op.Sum(v[0]), [G(s, seed++)]);
            yield return new($"Trace b{batch}", v => Op.Trace(v[0]), [G(sq, seed++)]);
            yield return new($"Dot b{batch}", v => Op.Dot(v[0], v[1]), [G(s, seed++), G(s, seed++)]);
            yield return new($"Diag b{batch}", v => Op.Diag(v[0]), [G(sq, seed++)]);
            yield return new($"Tril b{batch}", v => Op.Tril(v[0]), [G(sq, seed++)]);
            yield return new($"Tril(-1) b{batch}", v => Op.Tril(v[0], -1), [G(new Shape(batch, 4, 7), seed++)]);
            yield return new($"SumBatch b{batch}", v => Op.SumBatch(v[0]), [G(s, seed++)]);
            yield return new($"Exp b{batch}", v => Op.Exp(v[0]), [G(s, seed++)]);
            yield return new($"Log b{batch}", v => Op.Log(v[0]), [Positive(s, seed++)]);
            yield return new($"MultiplyScalar b{batch}", v => Op.MultiplyScalar(v[0], v[1]), [G(s, seed++), G(new Shape(batch, 1, 1), seed++)]);
            yield return new($"AddDiagonal b{batch}", v => Op.AddDiagonal(v[0], v[1]), [G(sq, seed++), G(new Shape(batch, 1, 1), seed++)]);
        }
        // Broadcasting: a batch-1 operand against batch 3 (its gradient is summed over the batch).
        yield return new("MatMul broadcast A", v => Op.MatMul(v[0], v[1]), [G(new Shape(1, 4, 5), 1), G(new Shape(3, 5, 2), 2)]);
        yield return new("MatMul broadcast B", v => Op.MatMul(v[0], v[1], true, false), [G(new Shape(3, 5, 4), 3), G(new Shape(1, 5, 2), 4)]);
        yield return new("Axb broadcast X", v => Op.Axb(v[0], v[1], v[2]), [G(new Shape(3, 2, 4), 5), G(new Shape(1, 4, 4), 6), G(new Shape(3, 4, 3), 7)]);
        yield return new("Add broadcast", v => Op.Add(v[0], v[1]), [G(new Shape(3, 4, 5), 8), G(new Shape(1, 4, 5), 9)]);
        yield return new("Multiply broadcast", v => Op.Multiply(v[0], v[1]), [G(new Shape(1, 4, 5), 10), G(new Shape(3, 4, 5), 11)]);
        yield return new("Dot broadcast", v => Op.Dot(v[0], v[1]), [G(new Shape(3, 4, 5), 12), G(new Shape(1, 4, 5), 13)]);
        yield return new("MultiplyScalar broadcast s", v => Op.MultiplyScalar(v[0], v[1]), [G(new Shape(3, 4, 5), 16), G(new Shape(1, 1, 1), 17)]);
        yield return new("MultiplyScalar broadcast A", v => Op.MultiplyScalar(v[0], v[1]), [G(new Shape(1, 4, 5), 18), G(new Shape(3, 1, 1), 19)]);
        yield return new("AddDiagonal broadcast s", v => Op.AddDiagonal(v[0], v[1]), [G(new Shape(3, 4, 4), 20), G(new Shape(1, 1, 1), 21)]);
        yield return new("AddDiagonal broadcast A", v => Op.AddDiagonal(v[0], v[1]), [G(new Shape(1, 5, 5), 22), G(new Shape(3, 1, 1), 23)]);
        // Composite: a variable used twice accumulates its gradient.
        yield return new("Composite x used twice", v => Op.Sum(Op.Multiply(Op.MatMul(v[0], v[0], false, true), v[1])), [G(new Shape(2, 4, 3), 14), G(new Shape(2, 4, 4), 15)]);
    }

    public static TheoryData<OpCase> SmallData() => new(Small());
}
