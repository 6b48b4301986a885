namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// A stationary covariance applied elementwise to scaled squared distances D (from
    /// <see cref="SquaredDistances{T}"/>): <c>K = k(D)</c>, in scikit-learn's parametrization
    /// (RBF exp(−D/2); Matérn ½, 3⁄2, 5⁄2 of r = √D), unit output scale.
    /// </summary>
    /// <param name="squaredDistances">D ≥ 0, [batch, n, m].</param>
    /// <param name="kernel">Which covariance function.</param>
    /// <returns>K [batch, n, m].</returns>
    public static Var<T> Stationary<T>(Var<T> squaredDistances, StationaryKernel kernel) where T : unmanaged, IFloatingPointIeee754<T> =>
        Tape.Of(StationaryNode<T>.OpName, squaredDistances).Record(new StationaryNode<T>(squaredDistances, kernel));
}

/// <summary>
/// K = k(D) elementwise (k from <see cref="StationaryMaps"/>). Derivative: dK = k′(D)∘dD.
/// Adjoint: ⟨K̄, k′(D)∘dD⟩ = ⟨K̄∘k′(D), dD⟩, so D̄ = K̄∘k′(D). k′ of Matérn ½ is taken as 0 at
/// D = 0 (coincident points, where the distance's own derivative vanishes), as scikit-learn does.
/// </summary>
internal sealed class StationaryNode<T>(Var<T> d, StationaryKernel kernel) : Node<T>(OpName, d) where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "Stationary";

    internal override IEnumerable<IVar> SavedVars { get { yield return In[0]; } }

    private DeviceTensor<T> Map(DeviceTensor<T>? derivativeOf)
    {
        var result = Device.Allocate<T>(In[0].Shape);
        StationaryMaps.Apply(Device, kernel, In[0].Value.Mat, derivativeOf?.Mat, result.Mat);
        return result;
    }

    internal override DeviceTensor<T> Forward() => Map(null);

    // dK = k′(D)∘dD
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t) => Map(t[0]!);

    // D̄ = K̄∘k′(D)
    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads) => grads.Add(0, Map(ybar));
}
