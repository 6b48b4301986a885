namespace GpuAD;

public static partial class Op
{
    /// <summary><c>Y = α·A</c>.</summary>
    public static Var<T> Scale<T>(Var<T> a, T alpha) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(ScaleNode<T>.OpName, a).Record(new ScaleNode<T>(a, alpha));
}

/// <summary>Y = α·A. Derivative: dY = α·dA. Adjoint: Ā = α·Ȳ.</summary>
internal sealed class ScaleNode<T>(Var<T> a, T alpha) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Scale";

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Axpby<T>(alpha, T.Zero), In[0].Value);

    // dY = α·dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Axpby<T>(alpha, T.Zero), t[0]!);

    // Ā = α·Ȳ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) => grads.Add(0, MapNew(new Maps.Axpby<T>(alpha, T.Zero), ybar));
}
