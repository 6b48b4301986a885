namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// The lower triangle of each matrix: elements with j − i ≤ <paramref name="diagonal"/> kept,
    /// the rest zero (<paramref name="diagonal"/> = −1 drops the main diagonal), like torch.tril.
    /// </summary>
    public static Var<T> Tril<T>(Var<T> a, int diagonal = 0) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(TrilNode<T>.OpName, a).Record(new TrilNode<T>(a, diagonal));
}

/// <summary>
/// Y = tril(A, k), a projection. Derivative: dY = tril(dA, k). Adjoint: the projection is
/// self-adjoint (⟨Ȳ, tril(dA)⟩ = ⟨tril(Ȳ), dA⟩), so Ā = tril(Ȳ, k).
/// </summary>
internal sealed class TrilNode<T>(Var<T> a, int k) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Tril";

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Tril<T>(k, T.One), In[0].Value);

    // dY = tril(dA, k)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.Tril<T>(k, T.One), t[0]!);

    // Ā = tril(Ȳ, k)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) => grads.Add(0, MapNew(new Maps.Tril<T>(k, T.One), ybar));
}
