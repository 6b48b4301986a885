using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD;

/// <summary>
/// The tape's host-data overloads: variables, constants and cotangents given as arrays, spans,
/// memory or System.Numerics.Tensors tensors, uploaded (every check before the first upload) and
/// handed to the device-tensor forms in Tape.cs.
/// </summary>
public sealed partial class Tape
{
    /// <summary>A variable uploaded from a host array (row-major <c>[batch, rows, cols]</c>), owned by the tape.</summary>
    /// <param name="data">The values.</param>
    /// <param name="shape">Their shape.</param>
    /// <param name="tangent">Optional forward-mode tangent, the same length.</param>
    /// <exception cref="ArgumentException">A length does not match the shape (checked before anything is uploaded).</exception>
    public Var<T> Variable<T>(T[] data, Shape shape, T[]? tangent = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        return tangent is null ? Variable<T>(data.AsSpan(), shape) : Variable<T>(data.AsSpan(), shape, tangent.AsSpan());
    }

    /// <summary>
    /// A variable of element type <typeparamref name="T"/> converted from float64 host values
    /// (row-major <c>[batch, rows, cols]</c>), owned by the tape. A finite value that
    /// <typeparamref name="T"/> cannot hold (float32: beyond ±3.4028235e38) is refused, not rounded to ±Inf.
    /// </summary>
    /// <param name="values">The values in float64.</param>
    /// <param name="shape">Their shape.</param>
    /// <param name="name">The input's name, for the message that names an element out of range.</param>
    /// <exception cref="ArgumentException">The length does not match the shape.</exception>
    /// <exception cref="ElementRangeException">A value is beyond <typeparamref name="T"/>'s range; names the input and the element.</exception>
    public Var<T> Variable<T>(ReadOnlySpan<double> values, Shape shape, string name) where T : unmanaged, IFloatingPointIeee754<T> =>
        Variable<T>(ElementConversion.Narrow<T>(values, name, shape).AsSpan(), shape);

    /// <summary>A variable uploaded from host memory (row-major <c>[batch, rows, cols]</c>), owned by the tape.</summary>
    /// <param name="data">The values.</param>
    /// <param name="shape">Their shape.</param>
    /// <exception cref="ArgumentException">The length does not match the shape (checked before anything is uploaded).</exception>
    public Var<T> Variable<T>(ReadOnlySpan<T> data, Shape shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        UploadLeaf(data, shape, hasTangent: false, default, requiresGrad: true);

    /// <summary>A variable uploaded from host memory (row-major <c>[batch, rows, cols]</c>), owned by the tape.</summary>
    /// <param name="data">The values.</param>
    /// <param name="shape">Their shape.</param>
    /// <exception cref="ArgumentException">The length does not match the shape (checked before anything is uploaded).</exception>
    public Var<T> Variable<T>(ReadOnlyMemory<T> data, Shape shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        Variable(data.Span, shape);

    /// <summary>A variable uploaded from host memory with its forward-mode tangent, both row-major <c>[batch, rows, cols]</c>, owned by the tape.</summary>
    /// <param name="data">The values.</param>
    /// <param name="shape">Their shape.</param>
    /// <param name="tangent">The tangent, the same length.</param>
    /// <exception cref="ArgumentException">A length does not match the shape (checked before anything is uploaded).</exception>
    public Var<T> Variable<T>(ReadOnlySpan<T> data, Shape shape, ReadOnlySpan<T> tangent) where T : unmanaged, IFloatingPointIeee754<T> =>
        UploadLeaf(data, shape, hasTangent: true, tangent, requiresGrad: true);

    /// <summary>
    /// A variable uploaded from a System.Numerics.Tensors tensor span, its shape taken from it:
    /// rank 3 <c>[batch, rows, cols]</c>, or rank 2 <c>[rows, cols]</c> as a batch of 1. Owned by the tape.
    /// </summary>
    /// <param name="data">The values, dense row-major.</param>
    /// <exception cref="ArgumentException">
    /// The rank is not 2 or 3, or the span is strided (not dense row-major); raised before anything is uploaded.
    /// </exception>
    public Var<T> Variable<T>(System.Numerics.Tensors.ReadOnlyTensorSpan<T> data) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = HostTensors.ShapeOf(data, "Variable", nameof(data));
        return UploadLeaf(HostTensors.Elements(data), shape, hasTangent: false, default, requiresGrad: true);
    }

    /// <summary>A variable and its forward-mode tangent from System.Numerics.Tensors tensor spans of one shape (see <see cref="Variable{T}(System.Numerics.Tensors.ReadOnlyTensorSpan{T})"/>).</summary>
    /// <param name="data">The values, dense row-major.</param>
    /// <param name="tangent">The tangent, of the same shape.</param>
    /// <exception cref="ArgumentException">A rank is not 2 or 3, a span is strided, or the shapes differ; raised before anything is uploaded.</exception>
    public Var<T> Variable<T>(System.Numerics.Tensors.ReadOnlyTensorSpan<T> data, System.Numerics.Tensors.ReadOnlyTensorSpan<T> tangent) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = HostTensors.ShapeOf(data, "Variable", nameof(data));
        HostTensors.Expect(tangent, shape, "Variable", nameof(tangent));
        return UploadLeaf(HostTensors.Elements(data), shape, hasTangent: true, HostTensors.Elements(tangent), requiresGrad: true);
    }

    /// <summary>A variable (and optionally its tangent) from System.Numerics.Tensors tensors (see <see cref="Variable{T}(System.Numerics.Tensors.ReadOnlyTensorSpan{T})"/>).</summary>
    /// <param name="data">The values: rank 3 <c>[batch, rows, cols]</c> or rank 2 <c>[rows, cols]</c>, dense.</param>
    /// <param name="tangent">Optional forward-mode tangent of the same shape.</param>
    /// <exception cref="ArgumentException">A rank is not 2 or 3, a tensor is not dense, or the shapes differ; raised before anything is uploaded.</exception>
    public Var<T> Variable<T>(System.Numerics.Tensors.Tensor<T> data, System.Numerics.Tensors.Tensor<T>? tangent = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        return tangent is null ? Variable(data.AsReadOnlyTensorSpan()) : Variable(data.AsReadOnlyTensorSpan(), tangent.AsReadOnlyTensorSpan());
    }

    /// <summary>A constant: a leaf that gets no gradient. The tape does not own <paramref name="value"/>.</summary>
    public Var<T> Constant<T>(DeviceTensor<T> value) where T : unmanaged, IFloatingPointIeee754<T> =>
        Leaf(value, requiresGrad: false, owns: false, null, ownsTangent: false);

    /// <summary>A constant uploaded from a host array, owned by the tape.</summary>
    /// <exception cref="ArgumentException">The length does not match the shape (checked before anything is uploaded).</exception>
    public Var<T> Constant<T>(T[] data, Shape shape) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        return Constant<T>(data.AsSpan(), shape);
    }

    /// <summary>A constant uploaded from host memory (row-major <c>[batch, rows, cols]</c>), owned by the tape.</summary>
    /// <exception cref="ArgumentException">The length does not match the shape (checked before anything is uploaded).</exception>
    public Var<T> Constant<T>(ReadOnlySpan<T> data, Shape shape) where T : unmanaged, IFloatingPointIeee754<T> =>
        UploadLeaf(data, shape, hasTangent: false, default, requiresGrad: false);

    /// <summary>A constant from a System.Numerics.Tensors tensor span, its shape taken from it (rank 3, or rank 2 as a batch of 1). Owned by the tape.</summary>
    /// <exception cref="ArgumentException">The rank is not 2 or 3, or the span is strided; raised before anything is uploaded.</exception>
    public Var<T> Constant<T>(System.Numerics.Tensors.ReadOnlyTensorSpan<T> data) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = HostTensors.ShapeOf(data, "Constant", nameof(data));
        return UploadLeaf(HostTensors.Elements(data), shape, hasTangent: false, default, requiresGrad: false);
    }

    /// <summary>A constant from a System.Numerics.Tensors tensor (see <see cref="Constant{T}(System.Numerics.Tensors.ReadOnlyTensorSpan{T})"/>).</summary>
    /// <exception cref="ArgumentException">The rank is not 2 or 3, or the tensor is not dense; raised before anything is uploaded.</exception>
    public Var<T> Constant<T>(System.Numerics.Tensors.Tensor<T> data) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        return Constant(data.AsReadOnlyTensorSpan());
    }

    /// <summary>Reverse mode with a cotangent given as a host array of the output's shape (see <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>).</summary>
    public void Backward<T>(Var<T> output, T[] cotangent, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cotangent);
        Backward<T>(output, cotangent.AsSpan(), options);
    }

    /// <summary>
    /// Reverse mode with a cotangent given as host memory, row-major, of the output's length (see
    /// <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>). The uploaded copy is the pass's own: the
    /// pass computes in it (no second device copy).
    /// </summary>
    /// <exception cref="ArgumentException">The length is not the output's (checked before anything is uploaded).</exception>
    public void Backward<T>(Var<T> output, ReadOnlySpan<T> cotangent, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckOutput(output);
        HostTensors.ExpectLength(cotangent.Length, output.Shape, "Backward", nameof(cotangent));
        DeviceTensor<T> t;
        using (account.Enter()) t = Device.Upload(cotangent, output.Shape);
        try
        {
            Run(output, t, take: true, (options ?? BackwardOptions.Default).RetainGraph);
        }
        catch
        {
            if (!vars.Any(v => v.Holds(t))) t.Dispose(); // unless it became a leaf's gradient
            throw;
        }
    }

    /// <summary>Reverse mode with a cotangent given as host memory, row-major, of the output's length (see <see cref="Backward{T}(Var{T}, ReadOnlySpan{T}, BackwardOptions)"/>).</summary>
    /// <exception cref="ArgumentException">The length is not the output's (checked before anything is uploaded).</exception>
    public void Backward<T>(Var<T> output, ReadOnlyMemory<T> cotangent, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T> =>
        Backward(output, cotangent.Span, options);

    /// <summary>
    /// Reverse mode with a cotangent given as a System.Numerics.Tensors tensor span of the output's
    /// shape (rank 3, or rank 2 when the output's batch is 1); see <see cref="Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The rank or shape is not the output's, or the span is strided; raised before anything is uploaded.</exception>
    public void Backward<T>(Var<T> output, System.Numerics.Tensors.ReadOnlyTensorSpan<T> cotangent, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckOutput(output);
        HostTensors.Expect(cotangent, output.Shape, "Backward", nameof(cotangent));
        Backward<T>(output, HostTensors.Elements(cotangent), options);
    }

    /// <summary>Reverse mode with a cotangent given as a System.Numerics.Tensors tensor (see <see cref="Backward{T}(Var{T}, System.Numerics.Tensors.ReadOnlyTensorSpan{T}, BackwardOptions)"/>).</summary>
    /// <exception cref="ArgumentException">The rank or shape is not the output's, or the tensor is not dense; raised before anything is uploaded.</exception>
    public void Backward<T>(Var<T> output, System.Numerics.Tensors.Tensor<T> cotangent, BackwardOptions? options = null) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(cotangent);
        Backward(output, cotangent.AsReadOnlyTensorSpan(), options);
    }
}
