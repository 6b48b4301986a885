using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD;

/// <summary>One recorded application of an op: its inputs, output and what its VJP needs.</summary>
internal abstract class Node
{
    protected Node(string name) => Name = name;

    /// <summary>The op's name, used in errors.</summary>
    internal string Name { get; }

    /// <summary>Position on the tape (record order).</summary>
    internal int Index { get; set; }

    /// <summary>True once a backward pass released what this node saved.</summary>
    internal bool Released { get; private set; }

    internal abstract IReadOnlyList<IVar> InputVars { get; }

    internal abstract IVar OutputVar { get; }

    /// <summary>Vars whose values the VJP reads (inputs or the output).</summary>
    internal abstract IEnumerable<IVar> SavedVars { get; }

    /// <summary>Runs the VJP if a cotangent reached the output; accumulates into the inputs' gradients.</summary>
    internal abstract void RunVjp();

    /// <summary>Frees tensors the op saved for its VJP (beyond var values) and marks the node released.</summary>
    internal void Release()
    {
        if (Released) return;
        Released = true;
        ReleaseSaved();
    }

    protected virtual void ReleaseSaved() { }
}

/// <summary>
/// An op node over element type <typeparamref name="T"/>. Subclasses (one per op, in
/// src/Graph/Ops) compute the forward value, the JVP (output tangent from input tangents) and the
/// VJP (input cotangents from the output cotangent).
/// </summary>
internal abstract class Node<T> : Node where T : unmanaged, IFloatingPointIeee754<T>
{
    protected Node(string name, params Var<T>[] inputs) : base(name) => In = inputs;

    /// <summary>The inputs, in call order.</summary>
    internal Var<T>[] In { get; }

    /// <summary>The output (set once recorded).</summary>
    internal Var<T> Out { get; set; } = null!;

    protected Device Device => In[0].Tape.Device;

    internal override IReadOnlyList<IVar> InputVars => In;

    internal override IVar OutputVar => Out;

    internal override IEnumerable<IVar> SavedVars => Array.Empty<IVar>();

    /// <summary>Computes the output value (a new tensor the output var owns).</summary>
    internal abstract DeviceTensor<T> Forward();

    /// <summary>
    /// The output tangent from the input tangents (null entries are zero tangents; at least one is
    /// non-null). Returns a new tensor.
    /// </summary>
    internal abstract DeviceTensor<T> Jvp(DeviceTensor<T>?[] tangents);

    /// <summary>
    /// Accumulates the input cotangents for <paramref name="cotangent"/> (the output's) into
    /// <paramref name="grads"/>, for the inputs that need one.
    /// </summary>
    internal abstract void Vjp(DeviceTensor<T> cotangent, Grads<T> grads);

    internal override void RunVjp()
    {
        if (Released)
            throw new InvalidOperationException($"Backward: {Name}'s saved buffers were released by a previous Backward; pass BackwardOptions {{ RetainGraph = true }} to the first call to run backward twice.");
        var cotangent = Out.Grad;
        if (cotangent is null) return; // a zero cotangent: nothing to launch
        Vjp(cotangent, new Grads<T>(In));
    }

    /// <summary>
    /// Takes the output's cotangent — the tensor <see cref="Vjp"/> received — out of the tape's
    /// hands, so the VJP may hand its memory on as an input's gradient. The tape releases the
    /// cotangent right after the VJP otherwise; no other node holds it (every VJP gives its inputs
    /// tensors of their own).
    /// </summary>
    protected DeviceTensor<T> TakeCotangent()
    {
        var cotangent = Out.Grad ?? throw new InvalidOperationException($"Internal: {Name} has no cotangent to take.");
        Out.Grad = null;
        return cotangent;
    }

    /// <summary>A value of T from a double constant.</summary>
    protected static T C(double value) => T.CreateTruncating(value);

    /// <summary>The tensor as a batch of <paramref name="batch"/> matrices (a batch of 1 broadcasts).</summary>
    protected MatRef<T> Bc(DeviceTensor<T> t, int batch) => Blas.Broadcast(t, batch, Name);

    /// <summary>A new tensor <c>op(x, y)</c> of shape <paramref name="shape"/> (see <see cref="Elementwise"/>).</summary>
    protected DeviceTensor<T> MapNew<TOp>(TOp op, MatRef<T> x, MatRef<T> y, YAccess access, Shape shape) where TOp : struct, IElementMap<T>
    {
        var result = Device.Allocate<T>(shape);
        Elementwise.Map(Device, op, x, y, access, result.Mat);
        return result;
    }

    /// <summary>A new tensor <c>op(x)</c> of x's shape.</summary>
    protected DeviceTensor<T> MapNew<TOp>(TOp op, DeviceTensor<T> x) where TOp : struct, IElementMap<T> =>
        MapNew(op, x.Mat, x.Mat, YAccess.Same, x.Shape);

    /// <summary>
    /// A new tensor <c>op(x, y)</c> of shape <paramref name="shape"/> for a binary elementwise op
    /// that broadcasts: x and y each have the output's matrix shape or are a scalar per matrix
    /// (1×1), and a batch of 1 broadcasts. The launchers broadcast only their second operand, so a
    /// scalar x runs as <see cref="Maps.Swapped{T, TOp}"/> over (y, x), and when both are scalars
    /// of a larger output x is first spread over the matrix.
    /// </summary>
    protected DeviceTensor<T> MapBroadcast<TOp>(TOp op, DeviceTensor<T> x, DeviceTensor<T> y, Shape shape) where TOp : struct, IElementMap<T>
    {
        bool matrix = shape.Rows != 1 || shape.Cols != 1;
        bool xScalar = matrix && x.Rows == 1 && x.Cols == 1, yScalar = matrix && y.Rows == 1 && y.Cols == 1;
        var yAccess = yScalar ? YAccess.ScalarPerMatrix : YAccess.Same;
        if (!xScalar) return MapNew(op, Bc(x, shape.Batch), Bc(y, shape.Batch), yAccess, shape);
        if (!yScalar) return MapNew(new Maps.Swapped<T, TOp>(op), Bc(y, shape.Batch), Bc(x, shape.Batch), YAccess.ScalarPerMatrix, shape);
        using var spread = Device.Allocate<T>(shape);
        // Transpose's map is α·y and ignores its first operand; with y a scalar per matrix it fills.
        Elementwise.Map(Device, new Maps.Transpose<T>(T.One), spread.Mat, Bc(x, shape.Batch), YAccess.ScalarPerMatrix, spread.Mat);
        return MapNew(op, spread.Mat, Bc(y, shape.Batch), YAccess.ScalarPerMatrix, shape);
    }

    /// <summary>A new tensor α·xᵀ (the transpose of every matrix).</summary>
    protected DeviceTensor<T> TransposeNew(DeviceTensor<T> x, T alpha)
    {
        var result = Device.Allocate<T>(x.Shape.Transposed);
        // The map ignores its first operand; the output stands in for it.
        Elementwise.Map(Device, new Maps.Transpose<T>(alpha), result.Mat, x.Mat, YAccess.Transposed, result.Mat);
        return result;
    }

    /// <summary>A new tensor ½(x + xᵀ) (exactly symmetric).</summary>
    protected DeviceTensor<T> SymmetrizeNew(DeviceTensor<T> x) => MapNew(new Maps.Symmetrize<T>(), x.Mat, x.Mat, YAccess.Transposed, x.Shape);

    /// <summary>A new tensor: op(T)⁻¹·B (left) or B·op(T)⁻¹ (right), B broadcast to <paramref name="batch"/>.</summary>
    protected DeviceTensor<T> TrsmNew(MatRef<T> t, MatRef<T> b, int batch, bool left, bool lower, bool transpose, bool unitDiagonal = false)
    {
        var x = Device.Allocate<T>(new Shape(batch, b.Rows, b.Cols));
        Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.Zero), b.WithBatch(batch), b.WithBatch(batch), YAccess.Same, x.Mat);
        Blas.Trsm(Device, t, x.Mat, left, lower, transpose, unitDiagonal, T.One);
        return x;
    }

    /// <summary>
    /// The lower Cholesky factor of Σ in a new tensor (Σ untouched); throws, naming this op, the
    /// first failing batch element and its leading minor, when a matrix is not positive-definite.
    /// Reads the info codes back to the host: a forward-pass check, never used in a VJP.
    /// </summary>
    /// <param name="sigma">The matrices to factor.</param>
    /// <param name="plan">The plan made for them when the op was recorded.</param>
    protected DeviceTensor<T> CholeskyFactor(DeviceTensor<T> sigma, CholeskyPlan plan)
    {
        var l = sigma.Clone();
        using var info = Device.Allocate<int>(new Shape(sigma.Batch, 1, 1));
        Blas.Potrf(Device, l.Mat, info, plan);
        var codes = info.ToArray();
        int failed = Array.FindIndex(codes, c => c != 0);
        if (failed < 0) return l;
        l.Dispose();
        throw new NotPositiveDefiniteException(Name, failed, codes[failed]);
    }

    /// <summary>A new batch of 1×1 matrices: Σᵢⱼ x∘y per matrix (or Σ x when y is null).</summary>
    protected DeviceTensor<T> ReduceNew(MatRef<T> x, MatRef<T>? y)
    {
        var result = Device.Allocate<T>(new Shape(x.Batch, 1, 1));
        Elementwise.Reduce(Device, x, y, result.Mat);
        return result;
    }
}

/// <summary>Where a VJP puts the input cotangents: accumulates, and sums broadcast batches.</summary>
internal readonly struct Grads<T>(Var<T>[] inputs) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>True when input <paramref name="i"/> needs a gradient.</summary>
    public bool Needs(int i) => inputs[i].RequiresGrad;

    /// <summary>
    /// Adds <paramref name="contribution"/> (taking ownership) to input i's gradient. A contribution
    /// with a larger batch than a batch-1 input is summed over the batch; one with larger matrices
    /// than an input that is a scalar per matrix (1×1, broadcast by an elementwise op) is summed over
    /// each matrix first.
    /// </summary>
    public void Add(int i, DeviceTensor<T> contribution)
    {
        var v = inputs[i];
        var shape = v.Shape;
        if (shape.Rows == 1 && shape.Cols == 1 && (contribution.Rows != 1 || contribution.Cols != 1))
        {
            var sums = contribution.Device.Allocate<T>(new Shape(contribution.Batch, 1, 1));
            Elementwise.Reduce(contribution.Device, contribution.Mat, null, sums.Mat);
            contribution.Dispose();
            Add(i, sums);
            return;
        }
        if (contribution.Shape == shape)
        {
            if (v.Grad is null)
            {
                v.Grad = contribution;
                return;
            }
            var g = v.Grad;
            Elementwise.Map(g.Device, new Maps.Axpby<T>(T.One, T.One), g.Mat, contribution.Mat, YAccess.Same, g.Mat);
            contribution.Dispose();
            return;
        }
        if (shape.Batch == 1 && contribution.Rows == shape.Rows && contribution.Cols == shape.Cols)
        {
            bool fresh = v.Grad is null;
            v.Grad ??= contribution.Device.Allocate<T>(shape);
            Elementwise.SumBatch(contribution.Device, contribution.Mat, v.Grad.Mat, T.One, fresh ? T.Zero : T.One);
            contribution.Dispose();
            return;
        }
        throw new InvalidOperationException($"Internal: a gradient of shape {contribution.Shape} does not fit an input of shape {shape}.");
    }

    /// <summary>
    /// Input i's gradient as a GEMM target when no batch reduction is needed: allocated if absent
    /// (then β = 0: write) or existing (β = 1: accumulate). False when the input broadcasts.
    /// </summary>
    public bool TryTarget(int i, int batch, out DeviceTensor<T> target, out T beta)
    {
        var v = inputs[i];
        if (v.Shape.Batch != batch)
        {
            target = null!;
            beta = T.Zero;
            return false;
        }
        beta = v.Grad is null ? T.Zero : T.One;
        v.Grad ??= v.Tape.Device.Allocate<T>(v.Shape);
        target = v.Grad;
        return true;
    }

    /// <summary>Input i's gradient += α·op(A)·op(B) (batched; summed over the batch when input i broadcasts).</summary>
    public void AddGemm(int i, MatRef<T> a, bool transA, MatRef<T> b, bool transB, T alpha, int batch)
    {
        var device = inputs[i].Tape.Device;
        if (TryTarget(i, batch, out var target, out var beta))
        {
            Blas.Gemm(device, a, transA, b, transB, target.Mat, alpha, beta);
            return;
        }
        var shape = inputs[i].Shape.WithBatch(batch);
        var tmp = device.Allocate<T>(shape);
        Blas.Gemm(device, a, transA, b, transB, tmp.Mat, alpha, T.Zero);
        Add(i, tmp);
    }
}
