namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// <c>Y = A[:, :, start : start + count]</c>: a block of adjacent columns of every matrix,
    /// [batch, m, n] → [batch, m, count] (e.g. one hyperparameter's entries of a θ row).
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The columns are not within A's.</exception>
    public static Var<T> Columns<T>(Var<T> a, int start, int count) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(ColumnsNode<T>.OpName, a);
        if (start < 0 || count < 0 || start > a.Shape.Cols - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{ColumnsNode<T>.OpName}: columns [{start}, {start + count}) are not within the {a.Shape.Cols} columns of {a.Shape}.");
        return tape.Record(new ColumnsNode<T>(a, start, count));
    }
}

/// <summary>
/// Y = A·E with E the 0/1 selector of the columns [s, s + c). Derivative: dY = dA·E (the same
/// columns of dA). Adjoint: ⟨Ȳ, dA·E⟩ = ⟨Ȳ·Eᵀ, dA⟩, so Ā is Ȳ in columns [s, s + c) and 0 elsewhere.
/// </summary>
internal sealed class ColumnsNode<T>(Var<T> a, int start, int count) : Node<T>(OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Columns";

    private Shape OutShape => new(In[0].Shape.Batch, In[0].Shape.Rows, count);

    private DeviceTensor<T> Take(DeviceTensor<T> x)
    {
        var block = x.Mat.Block(0, start, x.Rows, count);
        return MapNew(new Maps.Axpby<T>(T.One, T.Zero), block, block, YAccess.Same, OutShape);
    }

    internal override DeviceTensor<T> Forward() => Take(In[0].Value);

    // dY = the columns of dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => Take(t[0]!);

    // Ā = Ȳ in the columns, 0 elsewhere
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var g = Device.Zeros<T>(In[0].Shape);
        var block = g.Mat.Block(0, start, g.Rows, count);
        Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), ybar.Mat, ybar.Mat, YAccess.Same, block);
        grads.Add(0, g);
    }
}
