namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// Elementwise <c>Y = A^p</c> for a constant exponent p (IEEE pow: a negative element to a
    /// non-integer power is NaN). Its derivative p·A^(p−1) is taken as 0 when p = 0, as PyTorch's.
    /// </summary>
    public static Var<T> Pow<T>(Var<T> a, double exponent) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(PowNode<T>.OpName, a).Record(new PowConstantNode<T>(a, T.CreateChecked(exponent)));

    /// <summary>
    /// Elementwise <c>Y = A^E</c>. A scalar per matrix ([batch or 1, 1, 1]) on either side broadcasts
    /// over the other's matrices — <c>Pow(A, e)</c> with one exponent per matrix is the usual form —
    /// and an operand with batch 1 broadcasts over the batch. The exponent's gradient is
    /// Σ Ȳ∘Y∘log A over what it broadcast over; as in PyTorch, log A is taken as 0 where A = 0 and
    /// E ≥ 0 (the term's limit), and where A &lt; 0 it is NaN (the real power has no derivative in
    /// the exponent there). The base's gradient E·A^(E−1)·Ȳ is taken as 0 where E = 0.
    /// </summary>
    /// <exception cref="ArgumentException">The matrix shapes differ and neither is 1×1, or the batches do not broadcast.</exception>
    public static Var<T> Pow<T>(Var<T> a, Var<T> exponent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = Tape.Of(PowNode<T>.OpName, a, exponent);
        var shape = ShapeErrors.BroadcastElementwise(PowNode<T>.OpName, a.Shape, exponent.Shape);
        return tape.Record(new PowNode<T>(a, exponent, shape));
    }
}

/// <summary>
/// Y = A^p, p constant. Derivative: dY = p·A^(p−1)∘dA (0 when p = 0). Adjoint: Ā = p·A^(p−1)∘Ȳ.
/// </summary>
internal sealed class PowConstantNode<T>(Var<T> a, T p) : Node<T>(PowNode<T>.OpName, a) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    internal override DeviceTensor<T> Forward() => MapNew(new Maps.PowConstant<T>(p), In[0].Value);

    // dY = p·A^(p−1)∘dA
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => MapNew(new Maps.PowConstantDerivative<T>(p), t[0]!.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape);

    // Ā = p·A^(p−1)∘Ȳ
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) =>
        grads.Add(0, MapNew(new Maps.PowConstantDerivative<T>(p), ybar.Mat, In[0].Value.Mat, YAccess.Same, Out.Shape));
}

/// <summary>
/// Y = A^E. Derivative: dY = E∘A^(E−1)∘dA + Y∘log A∘dE. Adjoint, term by term (each a diagonal
/// map): Ā = Ȳ∘E∘A^(E−1) and Ē = Ȳ∘Y∘log A, each summed over what its operand broadcast over (for
/// a scalar exponent per matrix, Ē = Σᵢⱼ Ȳ∘Y∘log A). PyTorch's conventions: E∘A^(E−1) is 0 where
/// E = 0, and log A is 0 where A = 0 and E ≥ 0.
/// </summary>
internal sealed class PowNode<T>(Var<T> a, Var<T> e, Shape shape) : Node<T>(OpName, a, e) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Pow";

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            yield return In[0];
            yield return In[1];
            if (In[1].RequiresGrad) yield return Out;
        }
    }

    internal override DeviceTensor<T> Forward() => MapBroadcast(new Maps.Pow<T>(), In[0].Value, In[1].Value, shape);

    // x∘E∘A^(E−1) for x = dA or Ȳ
    private DeviceTensor<T> BaseTerm(DeviceTensor<T> x)
    {
        using var derivative = MapBroadcast(new Maps.PowBaseDerivative<T>(), In[0].Value, In[1].Value, shape);
        return MapBroadcast(new Maps.Multiply<T>(T.One), derivative, x, shape);
    }

    // x∘Y∘log A for x = dE or Ȳ
    private DeviceTensor<T> ExponentTerm(DeviceTensor<T> x)
    {
        using var log = MapBroadcast(new Maps.PowExponentLog<T>(), In[0].Value, In[1].Value, shape);
        Elementwise.Map(Device, new Maps.Multiply<T>(T.One), log.Mat, Out.Value.Mat, YAccess.Same, log.Mat);
        return MapBroadcast(new Maps.Multiply<T>(T.One), log, x, shape);
    }

    // dY = E∘A^(E−1)∘dA + Y∘log A∘dE
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } da ? BaseTerm(da) : null;
        if (t[1] is { } de)
        {
            if (y is null) return ExponentTerm(de);
            using var term = ExponentTerm(de);
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
        }
        return y!;
    }

    // Ā = Ȳ∘E∘A^(E−1), Ē = Ȳ∘Y∘log A
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, BaseTerm(ybar));
        if (grads.Needs(1)) grads.Add(1, ExponentTerm(ybar));
    }
}
