using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD;

/// <summary>
/// Records ops applied to <see cref="Var{T}"/>s (define-by-run) and differentiates them on the
/// device: <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/> runs the VJPs in reverse record order, forward mode runs
/// each op's JVP as it is recorded when an input carries a tangent.
/// </summary>
/// <remarks>
/// <para>
/// A backward pass makes no device-to-host copy: it only queues launches. It releases what it
/// saved at its last use (see <see cref="Var{T}.Value"/>), so a second pass over the same ops
/// needs <see cref="BackwardOptions.RetainGraph"/> on the first. Not thread-safe: use one tape per thread (tapes on
/// one device may run on different threads at once; the device serializes their launches).
/// </para>
/// <para>
/// Memory: a pass without <see cref="BackwardOptions.RetainGraph"/> frees, as soon as it no longer needs them, the values
/// of the ops it differentiates — the values no VJP saved when it starts, the saved ones at their
/// last use — and forgets those ops once it finishes; only its output and the values marked with
/// <see cref="Var{T}.Keep"/> stay readable, the output until the next <see cref="ZeroGrad"/>. So one
/// tape can run any number of steps (forward, <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>, update, <see cref="ZeroGrad"/>)
/// without growing. Values that need no gradient (ops on constants only) and kept values stay
/// until <see cref="Reset"/> or <see cref="Dispose"/>. The tape counts the device bytes its own
/// tensors hold (<see cref="BytesInUse"/>, <see cref="PeakBytes"/>, <see cref="LastBackwardPeakBytes"/>)
/// apart from every other tape on the device.
/// </para>
/// <para>
/// Element types: float and double. The constraint <see cref="IFloatingPointIeee754{TSelf}"/>
/// rules out integers and decimal at compile time; the other IEEE types that satisfy it (Half,
/// NFloat) are refused when a leaf is created, with a <see cref="NotSupportedException"/>.
/// </para>
/// </remarks>
public sealed partial class Tape : IDisposable
{
    private readonly List<Node> nodes = new();          // recorded for backward, not yet finished
    private readonly List<IVar> vars = new();           // every var whose buffers the tape may hold
    private readonly List<IVar> finishedOutputs = new(); // outputs of finished passes, freed by ZeroGrad
    private readonly MemoryAccount account = new();
    private CholeskyOptions cholesky = CholeskyOptions.Default;
    private int nextId, nextNodeIndex;
    private bool disposed;

    /// <summary>Creates an empty tape on a device.</summary>
    public Tape(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
    }

    /// <summary>Creates an empty tape on a device whose Cholesky-based ops default to <paramref name="cholesky"/>.</summary>
    /// <param name="device">The device every value lives on.</param>
    /// <param name="cholesky">The default options (see <see cref="CholeskyOptions"/>).</param>
    public Tape(Device device, CholeskyOptions cholesky) : this(device) => CholeskyOptions = cholesky;

    /// <summary>The device every value of this tape lives on.</summary>
    public Device Device { get; }

    /// <summary>
    /// The options every Cholesky recorded on this tape starts from (an op's own options override
    /// them field by field): the tape-wide default, in place of process-wide state. Read when an op
    /// is recorded. Initially <see cref="CholeskyOptions.Default"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException">Set to null.</exception>
    public CholeskyOptions CholeskyOptions
    {
        get => cholesky;
        set => cholesky = value ?? throw new ArgumentNullException(nameof(value));
    }

    /// <summary>Ops recorded for backward and not yet finished by a pass (ops whose output needs no gradient are not kept).</summary>
    public int NodeCount => nodes.Count;

    /// <summary>
    /// Device bytes (whole pool blocks) held now by the tensors this tape allocated: uploaded
    /// values, op outputs, tangents, gradients and cotangents it took (<see cref="BackwardOptions.TakeOwnership"/>).
    /// Tensors a caller passed in are not counted. Other tapes on the device do not affect it.
    /// </summary>
    public long BytesInUse => account.BytesInUse;

    /// <summary>The largest <see cref="BytesInUse"/> since the tape was created or <see cref="ResetPeak"/>, temporaries of its ops and passes included.</summary>
    public long PeakBytes => account.PeakBytes;

    /// <summary>
    /// The largest <see cref="BytesInUse"/> during the last <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/> (this tape's
    /// tensors only: other tapes, concurrent or not, never change it).
    /// </summary>
    public long LastBackwardPeakBytes { get; private set; }

    /// <summary>Starts a new <see cref="PeakBytes"/> measurement at the current <see cref="BytesInUse"/>.</summary>
    public void ResetPeak() => account.ResetPeak();

    /// <summary>A variable: a leaf whose gradient is computed. The tape does not own <paramref name="value"/>.</summary>
    /// <param name="value">The value, on this tape's device.</param>
    /// <param name="tangent">Optional forward-mode tangent of the same shape (not owned either).</param>
    /// <exception cref="ArgumentException">Another device, or the tangent's shape differs.</exception>
    public Var<T> Variable<T>(DeviceTensor<T> value, DeviceTensor<T>? tangent = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Leaf(value, requiresGrad: true, owns: false, tangent, ownsTangent: false);

    /// <summary>
    /// A constant that composite functions create for their own use (an identity, a scalar): the
    /// first pass that differentiates an op reading it frees it with that op's values.
    /// </summary>
    internal Var<T> TransientConstant<T>(T[] data, Shape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var v = Constant<T>(data, shape);
        ((IVar)v).Transient = true;
        return v;
    }

    /// <summary>Sets (or clears, with null) a leaf's forward-mode tangent before ops are recorded on it. Not owned.</summary>
    /// <exception cref="ArgumentException">The shapes differ, or the var is not a leaf of this tape.</exception>
    public void SetTangent<T>(Var<T> leaf, DeviceTensor<T>? tangent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        if (leaf.Tape != this || !leaf.IsLeaf)
            throw new ArgumentException("SetTangent: the var must be a leaf of this tape.");
        CheckTangent("SetTangent", leaf.Shape, tangent);
        using var charge = account.Enter();
        var copy = tangent?.Clone();
        leaf.Tangent?.Dispose();
        leaf.Tangent = copy;
    }

    private Var<T> UploadLeaf<T>(ReadOnlySpan<T> data, Shape shape, bool hasTangent, ReadOnlySpan<T> tangent, bool requiresGrad)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        // Every check before the first upload, so that a refused call leaves nothing in the pool.
        ThrowIfDisposed();
        string op = requiresGrad ? "Variable" : "Constant";
        RequireFloatOrDouble<T>(op);
        HostTensors.ExpectLength(data.Length, shape, op, nameof(data));
        if (hasTangent) HostTensors.ExpectLength(tangent.Length, shape, op, nameof(tangent));
        using var charge = account.Enter();
        DeviceTensor<T>? value = null, t = null;
        try
        {
            value = Device.Upload(data, shape);
            if (hasTangent) t = Device.Upload(tangent, shape);
            return Leaf(value, requiresGrad, owns: true, t, ownsTangent: true);
        }
        catch
        {
            t?.Dispose();
            value?.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The element types the kernels compute in. The constraint <see cref="IFloatingPointIeee754{TSelf}"/>
    /// rules out integers and decimal at compile time; Half and NFloat satisfy it and are refused here.
    /// </summary>
    private static void RequireFloatOrDouble<T>(string op)
    {
        if (typeof(T) != typeof(float) && typeof(T) != typeof(double))
            throw new NotSupportedException($"{op}: element type {typeof(T).Name} is not supported (float or double).");
    }

    private Var<T> Leaf<T>(DeviceTensor<T> value, bool requiresGrad, bool owns, DeviceTensor<T>? tangent, bool ownsTangent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        RequireFloatOrDouble<T>(requiresGrad ? "Variable" : "Constant");
        ArgumentNullException.ThrowIfNull(value);
        if (value.IsDisposed)
            throw new ObjectDisposedException(nameof(DeviceTensor<T>), $"Tape: the tensor {value.Shape} passed as a leaf has been disposed.");
        if (value.Device != Device)
            throw new ArgumentException($"Tape: the tensor lives on {value.Device} but the tape on {Device}.");
        CheckTangent("Variable", value.Shape, tangent);
        using var charge = account.Enter();
        var v = new Var<T>(this, value, requiresGrad, owns, null, ownsTangent ? tangent : tangent?.Clone());
        vars.Add(v);
        return v;
    }

    private void CheckTangent<T>(string op, Shape shape, DeviceTensor<T>? tangent) where T : unmanaged, INumber<T>
    {
        if (tangent is null) return;
        string what = op == "Backward" ? "cotangent" : "tangent";
        if (tangent.Shape != shape) throw ShapeErrors.Mismatch(op, $"the {what} must have the value's shape", shape, tangent.Shape);
        if (tangent.Device != Device) throw new ArgumentException($"{op}: the {what} lives on {tangent.Device} but the tape on {Device}.");
        if (tangent.IsDisposed) throw new ObjectDisposedException(nameof(DeviceTensor<T>), $"{op}: the {what} {tangent.Shape} has been disposed.");
    }

    private void CheckOutput<T>(Var<T> output) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(output);
        if (output.Tape != this) throw new ArgumentException("Backward: the output belongs to another tape.");
    }

    internal int NextId() => nextId++;

    /// <summary>The tape of an op's inputs; they must all belong to one live tape.</summary>
    internal static Tape Of(string op, params IVar[] inputs)
    {
        Tape? tape = null;
        foreach (var v in inputs)
        {
            ArgumentNullException.ThrowIfNull(v, op);
            var t = v switch { Var<float> f => f.Tape, Var<double> d => d.Tape, _ => throw new ArgumentException($"{op}: unsupported value type.") };
            if (tape is null) tape = t;
            else if (tape != t) throw new ArgumentException($"{op}: the inputs belong to different tapes.");
        }
        tape!.ThrowIfDisposed();
        return tape;
    }

    /// <summary>
    /// Runs the node's forward (and JVP if any input has a tangent) and records it. If either
    /// throws (out of memory, a numerical error), every tensor they allocated goes back to the
    /// pool and the tape is left as it was.
    /// </summary>
    internal Var<T> Record<T>(Node<T> node) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        foreach (var input in node.In)
        {
            if (input.IsReleased)
                throw new InvalidOperationException($"{node.Name}: an input ({input}) was released by a previous Backward (or by ZeroGrad after it); Keep() it to reuse it.");
            if (input.Value.IsDisposed)
                throw new ObjectDisposedException(nameof(DeviceTensor<T>), $"{node.Name}: the tensor of an input ({input}) has been disposed.");
        }
        bool requiresGrad = node.In.Any(v => v.RequiresGrad);
        Var<T> output;
        using (account.Enter())
        using (var scope = AllocationScope.Open())
        {
            try
            {
                var value = node.Forward();
                output = new Var<T>(this, value, requiresGrad, ownsValue: true, node, tangent: null);
                node.Out = output; // JVP rules may read the output value
                if (node.In.Any(v => v.Tangent is not null))
                    output.Tangent = node.Jvp(node.In.Select(v => v.Tangent).ToArray());
            }
            catch
            {
                node.Release();
                scope.DisposeAllocated();
                throw;
            }
        }
        vars.Add(output);
        if (requiresGrad)
        {
            node.Index = nextNodeIndex++;
            nodes.Add(node);
        }
        else
        {
            node.Release(); // nothing will differentiate through it
        }
        return output;
    }

    /// <summary>
    /// Reverse mode for a scalar output <c>[1, 1, 1]</c> (cotangent 1): accumulates
    /// d(output)/d(leaf) into every variable's <see cref="Var{T}.Grad"/>. Queues device work only:
    /// no host round trip.
    /// </summary>
    /// <param name="output">The scalar to differentiate.</param>
    /// <param name="options">Whether to retain the graph for another pass; null for <see cref="BackwardOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">The output is of another tape.</exception>
    /// <exception cref="InvalidOperationException">
    /// The output is not a scalar (pass a cotangent of its shape); the output needs no gradient;
    /// or a previous backward pass released buffers this one needs.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The tape was disposed.</exception>
    /// <exception cref="DeviceOutOfMemoryException">
    /// As <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>.
    /// </exception>
    public void Backward<T>(Var<T> output, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Run(output, null, take: false, (options ?? BackwardOptions.Default).RetainGraph);

    /// <summary>
    /// Reverse mode: accumulates d⟨cotangent, output⟩/d(leaf) into every variable's
    /// <see cref="Var{T}.Grad"/>. Queues device work only: no host round trip.
    /// </summary>
    /// <param name="output">The value to differentiate.</param>
    /// <param name="cotangent">
    /// ȳ, of the output's shape. Copied by the pass, unless <see cref="BackwardOptions.TakeOwnership"/>
    /// hands it to the tape (then it must own its memory and be no value, tangent or gradient of this tape).
    /// </param>
    /// <param name="options">Whether to retain the graph and take the cotangent; null for <see cref="BackwardOptions.Default"/>.</param>
    /// <exception cref="ArgumentException">
    /// The output is of another tape or the cotangent's shape differs; or, taking ownership, the
    /// cotangent is a view, or a value, tangent or gradient held by this tape (the caller keeps it
    /// then: nothing was taken).
    /// </exception>
    /// <exception cref="InvalidOperationException">
    /// The output needs no gradient, or a previous backward pass released buffers this one needs.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The tape or the cotangent was disposed.</exception>
    /// <exception cref="DeviceOutOfMemoryException">
    /// The device ran out of memory part-way. Every tensor the pass allocated is returned to the
    /// pool except the leaves' gradients, which are left partly accumulated (clear them with
    /// <see cref="ZeroGrad"/>); ops whose buffers the pass had already released cannot be
    /// differentiated again.
    /// </exception>
    public void Backward<T>(Var<T> output, DeviceTensor<T> cotangent, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cotangent);
        options ??= BackwardOptions.Default;
        Run(output, cotangent, options.TakeOwnership, options.RetainGraph);
    }

    private void Run<T>(Var<T> output, DeviceTensor<T>? cotangent, bool take, bool retainGraph) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckOutput(output);
        if (cotangent is null && output.Shape != new Shape(1, 1, 1))
            throw new InvalidOperationException($"Backward: the output {output.Shape} is not a scalar [1, 1, 1]; pass a cotangent of its shape (grad can be implicitly created only for scalar outputs).");
        if (cotangent is not null) CheckTangent("Backward", output.Shape, cotangent);
        if (!output.RequiresGrad)
            throw new InvalidOperationException("Backward: the output does not depend on any variable that requires a gradient.");
        if (take && cotangent!.IsView)
            throw new ArgumentException("Backward: a view cannot be handed over as the cotangent (TakeOwnership): its memory belongs to another tensor.", nameof(cotangent));
        if (take && vars.Any(v => v.Holds(cotangent!)))
            throw new ArgumentException("Backward: the cotangent handed over (TakeOwnership) is a value, tangent or gradient of this tape.", nameof(cotangent));

        // The ops the output depends on, in reverse record order, and the last use (in that order)
        // of each saved value.
        var neededSet = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Node>();
        if (output.Producer is not null) stack.Push(output.Producer);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!neededSet.Add(n)) continue;
            if (n.Released)
                throw new InvalidOperationException($"Backward: {n.Name}'s saved buffers were released by a previous Backward; pass BackwardOptions {{ RetainGraph = true }} to the first call to run backward twice.");
            foreach (var input in n.InputVars)
                if (input.RequiresGrad && ProducerOf(input) is { } producer) stack.Push(producer);
        }
        var needed = neededSet.OrderByDescending(n => n.Index).ToList();
        var lastUse = new Dictionary<IVar, int>(ReferenceEqualityComparer.Instance);
        foreach (var node in needed)
            foreach (var saved in node.SavedVars)
                lastUse[saved] = node.Index; // descending order: the last write is the lowest index

        using var charge = account.Enter();
        long peakBefore = account.PeakBytes;
        if (!retainGraph)
        {
            // The forward is over for these ops: values no VJP reads go before the pass allocates.
            foreach (var node in needed)
            {
                var produced = node.OutputVar;
                if (!lastUse.ContainsKey(produced) && IsReleasable(produced, output))
                {
                    produced.ReleaseValue();
                    produced.ReleaseTangent();
                }
            }
        }
        if (take) cotangent!.ChargeTo(account);
        account.ResetPeak();
        using var scope = AllocationScope.Open();
        try
        {
            var seed = cotangent is null ? Ones<T>(output.Shape) : take ? cotangent : cotangent.Clone();
            if (output.Grad is null) output.Grad = seed;
            else
            {
                Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), output.Grad.Mat, seed.Mat, YAccess.Same, output.Grad.Mat);
                seed.Dispose();
            }

            foreach (var node in needed)
            {
                node.RunVjp();
                var produced = node.OutputVar;
                if (produced != (IVar)output) produced.ReleaseGrad(); // intermediate cotangents are consumed
                if (retainGraph) continue;
                node.Release();
                foreach (var saved in node.SavedVars)
                {
                    if (lastUse[saved] == node.Index && IsReleasable(saved, output))
                        saved.ReleaseValue();
                }
            }
            if (!output.IsLeaf) ((IVar)output).ReleaseGrad(); // the seed
        }
        catch
        {
            // Drop the intermediate cotangents and return every tensor this pass allocated (or
            // took) that is not a leaf's gradient; the leaves' gradients are left partly accumulated.
            foreach (var v in vars)
                if (!v.IsLeaf) v.ReleaseGrad();
            var leafGrads = new HashSet<object>(ReferenceEqualityComparer.Instance);
            foreach (var v in vars)
                if (v.IsLeaf && v.GradTensor is { } g) leafGrads.Add(g);
            scope.DisposeAllocated(keep: leafGrads.Contains);
            if (take && !leafGrads.Contains(cotangent!)) cotangent!.Dispose();
            throw;
        }
        finally
        {
            LastBackwardPeakBytes = account.PeakBytes;
            account.RaisePeak(peakBefore);
        }
        if (!retainGraph) Finish(needed, output);
    }

    /// <summary>
    /// Forgets the ops a pass finished and frees what they held: every value they produced except
    /// the pass's output (freed by the next <see cref="ZeroGrad"/>) and kept values, and the
    /// transient constants they read.
    /// </summary>
    private void Finish(List<Node> finished, IVar output)
    {
        var gone = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var node in finished)
        {
            gone.Add(node);
            var produced = node.OutputVar;
            if (produced == output) finishedOutputs.Add(produced);
            else if (!produced.Kept)
            {
                produced.ReleaseAll();
                gone.Add(produced);
            }
            foreach (var input in node.InputVars)
            {
                if (input.Transient && !input.Kept)
                {
                    input.ReleaseAll();
                    gone.Add(input);
                }
            }
        }
        nodes.RemoveAll(gone.Contains);
        vars.RemoveAll(gone.Contains);
    }

    private static Node? ProducerOf(IVar v) => v switch
    {
        Var<float> f => f.Producer,
        Var<double> d => d.Producer,
        _ => null,
    };

    private static bool IsReleasable(IVar v, IVar output) => !v.IsLeaf && !v.Kept && v != output;

    private DeviceTensor<T> Ones<T>(Shape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = Device.Allocate<T>(shape);
        Elementwise.Map(Device, new Maps.Fill<T>(T.One), t.Mat, t.Mat);
        return t;
    }

    /// <summary>
    /// Clears every accumulated gradient (gradients accumulate across backward passes, as in
    /// PyTorch) and frees the outputs of finished backward passes (unless kept): the step
    /// boundary of a training loop on one tape. Ops recorded but not yet differentiated are untouched.
    /// </summary>
    public void ZeroGrad()
    {
        ThrowIfDisposed();
        foreach (var v in vars) v.ReleaseGrad();
        var gone = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var v in finishedOutputs)
        {
            if (v.Kept) continue;
            v.ReleaseAll();
            gone.Add(v);
        }
        finishedOutputs.Clear();
        vars.RemoveAll(gone.Contains);
    }

    /// <summary>
    /// Forgets every recorded op and frees every op output (kept ones too), every gradient and the
    /// constants composite functions created; variables and constants stay, with their values and
    /// tangents. The tape is then as if only its leaves had been created.
    /// </summary>
    public void Reset()
    {
        ThrowIfDisposed();
        foreach (var n in nodes) n.Release();
        nodes.Clear();
        finishedOutputs.Clear();
        var gone = new HashSet<object>(ReferenceEqualityComparer.Instance);
        foreach (var v in vars)
        {
            if (!v.IsLeaf || v.Transient)
            {
                v.ReleaseAll();
                gone.Add(v);
            }
            else v.ReleaseGrad();
        }
        vars.RemoveAll(gone.Contains);
    }

    internal bool IsDisposed => disposed;

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);

    /// <summary>Returns every buffer the tape owns (op outputs, gradients, tangents, saved buffers) to the device pool.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var n in nodes) n.Release();
        foreach (var v in vars) v.ReleaseAll();
        nodes.Clear();
        vars.Clear();
        finishedOutputs.Clear();
    }
}
