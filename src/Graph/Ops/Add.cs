namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = A + B</c> elementwise. A scalar per matrix ([batch or 1, 1, 1]) on either side
    /// broadcasts over the other's matrices, and an operand with batch 1 broadcasts over the batch.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix shapes differ and neither is 1×1, or the batches do not broadcast.</exception>
    public static Var<T> Add<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> =>
        AddNode<T>.Record(a, b, subtract: false);

    /// <summary>
    /// <c>Y = A − B</c> elementwise. A scalar per matrix ([batch or 1, 1, 1]) on either side
    /// broadcasts over the other's matrices, and an operand with batch 1 broadcasts over the batch.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix shapes differ and neither is 1×1, or the batches do not broadcast.</exception>
    public static Var<T> Subtract<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T> =>
        AddNode<T>.Record(a, b, subtract: true);
}

/// <summary>
/// Y = A + s·B with s = ±1. Derivative: dY = dA + s·dB. Adjoint: ⟨Ȳ, dA + s·dB⟩ gives Ā = Ȳ,
/// B̄ = s·Ȳ (each summed over what its operand broadcast over: the batch, the matrix of a scalar).
/// </summary>
internal sealed class AddNode<T>(Var<T> a, Var<T> b, bool subtract, Shape shape) : Node<T>(subtract ? "Subtract" : "Add", a, b)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private T Sign => subtract ? -T.One : T.One;

    internal static Var<T> Record(Var<T> a, Var<T> b, bool subtract)
    {
        string op = subtract ? "Subtract" : "Add";
        var tape = Tape.Of(op, a, b);
        var shape = ShapeErrors.BroadcastElementwise(op, a.Shape, b.Shape);
        return tape.Record(new AddNode<T>(a, b, subtract, shape));
    }

    internal override DeviceTensor<T> Forward() => MapBroadcast(new Maps.Axpby<T>(T.One, Sign), In[0].Value, In[1].Value, shape);

    // dY = dA + s·dB
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        if (t[0] is null) return MapBroadcast(new Maps.Axpby<T>(Sign, T.Zero), t[1]!, t[1]!, shape);
        if (t[1] is null) return MapBroadcast(new Maps.Axpby<T>(T.One, T.Zero), t[0]!, t[0]!, shape);
        return MapBroadcast(new Maps.Axpby<T>(T.One, Sign), t[0]!, t[1]!, shape);
    }

    // Ā = Ȳ, B̄ = s·Ȳ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, MapNew(new Maps.Axpby<T>(T.One, T.Zero), ybar));
        if (grads.Needs(1)) grads.Add(1, MapNew(new Maps.Axpby<T>(Sign, T.Zero), ybar));
    }
}
