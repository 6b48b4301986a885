namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// Pairwise scaled squared distances <c>D(b, i, j) = Σₖ (wₖ·(X₁(b, i, k) − X₂(b, j, k)))²</c>
    /// between X₁ [batch, n, d] and X₂ [batch, m, d], with optional inverse lengthscales w
    /// [batch or 1, 1, 1] (isotropic) or [batch or 1, 1, d] (ARD); D is [batch, n, m]. Every
    /// operand may broadcast a batch of 1. Differences are formed before they are squared, so
    /// inputs far from the origin keep their digits.
    /// </summary>
    /// <exception cref="ArgumentException">The point dimensions differ, w is not [·, 1, 1] or [·, 1, d], or the batches do not broadcast.</exception>
    public static Var<T> SquaredDistances<T>(Var<T> x1, Var<T> x2, Var<T>? inverseLengthscales = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = SquaredDistancesNode<T>.OpName;
        var tape = inverseLengthscales is null ? Tape.Of(op, x1, x2) : Tape.Of(op, x1, x2, inverseLengthscales);
        var shape = SquaredDistancesNode<T>.ShapeOf(op, x1.Shape, x2.Shape, inverseLengthscales?.Shape);
        return tape.Record(inverseLengthscales is null
            ? new SquaredDistancesNode<T>(shape, x1, x2)
            : new SquaredDistancesNode<T>(shape, x1, x2, inverseLengthscales));
    }
}

/// <summary>
/// D = Σₖ (wₖ·(x₁ᵢₖ − x₂ⱼₖ))², with δᵢⱼₖ = x₁ᵢₖ − x₂ⱼₖ.
/// Derivative: dDᵢⱼ = Σₖ 2wₖ²·δᵢⱼₖ·(dx₁ᵢₖ − dx₂ⱼₖ) + 2wₖ·δᵢⱼₖ²·dwₖ.
/// Adjoint, from ⟨D̄, dD⟩ = Σᵢⱼₖ D̄ᵢⱼ·(…): collecting the coefficient of each input element,
/// X̄₁ᵢₖ = 2wₖ²·Σⱼ D̄ᵢⱼ·δᵢⱼₖ; X̄₂ⱼₖ = 2wₖ²·Σᵢ D̄ᵢⱼ·(x₂ⱼₖ − x₁ᵢₖ) (the same rule with D̄ᵀ and the
/// point sets swapped); w̄ₖ = 2wₖ·Σᵢⱼ D̄ᵢⱼ·δᵢⱼₖ² (for one shared w, summed over k). Broadcast
/// operands get their cotangents summed over the batch.
/// </summary>
internal sealed class SquaredDistancesNode<T>(Shape shape, params Var<T>[] inputs) : Node<T>(OpName, inputs) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "SquaredDistances";

    private bool HasScale => In.Length == 3;

    /// <summary>
    /// The shape rule of pairwise (squared) distances: [batch, n, m] for X₁ [·, n, d], X₂ [·, m, d] and
    /// inverse lengthscales w [·, 1, 1] or [·, 1, d], batches broadcast; errors name <paramref name="op"/>.
    /// </summary>
    internal static Shape ShapeOf(string op, Shape x1, Shape x2, Shape? w)
    {
        if (x1.Cols != x2.Cols)
            throw ShapeErrors.Mismatch(op, "X₁ and X₂ must have the same number of columns (the dimension d)", x1, x2);
        int batch = ShapeErrors.BroadcastBatch(op, x1, x2);
        if (w is { } ws)
        {
            if (ws.Rows != 1 || (ws.Cols != 1 && ws.Cols != x1.Cols))
                throw ShapeErrors.Mismatch(op, "the inverse lengthscales must be [batch or 1, 1, 1] or [batch or 1, 1, d] for X [batch, n, d]", x1, ws);
            batch = ShapeErrors.BroadcastBatch(op, new Shape(batch, 1, 1), ws);
        }
        var shape = new Shape(batch, x1.Rows, x2.Rows);
        shape.Validate(op);
        return shape;
    }

    private MatRef<T>? W => HasScale ? Bc(In[2].Value, shape.Batch) : null;

    private MatRef<T> X1 => Bc(In[0].Value, shape.Batch);

    private MatRef<T> X2 => Bc(In[1].Value, shape.Batch);

    internal override IEnumerable<IVar> SavedVars => In;

    internal override DeviceTensor<T> Forward()
    {
        var d = Device.Allocate<T>(shape);
        Distances.Squared(Device, X1, X2, W, d.Mat);
        return d;
    }

    // dD = Σₖ 2wₖ²·δ·(dx₁ − dx₂) + 2wₖ·δ²·dwₖ
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        var y = Device.Allocate<T>(shape);
        MatRef<T>? Tan(int i) => i < t.Length && t[i] is { } ti ? Bc(ti, shape.Batch) : null;
        Distances.Tangent(Device, X1, X2, W, Tan(0), Tan(1), HasScale ? Tan(2) : null, y.Mat);
        return y;
    }

    // X̄₁ = 2w²·Σⱼ D̄ᵢⱼ·δ, X̄₂ = 2w²·Σᵢ D̄ᵢⱼ·(−δ), w̄ = 2w·Σᵢⱼ D̄ᵢⱼ·δ²
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) => AddCotangents(Device, ybar, In, shape, grads);

    /// <summary>
    /// Accumulates X̄₁, X̄₂ and w̄ (those needed) for a cotangent D̄ [batch, n, m] of the squared
    /// distances; <see cref="Op.Distances{T}"/> calls it with D̄ = R̄ / (2R).
    /// </summary>
    internal static void AddCotangents(Device device, DeviceTensor<T> dbar, Var<T>[] inputs, Shape shape, Grads<T> grads)
    {
        var x1 = Blas.Broadcast(inputs[0].Value, shape.Batch, OpName);
        var x2 = Blas.Broadcast(inputs[1].Value, shape.Batch, OpName);
        MatRef<T>? w = inputs.Length == 3 ? Blas.Broadcast(inputs[2].Value, shape.Batch, OpName) : null;
        if (grads.Needs(0))
        {
            var g = device.Allocate<T>(inputs[0].Shape.WithBatch(shape.Batch));
            Distances.PointCotangent(device, dbar.Mat, transposeG: false, x1, x2, w, g.Mat);
            grads.Add(0, g);
        }
        if (grads.Needs(1))
        {
            var g = device.Allocate<T>(inputs[1].Shape.WithBatch(shape.Batch));
            Distances.PointCotangent(device, dbar.Mat, transposeG: true, x2, x1, w, g.Mat);
            grads.Add(1, g);
        }
        if (w is { } scale && grads.Needs(2))
        {
            var g = device.Allocate<T>(inputs[2].Shape.WithBatch(shape.Batch));
            Distances.ScaleCotangent(device, dbar.Mat, x1, x2, scale, g.Mat);
            grads.Add(2, g);
        }
    }
}
