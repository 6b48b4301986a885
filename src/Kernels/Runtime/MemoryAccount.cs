namespace GpuAD.Kernels;

/// <summary>
/// Counts the pool bytes held by the tensors allocated while it is the calling thread's current
/// account (<see cref="Enter"/>), and their peak, independently of every other account on the
/// device: a tape's own figure, which concurrent tapes cannot disturb. A tensor stays charged to
/// the account it was allocated under until disposed (or charged to another, see
/// <see cref="DeviceTensor{T}.ChargeTo"/>), whichever thread disposes it. Thread-safe.
/// </summary>
internal sealed class MemoryAccount
{
    [ThreadStatic] private static MemoryAccount? current;
    private readonly object gate = new();
    private long inUse, peak;

    /// <summary>The calling thread's current account, or null.</summary>
    internal static MemoryAccount? Current => current;

    /// <summary>Bytes (whole pool blocks) held by tensors charged to this account.</summary>
    public long BytesInUse { get { lock (gate) return inUse; } }

    /// <summary>The largest <see cref="BytesInUse"/> since creation or the last <see cref="ResetPeak"/>.</summary>
    public long PeakBytes { get { lock (gate) return peak; } }

    /// <summary>Starts a new peak measurement at the current bytes in use.</summary>
    public void ResetPeak() { lock (gate) peak = inUse; }

    /// <summary>Raises the peak to at least <paramref name="bytes"/> (restores an outer measurement after a nested one).</summary>
    public void RaisePeak(long bytes) { lock (gate) peak = Math.Max(peak, bytes); }

    internal void Charge(long bytes)
    {
        lock (gate)
        {
            inUse += bytes;
            if (inUse > peak) peak = inUse;
        }
    }

    internal void Credit(long bytes) { lock (gate) inUse -= bytes; }

    /// <summary>Makes this the calling thread's current account until the returned scope is disposed (scopes nest).</summary>
    public Scope Enter()
    {
        var outer = current;
        current = this;
        return new Scope(outer);
    }

    /// <summary>Restores the account that was current before <see cref="Enter"/>.</summary>
    public readonly struct Scope(MemoryAccount? outer) : IDisposable
    {
        /// <summary>Restores the outer account.</summary>
        public void Dispose() => current = outer;
    }
}
