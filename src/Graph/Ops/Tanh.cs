namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = tanh(A)</c>.</summary>
    public static Var<T> Tanh<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(TanhNode<T>.OpName, a).Record(new TanhNode<T>(a));
}

/// <summary>Y = tanh(A) elementwise. Derivative: dY = (1 − Y²)∘dA. Adjoint: Ā = Ȳ∘(1 − Y²).</summary>
internal sealed class TanhNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Tanh";

    internal override IEnumerable<IVar> SavedVars { get { yield return Out; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Tanh<T>(), In[0].Value);

    // dY = (1 − Y²)∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.TanhDerivative<T>(), t[0]!.Mat, Out.Value.Mat, YAccess.Same, Out.Shape);

    // Ā = Ȳ∘(1 − Y²)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.TanhDerivative<T>(), ybar.Mat, Out.Value.Mat, YAccess.Same, Out.Shape));
}
