namespace GpuAD.Graph;

/// <summary>
/// The differentiable operations. Each records one node on the inputs' tape, computes its value
/// on the device, its forward-mode tangent when an input carries one, and its VJP during
/// <see cref="Tape.Backward{T}(Var{T}, Tensor{T}, bool)"/>. Shapes are <c>[batch, rows, cols]</c>; shape errors are
/// raised when the op is recorded, before any kernel runs. Each op lives in its own file with
/// its derivation.
/// </summary>
public static partial class Op
{
}
