namespace GpuAD;

public static partial class Op
{
    /// <summary>The sum of each matrix's elements: [batch, m, n] → [batch, 1, 1].</summary>
    public static Var<T> Sum<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(SumNode<T>.OpName, a).Record(new SumNode<T>(a));
}

/// <summary>
/// y = Σᵢⱼ Aᵢⱼ per matrix. Derivative: dy = Σᵢⱼ dAᵢⱼ = ⟨1, dA⟩. Adjoint: Ā = ȳ·1 (every element ȳ).
/// </summary>
internal sealed class SumNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Sum";

    internal override DeviceTensor<T> Forward() => ReduceNew(In[0].Value.Mat, null);

    // dy = Σ dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => ReduceNew(t[0]!.Mat, null);

    // Ā = ȳ·1
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var shape = In[0].Shape;
        var abar = Device.Allocate<T>(shape);
        Elementwise.Map(Device, new Maps.Transpose<T>(T.One), abar.Mat, ybar.Mat, YAccess.ScalarPerMatrix, abar.Mat);
        grads.Add(0, abar);
    }
}
