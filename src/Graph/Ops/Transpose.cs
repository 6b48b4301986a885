namespace GpuAD;

public static partial class Op
{
    /// <summary><c>Y = Aᵀ</c> for every matrix: [batch, m, n] → [batch, n, m].</summary>
    public static Var<T> Transpose<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(TransposeNode<T>.OpName, a).Record(new TransposeNode<T>(a));
}

/// <summary>Y = Aᵀ. Derivative: dY = dAᵀ. Adjoint: ⟨Ȳ, dAᵀ⟩ = ⟨Ȳᵀ, dA⟩, so Ā = Ȳᵀ.</summary>
internal sealed class TransposeNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Transpose";

    internal override DeviceTensor<T> Forward() => TransposeNew(In[0].Value, T.One);

    // dY = dAᵀ
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => TransposeNew(t[0]!, T.One);

    // Ā = Ȳᵀ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) => grads.Add(0, TransposeNew(ybar, T.One));
}
