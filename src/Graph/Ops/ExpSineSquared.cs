namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// The periodic (exp-sine-squared) covariance applied elementwise to unscaled squared
    /// distances D (from <see cref="SquaredDistances{T}"/> without lengthscales):
    /// <c>K = exp(−2·sin²(π·√D/p)/ℓ²)</c>, scikit-learn's <c>ExpSineSquared</c> (MacKay 1998),
    /// unit output scale.
    /// </summary>
    /// <param name="squaredDistances">D ≥ 0, [batch or 1, n, m].</param>
    /// <param name="lengthscale">ℓ &gt; 0, [batch or 1, 1, 1].</param>
    /// <param name="periodicity">p &gt; 0, [batch or 1, 1, 1].</param>
    /// <returns>K [batch, n, m].</returns>
    /// <exception cref="ArgumentException">ℓ or p is not a batch of 1×1 matrices, or the batches do not broadcast.</exception>
    public static Var<T> ExpSineSquared<T>(Var<T> squaredDistances, Var<T> lengthscale, Var<T> periodicity) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = ExpSineSquaredNode<T>.OpName;
        var tape = Tape.Of(op, squaredDistances, lengthscale, periodicity);
        var batch = squaredDistances.Shape.Batch;
        foreach (var h in new[] { lengthscale.Shape, periodicity.Shape })
        {
            if (h.Rows != 1 || h.Cols != 1)
                throw ShapeErrors.Mismatch(op, "ℓ and p must be batches of 1×1 matrices", squaredDistances.Shape, h);
            batch = ShapeErrors.BroadcastBatch(op, squaredDistances.Shape.WithBatch(batch), h);
        }
        return tape.Record(new ExpSineSquaredNode<T>(squaredDistances, lengthscale, periodicity, squaredDistances.Shape.WithBatch(batch)));
    }
}

/// <summary>
/// K = exp(−2·sin²u/ℓ²) elementwise with r = √D, u = π·r/p. Partials (sin 2u = 2·sin u·cos u):
/// ∂K/∂u = −(2/ℓ²)·sin 2u·K, so ∂K/∂D = −(2π/(ℓ²p))·(sin 2u/(2r))·K (∂u/∂D = π/(2pr); the limit
/// π/p of sin 2u/(2r) at D = 0); ∂K/∂ℓ = (4·sin²u/ℓ³)·K; ∂K/∂p = (2u·sin 2u/(ℓ²p))·K (∂u/∂p = −u/p).
/// Derivative: dK = ∂K/∂D∘dD + ∂K/∂ℓ·dℓ + ∂K/∂p·dp (dℓ, dp one scalar per matrix).
/// Adjoint: D̄ = K̄∘∂K/∂D, ℓ̄ = Σᵢⱼ K̄∘∂K/∂ℓ, p̄ = Σᵢⱼ K̄∘∂K/∂p per matrix (summed over the batch
/// when ℓ or p broadcasts). The maps are <see cref="ParametricMaps"/>: one pass over D each.
/// </summary>
internal sealed class ExpSineSquaredNode<T>(Var<T> d, Var<T> lengthscale, Var<T> periodicity, Shape shape)
    : Node<T>(OpName, d, lengthscale, periodicity) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "ExpSineSquared";

    internal override IEnumerable<IVar> SavedVars => In;

    private MatRef<T> D => Bc(In[0].Value, shape.Batch);

    private DeviceTensor<T> Map<TOp>(TOp map, MatRef<T> y) where TOp : struct, IParametricMap<T>
    {
        var result = Device.Allocate<T>(shape);
        ParametricMaps.Map(Device, map, D, y, Bc(In[1].Value, shape.Batch), Bc(In[2].Value, shape.Batch), result.Mat);
        return result;
    }

    internal override DeviceTensor<T> Forward() => Map(new ParametricMaps.Unit<T, ParametricMaps.ExpSineSquaredValue<T>>(), D);

    // Adds ∂K/∂h·dh to y (or returns it when y is null), dh a scalar per matrix.
    private DeviceTensor<T> AddScalarTerm<TOp>(DeviceTensor<T>? y, DeviceTensor<T> dh) where TOp : struct, IParametricMap<T>
    {
        var term = Map(new ParametricMaps.Unit<T, TOp>(), D);
        Elementwise.Map(Device, new Maps.Multiply<T>(T.One), term.Mat, Bc(dh, shape.Batch), YAccess.ScalarPerMatrix, term.Mat);
        if (y is null) return term;
        Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), y.Mat, term.Mat, YAccess.Same, y.Mat);
        term.Dispose();
        return y;
    }

    // dK = ∂K/∂D∘dD + ∂K/∂ℓ·dℓ + ∂K/∂p·dp
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        DeviceTensor<T>? y = t[0] is { } dd ? Map(new ParametricMaps.ExpSineSquaredByD<T>(), Bc(dd, shape.Batch)) : null;
        if (t[1] is { } dl) y = AddScalarTerm<ParametricMaps.ExpSineSquaredByLengthscale<T>>(y, dl);
        if (t[2] is { } dp) y = AddScalarTerm<ParametricMaps.ExpSineSquaredByPeriodicity<T>>(y, dp);
        return y!;
    }

    // D̄ = K̄∘∂K/∂D, ℓ̄ = Σᵢⱼ K̄∘∂K/∂ℓ, p̄ = Σᵢⱼ K̄∘∂K/∂p
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        if (grads.Needs(0)) grads.Add(0, Map(new ParametricMaps.ExpSineSquaredByD<T>(), ybar.Mat));
        if (grads.Needs(1))
        {
            using var terms = Map(new ParametricMaps.ExpSineSquaredByLengthscale<T>(), ybar.Mat);
            grads.Add(1, ReduceNew(terms.Mat, null));
        }
        if (grads.Needs(2))
        {
            using var terms = Map(new ParametricMaps.ExpSineSquaredByPeriodicity<T>(), ybar.Mat);
            grads.Add(2, ReduceNew(terms.Mat, null));
        }
    }
}
