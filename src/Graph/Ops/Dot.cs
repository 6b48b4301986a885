namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// The Frobenius inner product per matrix, <c>⟨A, B⟩ = tr(AᵀB) = Σᵢⱼ AᵢⱼBᵢⱼ</c>:
    /// → [batch, 1, 1]; an operand with batch 1 broadcasts.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix shapes differ or the batches do not broadcast.</exception>
    public static Var<T> Dot<T>(Var<T> a, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(DotNode<T>.OpName, a, b);
        if (a.Shape.Rows != b.Shape.Rows || a.Shape.Cols != b.Shape.Cols)
            throw ShapeErrors.Mismatch(DotNode<T>.OpName, "the matrices must have the same shape", a.Shape, b.Shape);
        int batch = ShapeErrors.BroadcastBatch(DotNode<T>.OpName, a.Shape, b.Shape);
        return tape.Record(new DotNode<T>(a, b, batch));
    }
}

/// <summary>
/// y = ⟨A, B⟩. Derivative: dy = ⟨dA, B⟩ + ⟨A, dB⟩. Adjoint: Ā = ȳ·B, B̄ = ȳ·A.
/// </summary>
internal sealed class DotNode<T>(Var<T> a, Var<T> b, int batch) : Node<T>(OpName, a, b) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Dot";

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In[1].RequiresGrad) yield return In[0];
            if (In[0].RequiresGrad) yield return In[1];
        }
    }

    internal override DeviceTensor<T> Forward() => ReduceNew(Bc(In[0].Value, batch), Bc(In[1].Value, batch));

    // dy = ⟨dA, B⟩ + ⟨A, dB⟩
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } da ? ReduceNew(Bc(da, batch), Bc(In[1].Value, batch)) : null;
        if (t[1] is { } db)
        {
            var term = ReduceNew(Bc(In[0].Value, batch), Bc(db, batch));
            if (y is null) return term;
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
            term.Dispose();
        }
        return y!;
    }

    // Ā = ȳ·B, B̄ = ȳ·A
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        for (int i = 0; i < 2; i++)
        {
            if (!grads.Needs(i)) continue;
            var other = Bc(In[1 - i].Value, batch);
            var g = Device.Allocate<T>(In[i].Shape.WithBatch(batch));
            Elementwise.Map(Device, new Maps.Multiply<T>(T.One), other, ybar.Mat, YAccess.ScalarPerMatrix, g.Mat);
            grads.Add(i, g);
        }
    }
}
