namespace GpuAD;

/// <summary>
/// How a backward pass (<see cref="Tape.Backward{T}(Var{T}, BackwardOptions)"/> and its overloads
/// with a cotangent) treats the graph and the cotangent. Immutable: derive variants with <c>with</c>.
/// </summary>
public sealed record BackwardOptions
{
    /// <summary>Free the graph's saved buffers as the pass goes; copy a device cotangent.</summary>
    public static BackwardOptions Default { get; } = new();

    /// <summary>
    /// Keep the saved buffers so that another backward pass can run over these ops. Without it a
    /// pass releases each saved value at its last use and forgets the ops it differentiated.
    /// </summary>
    public bool RetainGraph { get; init; }

    /// <summary>
    /// Hand a device cotangent to the tape instead of copying it: the pass computes in its buffer
    /// (a Cholesky's L̄ becomes Σ̄ in place), so a forward and backward hold one n² matrix less.
    /// The tensor then belongs to the tape: do not read, write or dispose it afterwards (it may have
    /// become a gradient); the tape disposes it. It must own its memory (not a view) and be no
    /// value, tangent or gradient of the tape. A host cotangent is always uploaded into a buffer of
    /// the pass's own, and a scalar output's implicit cotangent is the pass's own, so for those
    /// this changes nothing.
    /// </summary>
    public bool TakeOwnership { get; init; }
}
