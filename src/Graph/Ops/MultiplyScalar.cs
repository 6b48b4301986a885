namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = s·A</c> with a scalar per matrix: s is [batch or 1, 1, 1], A is [batch or 1, m, n].
    /// Both s and A may broadcast.
    /// </summary>
    /// <exception cref="ArgumentException">s is not a batch of 1×1 matrices, or the batches do not broadcast.</exception>
    public static Var<T> MultiplyScalar<T>(Var<T> a, Var<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(MultiplyScalarNode<T>.OpName, a, s);
        if (s.Shape.Rows != 1 || s.Shape.Cols != 1)
            throw ShapeErrors.Mismatch(MultiplyScalarNode<T>.OpName, "s must be a batch of 1×1 matrices", a.Shape, s.Shape);
        var shape = a.Shape.WithBatch(ShapeErrors.BroadcastBatch(MultiplyScalarNode<T>.OpName, a.Shape, s.Shape));
        return tape.Record(new MultiplyScalarNode<T>(a, s, shape));
    }
}

/// <summary>
/// Y = s·A per matrix. Derivative: dY = s·dA + ds·A. Adjoint: ⟨Ȳ, s·dA⟩ ⇒ Ā = s·Ȳ;
/// ⟨Ȳ, ds·A⟩ = ds·⟨Ȳ, A⟩ ⇒ s̄ = ⟨Ȳ, A⟩ (a Frobenius dot per matrix).
/// </summary>
internal sealed class MultiplyScalarNode<T>(Var<T> a, Var<T> s, Shape shape) : Node<T>(OpName, a, s) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "MultiplyScalar";

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In[1].RequiresGrad) yield return In[0];
            if (In[0].RequiresGrad) yield return In[1];
        }
    }

    private DeviceTensor<T> Times(DeviceTensor<T> x, DeviceTensor<T> scalars) =>
        MapNew(new Maps.Multiply<T>(T.One), Bc(x, shape.Batch), Bc(scalars, shape.Batch), YAccess.ScalarPerMatrix, shape);

    internal override DeviceTensor<T> Forward() => Times(In[0].Value, In[1].Value);

    // dY = s·dA + ds·A
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } da ? Times(da, In[1].Value) : null;
        if (t[1] is { } ds)
        {
            var term = Times(In[0].Value, ds);
            if (y is null) return term;
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
            term.Dispose();
        }
        return y!;
    }

    // Ā = s·Ȳ, s̄ = ⟨Ȳ, A⟩
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, Times(ybar, In[1].Value));
        if (grads.Needs(1)) grads.Add(1, ReduceNew(ybar.Mat, Bc(In[0].Value, shape.Batch)));
    }
}
