using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Graph;

/// <summary>
/// Records ops applied to <see cref="Var{T}"/>s (define-by-run) and differentiates them on the
/// device: <see cref="Backward{T}(Var{T}, Tensor{T}, bool)"/> runs the VJPs in reverse record order, forward mode runs
/// each op's JVP as it is recorded when an input carries a tangent.
/// </summary>
/// <remarks>
/// A backward pass makes no device-to-host copy: it only queues launches. It releases what it
/// saved at its last use (see <see cref="Var{T}.Value"/>), so a second pass over the same ops
/// needs <c>retainGraph: true</c> on the first. Not thread-safe: use one tape per thread (tapes on
/// one device may run on different threads at once; the device serializes their launches).
/// </remarks>
public sealed class Tape : IDisposable
{
    private readonly List<Node> nodes = new();
    private readonly List<IVar> vars = new();
    private int nextId;
    private bool disposed;

    /// <summary>Creates an empty tape on a device.</summary>
    public Tape(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        Device = device;
    }

    /// <summary>The device every value of this tape lives on.</summary>
    public Device Device { get; }

    /// <summary>Ops recorded for backward (ops whose output needs no gradient are not kept).</summary>
    public int NodeCount => nodes.Count;

    /// <summary>Peak pool bytes in use during the last <see cref="Backward{T}(Var{T}, Tensor{T}, bool)"/> (device-wide).</summary>
    public long LastBackwardPeakBytes { get; private set; }

    /// <summary>A variable: a leaf whose gradient is computed. The tape does not own <paramref name="value"/>.</summary>
    /// <param name="value">The value, on this tape's device.</param>
    /// <param name="tangent">Optional forward-mode tangent of the same shape (not owned either).</param>
    /// <exception cref="ArgumentException">Another device, or the tangent's shape differs.</exception>
    public Var<T> Variable<T>(Tensor<T> value, Tensor<T>? tangent = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Leaf(value, requiresGrad: true, owns: false, tangent);

    /// <summary>A variable uploaded from a host array (row-major <c>[batch, rows, cols]</c>), owned by the tape.</summary>
    /// <param name="data">The values.</param>
    /// <param name="shape">Their shape.</param>
    /// <param name="tangent">Optional forward-mode tangent, the same length.</param>
    /// <exception cref="ArgumentException">A length does not match the shape.</exception>
    public Var<T> Variable<T>(T[] data, Shape shape, T[]? tangent = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var value = Device.Upload<T>(data, shape);
        if (tangent is null) return Leaf(value, requiresGrad: true, owns: true, null);
        using var t = Device.Upload<T>(tangent, shape);
        return Leaf(value, requiresGrad: true, owns: true, t);
    }

    /// <summary>A constant: a leaf that gets no gradient. The tape does not own <paramref name="value"/>.</summary>
    public Var<T> Constant<T>(Tensor<T> value) where T : unmanaged, IFloatingPointIeee754<T> =>
        Leaf(value, requiresGrad: false, owns: false, null);

    /// <summary>A constant uploaded from a host array, owned by the tape.</summary>
    public Var<T> Constant<T>(T[] data, Shape shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        Leaf(Device.Upload<T>(data, shape), requiresGrad: false, owns: true, null);

    /// <summary>Sets (or clears, with null) a leaf's forward-mode tangent before ops are recorded on it. Not owned.</summary>
    /// <exception cref="ArgumentException">The shapes differ, or the var is not a leaf of this tape.</exception>
    public void SetTangent<T>(Var<T> leaf, Tensor<T>? tangent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (leaf.Tape != this || !leaf.IsLeaf)
            throw new ArgumentException("SetTangent: the var must be a leaf of this tape.");
        CheckTangent("SetTangent", leaf.Shape, tangent);
        leaf.Tangent = tangent is null ? null : tangent.Clone();
    }

    /// <summary>Reverse mode with a cotangent given as a host array of the output's shape (see <see cref="Backward{T}(Var{T}, Tensor{T}, bool)"/>).</summary>
    public void Backward<T>(Var<T> output, T[] cotangent, bool retainGraph = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var t = Device.Upload<T>(cotangent, output.Shape);
        Backward(output, t, retainGraph);
    }

    private Var<T> Leaf<T>(Tensor<T> value, bool requiresGrad, bool owns, Tensor<T>? tangent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        ArgumentNullException.ThrowIfNull(value);
        if (value.IsDisposed)
            throw new ObjectDisposedException(nameof(Tensor<T>), $"Tape: the tensor {value.Shape} passed as a leaf has been disposed.");
        if (value.Device != Device)
            throw new ArgumentException($"Tape: the tensor lives on {value.Device} but the tape on {Device}.");
        CheckTangent("Variable", value.Shape, tangent);
        var v = new Var<T>(this, value, requiresGrad, owns, null, tangent?.Clone());
        vars.Add(v);
        return v;
    }

    private void CheckTangent<T>(string op, Shape shape, Tensor<T>? tangent) where T : unmanaged, INumber<T>
    {
        if (tangent is null) return;
        string what = op == "Backward" ? "cotangent" : "tangent";
        if (tangent.Shape != shape) throw ShapeErrors.Mismatch(op, $"the {what} must have the value's shape", shape, tangent.Shape);
        if (tangent.Device != Device) throw new ArgumentException($"{op}: the {what} lives on {tangent.Device} but the tape on {Device}.");
        if (tangent.IsDisposed) throw new ObjectDisposedException(nameof(Tensor<T>), $"{op}: the {what} {tangent.Shape} has been disposed.");
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
                throw new InvalidOperationException($"{node.Name}: an input ({input}) was released by a previous Backward; Keep() it to reuse it.");
            if (input.Value.IsDisposed)
                throw new ObjectDisposedException(nameof(Tensor<T>), $"{node.Name}: the tensor of an input ({input}) has been disposed.");
        }
        bool requiresGrad = node.In.Any(v => v.RequiresGrad);
        Var<T> output;
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
            node.Index = nodes.Count;
            nodes.Add(node);
        }
        else
        {
            node.Release(); // nothing will differentiate through it
        }
        return output;
    }

    /// <summary>
    /// Reverse mode: accumulates d⟨cotangent, output⟩/d(leaf) into every variable's
    /// <see cref="Var{T}.Grad"/>. Without a cotangent the output must be a single scalar
    /// <c>[1, 1, 1]</c> (cotangent 1). Queues device work only: no host round trip.
    /// </summary>
    /// <param name="output">The value to differentiate.</param>
    /// <param name="cotangent">ȳ, of the output's shape (not owned), or null for a scalar output.</param>
    /// <param name="retainGraph">Keep the saved buffers so another backward pass can run over these ops.</param>
    /// <exception cref="ArgumentException">The output is of another tape, or the cotangent's shape differs.</exception>
    /// <exception cref="InvalidOperationException">
    /// The output is not a scalar and no cotangent was given; the output needs no gradient; or a
    /// previous backward pass released buffers this one needs.
    /// </exception>
    /// <exception cref="ObjectDisposedException">The tape or the cotangent was disposed.</exception>
    /// <exception cref="DeviceOutOfMemoryException">
    /// The device ran out of memory part-way. Every tensor the pass allocated is returned to the
    /// pool except the leaves' gradients, which are left partly accumulated (clear them with
    /// <see cref="ZeroGrad"/>); ops whose buffers the pass had already released cannot be
    /// differentiated again.
    /// </exception>
    public void Backward<T>(Var<T> output, Tensor<T>? cotangent = null, bool retainGraph = false) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ThrowIfDisposed();
        if (output.Tape != this) throw new ArgumentException("Backward: the output belongs to another tape.");
        if (cotangent is null && output.Shape != new Shape(1, 1, 1))
            throw new InvalidOperationException($"Backward: the output {output.Shape} is not a scalar [1, 1, 1]; pass a cotangent of its shape (grad can be implicitly created only for scalar outputs).");
        if (cotangent is not null) CheckTangent("Backward", output.Shape, cotangent);
        if (!output.RequiresGrad)
            throw new InvalidOperationException("Backward: the output does not depend on any variable that requires a gradient.");

        // The ops the output depends on, and the last (in reverse order: lowest index) use of each saved value.
        var needed = new SortedSet<int>();
        var stack = new Stack<Node>();
        if (output.Producer is not null) stack.Push(output.Producer);
        while (stack.Count > 0)
        {
            var n = stack.Pop();
            if (!needed.Add(n.Index)) continue;
            if (n.Released)
                throw new InvalidOperationException($"Backward: {n.Name}'s saved buffers were released by a previous Backward; pass retainGraph: true to the first call to run backward twice.");
            foreach (var input in n.InputVars)
                if (input.RequiresGrad && ProducerOf(input) is { } producer) stack.Push(producer);
        }
        var lastUse = new Dictionary<IVar, int>(ReferenceEqualityComparer.Instance);
        foreach (int index in needed.Reverse())
            foreach (var saved in nodes[index].SavedVars)
                lastUse[saved] = index;

        Device.Pool.ResetPeak();
        using var scope = AllocationScope.Open();
        try
        {
            var seed = cotangent is null ? Ones<T>(output.Shape) : cotangent.Clone();
            if (output.Grad is null) output.Grad = seed;
            else
            {
                Elementwise.Map(Device, new Maps.Axpby<T>(T.One, T.One), output.Grad.Mat, seed.Mat, YAccess.Same, output.Grad.Mat);
                seed.Dispose();
            }

            foreach (int index in needed.Reverse())
            {
                var node = nodes[index];
                node.RunVjp();
                var produced = node.OutputVar;
                if (produced != (IVar)output) produced.ReleaseGrad(); // intermediate cotangents are consumed
                if (retainGraph) continue;
                node.Release();
                foreach (var saved in node.SavedVars)
                {
                    if (lastUse[saved] == index && IsReleasable(saved, output))
                        saved.ReleaseValue();
                }
            }
            if (!output.IsLeaf) ((IVar)output).ReleaseGrad(); // the seed
        }
        catch
        {
            // Drop the intermediate cotangents and return every tensor this pass allocated that is
            // not a leaf's gradient; the leaves' gradients are left partly accumulated.
            foreach (var v in vars)
                if (!v.IsLeaf) v.ReleaseGrad();
            var leafGrads = new HashSet<object>(ReferenceEqualityComparer.Instance);
            foreach (var v in vars)
                if (v.IsLeaf && v.GradTensor is { } g) leafGrads.Add(g);
            scope.DisposeAllocated(keep: leafGrads.Contains);
            throw;
        }
        finally
        {
            LastBackwardPeakBytes = Device.Pool.PeakBytes;
        }
    }

    private static Node? ProducerOf(IVar v) => v switch
    {
        Var<float> f => f.Producer,
        Var<double> d => d.Producer,
        _ => null,
    };

    private static bool IsReleasable(IVar v, IVar output) => v switch
    {
        Var<float> f => !f.IsLeaf && !f.Kept && v != output,
        Var<double> d => !d.IsLeaf && !d.Kept && v != output,
        _ => false,
    };

    private Tensor<T> Ones<T>(Shape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = Device.Allocate<T>(shape);
        Elementwise.Map(Device, new Maps.Fill<T>(T.One), t.Mat, t.Mat);
        return t;
    }

    /// <summary>Clears every variable's accumulated gradient (gradients accumulate across backward passes, as in PyTorch).</summary>
    public void ZeroGrad()
    {
        foreach (var v in vars) v.ReleaseGrad();
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
    }
}
