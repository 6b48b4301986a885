namespace GpuAD;

public static partial class Op
{
    /// <summary>Elementwise <c>Y = 1/A</c> (±∞ where A = ±0).</summary>
    public static Var<T> Reciprocal<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(ReciprocalNode<T>.OpName, a).Record(new ReciprocalNode<T>(a));
}

/// <summary>Y = 1/A elementwise. Derivative: dY = −dA/A² = −Y²∘dA. Adjoint: Ā = −Ȳ∘Y².</summary>
internal sealed class ReciprocalNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Reciprocal";

    internal override IEnumerable<IVar> SavedVars { get { yield return Out; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.Reciprocal<T>(), In[0].Value);

    // dY = −Y²∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.ReciprocalDerivative<T>(), t[0]!.Mat, Out.Value.Mat, YAccess.Same, Out.Shape);

    // Ā = −Ȳ∘Y²
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.ReciprocalDerivative<T>(), ybar.Mat, Out.Value.Mat, YAccess.Same, Out.Shape));
}
