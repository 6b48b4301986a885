namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = A∘B</c> (elementwise). A scalar per matrix ([batch or 1, 1, 1]) on either side
    /// broadcasts over the other's matrices, and an operand with batch 1 broadcasts over the batch.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix shapes differ and neither is 1×1, or the batches do not broadcast.</exception>
    public static Var<T> Multiply<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(MultiplyNode<T>.OpName, a, b);
        var shape = ShapeErrors.BroadcastElementwise(MultiplyNode<T>.OpName, a.Shape, b.Shape);
        return tape.Record(new MultiplyNode<T>(a, b, shape));
    }
}

/// <summary>
/// Y = A∘B. Derivative: dY = dA∘B + A∘dB. Adjoint: ⟨Ȳ, dA∘B⟩ = ⟨Ȳ∘B, dA⟩, so Ā = Ȳ∘B and B̄ = Ȳ∘A,
/// each summed over what its operand broadcast over (the batch, the matrix of a scalar).
/// </summary>
internal sealed class MultiplyNode<T>(Var<T> a, Var<T> b, Shape shape) : Node<T>(OpName, a, b) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Multiply";

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In[1].RequiresGrad) yield return In[0];
            if (In[0].RequiresGrad) yield return In[1];
        }
    }

    private DeviceTensor<T> Product(DeviceTensor<T> x, DeviceTensor<T> y) =>
        MapBroadcast(new Maps.Multiply<T>(T.One), x, y, shape);

    internal override DeviceTensor<T> Forward() => Product(In[0].Value, In[1].Value);

    // dY = dA∘B + A∘dB
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } da ? Product(da, In[1].Value) : null;
        if (t[1] is { } db)
        {
            if (y is null) return Product(In[0].Value, db);
            using var term = Product(In[0].Value, db);
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
        }
        return y!;
    }

    // Ā = Ȳ∘B, B̄ = Ȳ∘A
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, Product(ybar, In[1].Value));
        if (grads.Needs(1)) grads.Add(1, Product(ybar, In[0].Value));
    }
}
