namespace GpuAD;

public static partial class GaussianProcess
{
    /// <summary>
    /// The negative log marginal likelihood <c>½·yᵀK⁻¹y + ½·log det K + (n/2)·log 2π</c> with
    /// K = <paramref name="kernel"/>'s training covariance at θ (scikit-learn's
    /// <c>−log_marginal_likelihood(theta)</c> with <c>alpha=0</c>: the noise is the kernel's
    /// <see cref="WhiteKernel"/>). Differentiable in θ, X and y.
    /// </summary>
    /// <param name="x">Training inputs [batch or 1, n, d].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="theta">θ as a row, [batch or 1, 1, <see cref="Kernel.ThetaLength"/>].</param>
    /// <returns>[batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">The shapes do not agree (raised before any op is recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">K is not positive-definite.</exception>
    public static Var<T> NegativeLogMarginalLikelihood<T>(Var<T> x, Var<T> y, Kernel kernel, Var<T> theta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "GaussianProcess.NegativeLogMarginalLikelihood";
        ArgumentNullException.ThrowIfNull(kernel);
        Tape.Of(op, x, y, theta);
        if (y.Shape.Rows != x.Shape.Rows || y.Shape.Cols != 1)
            throw ShapeErrors.Mismatch(op, "y must be [batch, n, 1] for X [batch, n, d]", x.Shape, y.Shape);
        var k = kernel.Covariance(theta, x);
        return Op.Scale(MultivariateNormal.LogDensity(y, null, k), -T.One);
    }

    /// <summary>
    /// The posterior predictive mean and variance at test inputs X*, as scikit-learn's
    /// <c>predict(X*, return_std=True)</c>: <c>μ* = K*ᵀ·K⁻¹·y</c> and
    /// <c>v* = diag(k(X*, X*)) − diag(K*ᵀ·K⁻¹·K*)</c> with K = k(X, X) (noise included) and
    /// K* = k(X, X*) (no noise); the prior diagonal includes a <see cref="WhiteKernel"/>'s noise, as
    /// scikit-learn's <c>kernel.diag</c> does. Differentiable in every input.
    /// </summary>
    /// <param name="x">Training inputs [batch or 1, n, d].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="xStar">Test inputs [batch or 1, m, d].</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="theta">θ as a row, [batch or 1, 1, <see cref="Kernel.ThetaLength"/>].</param>
    /// <returns>Mean and variance, each [batch, m, 1].</returns>
    /// <exception cref="ArgumentException">The shapes do not agree.</exception>
    /// <exception cref="NotPositiveDefiniteException">K is not positive-definite.</exception>
    public static (Var<T> Mean, Var<T> Variance) Predict<T>(Var<T> x, Var<T> y, Var<T> xStar, Kernel kernel, Var<T> theta)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(kernel);
        var tape = x.Tape;
        int n = x.Shape.Rows;
        var l = Op.Cholesky(kernel.Covariance(theta, x));
        var alpha = Op.CholeskySolveFactor(l, y);                                  // K⁻¹y
        var kStar = kernel.Covariance(theta, x, xStar);                            // [b, n, m]
        var mean = Op.MatMul(kStar, alpha, transposeA: true);                      // [b, m, 1]
        var v = Op.TriangularSolve(l, kStar, lower: true);                         // L⁻¹K*
        var ones = tape.Constant(Enumerable.Repeat(T.One, n).ToArray(), new Shape(1, 1, n));
        var explained = Op.Transpose(Op.MatMul(ones, Op.Multiply(v, v)));        // diag(K*ᵀK⁻¹K*) [b, m, 1]
        return (mean, Op.Subtract(kernel.Diagonal(theta, xStar), explained));
    }

    /// <summary>
    /// The NLL of batched GP problems and its gradient by θ, on the host: uploads X and y, records
    /// <see cref="NegativeLogMarginalLikelihood{T}(Var{T}, Var{T}, Kernel, Var{T})"/> on a tape on
    /// <paramref name="device"/>, runs the backward pass and reads the results back as doubles.
    /// </summary>
    /// <param name="device">Where to evaluate.</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="x">X, row-major [batch, n, d].</param>
    /// <param name="y">y, row-major [batch, n].</param>
    /// <param name="batch">Problems.</param>
    /// <param name="n">Points per problem.</param>
    /// <param name="d">Input dimensions.</param>
    /// <param name="theta">θ, row-major [batch, P] (one row per problem) or [P] (shared), P = <see cref="Kernel.ThetaLength"/>.</param>
    /// <param name="gradient">Also compute ∂NLL/∂θ.</param>
    /// <returns>
    /// The NLL per problem and, with <paramref name="gradient"/>, ∂NLL/∂θ row-major [batch, P] (each
    /// problem's own gradient even when θ is shared); no jitter is added.
    /// </returns>
    /// <exception cref="ArgumentException">The arrays do not have the stated sizes or hold NaN or ±Inf (naming the element).</exception>
    /// <exception cref="NotPositiveDefiniteException">A covariance is not positive-definite (naming the batch element).</exception>
    public static GpEvaluation Evaluate<T>(Device device, Kernel kernel, ReadOnlySpan<double> x, ReadOnlySpan<double> y, int batch, int n, int d,
        ReadOnlySpan<double> theta, bool gradient = true) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const string op = "GaussianProcess.Evaluate";
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(kernel);
        int p = kernel.ThetaLength;
        if (batch < 0 || n < 0 || d < 1) throw new ArgumentException($"{op}: batch {batch}, n {n}, d {d} must be ≥ 0, ≥ 0, ≥ 1.");
        if (x.Length != (long)batch * n * d) throw new ArgumentException($"{op}: X holds {x.Length} values, expected batch·n·d = {(long)batch * n * d}.");
        if (y.Length != (long)batch * n) throw new ArgumentException($"{op}: y holds {y.Length} values, expected batch·n = {(long)batch * n}.");
        if (theta.Length != p && theta.Length != (long)batch * p)
            throw new ArgumentException($"{op}: θ holds {theta.Length} values, expected {p} (shared) or batch·{p} = {(long)batch * p} for {kernel}.");
        CheckFinite(op, "X", x, n * d, d);
        CheckFinite(op, "y", y, n, 1);
        CheckFinite(op, "θ", theta, p, p);
        if (batch == 0) return new GpEvaluation([], gradient ? [] : null, []);
        int thetaBatch = theta.Length == p ? 1 : batch;
        using var tape = new Tape(device);
        var xs = tape.Constant(ElementConversion.Narrow<T>(x, "X", new Shape(batch, n, d)), new Shape(batch, n, d));
        var ys = tape.Constant(ElementConversion.Narrow<T>(y, "y", new Shape(batch, n, 1)), new Shape(batch, n, 1));
        var thetaValues = ElementConversion.Narrow<T>(theta, "θ", new Shape(thetaBatch, 1, p));
        // A shared θ is broadcast to one row per problem, so each problem gets its own gradient.
        if (thetaBatch == 1 && batch > 1) thetaValues = Enumerable.Range(0, batch).SelectMany(_ => thetaValues).ToArray();
        var th = gradient ? tape.Variable(thetaValues, new Shape(batch, 1, p)) : tape.Constant(thetaValues, new Shape(batch, 1, p));
        var nll = NegativeLogMarginalLikelihood(xs, ys, kernel, th);
        var values = nll.ToArray().Select(double.CreateChecked).ToArray();
        if (!gradient) return new GpEvaluation(values, null, new double[batch]);
        if (p == 0) return new GpEvaluation(values, [], new double[batch]); // every hyperparameter fixed
        tape.Backward(nll, Enumerable.Repeat(T.One, batch).ToArray());
        var grad = th.Grad is { } g ? g.ToArray().Select(double.CreateChecked).ToArray() : new double[batch * p];
        return new GpEvaluation(values, grad, new double[batch]);
    }

    private static void CheckFinite(string op, string name, ReadOnlySpan<double> data, int perElement, int cols)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (double.IsFinite(data[i])) continue;
            int b = i / Math.Max(perElement, 1), r = i % Math.Max(perElement, 1);
            throw new ArgumentException($"{op}: {name} holds {data[i]} at batch element {b}, index [{r / Math.Max(cols, 1)}, {r % Math.Max(cols, 1)}].");
        }
    }
}
