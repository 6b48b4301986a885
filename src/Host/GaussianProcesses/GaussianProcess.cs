namespace GpuAD;

/// <summary>
/// Gaussian-process building blocks composed from the ops, so their gradients come from the
/// tape: the negative log marginal likelihood and an RBF covariance with log-parametrized
/// hyperparameters.
/// </summary>
public static partial class GaussianProcess
{
    /// <summary>
    /// ½·yᵀΣ⁻¹y + ½·log det Σ + (n/2)·log 2π per batch element, with one Cholesky factorization
    /// (½·yᵀΣ⁻¹y = ½·‖L⁻¹y‖², ½·log det Σ = Σᵢ log Lᵢᵢ).
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
        // ½·yᵀΣ⁻¹y = ½·‖L⁻¹y‖²: one triangular solve forward and one backward (Σ⁻¹y through
        // cholesky_solve would take two each way).
        var z = Op.TriangularSolve(l, y, lower: true);
        var quadratic = Op.Scale(Op.Dot(z, z), T.CreateChecked(0.5));
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
        Tape.Of(op, squaredDistances, logLengthscale, logSignalVariance, logNoiseVariance);
        var d = squaredDistances.Shape;
        if (!d.IsSquare) throw ShapeErrors.Invalid(op, "the squared distances must be square", d);
        var result = d; // Σ's shape so far
        foreach (var h in new[] { logLengthscale.Shape, logSignalVariance.Shape, logNoiseVariance.Shape })
        {
            if (h.Rows != 1 || h.Cols != 1) throw ShapeErrors.Mismatch(op, "a hyperparameter must be [batch or 1, 1, 1]", d, h);
            result = result.WithBatch(ShapeErrors.BroadcastBatch(op, result, h));
        }
        var scale = Op.Scale(Op.Exp(Op.Scale(logLengthscale, T.CreateChecked(-2))), T.CreateChecked(-0.5)); // −1/(2ℓ²)
        var k = Op.MultiplyScalar(Op.Exp(Op.MultiplyScalar(squaredDistances, scale)), Op.Exp(logSignalVariance));
        return Op.AddDiagonal(k, Op.Exp(logNoiseVariance));
    }
    /// <summary>
    /// The covariance <c>K = s²·k(D)</c> between X₁ and X₂ for a stationary kernel, with
    /// <c>D = Σₖ ((X₁ᵢₖ − X₂ⱼₖ)/ℓₖ)²</c> computed on the device from the points (no [n, m, d]
    /// temporary): scikit-learn's <c>ConstantKernel(s²) * RBF(ℓ)</c> or <c>* Matern(ℓ, ν)</c>.
    /// </summary>
    /// <param name="x1">Points [batch or 1, n, d].</param>
    /// <param name="x2">Points [batch or 1, m, d].</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="logSignalVariance">log s², [batch or 1, 1, 1].</param>
    /// <param name="logLengthscales">log ℓ: [batch or 1, 1, 1] (isotropic) or [batch or 1, 1, d] (ARD).</param>
    /// <returns>K [batch, n, m].</returns>
    /// <exception cref="ArgumentException">The shapes do not agree (raised before any op is recorded).</exception>
    public static Var<T> Covariance<T>(Var<T> x1, Var<T> x2, StationaryKernel kernel, Var<T> logSignalVariance, Var<T> logLengthscales)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "GaussianProcess.Covariance";
        Tape.Of(op, x1, x2, logSignalVariance, logLengthscales);
        if (logSignalVariance.Shape.Rows != 1 || logSignalVariance.Shape.Cols != 1)
            throw ShapeErrors.Invalid(op, "log s² must be [batch or 1, 1, 1]", logSignalVariance.Shape);
        var inverse = Op.Exp(Op.Scale(logLengthscales, -T.One));                   // w = 1/ℓ
        var k = Op.Stationary(Op.SquaredDistances(x1, x2, inverse), kernel);
        return Op.MultiplyScalar(k, Op.Exp(logSignalVariance));
    }

    /// <summary>
    /// The GP's training covariance <c>K = s²·k(X, X) + (σ² + jitter)·I</c> (scikit-learn's
    /// <c>ConstantKernel * Kernel + WhiteKernel</c>).
    /// </summary>
    /// <param name="x">Training inputs [batch, n, d].</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="theta">The log-hyperparameters.</param>
    /// <param name="jitter">Extra diagonal per batch element (from <see cref="CovarianceJitter"/>), or null for none.</param>
    /// <returns>K [batch, n, n].</returns>
    public static Var<T> TrainingCovariance<T>(Var<T> x, StationaryKernel kernel, GpTheta<T> theta, double[]? jitter = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = x.Tape;
        var k = Covariance(x, x, kernel, theta.LogSignalVariance, theta.LogLengthscales);
        var noise = Op.Exp(theta.LogNoiseVariance);
        if (jitter is not null && jitter.Any(j => j != 0))
            noise = Op.Add(noise, tape.Constant(jitter.Select(T.CreateChecked).ToArray(), new Shape(jitter.Length, 1, 1)));
        return Op.AddDiagonal(k, noise);
    }

    /// <summary>
    /// The negative log marginal likelihood of GP regression from the data,
    /// <c>½·yᵀK⁻¹y + ½·log det K + (n/2)·log 2π</c> with K from <see cref="TrainingCovariance{T}"/>:
    /// minus the <see cref="MultivariateNormal.LogDensity{T}"/> of y under 𝒩(0, K).
    /// </summary>
    /// <param name="x">Training inputs [batch, n, d].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="theta">The log-hyperparameters.</param>
    /// <param name="jitter">Extra diagonal per batch element, or null for none.</param>
    /// <returns>[batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">The shapes do not agree (raised before any op is recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">K is not positive-definite.</exception>
    public static Var<T> NegativeLogMarginalLikelihood<T>(Var<T> x, Var<T> y, StationaryKernel kernel, GpTheta<T> theta, double[]? jitter = null)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "GaussianProcess.NegativeLogMarginalLikelihood";
        Tape.Of(op, x, y, theta.LogSignalVariance, theta.LogLengthscales, theta.LogNoiseVariance);
        if (y.Shape.Rows != x.Shape.Rows || y.Shape.Cols != 1)
            throw ShapeErrors.Mismatch(op, "y must be [batch, n, 1] for X [batch, n, d]", x.Shape, y.Shape);
        var k = TrainingCovariance(x, kernel, theta, jitter);
        return Op.Scale(MultivariateNormal.LogDensity(y, null, k), -T.One);
    }

    /// <summary>
    /// The posterior predictive mean and variance of the latent function at test inputs X*:
    /// <c>μ* = K*ᵀ·K⁻¹·y</c>, <c>v* = s² − diag(K*ᵀ·K⁻¹·K*)</c> (plus σ² with
    /// <paramref name="includeNoise"/>), K* = s²·k(X, X*). Differentiable in every input.
    /// </summary>
    /// <param name="x">Training inputs [batch, n, d].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="xStar">Test inputs [batch or 1, m, d].</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="theta">The log-hyperparameters.</param>
    /// <param name="includeNoise">Add σ² to the variance (the predictive of a new observation).</param>
    /// <param name="jitter">Extra diagonal per batch element used in K, or null.</param>
    /// <returns>Mean and variance, each [batch, m, 1].</returns>
    /// <exception cref="NotPositiveDefiniteException">K is not positive-definite.</exception>
    public static (Var<T> Mean, Var<T> Variance) Predict<T>(Var<T> x, Var<T> y, Var<T> xStar, StationaryKernel kernel, GpTheta<T> theta,
        bool includeNoise = false, double[]? jitter = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tape = x.Tape;
        int n = x.Shape.Rows, m = xStar.Shape.Rows;
        var l = Op.Cholesky(TrainingCovariance(x, kernel, theta, jitter));
        var alpha = Op.CholeskySolveFactor(l, y);                                             // K⁻¹y
        var kStar = Covariance(x, xStar, kernel, theta.LogSignalVariance, theta.LogLengthscales); // [b, n, m]
        var mean = Op.MatMul(kStar, alpha, transposeA: true);                                   // [b, m, 1]
        var v = Op.TriangularSolve(l, kStar, lower: true);                                      // L⁻¹K*
        var ones = tape.Constant(Enumerable.Repeat(T.One, n).ToArray(), new Shape(1, 1, n));
        var explained = Op.Transpose(Op.MatMul(ones, Op.Multiply(v, v)));                     // diag(K*ᵀK⁻¹K*) [b, m, 1]
        var prior = Op.MultiplyScalar(tape.Constant(Enumerable.Repeat(T.One, m).ToArray(), new Shape(1, m, 1)), Op.Exp(theta.LogSignalVariance));
        var variance = Op.Subtract(prior, explained);
        if (includeNoise)
            variance = Op.Add(variance, Op.MultiplyScalar(tape.Constant(Enumerable.Repeat(T.One, m).ToArray(), new Shape(1, m, 1)), Op.Exp(theta.LogNoiseVariance)));
        return (mean, variance);
    }
}

/// <summary>
/// The log-hyperparameters of <c>ConstantKernel(s²) * Kernel(ℓ) + WhiteKernel(σ²)</c>, as vars:
/// log s² and log σ² [batch or 1, 1, 1], log ℓ [batch or 1, 1, 1] or [batch or 1, 1, d] (ARD).
/// scikit-learn's θ order is (log s², log ℓ…, log σ²).
/// </summary>
/// <param name="LogSignalVariance">log s².</param>
/// <param name="LogLengthscales">log ℓ (one, or one per input dimension).</param>
/// <param name="LogNoiseVariance">log σ².</param>
public sealed record GpTheta<T>(Var<T> LogSignalVariance, Var<T> LogLengthscales, Var<T> LogNoiseVariance) where T : unmanaged, IFloatingPointIeee754<T>;
