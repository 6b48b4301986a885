using GpuAD.Kernels;

namespace GpuAD.Tests.Graph;

/// <summary>Gradcheck cases of the factorization-based ops.</summary>
public static class LinalgCases
{
    private static GradcheckInput G(Shape s, int seed) => new(TestData.Random(s, seed), s);

    private static GradcheckInput Spd(int batch, int n, int seed) =>
        new(TestData.Spd(batch, n, seed), new Shape(batch, n, n), PerturbationKind.Symmetric);

    private static GradcheckInput Tri(int batch, int n, bool lower, int seed) =>
        new(TestData.Triangular(batch, n, lower, seed), new Shape(batch, n, n));

    /// <summary>A general, well-conditioned square matrix: I·2 + noise/√n.</summary>
    private static GradcheckInput Invertible(int batch, int n, int seed)
    {
        var a = TestData.Random(new Shape(batch, n, n), seed);
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            a[(b * n + i) * n + j] = (i == j ? 2 : 0) + a[(b * n + i) * n + j] / Math.Sqrt(n);
        return new(a, new Shape(batch, n, n));
    }

    public static IEnumerable<OpCase> All()
    {
        int seed = 500;
        foreach (int batch in new[] { 1, 3 })
        {
            foreach (int n in new[] { 1, 6, 37 })
            {
                yield return new($"Cholesky b{batch} n{n}", v => Op.Cholesky(v[0]), [Spd(batch, n, seed++)]);
                yield return new($"LogDet b{batch} n{n}", v => Op.LogDet(v[0]), [Spd(batch, n, seed++)]);
                yield return new($"CholeskySolve b{batch} n{n}", v => Op.CholeskySolve(v[0], v[1]), [Spd(batch, n, seed++), G(new Shape(batch, n, 3), seed++)]);
                yield return new($"CholeskySolveFactor b{batch} n{n}", v => Op.CholeskySolveFactor(v[0], v[1]), [Tri(batch, n, true, seed++), G(new Shape(batch, n, 2), seed++)]);
                yield return new($"Solve b{batch} n{n}", v => Op.Solve(v[0], v[1]), [Invertible(batch, n, seed++), G(new Shape(batch, n, 4), seed++)]);
                yield return new($"AXInvB b{batch} n{n}", v => Op.AXInvB(v[0], v[1], v[2]), [G(new Shape(batch, 5, n), seed++), Invertible(batch, n, seed++), G(new Shape(batch, n, 2), seed++)]);
                yield return new($"GP NLL b{batch} n{n}", v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), [Spd(batch, n, seed++), G(new Shape(batch, n, 1), seed++)]);
            }
            foreach (bool lower in new[] { true, false })
            foreach (bool left in new[] { true, false })
            foreach (bool transpose in new[] { true, false })
            foreach (bool unit in new[] { true, false })
            {
                int n = 9;
                var bs = left ? new Shape(batch, n, 4) : new Shape(batch, 3, n);
                yield return new($"TriangularSolve b{batch} lower={lower} left={left} trans={transpose} unit={unit}",
                    v => Op.TriangularSolve(v[0], v[1], lower, left, transpose, unit), [Tri(batch, n, lower, seed++), G(bs, seed++)]);
            }
        }
        yield return new("Cholesky n70 blocked (two blocks)", v => Op.Cholesky(v[0], CholeskyAlgorithm.Blocked), [Spd(1, 70, 900)]);
        yield return new("TriangularSolve broadcast T", v => Op.TriangularSolve(v[0], v[1], lower: true), [Tri(1, 6, true, 901), G(new Shape(3, 6, 2), 902)]);
        yield return new("CholeskySolve broadcast Σ", v => Op.CholeskySolve(v[0], v[1]), [Spd(1, 5, 903), G(new Shape(3, 5, 2), 904)]);
        yield return new("AXInvB broadcast X", v => Op.AXInvB(v[0], v[1], v[2]), [G(new Shape(3, 2, 4), 905), Invertible(1, 4, 906), G(new Shape(3, 4, 3), 907)]);
        foreach (var (batch, n) in new[] { (1, 1), (3, 6), (1, 12) })
            yield return new($"CholeskyInverse b{batch} n{n}", v => Op.CholeskyInverse(v[0]), [Tri(batch, n, true, 950 + n)]);
        yield return new("GP RBF hyperparameters", v =>
        {
            var tape = v[0].Tape;
            var x = TestData.Random(new Shape(1, 12, 1), 908);
            var d = new double[144];
            for (int i = 0; i < 12; i++) for (int j = 0; j < 12; j++) d[i * 12 + j] = (x[i] - x[j]) * (x[i] - x[j]);
            var dist = tape.Constant(d, new Shape(1, 12, 12));
            var y = tape.Constant(TestData.Random(new Shape(2, 12, 1), 909), new Shape(2, 12, 1));
            var sigma = GaussianProcess.RbfCovariance(dist, v[0], v[1], v[2]);
            return GaussianProcess.NegativeLogMarginalLikelihood(sigma, y);
        }, [new(new[] { -0.3, 0.1 }, new Shape(2, 1, 1)), new(new[] { 0.2, -0.1 }, new Shape(2, 1, 1)), new(new[] { -2.0, -1.5 }, new Shape(2, 1, 1))]);
    }

    public static TheoryData<OpCase> Data() => new(All());
}
