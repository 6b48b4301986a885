namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = A + s·I</c> with a scalar per matrix: A is [batch or 1, n, n], s is [batch or 1, 1, 1];
    /// both may broadcast. The identity is never formed (a GP's noise term σ²·I at n = 16384 would
    /// be 2 GiB on the host and on the device).
    /// </summary>
    /// <exception cref="ArgumentException">A is not square, s is not a batch of 1×1 matrices, or the batches do not broadcast.</exception>
    public static Var<T> AddDiagonal<T>(Var<T> a, Var<T> s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = AddDiagonalNode<T>.OpName;
        var tape = Tape.Of(op, a, s);
        if (!a.Shape.IsSquare) throw ShapeErrors.Invalid(op, "A must be square", a.Shape);
        if (s.Shape.Rows != 1 || s.Shape.Cols != 1)
            throw ShapeErrors.Mismatch(op, "s must be a batch of 1×1 matrices", a.Shape, s.Shape);
        var shape = a.Shape.WithBatch(ShapeErrors.BroadcastBatch(op, a.Shape, s.Shape));
        return tape.Record(new AddDiagonalNode<T>(a, s, shape));
    }
}

/// <summary>
/// Y = A + s·I per matrix. Derivative: dY = dA + ds·I. Adjoint: ⟨Ȳ, dA + ds·I⟩ = ⟨Ȳ, dA⟩ + ds·tr(Ȳ)
/// gives Ā = Ȳ and s̄ = tr(Ȳ) (each summed over the batch when its operand broadcasts).
/// </summary>
internal sealed class AddDiagonalNode<T>(Var<T> a, Var<T> s, Shape shape) : Node<T>(OpName, a, s) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "AddDiagonal";

    internal override DeviceTensor<T> Forward() =>
        MapNew(new Maps.AddScaledIdentity<T>(T.One), Bc(In[0].Value, shape.Batch), Bc(In[1].Value, shape.Batch), YAccess.ScalarPerMatrix, shape);

    // dY = dA + ds·I
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        if (t[1] is not { } ds) return MapNew(new Maps.Axpby<T>(T.One, T.Zero), Bc(t[0]!, shape.Batch), Bc(t[0]!, shape.Batch), YAccess.Same, shape);
        if (t[0] is { } da)
            return MapNew(new Maps.AddScaledIdentity<T>(T.One), Bc(da, shape.Batch), Bc(ds, shape.Batch), YAccess.ScalarPerMatrix, shape);
        var y = Device.Allocate<T>(shape); // ScaledIdentity reads x only for its shape
        Elementwise.Map(Device, new Maps.ScaledIdentity<T>(T.One), y.Mat, Bc(ds, shape.Batch), YAccess.ScalarPerMatrix, y.Mat);
        return y;
    }

    // Ā = Ȳ, s̄ = tr(Ȳ)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, MapNew(new Maps.Axpby<T>(T.One, T.Zero), ybar));
        if (grads.Needs(1)) grads.Add(1, ReduceNew(Elementwise.Diagonal(ybar.Mat), null));
    }
}
