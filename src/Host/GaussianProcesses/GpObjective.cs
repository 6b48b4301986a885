namespace GpuAD;

/// <summary>The NLL of a slice of GP problems, its gradient and the jitter each element needed.</summary>
/// <param name="Nll">Negative log marginal likelihood per batch element of the slice.</param>
/// <param name="Gradient">∂NLL/∂θ, row-major [elements, parameters], or null when not asked for.</param>
/// <param name="Jitter">Absolute diagonal jitter added per element (0 where none was needed).</param>
public sealed record GpEvaluation(double[] Nll, double[]? Gradient, double[] Jitter);

/// <summary>
/// Batched GP regression problems on a device, each with its own log-hyperparameters
/// θ = (log s², log ℓ… (1 or d), log σ²) — scikit-learn's order for
/// <c>ConstantKernel * Kernel + WhiteKernel</c>. <see cref="Evaluate"/> computes the NLL and its
/// gradient for a contiguous slice [lo, hi) of the batch on the device, so that an optimizer (or
/// a sharded run, one slice per process) keeps its state on the host and combines the slices in
/// a fixed order. Covariances that are not positive-definite get jitter by
/// <see cref="CovarianceJitter"/>, reported per element.
/// </summary>
public sealed class GpObjective<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceTensor<T> x, y;
    private readonly CovarianceJitter jitter;

    /// <summary>Uploads the data.</summary>
    /// <param name="device">Where to evaluate.</param>
    /// <param name="inputs">X, row-major [batch, n, d].</param>
    /// <param name="targets">y, [batch, n].</param>
    /// <param name="batch">Problems.</param>
    /// <param name="n">Points per problem.</param>
    /// <param name="d">Input dimensions.</param>
    /// <param name="kernel">The covariance function.</param>
    /// <param name="ard">One lengthscale per dimension (else one shared).</param>
    /// <param name="jitterPolicy">The jitter policy (default <see cref="CovarianceJitter.For{T}"/>).</param>
    /// <exception cref="ArgumentException">The arrays do not have the stated sizes, or hold NaN or ±Inf (naming the element).</exception>
    /// <exception cref="ElementRangeException">A value of X or y is finite but beyond <typeparamref name="T"/>'s range (float32: ±3.4028235e38); names the element.</exception>
    public GpObjective(Device device, ReadOnlySpan<double> inputs, ReadOnlySpan<double> targets, int batch, int n, int d,
        StationaryKernel kernel, bool ard, CovarianceJitter? jitterPolicy = null)
    {
        if (batch < 0 || n < 0 || d < 1) throw new ArgumentException($"GpObjective: batch {batch}, n {n}, d {d} must be ≥ 0, ≥ 0, ≥ 1.");
        if (inputs.Length != (long)batch * n * d) throw new ArgumentException($"GpObjective: X holds {inputs.Length} values, expected batch·n·d = {(long)batch * n * d}.");
        if (targets.Length != (long)batch * n) throw new ArgumentException($"GpObjective: y holds {targets.Length} values, expected batch·n = {(long)batch * n}.");
        CheckFinite("X", inputs, n * d, d);
        CheckFinite("y", targets, n, 1);
        Device = device;
        Batch = batch;
        N = n;
        D = d;
        Kernel = kernel;
        Ard = ard;
        jitter = jitterPolicy ?? CovarianceJitter.For<T>();
        x = device.Upload<T>(ElementConversion.Narrow<T>(inputs, "X", new Shape(batch, n, d)), new Shape(batch, n, d));
        try
        {
            y = device.Upload<T>(ElementConversion.Narrow<T>(targets, "y", new Shape(batch, n, 1)), new Shape(batch, n, 1));
        }
        catch
        {
            x.Dispose();
            throw;
        }
    }

    /// <summary>The device.</summary>
    public Device Device { get; }

    /// <summary>Problems in the batch.</summary>
    public int Batch { get; }

    /// <summary>Points per problem.</summary>
    public int N { get; }

    /// <summary>Input dimensions.</summary>
    public int D { get; }

    /// <summary>The covariance function.</summary>
    public StationaryKernel Kernel { get; }

    /// <summary>True for one lengthscale per dimension.</summary>
    public bool Ard { get; }

    /// <summary>Parameters per problem: 2 + d (ARD) or 3.</summary>
    public int Parameters => Ard ? D + 2 : 3;

    /// <summary>
    /// The device memory, in bytes, that an objective of this size needs for <see cref="Evaluate"/>
    /// with the gradient: the data (X and y) and, per problem, one n×n matrix of
    /// <typeparamref name="T"/> plus O(n·(d + p)) — each allocation rounded up to the device pool's
    /// size class. Compare it with the device's memory before allocating anything.
    /// </summary>
    /// <param name="device">The device (its kernel family sets the inverse's blocks).</param>
    /// <param name="batch">Problems evaluated at once.</param>
    /// <param name="n">Points per problem.</param>
    /// <param name="d">Input dimensions.</param>
    /// <param name="ard">One lengthscale per dimension (else one shared).</param>
    /// <exception cref="ArgumentException">A size is negative or d &lt; 1.</exception>
    public static long DeviceBytes(Device device, int batch, int n, int d, bool ard)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (batch < 0 || n < 0 || d < 1) throw new ArgumentException($"GpObjective: batch {batch}, n {n}, d {d} must be ≥ 0, ≥ 0, ≥ 1.");
        long size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        long data = BufferPool.SizeClass((long)batch * n * d * size) + BufferPool.SizeClass((long)batch * n * size);
        return 2 * data + GpLikelihoodNode<T>.DeviceBytes(device, batch, n, d, ard ? d : 1); // the uploads and the slice's copies on the tape
    }

    /// <summary>θ's order in words, for messages.</summary>
    public string Order => Ard
        ? $"log signal variance, log lengthscale × {D} (one per dimension), log noise variance"
        : "log signal variance, log lengthscale, log noise variance";

    /// <summary>
    /// The NLL (and with <paramref name="gradient"/> its gradient) of problems [lo, hi) at θ, row-major
    /// [hi − lo, <see cref="Parameters"/>].
    /// </summary>
    /// <exception cref="ArgumentException">The slice is out of range, θ has the wrong length or holds NaN/±Inf.</exception>
    /// <exception cref="ElementRangeException">A value of θ is beyond <typeparamref name="T"/>'s range.</exception>
    /// <exception cref="JitterExhaustedException">A covariance is not positive-definite within the jitter budget.</exception>
    public GpEvaluation Evaluate(ReadOnlySpan<double> theta, int lo, int hi, bool gradient)
    {
        if (lo < 0 || hi > Batch || lo > hi) throw new ArgumentException($"GpObjective: the slice [{lo}, {hi}) is outside the batch [0, {Batch}).");
        int count = hi - lo, p = Parameters;
        if (theta.Length != count * p)
            throw new ArgumentException($"GpObjective: θ holds {theta.Length} values for {count} problems of {p} parameters ({Order}).");
        CheckFinite("θ", theta, p, p, lo);
        var jitterAdded = new double[count];
        if (count == 0) return new GpEvaluation([], gradient ? [] : null, jitterAdded);
        var thetaHost = theta.ToArray();
        ElementConversion.Narrow<T>(theta, "θ", new Shape(count, 1, p));
        using var xs = x.Slice(lo, count);
        using var ys = y.Slice(lo, count);
        var relative = new double[count];
        var failures = new int[count];
        for (int attempt = 0; ; attempt++)
        {
            using var tape = new Tape(Device);
            var vars = Parameters3(tape, thetaHost, count, gradient);
            var (nll, info, meanDiagonal) = Nll(tape, xs, ys, vars, jitterAdded);
            int[] codes;
            using (info) codes = info.ToArray();
            if (codes.All(c => c == 0))
            {
                var values = nll.ToArray().Select(double.CreateChecked).ToArray();
                if (!gradient) return new GpEvaluation(values, null, jitterAdded);
                using var ones = Device.Upload<T>(Enumerable.Repeat(T.One, count).ToArray(), nll.Shape);
                tape.Backward(nll, ones);
                var grad = new double[count * p];
                var gs = vars.LogSignalVariance.Grad!.ToArray();
                var gl = vars.LogLengthscales.Grad!.ToArray();
                var gn = vars.LogNoiseVariance.Grad!.ToArray();
                int q = p - 2;
                for (int b = 0; b < count; b++)
                {
                    grad[b * p] = double.CreateChecked(gs[b]);
                    for (int j = 0; j < q; j++) grad[b * p + 1 + j] = double.CreateChecked(gl[b * q + j]);
                    grad[b * p + p - 1] = double.CreateChecked(gn[b]);
                }
                return new GpEvaluation(values, grad, jitterAdded);
            }
            if (attempt >= jitter.MaxTries || jitter.Initial <= 0)
            {
                int b = Array.FindIndex(codes, c => c != 0);
                throw new JitterExhaustedException("GaussianProcess", lo + b, jitterAdded[b], relative[b], codes[b]);
            }
            // The failed elements get the next jitter, relative to their mean diagonal.
            var diag = meanDiagonal();
            for (int b = 0; b < count; b++)
            {
                if (codes[b] == 0) continue;
                relative[b] = jitter.Relative(attempt + 1);
                jitterAdded[b] = relative[b] * Math.Abs(diag[b]);
            }
        }
    }

    /// <summary>
    /// When set, <see cref="Evaluate"/> composes the NLL from ops (K, Cholesky, the normal's log
    /// density: several n×n buffers) instead of the fused op; the two agree to rounding, and the
    /// composed path is the fused one's oracle in the tests.
    /// </summary>
    internal bool Composed { get; set; }

    /// <summary>
    /// The NLL of the slice on the tape with its Cholesky info codes, and the mean diagonal of each
    /// K (for the next jitter). The one place that chooses the path: the fused op
    /// (<see cref="Op.GpNegativeLogMarginalLikelihoodEx{T}"/>: one n×n buffer per problem, K⁻¹
    /// formed in place for the gradient) whenever nothing of size n×n is asked for, which is
    /// always here unless <see cref="Composed"/>.
    /// </summary>
    private (Var<T> Nll, DeviceTensor<int> Info, Func<double[]> MeanDiagonal) Nll(Tape tape, DeviceTensor<T> xs, DeviceTensor<T> ys, GpTheta<T> theta, double[] jitterAdded)
    {
        if (!Composed)
        {
            var (nll, info) = Op.GpNegativeLogMarginalLikelihoodEx(tape.Constant(xs), tape.Constant(ys), Kernel,
                theta.LogSignalVariance, theta.LogLengthscales, theta.LogNoiseVariance, jitterAdded);
            // K's diagonal is s²·k(0) + σ² + jitter with k(0) = 1 for every stationary kernel.
            var s = theta.LogSignalVariance.Value;
            var noise = theta.LogNoiseVariance.Value;
            return (nll, info, () =>
            {
                var ls = s.ToArray();
                var ln = noise.ToArray();
                return [.. Enumerable.Range(0, ls.Length).Select(b => double.CreateChecked(T.Exp(ls[b]) + (T.Exp(ln[b]) + T.CreateChecked(jitterAdded[b]))))];
            });
        }
        var k = GaussianProcess.TrainingCovariance(tape.Constant(xs), Kernel, theta, jitterAdded);
        var (l, codes) = Op.CholeskyEx(k);
        return (Op.Scale(MultivariateNormal.LogDensityFactor(tape.Constant(ys), null, l), -T.One), codes, () => MeanDiagonal(k.Value));
    }

    private GpTheta<T> Parameters3(Tape tape, double[] theta, int count, bool gradient)
    {
        int p = Parameters, q = p - 2;
        var s = new T[count];
        var l = new T[count * q];
        var nz = new T[count];
        for (int b = 0; b < count; b++)
        {
            s[b] = T.CreateChecked(theta[b * p]);
            for (int j = 0; j < q; j++) l[b * q + j] = T.CreateChecked(theta[b * p + 1 + j]);
            nz[b] = T.CreateChecked(theta[b * p + p - 1]);
        }
        Var<T> V(T[] data, Shape shape) => gradient ? tape.Variable(data, shape) : tape.Constant(data, shape);
        return new GpTheta<T>(V(s, new Shape(count, 1, 1)), V(l, new Shape(count, 1, q)), V(nz, new Shape(count, 1, 1)));
    }

    private double[] MeanDiagonal(DeviceTensor<T> k)
    {
        var all = k.ToArray();
        int n = k.Rows;
        var result = new double[k.Batch];
        for (int b = 0; b < k.Batch; b++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) s += double.CreateChecked(all[(long)b * n * n + (long)i * n + i]);
            result[b] = n == 0 ? 0 : s / n;
        }
        return result;
    }

    private static void CheckFinite(string name, ReadOnlySpan<double> data, int perElement, int cols, int batchBase = 0)
    {
        for (int i = 0; i < data.Length; i++)
        {
            if (double.IsFinite(data[i])) continue;
            int b = i / Math.Max(perElement, 1), r = i % Math.Max(perElement, 1);
            throw new ArgumentException($"GpObjective: {name} holds {data[i]} at batch element {batchBase + b}, index [{r / cols}, {r % cols}].");
        }
    }

    /// <summary>Frees the device copies of the data.</summary>
    public void Dispose()
    {
        x.Dispose();
        y.Dispose();
    }
}
