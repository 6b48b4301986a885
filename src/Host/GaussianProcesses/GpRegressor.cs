using System.Globalization;
using System.Numerics.Tensors;

namespace GpuAD;

/// <summary>Settings of a <see cref="GpRegressor{T}"/>, named as scikit-learn's <c>GaussianProcessRegressor</c> arguments.</summary>
/// <param name="Alpha">Added to the diagonal of the training covariance (<c>alpha</c>, default 1e−10); must be ≥ 0.</param>
/// <param name="NormalizeY">
/// Fit to (y − mean y) / std y per problem (population std; a std below 10·ε counts as 1) and rescale the
/// predictions, as scikit-learn 1.2's <c>normalize_y=True</c>; the log marginal likelihood is then the normalized data's.
/// </param>
/// <param name="Restarts">Extra starts per problem (<c>n_restarts_optimizer</c>), drawn uniformly within the log-bounds.</param>
/// <param name="RandomState">Seed of the restarts' draws (<c>random_state</c>): the draws are NumPy's <c>RandomState(seed).uniform(bounds)</c>, scikit-learn's own.</param>
/// <param name="Optimize">False keeps the kernel's hyperparameters as given (scikit-learn's <c>optimizer=None</c>).</param>
/// <param name="MaxIterations">BFGS iterations per start and round.</param>
/// <param name="GradientTolerance">Stop when the gradient's largest component falls below this.</param>
/// <param name="Progress">Receives one line per start (problem, the negative LML reached, evaluations).</param>
public sealed record GpRegressorOptions(double Alpha = 1e-10, bool NormalizeY = false, int Restarts = 0, uint RandomState = 0, bool Optimize = true,
    int MaxIterations = 200, double GradientTolerance = 1e-5, Action<string>? Progress = null);

/// <summary>What <see cref="GpRegressor{T}.Fit(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, int)"/> reached per problem.</summary>
/// <param name="Kernels">The fitted kernel per problem (scikit-learn's <c>kernel_</c>).</param>
/// <param name="Theta">Its θ, row-major [batch, p] (natural logs of the non-fixed hyperparameters, scikit-learn's order).</param>
/// <param name="LogMarginalLikelihood">The log marginal likelihood there, [batch] (<c>log_marginal_likelihood_value_</c>).</param>
/// <param name="Evaluations">Likelihood-and-gradient evaluations spent per problem (all starts).</param>
public sealed record GpRegressorFit(IReadOnlyList<Kernel> Kernels, double[] Theta, double[] LogMarginalLikelihood, int[] Evaluations);

/// <summary>The posterior predictive at test points.</summary>
/// <param name="Mean">Mean, row-major [batch, m].</param>
/// <param name="Std">Standard deviation, [batch, m] (negative variances from rounding are set to 0, as scikit-learn does).</param>
/// <param name="Covariance">The full covariance [batch, m, m], or null when not asked for.</param>
public sealed record GpPrediction(double[] Mean, double[] Std, double[]? Covariance);

/// <summary>
/// Gaussian-process regression with a composable <see cref="GpuAD.Kernel"/>, as scikit-learn's
/// <c>GaussianProcessRegressor</c>: <see cref="Fit(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, int)"/>
/// maximizes the log marginal likelihood of y under 𝒩(0, k(X, X) + α·I) over θ (bounded BFGS from
/// the kernel's θ and <see cref="GpRegressorOptions.Restarts"/> seeded starts, within the kernel's
/// bounds; fixed hyperparameters stay fixed), <see cref="Predict(ReadOnlySpan{double}, int, bool)"/>
/// gives the posterior mean, standard deviation and optionally covariance. Several independent
/// problems of the same n and d are held as a batch, each with its own θ; the likelihood, its
/// gradient (from the tape) and the predictions are computed on the device.
/// </summary>
public sealed class GpRegressor<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private const string OpName = "GpRegressor";
    private static readonly double MachineEpsilon = Math.BitIncrement(1.0) - 1.0;
    private DeviceTensor<T>? x, y;
    private double[] yMean = [], yStd = [];

    /// <summary>Creates an unfitted regressor.</summary>
    /// <param name="device">Where to compute (e.g. from <c>Devices.Open()</c>).</param>
    /// <param name="kernel">The prior covariance and the fit's start (scikit-learn's <c>kernel</c>).</param>
    /// <param name="options">α, normalize_y, restarts, seed, tolerances.</param>
    /// <exception cref="ArgumentException">α is negative or not finite, restarts negative, or no iterations.</exception>
    public GpRegressor(Device device, Kernel kernel, GpRegressorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(kernel);
        options ??= new GpRegressorOptions();
        if (!(options.Alpha >= 0) || double.IsInfinity(options.Alpha))
            throw new ArgumentException($"{OpName}: alpha = {options.Alpha.ToString("R", CultureInfo.InvariantCulture)} must be finite and ≥ 0.", nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(options.Restarts, "options.Restarts");
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxIterations, 1, "options.MaxIterations");
        Device = device;
        Kernel = kernel;
        Options = options;
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>The prior kernel (the fit's start).</summary>
    public Kernel Kernel { get; }

    /// <summary>The settings.</summary>
    public GpRegressorOptions Options { get; }

    /// <summary>The last fit, or null before <see cref="Fit(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, int)"/>.</summary>
    public GpRegressorFit? Fitted { get; private set; }

    /// <summary>Problems in the fitted batch.</summary>
    public int Batch { get; private set; }

    /// <summary>Training points per problem.</summary>
    public int N { get; private set; }

    /// <summary>Input dimensions.</summary>
    public int D { get; private set; }

    /// <summary>Fits one problem: X row-major [n, d], y [n].</summary>
    /// <exception cref="ArgumentException">As <see cref="Fit(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, int)"/>.</exception>
    /// <exception cref="GpFitDivergedException">No start reached a finite likelihood.</exception>
    public GpRegressorFit Fit(ReadOnlySpan<double> inputs, ReadOnlySpan<double> targets, int n, int d) => Fit(inputs, targets, 1, n, d);

    /// <summary>
    /// Fits <paramref name="batch"/> independent problems of <paramref name="n"/> points in
    /// <paramref name="d"/> dimensions, one after another in batch order (deterministic), and keeps
    /// the data on the device for <see cref="Predict(ReadOnlySpan{double}, int, bool)"/>.
    /// </summary>
    /// <param name="inputs">X, row-major [batch, n, d].</param>
    /// <param name="targets">y, row-major [batch, n].</param>
    /// <param name="batch">Problems (≥ 1).</param>
    /// <param name="n">Points per problem (≥ 1).</param>
    /// <param name="d">Input dimensions (≥ 1; an ARD lengthscale fixes it).</param>
    /// <returns>The fitted kernels, θ and log marginal likelihoods (also kept as <see cref="Fitted"/>).</returns>
    /// <exception cref="ArgumentException">
    /// The sizes do not agree, a value of X or y is NaN or ±Inf (naming the element), d differs from an
    /// ARD lengthscale's, or restarts are asked for with an infinite bound.
    /// </exception>
    /// <exception cref="GpFitDivergedException">No start of a problem reached a finite likelihood.</exception>
    /// <exception cref="NotPositiveDefiniteException">With <see cref="GpRegressorOptions.Optimize"/> off, the covariance at the kernel's θ is not positive-definite.</exception>
    public GpRegressorFit Fit(ReadOnlySpan<double> inputs, ReadOnlySpan<double> targets, int batch, int n, int d) =>
        Fit(inputs, targets, batch, n, d, ReadOnlySpan<double>.Empty);

    /// <summary>
    /// As <see cref="Fit(ReadOnlySpan{double}, ReadOnlySpan{double}, int, int, int)"/>, from given starts
    /// instead of the kernel's θ (with <see cref="GpRegressorOptions.Optimize"/> off: at given θ).
    /// </summary>
    /// <param name="inputs">X, row-major [batch, n, d].</param>
    /// <param name="targets">y, row-major [batch, n].</param>
    /// <param name="batch">Problems (≥ 1).</param>
    /// <param name="n">Points per problem (≥ 1).</param>
    /// <param name="d">Input dimensions (≥ 1).</param>
    /// <param name="theta0">θ₀: [p] (every problem), [batch, p], or empty for the kernel's θ.</param>
    /// <exception cref="ArgumentException">As the overload without θ₀, or θ₀ has the wrong length or a value that is not finite.</exception>
    /// <exception cref="GpFitDivergedException">No start of a problem reached a finite likelihood.</exception>
    /// <exception cref="NotPositiveDefiniteException">With <see cref="GpRegressorOptions.Optimize"/> off, the covariance at θ₀ is not positive-definite.</exception>
    public GpRegressorFit Fit(ReadOnlySpan<double> inputs, ReadOnlySpan<double> targets, int batch, int n, int d, ReadOnlySpan<double> theta0)
    {
        if (batch < 1 || n < 1 || d < 1) throw new ArgumentException($"{OpName}.Fit: batch {batch}, n {n}, d {d} must each be ≥ 1.");
        if (inputs.Length != (long)batch * n * d) throw new ArgumentException($"{OpName}.Fit: X holds {inputs.Length} values, expected batch·n·d = {(long)batch * n * d}.", nameof(inputs));
        if (targets.Length != (long)batch * n) throw new ArgumentException($"{OpName}.Fit: y holds {targets.Length} values, expected batch·n = {(long)batch * n}.", nameof(targets));
        if (Kernel.InputDimensions is int ard && ard != d)
            throw new ArgumentException($"{OpName}.Fit: {Kernel} has {ard} lengthscales (ARD) but X has {d} dimensions.", nameof(inputs));
        CheckFinite("Fit", "X", inputs, n * d, d);
        CheckFinite("Fit", "y", targets, n, 1);
        int p = Kernel.ThetaLength;
        if (!theta0.IsEmpty && theta0.Length != p && theta0.Length != (long)batch * p)
            throw new ArgumentException($"{OpName}.Fit: θ₀ holds {theta0.Length} values, expected {p} or batch·{p} = {(long)batch * p} for {Kernel}.", nameof(theta0));
        CheckFinite("Fit", "θ₀", theta0, p, p);
        var startRows = theta0.IsEmpty ? Kernel.Theta : theta0.ToArray();
        var bounds = Kernel.Bounds;
        if (Options.Optimize && Options.Restarts > 0 && bounds.Any(b => !double.IsFinite(b.Lower) || !double.IsFinite(b.Upper)))
            throw new ArgumentException($"{OpName}.Fit: restarts need finite bounds, but {Kernel} has an infinite one.");

        // Normalization as scikit-learn 1.2: mean and population std per problem, a tiny std counts as 1.
        var means = new double[batch];
        var stds = new double[batch];
        var normalized = new double[targets.Length];
        for (int b = 0; b < batch; b++)
        {
            var row = targets.Slice(b * n, n);
            double mean = 0, sq = 0;
            if (Options.NormalizeY)
            {
                for (int i = 0; i < n; i++) mean += row[i];
                mean /= n;
                for (int i = 0; i < n; i++) sq += (row[i] - mean) * (row[i] - mean);
            }
            double std = Math.Sqrt(sq / n);
            if (!Options.NormalizeY || std < 10 * MachineEpsilon) std = 1;
            (means[b], stds[b]) = (mean, std);
            for (int i = 0; i < n; i++) normalized[b * n + i] = (row[i] - mean) / std;
        }

        var newX = Device.Upload<T>(ElementConversion.Narrow<T>(inputs, "X", new Shape(batch, n, d)), new Shape(batch, n, d));
        DeviceTensor<T> newY;
        try
        {
            newY = Device.Upload<T>(ElementConversion.Narrow<T>(normalized, "y", new Shape(batch, n, 1)), new Shape(batch, n, 1));
        }
        catch
        {
            newX.Dispose();
            throw;
        }
        x?.Dispose();
        y?.Dispose();
        (x, y, yMean, yStd, Batch, N, D) = (newX, newY, means, stds, batch, n, d);
        Fitted = null;

        var theta = new double[batch * p];
        var lml = new double[batch];
        var evaluations = new int[batch];
        var kernels = new Kernel[batch];
        var lower = bounds.Select(b => b.Lower).ToArray();
        var upper = bounds.Select(b => b.Upper).ToArray();
        for (int e = 0; e < batch; e++)
        {
            var given = startRows.Length == p ? startRows : startRows[(e * p)..((e + 1) * p)];
            double[] best;
            if (!Options.Optimize || p == 0)
            {
                best = given;
                lml[e] = -Evaluate(best, e, e + 1, gradient: false).Nll[0];
            }
            else
            {
                // Each problem draws the restarts scikit-learn would draw fitting it alone.
                var rng = new NumpyRandomState(Options.RandomState);
                // L-BFGS-B (scikit-learn's optimizer) starts from θ₀ clipped into the bounds.
                var starts = new List<double[]> { given.Select((v, i) => Math.Clamp(v, lower[i], upper[i])).ToArray() };
                for (int r = 0; r < Options.Restarts; r++) starts.Add(rng.Uniform(lower, upper));
                int problem = e;
                var point = GpFit.Minimize(v =>
                    {
                        var (nll, grad) = Evaluate(v, problem, problem + 1, gradient: true);
                        return (nll[0], grad!, 0);
                    }, starts, lower, upper, Options.MaxIterations, Options.GradientTolerance,
                    Options.Progress is null ? null : line => Options.Progress($"problem {problem}: {line}"));
                evaluations[e] = point.Evaluations;
                if (point.Theta is null)
                    throw new GpFitDivergedException($"{OpName}.Fit: batch element {e}: the fit diverged: no start reached a finite log marginal likelihood ({point.LastFailure ?? "no evaluation succeeded"}).");
                best = point.Theta;
                lml[e] = -point.Value;
            }
            Array.Copy(best, 0, theta, e * p, p);
            kernels[e] = Kernel.WithTheta(best);
        }
        return Fitted = new GpRegressorFit(kernels, theta, lml, evaluations);
    }

    /// <summary>
    /// Fits from System.Numerics.Tensors spans: X [n, d] with y [n], or X [batch, n, d] with y [batch, n].
    /// </summary>
    /// <exception cref="ArgumentException">The ranks or lengths do not agree; otherwise as the span overload.</exception>
    /// <exception cref="GpFitDivergedException">No start of a problem reached a finite likelihood.</exception>
    public GpRegressorFit Fit(ReadOnlyTensorSpan<double> inputs, ReadOnlyTensorSpan<double> targets)
    {
        int rank = inputs.Rank;
        if (rank is not (2 or 3) || targets.Rank != rank - 1)
            throw new ArgumentException($"{OpName}.Fit: X must be [n, d] with y [n], or [batch, n, d] with y [batch, n]; got ranks {rank} and {targets.Rank}.", nameof(inputs));
        var lengths = inputs.Lengths;
        int batch = rank == 3 ? (int)lengths[0] : 1, n = (int)lengths[rank - 2], d = (int)lengths[rank - 1];
        return Fit(Flatten(inputs), Flatten(targets), batch, n, d);
    }

    /// <summary>
    /// The log marginal likelihood at θ (scikit-learn's <c>log_marginal_likelihood(theta, eval_gradient)</c>)
    /// of each fitted problem, on the training data as fitted (normalized with
    /// <see cref="GpRegressorOptions.NormalizeY"/>), K = k(X, X) + α·I.
    /// </summary>
    /// <param name="theta">θ: [p] (every problem) or [batch, p]; empty for each problem's fitted θ.</param>
    /// <param name="gradient">Also compute ∂LML/∂θ.</param>
    /// <returns>The LML per problem, and with <paramref name="gradient"/> its gradient row-major [batch, p].</returns>
    /// <exception cref="InvalidOperationException">Called before a fit.</exception>
    /// <exception cref="ArgumentException">θ has the wrong length or a value that is not finite.</exception>
    /// <exception cref="NotPositiveDefiniteException">K is not positive-definite at θ (naming the batch element).</exception>
    public (double[] Value, double[]? Gradient) LogMarginalLikelihood(ReadOnlySpan<double> theta, bool gradient = false)
    {
        var fitted = Fitted ?? throw new InvalidOperationException($"{OpName}.LogMarginalLikelihood: call Fit first.");
        int p = Kernel.ThetaLength;
        double[] rows;
        if (theta.IsEmpty) rows = fitted.Theta;
        else if (theta.Length == p)
        {
            var shared = theta.ToArray();
            rows = Enumerable.Range(0, Batch).SelectMany(_ => shared).ToArray();
        }
        else if (theta.Length == Batch * p) rows = theta.ToArray();
        else throw new ArgumentException($"{OpName}.LogMarginalLikelihood: θ holds {theta.Length} values, expected {p} or batch·{p} = {Batch * p} for {Kernel}.", nameof(theta));
        CheckFinite("LogMarginalLikelihood", "θ", rows, p, p);
        var (nll, grad) = Evaluate(rows, 0, Batch, gradient);
        return (nll.Select(v => -v).ToArray(), grad?.Select(v => -v).ToArray());
    }

    /// <summary>
    /// The posterior predictive at X* under each problem's fitted kernel (scikit-learn's
    /// <c>predict(X*, return_std=True, return_cov=…)</c>): mean <c>K*ᵀ(K + αI)⁻¹y</c>, variance
    /// <c>diag k(X*, X*) − diag(K*ᵀ(K + αI)⁻¹K*)</c> (a WhiteKernel's noise included in the prior
    /// diagonal, as scikit-learn's <c>kernel_.diag</c>), rescaled by the normalization.
    /// </summary>
    /// <param name="xStar">X*, row-major [m, d] (every problem) or [batch, m, d].</param>
    /// <param name="m">Test points.</param>
    /// <param name="covariance">Also return the full covariance [batch, m, m].</param>
    /// <exception cref="InvalidOperationException">Called before a fit.</exception>
    /// <exception cref="ArgumentException">X* has the wrong length or a value that is not finite.</exception>
    /// <exception cref="NotPositiveDefiniteException">K + αI is not positive-definite at the fitted θ.</exception>
    public GpPrediction Predict(ReadOnlySpan<double> xStar, int m, bool covariance = false)
    {
        var fitted = Fitted ?? throw new InvalidOperationException($"{OpName}.Predict: call Fit first.");
        if (m < 0) throw new ArgumentException($"{OpName}.Predict: m = {m} must be ≥ 0.", nameof(m));
        int xb = xStar.Length == (long)m * D ? 1 : xStar.Length == (long)Batch * m * D ? Batch : -1;
        if (xb < 0) throw new ArgumentException($"{OpName}.Predict: X* holds {xStar.Length} values, expected m·d = {(long)m * D} or batch·m·d = {(long)Batch * m * D}.", nameof(xStar));
        CheckFinite("Predict", "X*", xStar, m * D, D);
        int p = Kernel.ThetaLength;
        if (m == 0) return new GpPrediction([], [], covariance ? [] : null);
        using var tape = new Tape(Device);
        var xs = tape.Constant(x!);
        var ys = tape.Constant(y!);
        var xt = tape.Constant(ElementConversion.Narrow<T>(xStar, "X*", new Shape(xb, m, D)), new Shape(xb, m, D));
        var th = tape.Constant(ElementConversion.Narrow<T>(fitted.Theta, "θ", new Shape(Batch, 1, p)), new Shape(Batch, 1, p));
        var l = Op.Cholesky(TrainingCovariance(tape, th, xs));
        var alpha = Op.CholeskySolveFactor(l, ys);                               // (K + αI)⁻¹y
        var kStar = Kernel.Covariance(th, xs, xt);                                     // [b, n, m]
        var mean = Op.MatMul(kStar, alpha, transposeA: true);                    // [b, m, 1]
        var v = Op.TriangularSolve(l, kStar, lower: true);                       // L⁻¹K*
        var prior = Kernel.Covariance(th, xt);                                         // k(X*, X*) with the noise
        Var<T> posterior;
        if (covariance) posterior = Op.Subtract(prior, Op.MatMul(v, v, transposeA: true));
        else
        {
            var ones = tape.Constant(Enumerable.Repeat(T.One, N).ToArray(), new Shape(1, 1, N));
            var explained = Op.Transpose(Op.MatMul(ones, Op.Multiply(v, v))); // diag(K*ᵀK⁻¹K*) [b, m, 1]
            posterior = Op.Subtract(Op.Diag(prior), explained);
        }
        var mu = mean.ToArray();
        var post = posterior.ToArray();
        var meanOut = new double[Batch * m];
        var stdOut = new double[Batch * m];
        var covOut = covariance ? new double[(long)Batch * m * m] : null;
        for (int b = 0; b < Batch; b++)
        {
            double s = yStd[b], s2 = s * s;
            for (int i = 0; i < m; i++)
            {
                meanOut[b * m + i] = double.CreateChecked(mu[b * m + i]) * s + yMean[b];
                double variance = covariance ? double.CreateChecked(post[(long)b * m * m + (long)i * m + i]) : double.CreateChecked(post[b * m + i]);
                stdOut[b * m + i] = Math.Sqrt(Math.Max(variance, 0) * s2);
            }
            if (covOut is not null)
                for (long k = (long)b * m * m; k < (long)(b + 1) * m * m; k++) covOut[k] = double.CreateChecked(post[k]) * s2;
        }
        return new GpPrediction(meanOut, stdOut, covOut);
    }

    /// <summary>
    /// <see cref="Predict(ReadOnlySpan{double}, int, bool)"/> from a System.Numerics.Tensors span X*
    /// [m, d] or [batch, m, d]: mean and standard deviation as [m] (one problem) or [batch, m] tensors.
    /// </summary>
    /// <exception cref="InvalidOperationException">Called before a fit.</exception>
    /// <exception cref="ArgumentException">X*'s rank or dimension does not agree with the fit.</exception>
    /// <exception cref="NotPositiveDefiniteException">K + αI is not positive-definite at the fitted θ.</exception>
    public (Tensor<double> Mean, Tensor<double> Std) Predict(ReadOnlyTensorSpan<double> xStar)
    {
        if (xStar.Rank is not (2 or 3) || xStar.Lengths[xStar.Rank - 1] != D)
            throw new ArgumentException($"{OpName}.Predict: X* must be [m, {D}] or [batch, m, {D}]; got rank {xStar.Rank}.", nameof(xStar));
        int m = (int)xStar.Lengths[xStar.Rank - 2];
        var r = Predict(Flatten(xStar), m);
        nint[] shape = Batch == 1 ? [m] : [Batch, m];
        return (Tensor.Create(r.Mean, shape), Tensor.Create(r.Std, shape));
    }

    /// <summary>The negative LML of problems [lo, hi) at θ rows [hi − lo, p], and its gradient; throws where K is not positive-definite.</summary>
    private (double[] Nll, double[]? Gradient) Evaluate(ReadOnlySpan<double> theta, int lo, int hi, bool gradient)
    {
        int count = hi - lo, p = Kernel.ThetaLength;
        using var tape = new Tape(Device);
        using var xSlice = x!.Slice(lo, count);
        using var ySlice = y!.Slice(lo, count);
        var values = ElementConversion.Narrow<T>(theta, "θ", new Shape(count, 1, p));
        var th = gradient ? tape.Variable(values, new Shape(count, 1, p)) : tape.Constant(values, new Shape(count, 1, p));
        var k = TrainingCovariance(tape, th, tape.Constant(xSlice));
        var nll = Op.Scale(MultivariateNormal.LogDensity(tape.Constant(ySlice), null, k), -T.One);
        var result = nll.ToArray().Select(double.CreateChecked).ToArray();
        if (!gradient) return (result, null);
        tape.Backward(nll, Enumerable.Repeat(T.One, count).ToArray());
        var grad = th.Grad is { } g ? g.ToArray().Select(double.CreateChecked).ToArray() : new double[count * p];
        return (result, grad);
    }

    /// <summary>k(X, X) + α·I.</summary>
    private Var<T> TrainingCovariance(Tape tape, Var<T> theta, Var<T> points)
    {
        var k = Kernel.Covariance(theta, points);
        return Options.Alpha == 0 ? k : Op.AddDiagonal(k, tape.Constant([T.CreateChecked(Options.Alpha)], new Shape(1, 1, 1)));
    }

    private static double[] Flatten(ReadOnlyTensorSpan<double> data)
    {
        var result = new double[data.FlattenedLength];
        data.FlattenTo(result);
        return result;
    }

    private static void CheckFinite(string method, string name, ReadOnlySpan<double> data, int perElement, int cols)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (double.IsFinite(data[i])) continue;
            int b = i / Math.Max(perElement, 1), r = i % Math.Max(perElement, 1);
            throw new ArgumentException($"{OpName}.{method}: {name} holds {data[i].ToString(CultureInfo.InvariantCulture)} at batch element {b}, index [{r / Math.Max(cols, 1)}, {r % Math.Max(cols, 1)}].");
        }
    }

    /// <summary>Frees the device copies of the training data.</summary>
    public void Dispose()
    {
        x?.Dispose();
        y?.Dispose();
        x = y = null;
    }
}
