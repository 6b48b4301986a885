namespace GpuAD;

/// <summary>
/// Stationary covariance functions of the scaled squared distance D = Σₖ ((xₖ − yₖ)/ℓₖ)², in
/// scikit-learn's parametrization (<c>RBF</c>, <c>Matern(nu)</c>) with unit output scale.
/// </summary>
public enum StationaryKernel
{
    /// <summary>Squared exponential: k = exp(−D/2).</summary>
    Rbf,

    /// <summary>Matérn ν = ½ (exponential): k = exp(−r), r = √D.</summary>
    Matern12,

    /// <summary>Matérn ν = 3⁄2: k = (1 + √3·r)·exp(−√3·r).</summary>
    Matern32,

    /// <summary>Matérn ν = 5⁄2: k = (1 + √5·r + 5D/3)·exp(−√5·r).</summary>
    Matern52,
}
