namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// The rational quadratic covariance applied elementwise to scaled squared distances D (from
    /// <see cref="SquaredDistances{T}"/> with w = 1/ℓ): <c>K = (1 + D/(2α))^(−α)</c>, scikit-learn's
    /// <c>RationalQuadratic</c> (Rasmussen &amp; Williams 2006, eq. 4.19), unit output scale.
    /// </summary>
    /// <param name="squaredDistances">D ≥ 0, [batch or 1, n, m].</param>
    /// <param name="alpha">The scale-mixture parameter α &gt; 0, [batch or 1, 1, 1].</param>
    /// <returns>K [batch, n, m].</returns>
    /// <exception cref="ArgumentException">α is not a batch of 1×1 matrices, or the batches do not broadcast.</exception>
    public static Var<T> RationalQuadratic<T>(Var<T> squaredDistances, Var<T> alpha) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = RationalQuadraticNode<T>.OpName;
        var tape = Tape.Of(op, squaredDistances, alpha);
        if (alpha.Shape.Rows != 1 || alpha.Shape.Cols != 1)
            throw ShapeErrors.Mismatch(op, "α must be a batch of 1×1 matrices", squaredDistances.Shape, alpha.Shape);
        var shape = squaredDistances.Shape.WithBatch(ShapeErrors.BroadcastBatch(op, squaredDistances.Shape, alpha.Shape));
        return tape.Record(new RationalQuadraticNode<T>(squaredDistances, alpha, shape));
    }
}

/// <summary>
/// K = (1 + D/(2α))^(−α) elementwise, z = 1 + D/(2α). Partials: ∂K/∂D = −½·z^(−α−1);
/// ∂K/∂α = K·(D/(2α)/z − log z) (from log K = −α·log z: ∂/∂α = −log z − α·(−D/(2α²))/z).
/// Derivative: dK = ∂K/∂D∘dD + ∂K/∂α·dα (dα one scalar per matrix).
/// Adjoint: ⟨K̄, ∂K/∂D∘dD⟩ = ⟨K̄∘∂K/∂D, dD⟩ gives D̄ = K̄∘∂K/∂D; ⟨K̄, ∂K/∂α·dα⟩ = dα·Σᵢⱼ K̄∘∂K/∂α
/// gives ᾱ = Σᵢⱼ K̄∘∂K/∂α per matrix (summed over the batch when α broadcasts).
/// The maps are <see cref="ParametricMaps"/>: one pass over D for each term, no other temporary.
/// </summary>
internal sealed class RationalQuadraticNode<T>(Var<T> d, Var<T> alpha, Shape shape) : Node<T>(OpName, d, alpha) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "RationalQuadratic";

    internal override IEnumerable<IVar> SavedVars => In;

    private MatRef<T> D => Bc(In[0].Value, shape.Batch);

    private MatRef<T> Alpha => Bc(In[1].Value, shape.Batch);

    private DeviceTensor<T> Map<TOp>(TOp map, MatRef<T> y) where TOp : struct, IParametricMap<T>
    {
        var result = Device.Allocate<T>(shape);
        ParametricMaps.Map(Device, map, D, y, Alpha, Alpha, result.Mat);
        return result;
    }

    internal override DeviceTensor<T> Forward() => Map(new ParametricMaps.Unit<T, ParametricMaps.RationalQuadraticValue<T>>(), D);

    // dK = ∂K/∂D∘dD + ∂K/∂α·dα
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } dd ? Map(new ParametricMaps.RationalQuadraticByD<T>(), Bc(dd, shape.Batch)) : null;
        if (t[1] is { } da)
        {
            var term = Map(new ParametricMaps.Unit<T, ParametricMaps.RationalQuadraticByAlpha<T>>(), D);
            Elementwise.Map(Device, new Maps.Multiply<T>(T.One), term.Mat, Bc(da, shape.Batch), YAccess.ScalarPerMatrix, term.Mat);
            if (y is null) return term;
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
            term.Dispose();
        }
        return y!;
    }

    // D̄ = K̄∘∂K/∂D, ᾱ = Σᵢⱼ K̄∘∂K/∂α
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, Map(new ParametricMaps.RationalQuadraticByD<T>(), ybar.Mat));
        if (grads.Needs(1))
        {
            using var terms = Map(new ParametricMaps.RationalQuadraticByAlpha<T>(), ybar.Mat);
            grads.Add(1, ReduceNew(terms.Mat, null));
        }
    }
}
