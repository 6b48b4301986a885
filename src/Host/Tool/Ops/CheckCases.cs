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

    /// <summary>The case forces a path of the GPU family's kernels (the dataflow Cholesky): left out on the CPU family.</summary>
    public bool GpuFamilyOnly { get; init; }

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
    /// <param name="gpuFamily">The device runs the GPU family's kernels; false leaves out the cases that force one of their paths.</param>
    public static IReadOnlyList<CheckCase> All(bool emulatedGpu = false, bool gpuFamily = true)
    {
        var cases = new List<CheckCase>();
        int seed = 100;
        const int batch = 2;
        // A case of a catalogued op: its sample at these dimensions and flags, batch 2 unless given,
        // input `batchOne` broadcast with batch 1; inputs from consecutive seeds.
        void Add(string op, string detail, int[] dims, OpArgs? args = null, int b = batch, int? batchOne = null)
        {
            var sample = Catalogue.All.Get(op).Sample(b, dims, args);
            if (batchOne is int i) sample = sample.Broadcast(i);
            cases.Add(new(sample.Op.Title, detail, v => sample.Apply(v), sample.GradcheckInputs(seed)));
            seed += sample.Shapes.Length;
        }

        // Products.
        foreach (var flags in Catalogue.All.Get("MatMul").Variants)
        {
            bool ta = flags.Bool("transA"), tb = flags.Bool("transB");
            Add("MatMul", $"{(ta ? "Aᵀ" : "A")}·{(tb ? "Bᵀ" : "B")} 3×5×4", [3, 5, 4], flags);
        }
        Add("MatMul", "70×66×67 (past a 64×64 tile)", [70, 66, 67]);
        Add("MatMul", "broadcast A (batch 1)", [4, 5, 2], b: 3, batchOne: 0);
        Add("Axb", "A 3×5, X 5×4, B 4×6", [3, 5, 4, 6]);
        Add("Axb", "broadcast X (batch 1)", [2, 4, 4, 3], b: 3, batchOne: 1);

        // Elementwise ops and reductions.
        Add("Add", "5×3", [5, 3]);
        Add("Subtract", "5×3", [5, 3]);
        Add("Scale", "5×3, α = −2.5", [5, 3], OpArgs.None.With("alpha", -2.5));
        Add("Multiply", "5×3", [5, 3]);
        Add("MultiplyScalar", "5×3 by [batch, 1, 1]", [5, 3]);
        Add("AddDiagonal", "6×6 plus [batch, 1, 1]·I", [6]);
        Add("Transpose", "5×3", [5, 3]);
        Add("Exp", "5×3", [5, 3]);
        Add("Log", "5×3", [5, 3]);
        Add("Sum", "5×3", [5, 3]);
        Add("SumBatch", "5×3 over a batch of 3", [5, 3], b: 3);
        Add("Dot", "5×3", [5, 3]);
        Add("Trace", "6×6", [6]);
        Add("Diag", "6×6", [6]);
        Add("Tril", "6×6", [6, 6]);
        Add("Tril", "4×7, diagonal −1", [4, 7], OpArgs.None.With("k", -1));

        // Factorization-based ops.
        foreach (int n in FactorOrders)
        {
            Add("Cholesky", $"n = {n}", [n]);
            Add("LogDet", $"n = {n}", [n]);
            Add("CholeskySolve", $"n = {n}, 3 right-hand sides", [n, 3]);
            Add("CholeskySolveFactor", $"n = {n}, 2 right-hand sides", [n, 2]);
            Add("Solve", $"n = {n}, 4 right-hand sides", [n, 4]);
            Add("AXInvB", $"A 5×{n}, X {n}×{n}, B {n}×2", [5, n, 2]);
        }
        foreach (var flags in Catalogue.All.Get("TriangularSolve").Variants)
        {
            const int n = 9;
            bool lower = flags.Bool("lower"), left = flags.Bool("left"), transpose = flags.Bool("transpose"), unit = flags.Bool("unitDiagonal");
            Add("TriangularSolve", $"{(lower ? "lower" : "upper")} {(left ? "left" : "right")}{(transpose ? " transpose" : "")}{(unit ? " unit-diagonal" : "")} n = {n}",
                [n, left ? 4 : 3], flags);
        }
        Add("TriangularSolve", "lower left n = 70", [70, 3]);
        Add("TriangularSolve", "broadcast T (batch 1)", [6, 2], b: 3, batchOne: 0);
        Add("CholeskySolve", "broadcast Σ (batch 1)", [5, 2], b: 3, batchOne: 0);
        Add("AXInvB", "broadcast X (batch 1)", [2, 4, 3], b: 3, batchOne: 1);

        // The Gaussian-process model of 'gpuad demo', through its hyperparameters.
        Add("NegativeLogMarginalLikelihood", "Σ 12×12, y 12×1", [12]);
        var x = InputData.Uniform(new Shape(1, 12, 1), seed++);
        var distances = new double[144];
        for (int i = 0; i < 12; i++)
        for (int j = 0; j < 12; j++)
            distances[i * 12 + j] = (x[i] - x[j]) * (x[i] - x[j]);
        var targets = InputData.Uniform(new Shape(batch, 12, 1), seed++);
        AddBlocked(cases, ref seed, emulatedGpu);

        cases.Add(new("GP RBF hyperparameters", "n = 12, log ℓ, log s², log σ²", v =>
        {
            var tape = v[0].Tape;
            var sigma = GaussianProcess.RbfCovariance(tape.Constant(distances, new Shape(1, 12, 12)), v[0], v[1], v[2]);
            return GaussianProcess.NegativeLogMarginalLikelihood(sigma, tape.Constant(targets, new Shape(batch, 12, 1)));
        }, [new([-0.3, 0.1], new Shape(batch, 1, 1)), new([0.2, -0.1], new Shape(batch, 1, 1)), new([-2.0, -1.5], new Shape(batch, 1, 1))]));

        // An op of the catalogue that no case above names: its sample around n = 5, every variant.
        foreach (var op in Catalogue.All.Entries.Where(o => cases.All(c => c.Op != o.Title)))
        foreach (var args in op.Variants)
            Add(op.Name, $"around n = 5{(args.Values.Count == 0 ? "" : $", {args}")}", op.Around(5), args);
        return gpuFamily ? cases : cases.Where(c => !c.GpuFamilyOnly).ToList();
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
            // One sample per op, its inputs drawn once and shared by the float64 and float32 cases
            // (Σ by Cholesky and the NLL, the right-hand side by both solves).
            var nll = Catalogue.All.Get("NegativeLogMarginalLikelihood").Sample(batch, [n]);
            var inputs = nll.GradcheckInputs(seed);
            seed += 2;
            var (sigma, y) = (inputs[0], inputs[1]);
            var cholesky = Catalogue.All.Get("Cholesky").Sample(batch, [n]);
            string detail = $"n = {n}, batch {batch} (blocked)";
            cases.Add(new(cholesky.Op.Title, detail, v => cholesky.Apply(v), [sigma]) { Order = n, Options = options });
            if (!(emulatedGpu && n > 512))
                cases.Add(new(cholesky.Op.Title, detail, v => cholesky.Apply(v), [sigma]) { Order = n, F32 = v => cholesky.Apply(v) });
            if (n < 512)
            {
                // Two levels at a small order: outer blocks of 48 in leaves of 16 (the last outer block of 24), the
                // path the GPU family takes beyond n = 8192 with blocks of 512 in leaves of 64.
                var twoLevels = new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = 16, OuterBlockSize = 48 };
                string two = $"n = {n}, batch {batch} (two levels: outer blocks of 48, leaves of 16)";
                cases.Add(new(cholesky.Op.Title, two, v => Op.Cholesky(v[0], twoLevels), [sigma]) { Order = n });
                cases.Add(new(cholesky.Op.Title, two, v => Op.Cholesky(v[0], twoLevels), [sigma]) { Order = n, F32 = v => Op.Cholesky(v[0], twoLevels) });

                // The dataflow path (GPU family) in tiles of 16 (the last of 8): every tile a task of one persistent
                // launch per pass, the path single matrices up to the table's potrfDataflowUpTo take.
                var dataflow = new CholeskyOptions { Algorithm = CholeskyAlgorithm.Dataflow, BlockSize = 16 };
                string tiles = $"n = {n}, batch {batch} (dataflow: tiles of 16)";
                cases.Add(new(cholesky.Op.Title, tiles, v => Op.Cholesky(v[0], dataflow), [sigma]) { Order = n, GpuFamilyOnly = true });
                cases.Add(new(cholesky.Op.Title, tiles, v => Op.Cholesky(v[0], dataflow), [sigma])
                    { Order = n, F32 = v => Op.Cholesky(v[0], dataflow), GpuFamilyOnly = true });
            }
            if (n > 512) continue; // on the emulated GPU each evaluation at n = 600 takes tens of seconds: Cholesky alone there
            cases.Add(new(nll.Op.Title, $"Σ {n}×{n}, y {n}×1, batch {batch} (blocked)", v => nll.Apply(v), [sigma, y])
                { Order = n, Options = options });
            cases.Add(new(nll.Op.Title, $"Σ {n}×{n}, y {n}×1, batch {batch} (blocked)", v => nll.Apply(v), [sigma, y])
                { Order = n, F32 = v => nll.Apply(v) });
            var trsm = Catalogue.All.Get("TriangularSolve").Sample(batch, [n, 3], OpArgs.None.With("transpose", true));
            var solve = Catalogue.All.Get("Solve").Sample(batch, [n, 3]);
            var t = new GradcheckInput(trsm.Data(0, seed++), trsm.Shapes[0]);
            var b = new GradcheckInput(trsm.Data(1, seed++), trsm.Shapes[1]);
            var x = new GradcheckInput(solve.Data(0, seed++), solve.Shapes[0]);
            cases.Add(new(trsm.Op.Title, $"lower left transpose n = {n}, batch {batch} (blocked)", v => trsm.Apply(v), [t, b]) { Order = n });
            cases.Add(new(solve.Op.Title, $"n = {n}, 3 right-hand sides, batch {batch} (blocked LU)", v => solve.Apply(v), [x, b]) { Order = n });
            cases.Add(new(solve.Op.Title, $"n = {n}, 3 right-hand sides, batch {batch} (blocked LU)", v => solve.Apply(v), [x, b])
                { Order = n, F32 = v => solve.Apply(v) });
        }
    }
}
