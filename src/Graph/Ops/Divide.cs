namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = A / B</c> elementwise (IEEE: ±∞ or NaN where B = 0). A scalar per matrix
    /// ([batch or 1, 1, 1]) on either side broadcasts over the other's matrices, and an operand with
    /// batch 1 broadcasts over the batch.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix shapes differ and neither is 1×1, or the batches do not broadcast.</exception>
    public static Var<T> Divide<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(DivideNode<T>.OpName, a, b);
        var shape = ShapeErrors.BroadcastElementwise(DivideNode<T>.OpName, a.Shape, b.Shape);
        return tape.Record(new DivideNode<T>(a, b, shape));
    }
}

/// <summary>
/// Y = A / B. Derivative: dY = dA / B − A∘dB / B² = (dA − Y∘dB) / B.
/// Adjoint: ⟨Ȳ, dA / B⟩ = ⟨Ȳ / B, dA⟩ and ⟨Ȳ, −Y∘dB / B⟩ = ⟨−Ȳ∘Y / B, dB⟩, so Ā = Ȳ / B and
/// B̄ = −Ȳ∘Y / B, each summed over what its operand broadcast over (the batch, the matrix of a scalar).
/// </summary>
internal sealed class DivideNode<T>(Var<T> a, Var<T> b, Shape shape) : Node<T>(OpName, a, b) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Divide";

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            yield return In[1];
            if (In[1].RequiresGrad) yield return Out;
        }
    }

    internal override DeviceTensor<T> Forward() => MapBroadcast(new Maps.Divide<T>(T.One), In[0].Value, In[1].Value, shape);

    // −x∘Y / B for x = dB (the JVP's term) or x = Ȳ (B̄)
    private DeviceTensor<T> MinusTimesYOverB(DeviceTensor<T> x)
    {
        using var product = MapBroadcast(new Maps.Multiply<T>(-T.One), x, Out.Value, shape);
        return MapBroadcast(new Maps.Divide<T>(T.One), product, In[1].Value, shape);
    }

    // dY = dA / B − Y∘dB / B
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } da ? MapBroadcast(new Maps.Divide<T>(T.One), da, In[1].Value, shape) : null;
        if (t[1] is { } db)
        {
            if (y is null) return MinusTimesYOverB(db);
            using var term = MinusTimesYOverB(db);
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
        }
        return y!;
    }

    // Ā = Ȳ / B, B̄ = −Ȳ∘Y / B
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, MapBroadcast(new Maps.Divide<T>(T.One), ybar, In[1].Value, shape));
        if (grads.Needs(1)) grads.Add(1, MinusTimesYOverB(ybar));
    }
}
