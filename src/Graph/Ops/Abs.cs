namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = |A|</c>. Its derivative is sign(A), taken as 0 at A = 0 (as PyTorch's).</summary>
    public static Var<T> Abs<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(AbsNode<T>.OpName, a).Record(new AbsNode<T>(a));
}

/// <summary>Y = |A| elementwise. Derivative: dY = sign(A)∘dA, with sign(0) = 0 (PyTorch's subgradient at the
/// kink). Adjoint: Ā = Ȳ∘sign(A).</summary>
internal sealed class AbsNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Abs";

    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Abs<T>(), In[0].Value);

    // dY = sign(A)∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.AbsDerivative<T>(), t[0]!.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape);

    // Ā = Ȳ∘sign(A)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.AbsDerivative<T>(), ybar.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape));
}
