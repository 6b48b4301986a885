namespace GpuAD;

public static partial class Op
{
    /// <summary>The trace of each square matrix: [batch, n, n] → [batch, 1, 1].</summary>
    /// <exception cref="ArgumentException">The matrices are not square.</exception>
    public static Var<T> Trace<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(TraceNode<T>.OpName, a);
        if (!a.Shape.IsSquare) throw ShapeErrors.Invalid(TraceNode<T>.OpName, "the matrices must be square", a.Shape);
        return tape.Record(new TraceNode<T>(a));
    }
}

/// <summary>y = tr(A) = ⟨I, A⟩. Derivative: dy = tr(dA). Adjoint: Ā = ȳ·I.</summary>
internal sealed class TraceNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Trace";

    internal override DeviceTensor<T> Forward() => ReduceNew(Elementwise.Diagonal(In[0].Value.Mat), null);

    // dy = tr(dA)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => ReduceNew(Elementwise.Diagonal(t[0]!.Mat), null);

    // Ā = ȳ·I
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var abar = Device.Allocate<T>(In[0].Shape);
        Elementwise.Map(Device, new Maps.ScaledIdentity<T>(T.One), abar.Mat, ybar.Mat, YAccess.ScalarPerMatrix, abar.Mat);
        grads.Add(0, abar);
    }
}
