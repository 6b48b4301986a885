namespace GpuAD.Kernels;

/// <summary>
/// Records the tensors that <see cref="Device.Allocate{T}(Shape)"/> hands out on the calling
/// thread while the scope is open, so that a computation failing part-way (out of device memory,
/// a numerical error) can return to the pool what it allocated and did not hand on. Scopes nest:
/// a tensor is recorded in the innermost open scope of its thread. Dispose a scope on the thread
/// that opened it, innermost first.
/// </summary>
internal sealed class AllocationScope : IDisposable
{
    [ThreadStatic] private static AllocationScope? current;
    private readonly AllocationScope? outer;
    private readonly List<IDisposable> allocated = new();
    private bool closed;

    private AllocationScope()
    {
        outer = current;
        current = this;
    }

    /// <summary>Opens a scope on the calling thread.</summary>
    public static AllocationScope Open() => new();

    /// <summary>Records a freshly allocated tensor in the thread's innermost open scope, if any.</summary>
    internal static void Record(IDisposable tensor) => current?.allocated.Add(tensor);

    /// <summary>
    /// Disposes every tensor allocated in this scope (disposing twice is harmless) except those
    /// that <paramref name="keep"/> accepts.
    /// </summary>
    public void DisposeAllocated(Func<IDisposable, bool>? keep = null)
    {
        foreach (var tensor in allocated)
            if (keep is null || !keep(tensor)) tensor.Dispose();
        allocated.Clear();
    }

    /// <summary>Closes the scope; the tensors it recorded are forgotten, not disposed.</summary>
    public void Dispose()
    {
        if (closed) return;
        closed = true;
        current = outer;
    }
}
