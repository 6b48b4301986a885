namespace GpuAD.Graph;

/// <summary>
/// Gaussian-process building blocks composed from the ops, so their gradients come from the
/// tape: the negative log marginal likelihood and an RBF covariance with log-parametrized
/// hyperparameters.
/// </summary>
public static class GaussianProcess
{
    /// <summary>
    /// ½·yᵀΣ⁻¹y + ½·log det Σ + (n/2)·log 2π per batch element, with one Cholesky factorization
    /// (½·log det Σ = Σᵢ log Lᵢᵢ).
    /// </summary>
    /// <param name="sigma">SPD covariance [batch, n, n].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <returns>[batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">
    /// Σ is not square, y is not [batch, n, 1], or the batches do not broadcast (raised before any op is recorded).
    /// </exception>
    /// <exception cref="NotPositiveDefiniteException">Σ is not positive-definite (NaN and ±Inf included).</exception>
    public static Var<T> NegativeLogMarginalLikelihood<T>(Var<T> sigma, Var<T> y) where T : unmanaged, IFloatingPointIeee754<T> =>
        NegativeLogMarginalLikelihood(sigma, y, CholeskyOptions.Default);

    /// <summary>
    /// <see cref="NegativeLogMarginalLikelihood{T}(Var{T}, Var{T})"/> with the options of its
    /// Cholesky factorization (each automatic field taken from the tape's <see cref="Tape.CholeskyOptions"/>).
    /// </summary>
    /// <param name="sigma">SPD covariance [batch, n, n].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="cholesky">How to factor Σ and differentiate the factorization.</param>
    /// <returns>[batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">
    /// Σ is not square, y is not [batch, n, 1], the batches do not broadcast, or the options cannot
    /// handle Σ's order (raised before any op is recorded).
    /// </exception>
    /// <exception cref="NotPositiveDefiniteException">Σ is not positive-definite (NaN and ±Inf included).</exception>
    public static Var<T> NegativeLogMarginalLikelihood<T>(Var<T> sigma, Var<T> y, CholeskyOptions cholesky) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cholesky);
        const string op = "NegativeLogMarginalLikelihood";
        Tape.Of(op, sigma, y);
        if (!sigma.Shape.IsSquare) throw ShapeErrors.Invalid(op, "Σ must be square", sigma.Shape);
        if (y.Shape.Rows != sigma.Shape.Rows || y.Shape.Cols != 1)
            throw ShapeErrors.Mismatch(op, "y must be [batch, n, 1] for Σ [batch, n, n]", sigma.Shape, y.Shape);
        ShapeErrors.BroadcastBatch(op, sigma.Shape, y.Shape);
        var l = Op.Cholesky(sigma, cholesky);
        var alpha = Op.CholeskySolveFactor(l, y);                  // Σ⁻¹y
        var quadratic = Op.Scale(Op.Dot(y, alpha), T.CreateChecked(0.5));
        var halfLogDet = Op.Sum(Op.Log(Op.Diag(l)));
        int n = sigma.Shape.Rows;
        var constant = sigma.Tape.TransientConstant(new[] { T.CreateChecked(0.5 * n * Math.Log(2 * Math.PI)) }, new Shape(1, 1, 1));
        return Op.Add(Op.Add(quadratic, halfLogDet), constant);
    }

    /// <summary>
    /// The RBF (squared-exponential) covariance plus noise,
    /// Σ = s²·exp(−D / (2ℓ²)) + σ²·I, from pairwise squared distances D and the hyperparameters
    /// log ℓ, log s², log σ² (each [batch or 1, 1, 1]).
    /// </summary>
    /// <param name="squaredDistances">Dᵢⱼ = ‖xᵢ − xⱼ‖², [batch or 1, n, n].</param>
    /// <param name="logLengthscale">log ℓ.</param>
    /// <param name="logSignalVariance">log s².</param>
    /// <param name="logNoiseVariance">log σ².</param>
    /// <returns>Σ [batch, n, n].</returns>
    /// <exception cref="ArgumentException">
    /// D is not square, a hyperparameter is not [batch or 1, 1, 1], or the batches do not
    /// broadcast (raised before any op is recorded).
    /// </exception>
    public static Var<T> RbfCovariance<T>(Var<T> squaredDistances, Var<T> logLengthscale, Var<T> logSignalVariance, Var<T> logNoiseVariance)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "RbfCovariance";
        var tape = Tape.Of(op, squaredDistances, logLengthscale, logSignalVariance, logNoiseVariance);
        var d = squaredDistances.Shape;
        if (!d.IsSquare) throw ShapeErrors.Invalid(op, "the squared distances must be square", d);
        var result = d; // Σ's shape so far
        foreach (var h in new[] { logLengthscale.Shape, logSignalVariance.Shape, logNoiseVariance.Shape })
        {
            if (h.Rows != 1 || h.Cols != 1) throw ShapeErrors.Mismatch(op, "a hyperparameter must be [batch or 1, 1, 1]", d, h);
            result = result.WithBatch(ShapeErrors.BroadcastBatch(op, result, h));
        }
        int n = squaredDistances.Shape.Rows;
        var scale = Op.Scale(Op.Exp(Op.Scale(logLengthscale, T.CreateChecked(-2))), T.CreateChecked(-0.5)); // −1/(2ℓ²)
        var k = Op.MultiplyScalar(Op.Exp(Op.MultiplyScalar(squaredDistances, scale)), Op.Exp(logSignalVariance));
        var eye = new T[n * n];
        for (int i = 0; i < n; i++) eye[i * n + i] = T.One;
        var identity = tape.TransientConstant(eye, new Shape(1, n, n));
        return Op.Add(k, Op.MultiplyScalar(identity, Op.Exp(logNoiseVariance)));
    }
}
