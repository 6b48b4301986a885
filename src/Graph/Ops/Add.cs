namespace GpuAD;

public static partial class Op
{
    /// <summary><c>Y = A + B</c>; an operand with batch 1 broadcasts.</summary>
    /// <exception cref="ArgumentException">The matrix shapes differ or the batches do not broadcast.</exception>
    public static Var<T> Add<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> =>
        AddNode<T>.Record(a, b, subtract: false);

    /// <summary><c>Y = A − B</c>; an operand with batch 1 broadcasts.</summary>
    /// <exception cref="ArgumentException">The matrix shapes differ or the batches do not broadcast.</exception>
    public static Var<T> Subtract<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> =>
        AddNode<T>.Record(a, b, subtract: true);
}

/// <summary>
/// Y = A + s·B with s = ±1. Derivative: dY = dA + s·dB. Adjoint: ⟨Ȳ, dA + s·dB⟩ gives Ā = Ȳ,
/// B̄ = s·Ȳ (each summed over the batch when its operand broadcasts).
/// </summary>
internal sealed class AddNode<T>(Var<T> a, Var<T> b, bool subtract, Shape shape) : Node<T>(subtract ? "Subtract" : "Add", a, b)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private T Sign => subtract ? -T.One : T.One;

    internal static Var<T> Record(Var<T> a, Var<T> b, bool subtract)
    {
        string op = subtract ? "Subtract" : "Add";
        var tape = Tape.Of(op, a, b);
        if (a.Shape.Rows != b.Shape.Rows || a.Shape.Cols != b.Shape.Cols)
            throw ShapeErrors.Mismatch(op, "the matrices must have the same shape", a.Shape, b.Shape);
        var shape = a.Shape.WithBatch(ShapeErrors.BroadcastBatch(op, a.Shape, b.Shape));
        return tape.Record(new AddNode<T>(a, b, subtract, shape));
    }

    internal override DeviceTensor<T> Forward() =>
        MapNew(new Maps.Axpby<T>(T.One, Sign), Bc(In[0].Value, shape.Batch), Bc(In[1].Value, shape.Batch), YAccess.Same, shape);

    // dY = dA + s·dB
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        if (t[0] is null) return MapNew(new Maps.Axpby<T>(Sign, T.Zero), Bc(t[1]!, shape.Batch), Bc(t[1]!, shape.Batch), YAccess.Same, shape);
        if (t[1] is null) return MapNew(new Maps.Axpby<T>(T.One, T.Zero), Bc(t[0]!, shape.Batch), Bc(t[0]!, shape.Batch), YAccess.Same, shape);
        return MapNew(new Maps.Axpby<T>(T.One, Sign), Bc(t[0]!, shape.Batch), Bc(t[1]!, shape.Batch), YAccess.Same, shape);
    }

    // Ā = Ȳ, B̄ = s·Ȳ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, MapNew(new Maps.Axpby<T>(T.One, T.Zero), ybar));
        if (grads.Needs(1)) grads.Add(1, MapNew(new Maps.Axpby<T>(Sign, T.Zero), ybar));
    }
}
