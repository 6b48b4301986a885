namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// Pairwise scaled Euclidean distances <c>R(b, i, j) = √(Σₖ (wₖ·(X₁(b, i, k) − X₂(b, j, k)))²)</c>
    /// between X₁ [batch, n, d] and X₂ [batch, m, d], with optional inverse lengthscales w
    /// [batch or 1, 1, 1] (isotropic) or [batch or 1, 1, d] (ARD); R is [batch, n, m]. Every operand
    /// may broadcast a batch of 1. The square root of <see cref="SquaredDistances{T}"/> (the same
    /// kernels: differences formed before they are squared, no [n, m, d] temporary). At coincident
    /// points (R = 0, every diagonal element when X₁ = X₂) the distance has no derivative; its
    /// gradient and tangent there are taken as 0 (the subgradient 0 of <see cref="Sqrt{T}"/>), so
    /// covariances built on R stay finite.
    /// </summary>
    /// <exception cref="ArgumentException">The point dimensions differ, w is not [·, 1, 1] or [·, 1, d], or the batches do not broadcast.</exception>
    public static Var<T> Distances<T>(Var<T> x1, Var<T> x2, Var<T>? inverseLengthscales = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = DistancesNode<T>.OpName;
        var tape = inverseLengthscales is null ? Tape.Of(op, x1, x2) : Tape.Of(op, x1, x2, inverseLengthscales);
        var shape = SquaredDistancesNode<T>.ShapeOf(op, x1.Shape, x2.Shape, inverseLengthscales?.Shape); // the same shape rule
        return tape.Record(inverseLengthscales is null
            ? new DistancesNode<T>(shape, x1, x2)
            : new DistancesNode<T>(shape, x1, x2, inverseLengthscales));
    }
}

/// <summary>
/// R = √D with D the scaled squared distances (<see cref="SquaredDistancesNode{T}"/>).
/// Derivative: dR = dD / (2R), taken as 0 where R = 0, dD being D's derivative.
/// Adjoint: ⟨R̄, dD / (2R)⟩ = ⟨R̄ / (2R), dD⟩, so the cotangents are D's for D̄ = R̄ / (2R) (0 where
/// R = 0). Only [batch, n, m] temporaries: D's tangent, or D̄.
/// </summary>
internal sealed class DistancesNode<T>(Shape shape, params Var<T>[] inputs) : Node<T>(OpName, inputs) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Distances";

    private bool HasScale => In.Length == 3;

    private MatRef<T>? W => HasScale ? Bc(In[2].Value, shape.Batch) : null;

    internal override IEnumerable<IVar> SavedVars => In.Append<IVar>(Out);

    internal override DeviceTensor<T> Forward()
    {
        var r = Device.Allocate<T>(shape);
        Kernels.Distances.Squared(Device, Bc(In[0].Value, shape.Batch), Bc(In[1].Value, shape.Batch), W, r.Mat);
        Elementwise.Map(Device, new Maps.Sqrt<T>(), r.Mat, r.Mat);
        return r;
    }

    // dR = dD / (2R), 0 where R = 0
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var y = Device.Allocate<T>(shape);
        MatRef<T>? Tan(int i) => i < t.Length && t[i] is { } ti ? Bc(ti, shape.Batch) : null;
        Kernels.Distances.Tangent(Device, Bc(In[0].Value, shape.Batch), Bc(In[1].Value, shape.Batch), W, Tan(0), Tan(1), HasScale ? Tan(2) : null, y.Mat);
        Elementwise.Map(Device, new Maps.SqrtDerivative<T>(), y.Mat, Out.Value.Mat, YAccess.Same, y.Mat);
        return y;
    }

    // D̄ = R̄ / (2R), 0 where R = 0; then D's cotangents
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        using var dbar = MapNew(new Maps.SqrtDerivative<T>(), ybar.Mat, Out.Value.Mat, YAccess.Same, shape);
        SquaredDistancesNode<T>.AddCotangents(Device, dbar, In, shape, grads);
    }
}
