namespace GpuAD;

/// <summary>
/// The differentiable operations. Each records one node on the inputs' tape, computes its value
/// on the device, its forward-mode tangent when an input carries one, and its VJP during
/// <see cref="Tape.Backward{T}(Var{T}, DeviceTensor{T}, BackwardOptions)"/>. Shapes are <c>[batch, rows, cols]</c>; shape errors are
/// raised when the op is recorded, before any kernel runs. Each op lives in its own file with
/// its derivation.
/// </summary>
/// <remarks>
/// <para>
/// Non-finite inputs: the ops that factor a matrix report NaN or ±Inf in it as an error —
/// <see cref="NotPositiveDefiniteException"/> for Σ of Cholesky, CholeskySolve and LogDet (and of
/// the Gaussian-process NLL), <see cref="SingularMatrixException"/> for X of Solve and AXInvB.
/// Every other input propagates NaN and ±Inf by IEEE arithmetic: the outputs they reach hold NaN
/// or ±Inf, except where IEEE arithmetic has an exact limit (exp(−∞) = 0, x/∞ = 0). Elements an
/// op does not read (the upper triangle of Σ or of a Cholesky factor, the unread triangle of a
/// triangular solve, what Tril drops) do not affect it. <see cref="CholeskyEx{T}(Var{T}, CholeskyAlgorithm)"/> returns the
/// failure codes instead of throwing.
/// </para>
/// <para>
/// Empty shapes are defined: a batch of 0 gives a batch-0 output and batch-0 gradients (a
/// batch-1 operand broadcast against it gets a zero gradient); 0×0 and other empty matrices give
/// empty results, and sums over nothing are 0 — Sum, Dot and Trace of empty matrices, MatMul
/// with an inner dimension of 0, log det of a 0×0 matrix (det = 1), the NLL of 0 points.
/// </para>
/// <para>
/// Failure: an op that throws (out of memory, a numerical error) records nothing, leaves its
/// inputs unchanged and returns to the pool whatever it had allocated.
/// </para>
/// </remarks>
public static partial class Op
{
}
