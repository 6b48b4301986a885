using GpuAD.Kernels;

namespace GpuAD.Distributed;

/// <summary>
/// MPI cannot be used: Open MPI's library is missing or is not Open MPI, or the process was not
/// started by <c>mpirun</c>.
/// </summary>
public sealed class MpiUnavailableException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    public MpiUnavailableException(string message) : base(message) { }
}

/// <summary>An MPI call returned an error code.</summary>
public sealed class MpiException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="call">The MPI function, e.g. <c>MPI_Allgatherv</c>.</param>
    /// <param name="code">Its return code.</param>
    /// <param name="description">MPI's text for the code.</param>
    public MpiException(string call, int code, string description)
        : base($"MPI: {call} failed: {description} (code {code}).")
    {
        Call = call;
        Code = code;
    }

    /// <summary>The MPI function that failed.</summary>
    public string Call { get; }

    /// <summary>Its return code.</summary>
    public int Code { get; }
}

/// <summary>
/// A step failed on one or more ranks. Every rank throws this same exception, with the message of
/// the lowest failing rank, so every rank stops with the same error and none waits for the others.
/// </summary>
public sealed class RankFailedException : GpuADException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="failedRank">The lowest rank on which the step failed.</param>
    /// <param name="size">The number of ranks.</param>
    /// <param name="reason">That rank's error message.</param>
    /// <param name="inner">The rank's own exception, on the rank that failed; null elsewhere.</param>
    public RankFailedException(int failedRank, int size, string reason, Exception? inner = null)
        : base($"rank {failedRank} of {size}: {reason}", inner ?? new InvalidOperationException(reason))
    {
        FailedRank = failedRank;
        Size = size;
        Reason = reason;
    }

    /// <summary>The lowest rank on which the step failed.</summary>
    public int FailedRank { get; }

    /// <summary>The number of ranks.</summary>
    public int Size { get; }

    /// <summary>The failing rank's own error message.</summary>
    public string Reason { get; }
}
