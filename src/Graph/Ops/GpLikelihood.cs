namespace GpuAD;

public static partial class Op
{
    /// <summary>
    /// The exact GP regression negative log marginal likelihood from the data, fused:
    /// <c>½·yᵀK⁻¹y + ½·log det K + (n/2)·log 2π</c> with K = s²·k(X, X) + (σ² + jitter)·I
    /// (scikit-learn's <c>ConstantKernel * Kernel + WhiteKernel</c>), in one n×n buffer per problem.
    /// The forward builds K from X in that buffer and factors it in place; the VJP turns the factor
    /// into K⁻¹ in the same buffer and contracts K⁻¹ − ααᵀ with ∂K/∂θ and ∂K/∂X recomputed from X
    /// on the fly. Device memory per problem: n²·sizeof(T) plus O(n·(d + p)) — against about five
    /// n×n buffers for the same function composed from ops (GaussianProcess.NegativeLogMarginalLikelihood).
    /// </summary>
    /// <param name="x">Training inputs [batch, n, d].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="kernel">The stationary covariance function.</param>
    /// <param name="logSignalVariance">log s², [batch, 1, 1].</param>
    /// <param name="logLengthscales">log ℓ: [batch, 1, 1] (isotropic) or [batch, 1, d] (ARD).</param>
    /// <param name="logNoiseVariance">log σ², [batch, 1, 1].</param>
    /// <param name="jitter">A constant added to each problem's diagonal (length batch), or null for none.</param>
    /// <returns>The NLL, [batch, 1, 1].</returns>
    /// <exception cref="ArgumentException">The shapes do not agree, or the jitter's length is not the batch (raised when recorded).</exception>
    /// <exception cref="NotPositiveDefiniteException">K is not positive-definite (batch element and minor named).</exception>
    /// <remarks>
    /// Forward mode forms K⁻¹ in a second n×n buffer (the factor is kept for reverse mode); reverse
    /// mode needs none.
    /// </remarks>
    public static Var<T> GpNegativeLogMarginalLikelihood<T>(Var<T> x, Var<T> y, StationaryKernel kernel, Var<T> logSignalVariance,
        Var<T> logLengthscales, Var<T> logNoiseVariance, double[]? jitter = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        GpLikelihoodNode<T>.Record(x, y, kernel, logSignalVariance, logLengthscales, logNoiseVariance, jitter, throwOnFailure: true).Nll;

    /// <summary>
    /// <see cref="GpNegativeLogMarginalLikelihood{T}"/> that returns the Cholesky info codes of K
    /// ([batch, 1, 1]: 0, or the one-based order of the first leading minor that is not
    /// positive-definite) instead of throwing; the NLL of a failed problem is unspecified, and so is
    /// its gradient. The caller owns <c>Info</c>.
    /// </summary>
    /// <param name="x">Training inputs [batch, n, d].</param>
    /// <param name="y">Targets [batch, n, 1].</param>
    /// <param name="kernel">The stationary covariance function.</param>
    /// <param name="logSignalVariance">log s², [batch, 1, 1].</param>
    /// <param name="logLengthscales">log ℓ: [batch, 1, 1] (isotropic) or [batch, 1, d] (ARD).</param>
    /// <param name="logNoiseVariance">log σ², [batch, 1, 1].</param>
    /// <param name="jitter">A constant added to each problem's diagonal (length batch), or null for none.</param>
    /// <exception cref="ArgumentException">The shapes do not agree, or the jitter's length is not the batch (raised when recorded).</exception>
    public static (Var<T> Nll, DeviceTensor<int> Info) GpNegativeLogMarginalLikelihoodEx<T>(Var<T> x, Var<T> y, StationaryKernel kernel,
        Var<T> logSignalVariance, Var<T> logLengthscales, Var<T> logNoiseVariance, double[]? jitter = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (nll, node) = GpLikelihoodNode<T>.Record(x, y, kernel, logSignalVariance, logLengthscales, logNoiseVariance, jitter, throwOnFailure: false);
        return (nll, node.Info!);
    }
}

/// <summary>
/// NLL = ½·yᵀα + Σᵢ log Lᵢᵢ + (n/2)·log 2π, K = L·Lᵀ = s²·k(D) + (σ² + jitter)·I, α = K⁻¹y,
/// D_ik = Σₘ ((x_im − x_km)/ℓₘ)².
/// Derivative: dNLL = ½·tr(K⁻¹dK) − ½·αᵀdK·α + αᵀdy = ½·⟨W, dK⟩ + ⟨α, dy⟩, W = K⁻¹ − ααᵀ
/// (Rasmussen and Williams 2006, eq. 5.9), with dK = s²·k(D)·d log s² + σ²·I·d log σ² +
/// s²·k′(D)∘dD and dD_ik = Σₘ 2wₘ²Δₘ·(dΔₘ − Δₘ·d log ℓₘ), w = 1/ℓ, Δₘ = x_im − x_km.
/// Adjoint: a scalar function of each input, so each cotangent is ȳ times the coefficient of its
/// differential: ∂/∂log s² = ½·s²·⟨W, k(D)⟩, ∂/∂log σ² = ½·σ²·tr W,
/// ∂/∂log ℓₘ = −s²·Σᵢₖ W_ik·k′(D_ik)·(wₘΔₘ)², ∂/∂x_im = 2s²wₘ²·Σₖ W_ik·k′(D_ik)·Δₘ (W symmetric),
/// ∂/∂y = α. The contractions (<see cref="GpContraction"/>) recompute D, k and k′ from X per
/// element: K⁻¹ is formed in place of L (<see cref="Blas.Potri{T}(Device, MatRef{T}, int)"/>) and
/// nothing else of size n² exists. The composed graph of the same function stays the oracle in
/// the tests.
/// </summary>
internal sealed class GpLikelihoodNode<T> : Node<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal const string OpName = "GpNegativeLogMarginalLikelihood";

    private readonly StationaryKernel kernel;
    private readonly double[]? jitter;
    private readonly bool throwOnFailure;
    private readonly CholeskyPlan plan;

    /// <summary>The plan of K's factorization, from the tape's <see cref="Tape.CholeskyOptions"/> when the op was recorded.</summary>
    internal CholeskyPlan Plan => plan;
    private readonly CholeskyInversePlan inversePlan;
    private DeviceTensor<T>? buffer;   // K, then L, then (after the first VJP) K⁻¹
    private bool inverted;
    private DeviceTensor<T>? alpha, w, s2, n2;

    private GpLikelihoodNode(Var<T> x, Var<T> y, StationaryKernel kernel, Var<T> logS2, Var<T> logL, Var<T> logN2, double[]? jitter,
        bool throwOnFailure, CholeskyPlan plan, CholeskyInversePlan inversePlan)
        : base(OpName, x, y, logS2, logL, logN2)
    {
        this.kernel = kernel;
        this.jitter = jitter?.ToArray();
        this.throwOnFailure = throwOnFailure;
        this.plan = plan;
        this.inversePlan = inversePlan;
    }

    /// <summary>The info codes, for the non-throwing variant (owned by its caller).</summary>
    internal DeviceTensor<int>? Info { get; private set; }

    private int Batch => In[0].Shape.Batch;
    private int N => In[0].Shape.Rows;

    internal static (Var<T> Nll, GpLikelihoodNode<T> Node) Record(Var<T> x, Var<T> y, StationaryKernel kernel, Var<T> logS2, Var<T> logL, Var<T> logN2,
        double[]? jitter, bool throwOnFailure)
    {
        var tape = Tape.Of(OpName, x, y, logS2, logL, logN2);
        if (!Enum.IsDefined(kernel)) throw new ArgumentOutOfRangeException(nameof(kernel), kernel, $"{OpName}: unknown kernel.");
        var xs = x.Shape;
        int batch = xs.Batch, n = xs.Rows, d = xs.Cols;
        if (d < 1) throw ShapeErrors.Invalid(OpName, "X must have at least one column", xs);
        if (y.Shape != new Shape(batch, n, 1)) throw ShapeErrors.Mismatch(OpName, "y must be [batch, n, 1] for X [batch, n, d]", xs, y.Shape);
        foreach (var h in new[] { logS2.Shape, logN2.Shape })
            if (h != new Shape(batch, 1, 1)) throw ShapeErrors.Mismatch(OpName, "log s² and log σ² must be [batch, 1, 1] for X [batch, n, d]", xs, h);
        if (logL.Shape != new Shape(batch, 1, 1) && logL.Shape != new Shape(batch, 1, d))
            throw ShapeErrors.Mismatch(OpName, "log ℓ must be [batch, 1, 1] or [batch, 1, d] for X [batch, n, d]", xs, logL.Shape);
        if (jitter is not null && jitter.Length != batch)
            throw new ArgumentException($"{OpName}: the jitter holds {jitter.Length} values for a batch of {batch}.", nameof(jitter));
        var plan = CholeskyPolicy.Plan<T>(tape.Device, new Shape(batch, n, n), tape.CholeskyOptions, OpName); // the tape's options, as every Cholesky on it
        var inversePlan = CholeskyInversePlan.For<T>(tape.Device, n, batch);
        var node = new GpLikelihoodNode<T>(x, y, kernel, logS2, logL, logN2, jitter, throwOnFailure, plan, inversePlan);
        return (tape.Record(node), node);
    }

    /// <summary>
    /// The pool bytes one forward and reverse pass of the op allocate for a batch of problems, each
    /// allocation rounded to the pool's size class (<see cref="BufferPool.SizeClass"/>): K (the one
    /// n×n buffer), the Cholesky factor's workspace (<see cref="CholeskyPlan.ForwardWorkspaceBytes"/>,
    /// for the automatic plan: the reverse goes through the inverse, never the Cholesky's reverse),
    /// the in-place inverse's row buffer and work block, and the O(n·(d + q)) vectors.
    /// </summary>
    internal static long DeviceBytes(Device device, int batch, int n, int d, int q)
    {
        long size = System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        long Bytes(long rows, long cols) => BufferPool.SizeClass(batch * rows * cols * size);
        var inverse = CholeskyInversePlan.For<T>(device, n, batch);
        long nb = Math.Min(inverse.BlockSize, n);
        var cholesky = CholeskyPlan.For<T>(device, n, batch);
        return Bytes(n, n)                                            // K, then L, then K⁻¹
            + cholesky.ForwardWorkspaceBytes((int)size, BufferPool.SizeClass) // the factor's blocks
            + (n > inverse.BlockSize ? Bytes(inverse.BlockSize, n) : 0) + Bytes(nb, nb) // the inverse's row buffer and work block
            + Bytes(n, 2 + q + d) + Bytes(n, d)                        // the contraction's rows, X̄
            + 4 * Bytes(n, 1)                                         // α, the logs of L's diagonal, ȳ·α, ones
            + Bytes(1, q) + 12 * Bytes(1, 1) + Bytes(1, 2 + q)        // w, s², σ², info, the NLL's parts, θ̄
            + BufferPool.SizeClass(n * size);                         // the row of ones that sums θ̄
    }

    internal override IEnumerable<IVar> SavedVars
    {
        get
        {
            if (In.Any(v => v.RequiresGrad)) yield return In[0];
        }
    }

    internal override DeviceTensor<T> Forward()
    {
        var x = In[0].Value;
        int batch = Batch, n = N;
        var hyper = new Shape(batch, 1, 1);
        w = MapNew(new Maps.Axpby<T>(-T.One, T.Zero), In[3].Value);                                   // −log ℓ
        Elementwise.Map(Device, new Maps.Exp<T>(T.One), w.Mat, w.Mat);                                // w = 1/ℓ
        s2 = MapNew(new Maps.Exp<T>(T.One), In[2].Value);
        n2 = MapNew(new Maps.Exp<T>(T.One), In[4].Value);
        using var diagonal = MapNew(new Maps.Axpby<T>(T.One, T.Zero), n2.Mat, n2.Mat, YAccess.Same, hyper); // σ² + jitter
        if (jitter is not null && jitter.Any(j => j != 0))
        {
            using var extra = Device.Upload<T>(jitter.Select(T.CreateChecked).ToArray(), hyper);
            Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), diagonal.Mat, extra.Mat, YAccess.Same, diagonal.Mat);
        }

        // K = s²·k(D) + (σ² + jitter)·I, built in the one n×n buffer and factored there.
        buffer = Device.Allocate<T>(new Shape(batch, n, n));
        var k = buffer.Mat;
        GpContraction.Covariance(Device, kernel, x.Mat, w.Mat, s2.Mat, diagonal.Mat, k);
        var codes = Device.Allocate<int>(hyper);
        Blas.Potrf(Device, k, codes, plan);
        if (throwOnFailure)
        {
            var host = codes.ToArray();
            codes.Dispose();
            int failed = Array.FindIndex(host, c => c != 0);
            if (failed >= 0) throw new NotPositiveDefiniteException(OpName, failed, host[failed]);
        }
        else Info = codes;

        // z = L⁻¹y, NLL = ½‖z‖² + Σ log Lᵢᵢ + (n/2) log 2π, α = L⁻ᵀz.
        alpha = In[1].Value.Clone();
        Blas.Trsm(Device, k, alpha.Mat, left: true, lower: true, transpose: false, unitDiagonal: false, T.One);
        using var quadratic = ReduceNew(alpha.Mat, alpha.Mat);
        var diag = Elementwise.Diagonal(k);
        using var logs = Device.Allocate<T>(new Shape(batch, n, 1));
        Elementwise.Map(Device, new Maps.Log<T>(T.One), diag, diag, YAccess.Same, logs.Mat);
        using var halfLogDet = ReduceNew(logs.Mat, null);
        var nll = MapNew(new Maps.Axpby<T>(C(0.5), T.One), quadratic.Mat, halfLogDet.Mat, YAccess.Same, hyper);
        Elementwise.Map(Device, new Maps.AddDiagonal<T>(T.One, C(0.5 * n * Math.Log(2 * Math.PI))), nll.Mat, nll.Mat);
        Blas.Trsm(Device, k, alpha.Mat, left: true, lower: true, transpose: true, unitDiagonal: false, T.One);
        return nll;
    }

    /// <summary>K⁻¹ in place of L (once; a retained graph's later passes reuse it).</summary>
    private MatRef<T> Inverse()
    {
        if (!inverted)
        {
            Blas.Potri(Device, buffer!.Mat, inversePlan);
            inverted = true;
        }
        return buffer!.Mat;
    }

    // ẏ = ½·Σᵢ (Σₖ W_ik·dK_ik) + αᵀẏ; K⁻¹ formed in a second buffer (the factor is kept for the VJP).
    internal override DeviceTensor<T> Jvp(DeviceTensor<T>?[] t)
    {
        int batch = Batch, n = N;
        var owned = new List<DeviceTensor<T>>();
        MatRef<T> Tangent(int i)
        {
            if (t[i] is { } given) return given.Mat;
            var zero = Device.Allocate<T>(In[i].Shape);
            zero.Clear();
            owned.Add(zero);
            return zero.Mat;
        }
        try
        {
            using var inverse = buffer!.Clone();
            if (!inverted) Blas.Potri(Device, inverse.Mat, inversePlan);
            using var rows = Device.Allocate<T>(new Shape(batch, n, 1));
            GpContraction.Jvp(Device, kernel, inverse.Mat, alpha!.Mat, In[0].Value.Mat, w!.Mat, s2!.Mat, n2!.Mat,
                Tangent(0), Tangent(3), Tangent(2), Tangent(4), rows.Mat);
            var result = ReduceNew(rows.Mat, null);
            if (t[1] is { } ydot)
            {
                using var fit = ReduceNew(alpha.Mat, ydot.Mat);
                Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), result.Mat, fit.Mat, YAccess.Same, result.Mat);
            }
            return result;
        }
        finally
        {
            foreach (var z in owned) z.Dispose();
        }
    }

    internal override void Vjp(DeviceTensor<T> ybar, Grads<T> grads)
    {
        int batch = Batch, n = N, d = In[0].Shape.Cols, q = In[3].Shape.Cols, p = 2 + q;
        if (grads.Needs(1)) grads.Add(1, MapNew(new Maps.Multiply<T>(T.One), alpha!.Mat, ybar.Mat, YAccess.ScalarPerMatrix, alpha.Shape)); // ȳ·α
        if (!grads.Needs(0) && !grads.Needs(2) && !grads.Needs(3) && !grads.Needs(4)) return;
        var s = Inverse();
        using var rows = Device.Allocate<T>(new Shape(batch, n, p + d));
        GpContraction.Vjp(Device, kernel, s, alpha!.Mat, In[0].Value.Mat, w!.Mat, s2!.Mat, n2!.Mat, ybar.Mat, rows.Mat);
        if (grads.Needs(0)) grads.Add(0, MapNew(new Maps.Axpby<T>(T.One, T.Zero), rows.Mat.Block(0, p, n, d), rows.Mat.Block(0, p, n, d), YAccess.Same, In[0].Shape));
        if (!grads.Needs(2) && !grads.Needs(3) && !grads.Needs(4)) return;
        // θ̄ = 1ᵀ·rows[:, :p]: the rows summed in a fixed order.
        using var ones = Device.Upload<T>(Enumerable.Repeat(T.One, n).ToArray(), new Shape(1, 1, n));
        using var theta = Device.Allocate<T>(new Shape(batch, 1, p));
        Blas.Gemm(Device, Bc(ones, batch), false, rows.Mat.Block(0, 0, n, p), false, theta.Mat, T.One, T.Zero);
        void Put(int input, int col, int cols)
        {
            if (!grads.Needs(input)) return;
            var block = theta.Mat.Block(0, col, 1, cols);
            grads.Add(input, MapNew(new Maps.Axpby<T>(T.One, T.Zero), block, block, YAccess.Same, new Shape(batch, 1, cols)));
        }
        Put(2, 0, 1);
        Put(3, 1, q);
        Put(4, 1 + q, 1);
    }

    protected override void ReleaseSaved()
    {
        buffer?.Dispose();
        alpha?.Dispose();
        w?.Dispose();
        s2?.Dispose();
        n2?.Dispose();
        buffer = alpha = w = s2 = n2 = null;
    }
}
