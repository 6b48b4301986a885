namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = cos(A)</c>.</summary>
    public static Var<T> Cos<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(CosNode<T>.OpName, a).Record(new CosNode<T>(a));
}

/// <summary>Y = cos(A) elementwise. Derivative: dY = −sin(A)∘dA. Adjoint: ⟨Ȳ, −sin(A)∘dA⟩ = ⟨−Ȳ∘sin(A), dA⟩, so Ā = −Ȳ∘sin(A).</summary>
internal sealed class CosNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Cos";

    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Cos<T>(), In[0].Value);

    // dY = −sin(A)∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.CosDerivative<T>(), t[0]!.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape);

    // Ā = −Ȳ∘sin(A)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.CosDerivative<T>(), ybar.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape));
}
