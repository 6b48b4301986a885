namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// Elementwise <c>Y = √A</c> (NaN for negative elements). Its derivative 1/(2√A) is taken as 0
    /// where A = 0: the subgradient 0 instead of ∞, so that a distance built as √(squared
    /// distance) has gradient 0 at coincident points rather than NaN (∞·0). PyTorch's sqrt gives ∞
    /// there; this is the convention of the covariance libraries (e.g. scikit-learn's Matérn).
    /// </summary>
    public static Var<T> Sqrt<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(SqrtNode<T>.OpName, a).Record(new SqrtNode<T>(a));
}

/// <summary>
/// Y = √A elementwise. Derivative: dY = dA / (2Y), taken as 0 where Y = 0 (see <see cref="Op.Sqrt{T}"/>).
/// Adjoint: ⟨Ȳ, dA / (2Y)⟩ = ⟨Ȳ / (2Y), dA⟩, so Ā = Ȳ / (2Y), 0 where Y = 0.
/// </summary>
internal sealed class SqrtNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Sqrt";

    internal override IEnumerable<IVar> SavedVars { get { yield return Out; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Sqrt<T>(), In[0].Value);

    // dY = dA / (2Y), 0 where Y = 0
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.SqrtDerivative<T>(), t[0]!.Mat, Out.Value.Mat, YAccess.Same, Out.Shape);

    // Ā = Ȳ / (2Y), 0 where Y = 0
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.SqrtDerivative<T>(), ybar.Mat, Out.Value.Mat, YAccess.Same, Out.Shape));
}
