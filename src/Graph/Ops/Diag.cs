namespace GpuAD;

public static partial class Op
{
    /// <summary>The diagonal of each square matrix as a column: [batch, n, n] → [batch, n, 1].</summary>
    /// <exception cref="ArgumentException">The matrices are not square.</exception>
    public static Var<T> Diag<T>(Var<T> a) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(DiagNode<T>.OpName, a);
        if (!a.Shape.IsSquare) throw ShapeErrors.Invalid(DiagNode<T>.OpName, "the matrices must be square", a.Shape);
        return tape.Record(new DiagNode<T>(a));
    }
}

/// <summary>
/// y = diag(A) (yᵢ = Aᵢᵢ). Derivative: dy = diag(dA). Adjoint: ⟨ȳ, diag(dA)⟩ = ⟨Diag(ȳ), dA⟩, so
/// Ā is the diagonal matrix with ȳ on its diagonal.
/// </summary>
internal sealed class DiagNode<T>(Var<T> a) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Diag";

    private DeviceTensor<T> Extract(DeviceTensor<T> x)
    {
        var d = Elementwise.Diagonal(x.Mat);
        return MapNew(new Maps.Axpby<T>(T.One, T.Zero), d, d, YAccess.Same, new Shape(x.Batch, x.Rows, 1));
    }

    internal override DeviceTensor<T> Forward() => Extract(In[0].Value);

    // dy = diag(dA)
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => Extract(t[0]!);

    // Ā = Diag(ȳ)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var abar = Device.Zeros<T>(In[0].Shape);
        var d = Elementwise.Diagonal(abar.Mat);
        Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), ybar.Mat, ybar.Mat, YAccess.Same, d);
        grads.Add(0, abar);
    }
}
