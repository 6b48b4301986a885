namespace GpuAD;

/// <summary>
/// The whole op catalogue: the graph's ops (<see cref="OpCatalogue.Graph"/>) and the Gaussian-process
/// negative log marginal likelihood, which lives in this package because it is built on the graph's
/// ops (the graph cannot reference it). Added by composition rather than registered into a global
/// list, so no consumer depends on which assembly was loaded first.
/// </summary>
internal static class Catalogue
{
    /// <summary>Every catalogued op.</summary>
    public static OpCatalogue All { get; } = OpCatalogue.Graph.With(new NegativeLogMarginalLikelihoodInfo() { ErrorName = "Cholesky" });

    private sealed class NegativeLogMarginalLikelihoodInfo() : OpInfo("NegativeLogMarginalLikelihood", "gp-nll",
        "½·yᵀΣ⁻¹y + ½·log det Σ + (n/2)·log 2π → [batch, 1, 1], through Cholesky", ["n"],
        [new("sigma", InputKind.Spd, "SPD [batch, n, n]", typeof(NotPositiveDefiniteException)), new("y", InputKind.General, "[batch, n, 1]")])
    {
        public override string Title => "GP NLL";

        public override int[] Around(int n) => [n];

        protected override (int, int)[] Matrices(int[] d, OpArgs f) => [(d[0], d[0]), (d[0], 1)];

        public override double[,] Reference(double[][,] x, OpArgs f) => Float64Reference.Scalar(
            0.5 * Float64Reference.Mul(Float64Reference.T(x[1]), Float64Reference.Solve(x[0], x[1]))[0, 0]
            + 0.5 * Float64Reference.LogDet(x[0]) + 0.5 * x[1].GetLength(0) * Math.Log(2 * Math.PI));

        protected override Var<T> Call<T>(Var<T>[] v, OpArgs f) => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]);
    }
}
