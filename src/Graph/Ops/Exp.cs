namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = exp(A)</c>.</summary>
    public static Var<T> Exp<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(ExpNode<T>.OpName, a).Record(new ExpNode<T>(a));
}

/// <summary>Y = exp(A) elementwise. Derivative: dY = Y∘dA. Adjoint: Ā = Ȳ∘Y.</summary>
internal sealed class ExpNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Exp";

    internal override IEnumerable<IVar> SavedVars { get { yield return Out; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Exp<T>(T.One), In[0].Value);

    // dY = Y∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Multiply<T>(T.One), t[0]!.Mat, Out.Value.Mat, YAccess.Same, Out.Shape);

    // Ā = Ȳ∘Y
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.Multiply<T>(T.One), ybar.Mat, Out.Value.Mat, YAccess.Same, Out.Shape));
}
