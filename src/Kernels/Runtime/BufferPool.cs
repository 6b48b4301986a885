using GpuAD.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD;

/// <summary>
/// A caching allocator for device memory. Freed blocks are kept by size class and reused, so a
/// training loop reaches a steady state without device allocations. Reports the bytes in use
/// (handed out), cached (free, kept for reuse) and their sum, the device memory the pool holds
/// (<see cref="TotalBytes"/>), and the peaks of in-use and total bytes since the last
/// <see cref="ResetPeak"/>. Thread-safe.
/// </summary>
/// <remarks>
/// Size classes are 256 bytes and up, rounded to the next of 1, 1.25, 1.5 or 1.75 times a power
/// of two, so at most 25% of a block is slack; from 1 GiB on, to the next 1/64 of the power of two
/// (under 1.6% slack), so that one n×n matrix can fill nearly all of a device. Bytes in use and the
/// peak count whole blocks.
/// </remarks>
public sealed class BufferPool : IDisposable
{
    private const long MinBlockBytes = 256;

    /// <summary>The power of two from which size classes step by 1/64 of it instead of a quarter.</summary>
    private const long FineClassBytes = 1L << 30;
    private readonly Accelerator accelerator;
    private readonly string deviceName;
    private readonly Func<long> deviceMemory;
    private readonly Dictionary<long, Stack<MemoryBuffer1D<byte, Stride1D.Dense>>> free = new();
    private readonly object gate = new();
    private long inUse, peak, cached, peakTotal, allocations;
    private bool disposed;

    internal BufferPool(Accelerator accelerator, string deviceName, Func<long> deviceMemory)
    {
        this.accelerator = accelerator;
        this.deviceName = deviceName;
        this.deviceMemory = deviceMemory;
    }

    /// <summary>Bytes in blocks handed out and not yet returned.</summary>
    public long BytesInUse { get { lock (gate) return inUse; } }

    /// <summary>The largest <see cref="BytesInUse"/> since creation or the last <see cref="ResetPeak"/>.</summary>
    public long PeakBytes { get { lock (gate) return peak; } }

    /// <summary>Bytes in free blocks kept for reuse.</summary>
    public long CachedBytes { get { lock (gate) return cached; } }

    /// <summary>
    /// Device memory the pool holds: <see cref="BytesInUse"/> plus <see cref="CachedBytes"/> —
    /// the device footprint of everything the pool serves.
    /// </summary>
    public long TotalBytes { get { lock (gate) return inUse + cached; } }

    /// <summary>
    /// The largest <see cref="TotalBytes"/> since creation or the last <see cref="ResetPeak"/>:
    /// the peak device footprint, cached blocks included.
    /// </summary>
    public long PeakTotalBytes { get { lock (gate) return peakTotal; } }

    /// <summary>Device allocations made so far (a steady-state loop stops adding to this).</summary>
    public long DeviceAllocations { get { lock (gate) return allocations; } }

    /// <summary>
    /// An upper bound on <see cref="BytesInUse"/>; a request beyond it throws
    /// <see cref="DeviceOutOfMemoryException"/>. Null (the default) means the device's own limit.
    /// </summary>
    public long? CapBytes { get; set; }

    /// <summary>
    /// Fault injection for tests: when set to k, the next k requests are served and every later
    /// one throws <see cref="DeviceOutOfMemoryException"/> as a full device would, until reset to null.
    /// </summary>
    internal int? FailAfterRents { get; set; }

    /// <summary>Starts new peak measurements at the current bytes in use and total bytes.</summary>
    public void ResetPeak()
    {
        lock (gate)
        {
            peak = inUse;
            peakTotal = inUse + cached;
        }
    }

    /// <summary>Frees every cached block back to the device.</summary>
    public void Trim()
    {
        lock (gate)
        {
            foreach (var stack in free.Values)
                while (stack.Count > 0) stack.Pop().Dispose();
            free.Clear();
            cached = 0;
        }
    }

    /// <summary>The block size that a request of <paramref name="bytes"/> rounds up to.</summary>
    public static long SizeClass(long bytes)
    {
        if (bytes <= MinBlockBytes) return MinBlockBytes;
        long pow = 1L << (int)(63 - long.LeadingZeroCount(bytes - 1)); // largest power of two < bytes
        long step = pow >= FineClassBytes ? pow / 64 : pow / 4;
        return pow + (bytes - pow + step - 1) / step * step;
    }

    internal MemoryBuffer1D<byte, Stride1D.Dense> Rent(long bytes)
    {
        long size = SizeClass(bytes);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            if (CapBytes is long cap && inUse + size > cap)
            {
                throw new DeviceOutOfMemoryException(deviceName, size, Math.Max(0, cap - inUse));
            }
            // A block larger than the whole device can never be had: say so before asking the
            // allocator (the CPU accelerator's allocator may promise memory it cannot deliver).
            long memory = deviceMemory();
            if (size > memory) throw new DeviceOutOfMemoryException(deviceName, size, Math.Max(0, memory - inUse));
            if (FailAfterRents is int served)
            {
                if (served <= 0) throw new DeviceOutOfMemoryException(deviceName, size, 0);
                FailAfterRents = served - 1;
            }
            if (free.TryGetValue(size, out var stack) && stack.Count > 0)
            {
                cached -= size;
                return Track(stack.Pop(), size);
            }
        }
        MemoryBuffer1D<byte, Stride1D.Dense> buffer;
        try
        {
            buffer = accelerator.Allocate1D<byte>(size);
        }
        catch (Exception e) when (e is OutOfMemoryException || e is AcceleratorException)
        {
            Trim();
            try
            {
                buffer = accelerator.Allocate1D<byte>(size);
            }
            catch (Exception e2) when (e2 is OutOfMemoryException || e2 is AcceleratorException)
            {
                long available = accelerator.AcceleratorType == AcceleratorType.CPU ? -1 : Math.Max(0, accelerator.MemorySize - BytesInUse);
                throw new DeviceOutOfMemoryException(deviceName, size, available, e2);
            }
        }
        lock (gate)
        {
            allocations++;
            return Track(buffer, size);
        }
    }

    private MemoryBuffer1D<byte, Stride1D.Dense> Track(MemoryBuffer1D<byte, Stride1D.Dense> buffer, long size)
    {
        inUse += size;
        if (inUse > peak) peak = inUse;
        if (inUse + cached > peakTotal) peakTotal = inUse + cached;
        return buffer;
    }

    internal void Return(MemoryBuffer1D<byte, Stride1D.Dense> buffer)
    {
        long size = buffer.Length;
        lock (gate)
        {
            inUse -= size;
            if (disposed)
            {
                buffer.Dispose();
                return;
            }
            if (!free.TryGetValue(size, out var stack)) free[size] = stack = new();
            stack.Push(buffer);
            cached += size;
        }
    }

    /// <summary>Frees the cached blocks; blocks still rented are freed when returned.</summary>
    public void Dispose()
    {
        Trim();
        lock (gate) disposed = true;
    }
}
