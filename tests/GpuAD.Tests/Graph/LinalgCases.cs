using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>
/// Gradcheck cases of the factorization-based ops of the catalogue (those with an SPD, invertible
/// or triangular input): batch 1 and 3 at n = 1, 6 and 37, every flag variant of TriangularSolve at
/// n = 9, a blocked Cholesky, batch-1 operands broadcast, and the GP likelihood through its
/// hyperparameters.
/// </summary>
public static class LinalgCases
{
    /// <summary>True for an op that factors or solves with one of its inputs (its cases are these, not <see cref="OpCases"/>).</summary>
    internal static bool Factors(OpInfo op) => op.Inputs.Any(i => i.Kind is not (InputKind.General or InputKind.Positive));

    private static OpInfo Entry(string name) => Catalogue.All.Get(name);

    /// <summary>The dimensions of an op's cases at order n (right-hand sides and outer sizes as the cases have always used; others around n).</summary>
    private static int[] Dims(OpInfo op, int n) => op.Name switch
    {
        "CholeskySolve" => [n, 3],
        "CholeskySolveFactor" => [n, 2],
        "Solve" => [n, 4],
        "AXInvB" => [5, n, 2],
        _ => op.Around(n),
    };

    /// <summary>
    /// The order the cases draw their seeds in (the points the gradchecks' allowances were measured
    /// at); factorization ops the list does not name follow in catalogue order.
    /// </summary>
    private static readonly string[] SeedOrder = ["Cholesky", "LogDet", "CholeskySolve", "CholeskySolveFactor", "Solve", "AXInvB", "NegativeLogMarginalLikelihood"];

    public static IEnumerable<OpCase> All()
    {
        int seed = 500;
        var trsm = Entry("TriangularSolve");
        var ops = SeedOrder.Select(Entry).ToList();
        var later = Catalogue.All.Entries.Where(o => Factors(o) && o != trsm && !SeedOrder.Contains(o.Name)).ToList();
        var trsmVariants = trsm.Variants.OrderBy(a => !a.Bool("lower")).ThenBy(a => !a.Bool("left")).ThenBy(a => !a.Bool("transpose")).ThenBy(a => !a.Bool("unitDiagonal")).ToList();
        foreach (int batch in new[] { 1, 3 })
        {
            foreach (int n in new[] { 1, 6, 37 })
            foreach (var op in ops)
            {
                var sample = op.Sample(batch, Dims(op, n));
                yield return OpCase.Of($"{op.Title} b{batch} n{n}", sample, seed);
                seed += sample.Shapes.Length;
            }
            foreach (var args in trsmVariants)
            {
                const int n = 9;
                var sample = trsm.Sample(batch, [n, args.Bool("left") ? 4 : 3], args);
                yield return OpCase.Of($"TriangularSolve b{batch} lower={args.Bool("lower")} left={args.Bool("left")} trans={args.Bool("transpose")} unit={args.Bool("unitDiagonal")}", sample, seed);
                seed += 2;
            }
        }
        // The factorization ops the seed order does not name, from seeds of their own (so that the
        // cases above keep the points their allowances were measured at).
        int laterSeed = 950;
        foreach (int batch in new[] { 1, 3 })
        foreach (int n in new[] { 1, 6, 12 })
        foreach (var op in later)
        {
            var sample = op.Sample(batch, Dims(op, n));
            yield return OpCase.Of($"{op.Title} b{batch} n{n}", sample, laterSeed);
            laterSeed += sample.Shapes.Length;
        }
        var blocked = Entry("Cholesky").Sample(1, [70]);
        yield return new("Cholesky n70 blocked (two blocks)", v => Op.Cholesky(v[0], CholeskyAlgorithm.Blocked), blocked.GradcheckInputs(900));
        yield return OpCase.Of("TriangularSolve broadcast T", trsm.Sample(3, [6, 2]).Broadcast(0), 901);
        yield return OpCase.Of("CholeskySolve broadcast Σ", Entry("CholeskySolve").Sample(3, [5, 2]).Broadcast(0), 903);
        yield return OpCase.Of("AXInvB broadcast X", Entry("AXInvB").Sample(3, [2, 4, 3]).Broadcast(1), 905);
        yield return new("GP RBF hyperparameters", v =>
        {
            var tape = v[0].Tape;
            var x = InputData.Uniform(new Shape(1, 12, 1), 908);
            var d = new double[144];
            for (int i = 0; i < 12; i++) for (int j = 0; j < 12; j++) d[i * 12 + j] = (x[i] - x[j]) * (x[i] - x[j]);
            var dist = tape.Constant(d, new Shape(1, 12, 12));
            var y = tape.Constant(InputData.Uniform(new Shape(2, 12, 1), 909), new Shape(2, 12, 1));
            var sigma = GaussianProcess.RbfCovariance(dist, v[0], v[1], v[2]);
            return GaussianProcess.NegativeLogMarginalLikelihood(sigma, y);
        }, [new(new[] { -0.3, 0.1 }, new Shape(2, 1, 1)), new(new[] { 0.2, -0.1 }, new Shape(2, 1, 1)), new(new[] { -2.0, -1.5 }, new Shape(2, 1, 1))]);
    }

    public static TheoryData<OpCase> Data() => new(All());
}
