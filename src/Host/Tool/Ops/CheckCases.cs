using GpuAD.Kernels;

namespace GpuAD.Tool.Ops;

/// <summary>One function of some inputs whose derivatives <c>gpuad check</c> verifies.</summary>
/// <param name="Op">The op under test.</param>
/// <param name="Detail">Sizes, flags and batch of this case.</param>
/// <param name="F">Builds the output from the input variables.</param>
/// <param name="Inputs">The point at which to differentiate.</param>
internal sealed record CheckCase(string Op, string Detail, Func<Var<double>[], Var<double>> F, GradcheckInput[] Inputs)
{
    /// <summary>
    /// The same function in float32: the case then checks float32 against float64 on the device
    /// (<see cref="Gradcheck.RunFloat32"/>) instead of float64 against finite differences.
    /// </summary>
    public Func<Var<float>[], Var<float>>? F32 { get; init; }

    /// <summary>The order of the factorizations inside, which sets the float32 allowance (<see cref="Gradcheck.Float32Allowance"/>).</summary>
    public int Order { get; init; }

    /// <summary>The gradcheck's settings: random directions (one for the largest cases, each costs five to nine evaluations), noise probe.</summary>
    public GradcheckOptions Options { get; init; } = new();

    /// <summary>"f32" or "f64".</summary>
    public string DType => F32 is null ? "f64" : "f32";
}

/// <summary>
/// The table of cases <c>gpuad check</c> runs: every differentiable op at small sizes, batch 2
/// (broadcast operands with batch 1), odd and non-square shapes, every triangular-solve flag
/// combination, and factorizations large enough to cross the kernels' block boundaries.
/// </summary>
internal static class CheckCases
{
    // Orders of the factorization cases: tiny, odd, and past the kernels' block sizes (32 in the
    // GPU-tuned family, 64 in the CPU-tuned one).
    private static readonly int[] FactorOrders = [1, 7, 70];

    /// <summary>
    /// Orders of the blocked-path cases, the configurations users run: 120 is past the largest
    /// order the GPU family factors whole in one thread group (77 in float64, 110 in float32), so
    /// it takes blocks of 32 with a ragged last one; 600 is past 512, where the GPU family takes
    /// blocks of 64 (600 = 9·64 + 24), and past the CPU family's whole-matrix limit (512), where it
    /// takes blocks of 64 too.
    /// </summary>
    public static readonly int[] BlockedOrders = [120, 600];

    /// <summary>The cases.</summary>
    /// <param name="emulatedGpu">
    /// The device is the emulated GPU, where one float64 forward and reverse at n = 600 take about
    /// a minute: the float32 order-600 case is left out (the float32 blocked path is checked at 120,
    /// the blocks of 64 at 600 in float64).
    /// </param>
    public static IReadOnlyList<CheckCase> All(bool emulatedGpu = false)
    {
        var cases = new List<CheckCase>();
        int seed = 100;
        const int batch = 2;
        GradcheckInput G(int b, int r, int c) => new(Synthetic.Uniform(new Shape(b, r, c), seed++), new Shape(b, r, c));
        GradcheckInput Positive(int b, int r, int c) => new(Synthetic.Positive(new Shape(b, r, c), seed++), new Shape(b, r, c));
        GradcheckInput Spd(int b, int n) => new(Synthetic.Spd(b, n, seed++), new Shape(b, n, n), PerturbationKind.Symmetric);
        GradcheckInput Tri(int b, int n, bool lower) => new(Synthetic.Triangular(b, n, lower, seed++), new Shape(b, n, n));
        GradcheckInput Inv(int b, int n) => new(Synthetic.Invertible(b, n, seed++), new Shape(b, n, n));
        void Add(string op, string detail, Func<Var<double>[], Var<double>> f, params GradcheckInput[] inputs) => cases.Add(new(op, detail, f, inputs));

        // Products.
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        {
            var (m, k, n) = (3, 5, 4);
            Add("MatMul", $"{(ta ? "Aᵀ" : "A")}·{(tb ? "Bᵀ" : "B")} {m}×{k}×{n}", v => Op.MatMul(v[0], v[1], transposeA: ta, transposeB: tb),
                ta ? G(batch, k, m) : G(batch, m, k), tb ? G(batch, n, k) : G(batch, k, n));
        }
        Add("MatMul", "70×66×67 (past a 64×64 tile)", v => Op.MatMul(v[0], v[1]), G(batch, 70, 66), G(batch, 66, 67));
        Add("MatMul", "broadcast A (batch 1)", v => Op.MatMul(v[0], v[1]), G(1, 4, 5), G(3, 5, 2));
        Add("Axb", "A 3×5, X 5×4, B 4×6", v => Op.Axb(v[0], v[1], v[2]), G(batch, 3, 5), G(batch, 5, 4), G(batch, 4, 6));
        Add("Axb", "broadcast X (batch 1)", v => Op.Axb(v[0], v[1], v[2]), G(3, 2, 4), G(1, 4, 4), G(3, 4, 3));

        // Elementwise ops and reductions.
        Add("Add", "5×3", v => Op.Add(v[0], v[1]), G(batch, 5, 3), G(batch, 5, 3));
        Add("Subtract", "5×3", v => Op.Subtract(v[0], v[1]), G(batch, 5, 3), G(batch, 5, 3));
        Add("Scale", "5×3, α = −2.5", v => Op.Scale(v[0], -2.5), G(batch, 5, 3));
        Add("Multiply", "5×3", v => Op.Multiply(v[0], v[1]), G(batch, 5, 3), G(batch, 5, 3));
        Add("MultiplyScalar", "5×3 by [batch, 1, 1]", v => Op.MultiplyScalar(v[0], v[1]), G(batch, 5, 3), G(batch, 1, 1));
        Add("Transpose", "5×3", v => Op.Transpose(v[0]), G(batch, 5, 3));
        Add("Exp", "5×3", v => Op.Exp(v[0]), G(batch, 5, 3));
        Add("Log", "5×3", v => Op.Log(v[0]), Positive(batch, 5, 3));
        Add("Sum", "5×3", v => Op.Sum(v[0]), G(batch, 5, 3));
        Add("SumBatch", "5×3 over a batch of 3", v => Op.SumBatch(v[0]), G(3, 5, 3));
        Add("Dot", "5×3", v => Op.Dot(v[0], v[1]), G(batch, 5, 3), G(batch, 5, 3));
        Add("Trace", "6×6", v => Op.Trace(v[0]), G(batch, 6, 6));
        Add("Diag", "6×6", v => Op.Diag(v[0]), G(batch, 6, 6));
        Add("Tril", "6×6", v => Op.Tril(v[0]), G(batch, 6, 6));
        Add("Tril", "4×7, diagonal −1", v => Op.Tril(v[0], -1), G(batch, 4, 7));

        // Factorization-based ops.
        foreach (int n in FactorOrders)
        {
            Add("Cholesky", $"n = {n}", v => Op.Cholesky(v[0]), Spd(batch, n));
            Add("LogDet", $"n = {n}", v => Op.LogDet(v[0]), Spd(batch, n));
            Add("CholeskySolve", $"n = {n}, 3 right-hand sides", v => Op.CholeskySolve(v[0], v[1]), Spd(batch, n), G(batch, n, 3));
            Add("CholeskySolveFactor", $"n = {n}, 2 right-hand sides", v => Op.CholeskySolveFactor(v[0], v[1]), Tri(batch, n, lower: true), G(batch, n, 2));
            Add("Solve", $"n = {n}, 4 right-hand sides", v => Op.Solve(v[0], v[1]), Inv(batch, n), G(batch, n, 4));
            Add("AXInvB", $"A 5×{n}, X {n}×{n}, B {n}×2", v => Op.AXInvB(v[0], v[1], v[2]), G(batch, 5, n), Inv(batch, n), G(batch, n, 2));
        }
        foreach (bool lower in new[] { true, false })
        foreach (bool left in new[] { true, false })
        foreach (bool transpose in new[] { false, true })
        foreach (bool unit in new[] { false, true })
        {
            const int n = 9;
            Add("TriangularSolve", $"{(lower ? "lower" : "upper")} {(left ? "left" : "right")}{(transpose ? " transpose" : "")}{(unit ? " unit-diagonal" : "")} n = {n}",
                v => Op.TriangularSolve(v[0], v[1], lower: lower, left: left, transpose: transpose, unitDiagonal: unit),
                Tri(batch, n, lower), left ? G(batch, n, 4) : G(batch, 3, n));
        }
        Add("TriangularSolve", "lower left n = 70", v => Op.TriangularSolve(v[0], v[1], lower: true), Tri(batch, 70, lower: true), G(batch, 70, 3));
        Add("TriangularSolve", "broadcast T (batch 1)", v => Op.TriangularSolve(v[0], v[1], lower: true), Tri(1, 6, lower: true), G(3, 6, 2));
        Add("CholeskySolve", "broadcast Σ (batch 1)", v => Op.CholeskySolve(v[0], v[1]), Spd(1, 5), G(3, 5, 2));
        Add("AXInvB", "broadcast X (batch 1)", v => Op.AXInvB(v[0], v[1], v[2]), G(3, 2, 4), Inv(1, 4), G(3, 4, 3));

        // The Gaussian-process model of 'gpuad demo', through its hyperparameters.
        Add("GP NLL", "Σ 12×12, y 12×1", v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), Spd(batch, 12), G(batch, 12, 1));
        var x = Synthetic.Uniform(new Shape(1, 12, 1), seed++);
        var distances = new double[144];
        for (int i = 0; i < 12; i++)
        for (int j = 0; j < 12; j++)
            distances[i * 12 + j] = (x[i] - x[j]) * (x[i] - x[j]);
        var targets = Synthetic.Uniform(new Shape(batch, 12, 1), seed++);
        AddBlocked(cases, ref seed, emulatedGpu);

        Add("GP RBF hyperparameters", "n = 12, log ℓ, log s², log σ²", v =>
        {
            var tape = v[0].Tape;
            var sigma = GaussianProcess.RbfCovariance(tape.Constant(distances, new Shape(1, 12, 12)), v[0], v[1], v[2]);
            return GaussianProcess.NegativeLogMarginalLikelihood(sigma, tape.Constant(targets, new Shape(batch, 12, 1)));
        }, new GradcheckInput([-0.3, 0.1], new Shape(batch, 1, 1)), new GradcheckInput([0.2, -0.1], new Shape(batch, 1, 1)), new GradcheckInput([-2.0, -1.5], new Shape(batch, 1, 1)));
        return cases;
    }

    /// <summary>
    /// The blocked path at <see cref="BlockedOrders"/>, batch 2: Cholesky (forward, JVP and the
    /// blocked VJP) in float64 against finite differences, and in float32 against float64 on the
    /// same device; at 120 also the Gaussian-process likelihood (Cholesky, triangular solves and
    /// the log-determinant) and the triangular and LU solves. The order-600 float64 case tests
    /// one random direction
    /// without the noise probe (a direction costs a forward and reverse and four forward evaluations).
    /// </summary>
    private static void AddBlocked(List<CheckCase> cases, ref int seed, bool emulatedGpu)
    {
        const int batch = 2;
        foreach (int n in BlockedOrders)
        {
            // Beyond 512 one direction without the noise probe: an evaluation there takes tens of
            // seconds on the emulated GPU, and the noise of 2·n² outputs is measured well enough by
            // the difference points' fourth differences.
            var options = n > 512 ? new GradcheckOptions(Directions: 1, NoiseStep: 0) : new GradcheckOptions();
            var sigma = new GradcheckInput(Synthetic.Spd(batch, n, seed++), new Shape(batch, n, n), PerturbationKind.Symmetric);
            var y = new GradcheckInput(Synthetic.Uniform(new Shape(batch, n, 1), seed++), new Shape(batch, n, 1));
            string detail = $"n = {n}, batch {batch} (blocked)";
            cases.Add(new("Cholesky", detail, v => Op.Cholesky(v[0]), [sigma]) { Order = n, Options = options });
            if (!(emulatedGpu && n > 512))
                cases.Add(new("Cholesky", detail, v => Op.Cholesky(v[0]), [sigma]) { Order = n, F32 = v => Op.Cholesky(v[0]) });
            if (n > 512) continue; // on the emulated GPU each evaluation at n = 600 takes tens of seconds: Cholesky alone there
            cases.Add(new("GP NLL", $"Σ {n}×{n}, y {n}×1, batch {batch} (blocked)", v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), [sigma, y])
                { Order = n, Options = options });
            cases.Add(new("GP NLL", $"Σ {n}×{n}, y {n}×1, batch {batch} (blocked)", v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]), [sigma, y])
                { Order = n, F32 = v => GaussianProcess.NegativeLogMarginalLikelihood(v[0], v[1]) });
            var t = new GradcheckInput(Synthetic.Triangular(batch, n, lower: true, seed++), new Shape(batch, n, n));
            var b = new GradcheckInput(Synthetic.Uniform(new Shape(batch, n, 3), seed++), new Shape(batch, n, 3));
            var x = new GradcheckInput(Synthetic.Invertible(batch, n, seed++), new Shape(batch, n, n));
            cases.Add(new("TriangularSolve", $"lower left transpose n = {n}, batch {batch} (blocked)",
                v => Op.TriangularSolve(v[0], v[1], lower: true, left: true, transpose: true), [t, b]) { Order = n });
            cases.Add(new("Solve", $"n = {n}, 3 right-hand sides, batch {batch} (blocked LU)", v => Op.Solve(v[0], v[1]), [x, b]) { Order = n });
            cases.Add(new("Solve", $"n = {n}, 3 right-hand sides, batch {batch} (blocked LU)", v => Op.Solve(v[0], v[1]), [x, b])
                { Order = n, F32 = v => Op.Solve(v[0], v[1]) });
        }
    }
}
