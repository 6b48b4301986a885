namespace GpuAD;

/// <summary>
/// The batched multivariate normal, composed from the ops so that its gradients with respect to
/// x, μ and Σ come from the tape (Cholesky, triangular solves and their rules).
/// </summary>
/// <remarks>
/// log 𝒩(x; μ, Σ) = −½·⟨R, Σ⁻¹R⟩ − (k/2)·log det Σ − (n·k/2)·log 2π for R = x − μ [n, k]: the k
/// columns are independent draws sharing Σ. With Σ = L·Lᵀ, ½·log det Σ = Σᵢ log Lᵢᵢ. Its
/// gradients (the tape computes them; stated here as the reference the tests check):
/// x̄ = −Σ⁻¹R, μ̄ = Σ⁻¹R, Σ̄ = ½·(Σ⁻¹R·RᵀΣ⁻¹ − k·Σ⁻¹) (symmetric).
/// </remarks>
public static class MultivariateNormal
{
    /// <summary>log 𝒩(x; μ, Σ) per batch element, summed over x's columns.</summary>
    /// <param name="x">Points [batch, n, k] (k independent columns).</param>
    /// <param name="mean">μ [batch or 1, n, k], or null for a zero mean.</param>
    /// <param name="sigma">SPD covariance [batch or 1, n, n] (its lower triangle is read).</param>
    /// <returns>[batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">The shapes do not agree (raised before any op is recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">Σ is not positive-definite (NaN and ±Inf included).</exception>
    public static Var<T> LogDensity<T>(Var<T> x, Var<T>? mean, Var<T> sigma) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "MultivariateNormal.LogDensity";
        Validate(op, x, mean, sigma, "Σ");
        return LogDensityFactor(x, mean, Op.Cholesky(sigma));
    }

    /// <summary>log 𝒩(x; μ, L·Lᵀ) per batch element, from the lower Cholesky factor L [batch or 1, n, n].</summary>
    /// <exception cref="ArgumentException">The shapes do not agree (raised before any op is recorded).</exception>
    public static Var<T> LogDensityFactor<T>(Var<T> x, Var<T>? mean, Var<T> l) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "MultivariateNormal.LogDensityFactor";
        var tape = Validate(op, x, mean, l, "L");
        var r = mean is null ? x : Op.Subtract(x, mean);
        var z = Op.TriangularSolve(l, r, lower: true);                              // L⁻¹R: ⟨R, Σ⁻¹R⟩ = ‖L⁻¹R‖²
        var quadratic = Op.Scale(Op.Dot(z, z), T.CreateChecked(-0.5));
        var logDet = Op.Scale(Op.Sum(Op.Log(Op.Diag(l))), T.CreateChecked(-(double)x.Shape.Cols));
        double c = -0.5 * x.Shape.Rows * x.Shape.Cols * Math.Log(2 * Math.PI);
        return Op.Add(Op.Add(quadratic, logDet), tape.Constant(new[] { T.CreateChecked(c) }, new Shape(1, 1, 1)));
    }

    private static Tape Validate<T>(string op, Var<T> x, Var<T>? mean, Var<T> sigma, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = mean is null ? Tape.Of(op, x, sigma) : Tape.Of(op, x, mean, sigma);
        if (!sigma.Shape.IsSquare) throw ShapeErrors.Invalid(op, $"{name} must be square", sigma.Shape);
        if (x.Shape.Rows != sigma.Shape.Rows)
            throw ShapeErrors.Mismatch(op, $"x must be [batch, n, k] for {name} [batch, n, n]", x.Shape, sigma.Shape);
        ShapeErrors.BroadcastBatch(op, x.Shape, sigma.Shape);
        if (mean is not null)
        {
            if (mean.Shape.Rows != x.Shape.Rows || mean.Shape.Cols != x.Shape.Cols)
                throw ShapeErrors.Mismatch(op, "μ must have x's shape", x.Shape, mean.Shape);
            ShapeErrors.BroadcastBatch(op, x.Shape, mean.Shape);
        }
        return tape;
    }
}
