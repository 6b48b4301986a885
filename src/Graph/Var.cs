using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD;

/// <summary>
/// A value recorded on a <see cref="Tape"/>: a leaf (a variable or a constant) or the output of
/// an op. Carries its device tensor, the gradient accumulated by <see cref="Tape.Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>,
/// and optionally a tangent for forward mode.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/>.</typeparam>
/// <remarks>A var is not thread-safe: it belongs to its tape's thread.</remarks>
public sealed class Var<T> : IVar where T : unmanaged, IFloatingPointIeee754<T>
{
    private DeviceTensor<T>? value;
    private readonly bool ownsValue;

    internal Var(Tape tape, DeviceTensor<T> value, bool requiresGrad, bool ownsValue, Node? producer, DeviceTensor<T>? tangent)
    {
        Tape = tape;
        this.value = value;
        this.ownsValue = ownsValue;
        Shape = value.Shape;
        RequiresGrad = requiresGrad;
        Producer = producer;
        Tangent = tangent;
        Id = tape.NextId();
    }

    /// <summary>The tape that recorded this value.</summary>
    public Tape Tape { get; }

    /// <summary>The shape <c>[batch, rows, cols]</c>.</summary>
    public Shape Shape { get; }

    /// <summary>True when a gradient flows to this value (a variable, or an op output depending on one).</summary>
    public bool RequiresGrad { get; }

    /// <summary>True for variables and constants; false for op outputs.</summary>
    public bool IsLeaf => Producer is null;

    /// <summary>
    /// The value. An op output that a backward pass differentiates is released by that pass (at
    /// its start if no VJP reads it, else at its last use) unless it is the pass's output or was
    /// marked with <see cref="Keep"/>; the pass's output is released by the next
    /// <see cref="Tape.ZeroGrad"/>, and <see cref="Tape.Reset"/> releases every op output.
    /// </summary>
    /// <exception cref="InvalidOperationException">The value was released by a backward pass.</exception>
    /// <exception cref="ObjectDisposedException">The tape was disposed.</exception>
    public DeviceTensor<T> Value
    {
        get
        {
            if (Tape.IsDisposed)
                throw new ObjectDisposedException(nameof(Tape), $"The value {Shape} belongs to a tape that has been disposed.");
            return value ?? throw new InvalidOperationException(
                $"The value {Shape} ({(IsLeaf ? "a constant created by a composite function" : $"output of {Producer?.Name}")}) was released: Backward frees the values of the ops it differentiates, " +
                "ZeroGrad the output of a finished Backward, Reset every op output; call Keep() on it before Backward, or Backward with BackwardOptions { RetainGraph = true }, to read it afterwards.");
        }
    }

    /// <summary>The accumulated gradient after <see cref="Tape.Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>; null when no gradient reached it.</summary>
    public DeviceTensor<T>? Grad { get; internal set; }

    /// <summary>The forward-mode tangent (directional derivative), or null for a zero tangent.</summary>
    public DeviceTensor<T>? Tangent { get; internal set; }

    /// <summary>Keeps this value alive through backward passes and <see cref="Tape.ZeroGrad"/> (until <see cref="Tape.Reset"/> or the tape's disposal).</summary>
    public Var<T> Keep()
    {
        Kept = true;
        return this;
    }

    /// <summary>Copies the value to a host array.</summary>
    public T[] ToArray() => Value.ToArray();

    /// <summary>Copies the value to a new System.Numerics.Tensors tensor of lengths <c>[batch, rows, cols]</c>.</summary>
    public System.Numerics.Tensors.Tensor<T> ToHostTensor() => Value.ToHostTensor();

    internal bool Kept { get; private set; }

    bool IVar.Kept => Kept;

    bool IVar.Transient { get; set; }

    internal Node? Producer { get; }

    internal int Id { get; }

    internal bool IsReleased => value is null;

    Device IVar.Device => Tape.Device;

    object? IVar.GradTensor => Grad;

    void IVar.ReleaseValue()
    {
        if (ownsValue) value?.Dispose();
        value = null;
    }

    bool IVar.Holds(object tensor) =>
        ReferenceEquals(value, tensor) || ReferenceEquals(Grad, tensor) || ReferenceEquals(Tangent, tensor);

    void IVar.ReleaseTangent()
    {
        Tangent?.Dispose();
        Tangent = null;
    }

    void IVar.ReleaseGrad()
    {
        Grad?.Dispose();
        Grad = null;
    }

    void IVar.ReleaseAll()
    {
        ((IVar)this).ReleaseGrad();
        Tangent?.Dispose();
        Tangent = null;
        ((IVar)this).ReleaseValue();
    }

    /// <inheritdoc/>
    public override string ToString() => $"Var<{typeof(T).Name}>{Shape}{(IsLeaf ? " leaf" : $" = {Producer!.Name}(...)")}";
}

/// <summary>What the tape needs of a <see cref="Var{T}"/> regardless of its element type.</summary>
internal interface IVar
{
    /// <summary>The shape.</summary>
    Shape Shape { get; }

    /// <summary>True when a gradient flows to this value.</summary>
    bool RequiresGrad { get; }

    /// <summary>The device holding it.</summary>
    Device Device { get; }

    /// <summary>True for variables and constants; false for op outputs.</summary>
    bool IsLeaf { get; }

    internal object? GradTensor { get; }

    internal bool Kept { get; }

    /// <summary>A constant a composite function created for its own use, freed with the ops that read it.</summary>
    internal bool Transient { get; set; }

    /// <summary>True when <paramref name="tensor"/> is this var's value, gradient or tangent.</summary>
    internal bool Holds(object tensor);

    internal void ReleaseTangent();

    internal void ReleaseValue();

    internal void ReleaseGrad();

    internal void ReleaseAll();
}
