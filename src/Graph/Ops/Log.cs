namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise natural logarithm <c>Y = log(A)</c> (NaN for negative elements, −∞ for zeros).</summary>
    public static Var<T> Log<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(LogNode<T>.OpName, a).Record(new LogNode<T>(a));
}

/// <summary>Y = log(A) elementwise. Derivative: dY = dA / A. Adjoint: Ā = Ȳ / A.</summary>
internal sealed class LogNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Log";

    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Log<T>(T.One), In[0].Value);

    // dY = dA / A
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Divide<T>(T.One), t[0]!.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape);

    // Ā = Ȳ / A
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.Divide<T>(T.One), ybar.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape));
}
