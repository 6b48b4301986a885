namespace GpuAD;

public static partial class Op
{
    /// <summary><c>Y = A·X·B</c>. Any operand with batch 1 broadcasts.</summary>
    /// <param name="a">[batch, p, m].</param>
    /// <param name="x">[batch, m, n].</param>
    /// <param name="b">[batch, n, q].</param>
    /// <returns>[batch, p, q].</returns>
    /// <exception cref="ArgumentException">Dimensions or batches do not agree (raised when recorded).</exception>
    public static Var<T> Axb<T>(Var<T> a, Var<T> x, Var<T> b) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(AxbNode<T>.OpName, a, x, b);
        return tape.Record(new AxbNode<T>(a, x, b, AxbNode<T>.OutputShape(a.Shape, x.Shape, b.Shape)));
    }
}

/// <summary>
/// Y = A·X·B (seed §1, "Matrix multiplication").
/// Derivative: dY = dA·X·B + A·dX·B + A·X·dB.
/// Adjoint, with ⟨U, V·W⟩ = ⟨Vᵀ·U, W⟩ = ⟨U·Wᵀ, V⟩:
///   ⟨Ȳ, A·dX·B⟩ = ⟨Aᵀ·Ȳ·Bᵀ, dX⟩ ⇒ X̄ = Aᵀ·Ȳ·Bᵀ;
///   ⟨Ȳ, dA·(X·B)⟩ ⇒ Ā = Ȳ·(X·B)ᵀ;  ⟨Ȳ, (A·X)·dB⟩ ⇒ B̄ = (A·X)ᵀ·Ȳ.
/// The product is evaluated in the cheaper order; the backward recomputes the partial products
/// it needs rather than holding them through the forward pass.
/// </summary>
internal sealed class AxbNode<T>(Var<T> a, Var<T> x, Var<T> b, Shape shape) : Node<T>(OpName, a, x, b)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Axb";

    internal static Shape OutputShape(Shape a, Shape x, Shape b)
    {
        if (a.Cols != x.Rows) throw ShapeErrors.Mismatch(OpName, "A's columns must equal X's rows", a, x);
        if (x.Cols != b.Rows) throw ShapeErrors.Mismatch(OpName, "X's columns must equal B's rows", x, b);
        int batch = ShapeErrors.BroadcastBatch(OpName, a, x);
        batch = ShapeErrors.BroadcastBatch(OpName, a.WithBatch(batch), b);
        return new Shape(batch, a.Rows, b.Cols);
    }

    internal override IEnumerable<IVar> SavedVars => In;

    private MatRef<T> M(DeviceTensor<T> t) => Blas.Broadcast(t, shape.Batch, OpName);

    /// <summary>U·V·W with the cheaper association, into a new tensor.</summary>
    private DeviceTensor<T> Triple(MatRef<T> u, bool tu, MatRef<T> v, MatRef<T> w, bool tw, int rows, int cols)
    {
        int p = rows, m = v.Rows, n = v.Cols, q = cols;
        var y = Device.Allocate<T>(new Shape(shape.Batch, p, q));
        if ((long)p * m * n + (long)p * n * q <= (long)m * n * q + (long)p * m * q)
        {
            using var uv = Device.Allocate<T>(new Shape(shape.Batch, p, n));
            Blas.Gemm(Device, u, tu, v, false, uv.Mat, T.One, T.Zero);
            Blas.Gemm(Device, uv.Mat, false, w, tw, y.Mat, T.One, T.Zero);
        }
        else
        {
            using var vw = Device.Allocate<T>(new Shape(shape.Batch, m, q));
            Blas.Gemm(Device, v, false, w, tw, vw.Mat, T.One, T.Zero);
            Blas.Gemm(Device, u, tu, vw.Mat, false, y.Mat, T.One, T.Zero);
        }
        return y;
    }

    internal override DeviceTensor<T> Forward() =>
        Triple(M(In[0].Value), false, M(In[1].Value), M(In[2].Value), false, shape.Rows, shape.Cols);

    // dY = dA·X·B + A·dX·B + A·X·dB
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = null;
        for (int i = 0; i < 3; i++)
        {
            if (t[i] is not { } d) continue;
            var term = Triple(i == 0 ? M(d) : M(In[0].Value), false, i == 1 ? M(d) : M(In[1].Value), i == 2 ? M(d) : M(In[2].Value), false, shape.Rows, shape.Cols);
            if (y is null) y = term;
            else
            {
                Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
                term.Dispose();
            }
        }
        return y!;
    }

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        var (a, x, b) = (M(In[0].Value), M(In[1].Value), M(In[2].Value));
        int batch = shape.Batch;
        if (grads.Needs(1))
        {
            // X̄ = Aᵀ·Ȳ·Bᵀ
            var xbar = Triple(a, true, ybar.Mat, b, true, x.Rows, x.Cols);
            grads.Add(1, xbar);
        }
        if (grads.Needs(0))
        {
            // Ā = Ȳ·(X·B)ᵀ
            using var xb = Device.Allocate<T>(new Shape(batch, x.Rows, b.Cols));
            Blas.Gemm(Device, x, false, b, false, xb.Mat, T.One, T.Zero);
            grads.AddGemm(0, ybar.Mat, false, xb.Mat, true, T.One, batch);
        }
        if (grads.Needs(2))
        {
            // B̄ = (A·X)ᵀ·Ȳ
            using var ax = Device.Allocate<T>(new Shape(batch, a.Rows, x.Cols));
            Blas.Gemm(Device, a, false, x, false, ax.Mat, T.One, T.Zero);
            grads.AddGemm(2, ax.Mat, true, ybar.Mat, false, T.One, batch);
        }
    }
}
