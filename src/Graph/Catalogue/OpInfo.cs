namespace GpuAD;

/// <summary>One input of a catalogued op.</summary>
/// <param name="Name">Its name: the CLI's <c>--input NAME=PATH</c>, <c>grad_NAME.npy</c>, and the golden data's <c>in_NAME.npy</c>.</param>
/// <param name="Kind">The values it holds in samples (<see cref="OpInfo.KindOf"/> may pick another from the flags).</param>
/// <param name="Shape">Its shape in words, for help texts.</param>
/// <param name="RejectsNonFinite">
/// The exception the op raises when this input holds NaN or ±Inf where it is read (a matrix the op
/// factors), or null when non-finite values propagate to the output.
/// </param>
internal sealed record OpInput(string Name, InputKind Kind, string Shape, Type? RejectsNonFinite = null);

/// <summary>A flag of a catalogued op.</summary>
/// <param name="Name">Its name, as the golden data's meta.json spells it.</param>
/// <param name="Default">Its value when a call does not set it; null when every call must.</param>
internal sealed record OpFlag(string Name, double? Default);

/// <summary>
/// One entry of the op catalogue (after PyTorch's OpInfo): the op's names, what it computes, its
/// inputs and flags, how to build shapes for it from a batch and its dimensions, and the one library
/// call. An entry is a small sealed subclass: the library call is generic in the element type.
/// </summary>
/// <param name="name">The op's name as its errors spell it (<c>TriangularSolve</c>).</param>
/// <param name="kebab">Its name on the command line, in golden data and in bench keys (<c>triangular-solve</c>).</param>
/// <param name="formula">What it computes, one line for help texts.</param>
/// <param name="dims">The names of the dimensions its shape rule takes (<c>m, k, n</c> for MatMul).</param>
/// <param name="inputs">Its inputs, in the library call's order.</param>
/// <param name="flags">Its flags.</param>
internal abstract class OpInfo(string name, string kebab, string formula, string[] dims, OpInput[] inputs, OpFlag[]? flags = null)
{
    /// <summary>The op's name as its errors spell it.</summary>
    public string Name { get; } = name;

    /// <summary>Its name on the command line, in golden data and in bench keys.</summary>
    public string Kebab { get; } = kebab;

    /// <summary>What it computes, for help texts.</summary>
    public string Formula { get; } = formula;

    /// <summary>The dimensions <see cref="Sample"/> takes, in order.</summary>
    public IReadOnlyList<string> Dims { get; } = dims;

    /// <summary>Its inputs, in the library call's order.</summary>
    public IReadOnlyList<OpInput> Inputs { get; } = inputs;

    /// <summary>Its flags.</summary>
    public IReadOnlyList<OpFlag> Flags { get; } = flags ?? [];

    /// <summary>
    /// The op name its errors spell (<see cref="LinAlgException.Op"/>, shape errors): the op's
    /// name unless set (CholeskySolveFactor records a CholeskySolve node; the GP NLL's
    /// factorization errors come from its Cholesky).
    /// </summary>
    public string ErrorName { get => errorName ?? Name; init => errorName = value; }

    private readonly string? errorName;

    /// <summary>The name <c>gpuad check</c> shows (the op's name unless set).</summary>
    public virtual string Title => Name;

    /// <summary>True when <c>gpuad vjp|jvp|bench</c> offer it by its kebab name.</summary>
    public bool OnCli { get; init; }

    /// <summary>
    /// The op and the flag that name it in golden data (tests/golden/*/meta.json), where they are
    /// not the kebab name alone: CholeskySolve and CholeskySolveFactor are both <c>cholesky-solve</c>,
    /// told apart by <c>factor</c>.
    /// </summary>
    public (string Op, string Flag, string Value)? GoldenKey { get; init; }

    /// <summary>The golden data's op name.</summary>
    public string GoldenOp => GoldenKey?.Op ?? Kebab;

    /// <summary>The flag combinations the gradchecks cover (every flag at its default, unless the op has flags).</summary>
    public virtual IReadOnlyList<OpArgs> Variants => [OpArgs.None];

    /// <summary>The typed errors the op raises for inputs it factors (non-finite, not positive-definite, singular).</summary>
    public IEnumerable<Type> Raises => Inputs.Select(i => i.RejectsNonFinite).OfType<Type>().Distinct();

    /// <summary>The dimensions around a size n that the reliability table uses (n = 0 gives empty matrices).</summary>
    public abstract int[] Around(int n);

    /// <summary>Each input's [rows, cols] for the dimensions <see cref="Dims"/> and the flags.</summary>
    protected abstract (int Rows, int Cols)[] Matrices(int[] d, OpArgs args);

    /// <summary>The library call, with every flag set.</summary>
    protected abstract Var<T> Call<T>(Var<T>[] v, OpArgs args) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>
    /// The op's value on one batch element in float64 by a managed reference (<see cref="Float64Reference"/>),
    /// or null where it has none (an op across the batch).
    /// </summary>
    /// <param name="x">Each input's matrix of that batch element.</param>
    /// <param name="args">The flags, every one set.</param>
    public virtual double[,]? Reference(double[][,] x, OpArgs args) => null;

    /// <summary>The values input <paramref name="input"/> holds under these flags (TriangularSolve's T follows <c>lower</c>).</summary>
    public virtual InputKind KindOf(int input, OpArgs args) => Inputs[input].Kind;

    /// <summary>The flags with every unset one at its default.</summary>
    /// <exception cref="ArgumentException">A flag the op does not have, or one without a default left unset.</exception>
    public OpArgs Resolve(OpArgs? args)
    {
        args ??= OpArgs.None;
        var unknown = args.Values.Keys.Where(k => Flags.All(f => f.Name != k)).ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"{Name} has no flag {string.Join(", ", unknown)}; its flags are {(Flags.Count == 0 ? "none" : string.Join(", ", Flags.Select(f => f.Name)))}.");
        foreach (var f in Flags.Where(f => !args.Has(f.Name)))
            args = args.With(f.Name, f.Default ?? throw new ArgumentException($"{Name} needs flag {f.Name}."));
        return args;
    }

    /// <summary>Records the op on the inputs' tape.</summary>
    /// <param name="v">The inputs, in <see cref="Inputs"/> order.</param>
    /// <param name="args">The flags (unset ones at their defaults).</param>
    public Var<T> Apply<T>(Var<T>[] v, OpArgs? args = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (v.Length != Inputs.Count) throw new ArgumentException($"{Name} takes {Inputs.Count} inputs, not {v.Length}.");
        return Call(v, Resolve(args));
    }

    /// <summary>A sample: every input of batch <paramref name="batch"/>, its matrices from the dimensions <paramref name="d"/>.</summary>
    /// <exception cref="ArgumentException">Not one value per dimension of <see cref="Dims"/>.</exception>
    public OpSample Sample(int batch, int[] d, OpArgs? args = null)
    {
        if (d.Length != Dims.Count) throw new ArgumentException($"{Name} takes dimensions {string.Join(", ", Dims)}, not {d.Length} values.");
        var resolved = Resolve(args);
        var m = Matrices(d, resolved);
        return new OpSample(this, [.. m.Select(x => new Shape(batch, x.Rows, x.Cols))], resolved);
    }

    /// <summary>The sample the reliability table uses: batch <paramref name="batch"/>, <see cref="Around"/>(n).</summary>
    public OpSample SampleAround(int batch, int n, OpArgs? args = null) => Sample(batch, Around(n), args ?? Variants[0]);

    public override string ToString() => Name;
}

/// <summary>A catalogued op at given shapes and flags: what the tests and <c>gpuad check</c> run.</summary>
/// <param name="Op">The op.</param>
/// <param name="Shapes">Each input's shape.</param>
/// <param name="Args">The flags, every one set.</param>
internal sealed record OpSample(OpInfo Op, Shape[] Shapes, OpArgs Args)
{
    /// <summary>The same sample with input <paramref name="input"/> of batch 1, broadcast against the others.</summary>
    public OpSample Broadcast(int input) =>
        this with { Shapes = [.. Shapes.Select((s, i) => i == input ? s.WithBatch(1) : s)] };

    /// <summary>The values input <paramref name="input"/> holds.</summary>
    public InputKind Kind(int input) => Op.KindOf(input, Args);

    /// <summary>Input <paramref name="input"/>'s data for a seed.</summary>
    public double[] Data(int input, int seed) => InputData.Generate(Kind(input), Shapes[input], seed);

    /// <summary>Every input as a gradcheck point, input i from seed <paramref name="firstSeed"/> + i (SPD inputs perturbed symmetrically).</summary>
    public GradcheckInput[] GradcheckInputs(int firstSeed) =>
        [.. Shapes.Select((s, i) => new GradcheckInput(Data(i, firstSeed + i), s, Kind(i) == InputKind.Spd ? PerturbationKind.Symmetric : PerturbationKind.General))];

    /// <summary>Records the op on the inputs' tape with this sample's flags.</summary>
    public Var<T> Apply<T>(Var<T>[] v) where T : unmanaged, IFloatingPointIeee754<T> => Op.Apply(v, Args);

    public override string ToString() => $"{Op.Name}({string.Join(", ", Shapes)})";
}
