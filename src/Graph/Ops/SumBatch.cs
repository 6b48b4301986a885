namespace GpuAD;

public static partial class Op
{
    /// <summary>The sum over the batch: [batch, m, n] → [1, m, n] (e.g. a batch of losses into one scalar).</summary>
    public static Var<T> SumBatch<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(SumBatchNode<T>.OpName, a).Record(new SumBatchNode<T>(a));
}

/// <summary>
/// Y = Σ_b A_b. Derivative: dY = Σ_b dA_b. Adjoint: ⟨Ȳ, Σ_b dA_b⟩ = Σ_b ⟨Ȳ, dA_b⟩ ⇒ Ā_b = Ȳ for
/// every batch element.
/// </summary>
internal sealed class SumBatchNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "SumBatch";

    private DeviceTensor<T> Reduce(DeviceTensor<T> x)
    {
        var y = Device.Allocate<T>(x.Shape.WithBatch(1));
        Elementwise.SumBatch(Device, x.Mat, y.Mat, T.One, T.Zero);
        return y;
    }

    internal override DeviceTensor<T> Forward() => Reduce(In[0].Value);

    // dY = Σ_b dA_b
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => Reduce(t[0]!);

    // Ā_b = Ȳ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var batch = In[0].Shape.Batch;
        grads.Add(0, MapNew(new Maps.Axpby<T>(T.One, T.Zero), Bc(ybar, batch), Bc(ybar, batch), YAccess.Same, In[0].Shape));
    }
}
