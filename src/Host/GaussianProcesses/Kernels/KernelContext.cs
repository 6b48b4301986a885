namespace GpuAD;

/// <summary>How a kernel's covariance is held before it is combined: kept symbolic where that saves an n×m matrix.</summary>
internal enum KernelTermKind
{
    /// <summary>A full matrix [batch, n, m].</summary>
    Matrix,

    /// <summary>c·11ᵀ with c a scalar per matrix [batch or 1, 1, 1] (a <see cref="ConstantKernel"/>).</summary>
    Scalar,

    /// <summary>s·I in the training covariance, 0 between different point sets (a <see cref="WhiteKernel"/>).</summary>
    Diagonal,

    /// <summary>0 (a <see cref="WhiteKernel"/> between different point sets).</summary>
    Zero,
}

/// <summary>A kernel's covariance as a matrix or a scalar multiple of 11ᵀ or I.</summary>
/// <param name="Kind">The form.</param>
/// <param name="Value">The matrix, or the scalar per matrix; null for <see cref="KernelTermKind.Zero"/>.</param>
internal readonly record struct KernelTerm<T>(KernelTermKind Kind, Var<T>? Value) where T : unmanaged, IFloatingPointIeee754<T>;

/// <summary>
/// One evaluation of a kernel: the tape, θ, the two point sets, and a cursor that hands each
/// hyperparameter its values in θ's order (a slice of θ for a free one, a constant for a fixed one).
/// </summary>
internal sealed class KernelContext<T>(Tape tape, Var<T> theta, Var<T> x1, Var<T> x2, bool training, bool diagonalOnly = false) where T : unmanaged, IFloatingPointIeee754<T>
{
    private int offset;
    private Var<T>? distances;

    public Tape Tape { get; } = tape;

    public Var<T> X1 { get; } = x1;

    public Var<T> X2 { get; } = x2;

    /// <summary>True for the training covariance K(X, X) (White on the diagonal).</summary>
    public bool Training { get; } = training;

    /// <summary>
    /// True when only the training covariance's diagonal k(xᵢ, xᵢ) is wanted, as a column [batch, n, 1]:
    /// matrix terms are columns, a White term is its noise.
    /// </summary>
    public bool DiagonalOnly { get; } = diagonalOnly;

    private int Rows => X1.Shape.Rows;

    private int Cols => DiagonalOnly ? 1 : X2.Shape.Rows;

    /// <summary>
    /// The next hyperparameter's values raised to <paramref name="power"/>, [batch or 1, 1, count]:
    /// exp(power·θ[o..o+count)) for a free one, a
    /// constant for a fixed one. Kernels must take their hyperparameters in θ's order.
    /// </summary>
    public Var<T> Take(Hyperparameter h, double power = 1)
    {
        int count = h.Values.Count;
        if (h.IsFixed)
            return Tape.Constant(h.Values.Select(v => T.CreateChecked(Math.Pow(v, power))).ToArray(), new Shape(1, 1, count));
        var slice = Op.Columns(theta, offset, count);
        offset += count;
        return Op.Exp(power == 1 ? slice : Op.Scale(slice, T.CreateChecked(power)));
    }

    /// <summary>Passes over hyperparameters whose values the term does not need (θ's cursor still advances).</summary>
    public void Skip(IEnumerable<Hyperparameter> hyperparameters) => offset += hyperparameters.Sum(h => h.ThetaCount);

    /// <summary>k(x, x) = 1 of a stationary kernel in diagonal mode: its hyperparameters skipped.</summary>
    public KernelTerm<T> UnitDiagonal(IEnumerable<Hyperparameter> hyperparameters)
    {
        Skip(hyperparameters);
        return new(KernelTermKind.Scalar, Tape.Constant([T.One], new Shape(1, 1, 1)));
    }

    /// <summary>Unscaled squared distances ‖x₁ᵢ − x₂ⱼ‖² (shared by the kernels of one evaluation).</summary>
    public Var<T> SquaredDistances() => distances ??= Op.SquaredDistances(X1, X2);

    /// <summary>Scaled squared distances Σₖ ((x₁ᵢₖ − x₂ⱼₖ)/ℓₖ)² from 1/ℓ [·, 1, 1 or d].</summary>
    public Var<T> SquaredDistances(Var<T> inverseLengthscales) => Op.SquaredDistances(X1, X2, inverseLengthscales);

    /// <summary>A [1, n, m] constant with every element <paramref name="value"/>.</summary>
    public Var<T> Filled(T value)
    {
        var data = new T[(long)Rows * Cols];
        if (value != T.Zero) Array.Fill(data, value);
        return Tape.Constant(data, new Shape(1, Rows, Cols));
    }

    /// <summary>The term as a matrix [batch, n, m].</summary>
    public Var<T> Materialize(KernelTerm<T> term) => term.Kind switch
    {
        KernelTermKind.Matrix => term.Value!,
        KernelTermKind.Scalar => Op.MultiplyScalar(Filled(T.One), term.Value!),
        KernelTermKind.Diagonal when DiagonalOnly => Op.MultiplyScalar(Filled(T.One), term.Value!),
        KernelTermKind.Diagonal => Training ? Op.AddDiagonal(Filled(T.Zero), term.Value!) : Filled(T.Zero),
        _ => Filled(T.Zero),
    };

    /// <summary>The sum of two terms, kept symbolic where both allow it.</summary>
    public KernelTerm<T> Sum(KernelTerm<T> a, KernelTerm<T> b)
    {
        a = Reduce(a);
        b = Reduce(b);
        if (a.Kind == KernelTermKind.Zero) return b;
        if (b.Kind == KernelTermKind.Zero) return a;
        if (a.Kind == b.Kind && a.Kind != KernelTermKind.Matrix) return new(a.Kind, Op.Add(a.Value!, b.Value!));
        if (b.Kind == KernelTermKind.Diagonal) return Matrix(Op.AddDiagonal(Materialize(a), b.Value!));
        if (a.Kind == KernelTermKind.Diagonal) return Matrix(Op.AddDiagonal(Materialize(b), a.Value!));
        return Matrix(Op.Add(Materialize(a), Materialize(b)));
    }

    /// <summary>The elementwise product of two terms, kept symbolic where both allow it.</summary>
    public KernelTerm<T> Product(KernelTerm<T> a, KernelTerm<T> b)
    {
        a = Reduce(a);
        b = Reduce(b);
        if (a.Kind == KernelTermKind.Zero || b.Kind == KernelTermKind.Zero) return new(KernelTermKind.Zero, null);
        if (a.Kind == KernelTermKind.Scalar) return new(b.Kind, Op.MultiplyScalar(b.Value!, a.Value!));
        if (b.Kind == KernelTermKind.Scalar) return new(a.Kind, Op.MultiplyScalar(a.Value!, b.Value!));
        if (a.Kind == KernelTermKind.Diagonal && b.Kind == KernelTermKind.Diagonal) return new(KernelTermKind.Diagonal, Op.MultiplyScalar(a.Value!, b.Value!));
        return Matrix(Op.Multiply(Materialize(a), Materialize(b)));
    }

    public static KernelTerm<T> Matrix(Var<T> k) => new(KernelTermKind.Matrix, k);

    // A White term between different point sets is 0; on the diagonal alone it is its noise.
    private KernelTerm<T> Reduce(KernelTerm<T> t) => t.Kind != KernelTermKind.Diagonal ? t
        : DiagonalOnly ? new(KernelTermKind.Scalar, t.Value)
        : Training ? t : new(KernelTermKind.Zero, null);
}
