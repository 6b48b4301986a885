namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = A∘A</c>.</summary>
    public static Var<T> Square<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(SquareNode<T>.OpName, a).Record(new SquareNode<T>(a));
}

/// <summary>Y = A∘A. Derivative: dY = 2A∘dA. Adjoint: Ā = 2Ȳ∘A.</summary>
internal sealed class SquareNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Square";

    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Square<T>(T.One), In[0].Value);

    // dY = 2A∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Multiply<T>(T.One + T.One), t[0]!.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape);

    // Ā = 2Ȳ∘A
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.Multiply<T>(T.One + T.One), ybar.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape));
}
