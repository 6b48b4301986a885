namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = sin(A)</c>.</summary>
    public static Var<T> Sin<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(SinNode<T>.OpName, a).Record(new SinNode<T>(a));
}

/// <summary>Y = sin(A) elementwise. Derivative: dY = cos(A)∘dA. Adjoint: ⟨Ȳ, cos(A)∘dA⟩ = ⟨Ȳ∘cos(A), dA⟩, so Ā = Ȳ∘cos(A).</summary>
internal sealed class SinNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Sin";

    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Sin<T>(), In[0].Value);

    // dY = cos(A)∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.SinDerivative<T>(), t[0]!.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape);

    // Ā = Ȳ∘cos(A)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.SinDerivative<T>(), ybar.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape));
}
