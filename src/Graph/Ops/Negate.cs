namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = −A</c>.</summary>
    public static Var<T> Negate<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(NegateNode<T>.OpName, a).Record(new NegateNode<T>(a));
}

/// <summary>Y = −A. Derivative: dY = −dA. Adjoint: Ā = −Ȳ.</summary>
internal sealed class NegateNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Negate";

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Axpby<T>(-T.One, T.Zero), In[0].Value);

    // dY = −dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Axpby<T>(-T.One, T.Zero), t[0]!);

    // Ā = −Ȳ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) => grads.Add(0, MapNew(new Maps.Axpby<T>(-T.One, T.Zero), ybar));
}
