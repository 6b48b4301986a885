using System.Runtime.ExceptionServices;
using GpuAD.Kernels;
using Device = GpuAD.Device;

namespace GpuAD.Distributed;

/// <summary>
/// Several devices driven by one process: a batch split into one contiguous part per device,
/// each part computed on its own thread, results returned in device order so that reductions
/// over them (<see cref="FixedOrderSum"/>) are bitwise reproducible for a given number of
/// devices. The group owns its devices and disposes them.
/// </summary>
public sealed class DeviceGroup : IDisposable
{
    private readonly Device[] devices;
    private bool disposed;

    /// <summary>Groups devices the caller opened; the group takes ownership.</summary>
    /// <exception cref="ArgumentException">No devices, or one device twice.</exception>
    public DeviceGroup(IEnumerable<Device> devices)
    {
        ArgumentNullException.ThrowIfNull(devices);
        this.devices = devices.ToArray();
        if (this.devices.Length == 0) throw new ArgumentException("DeviceGroup: no devices.", nameof(devices));
        if (this.devices.Distinct().Count() != this.devices.Length) throw new ArgumentException("DeviceGroup: a device appears twice.", nameof(devices));
    }

    /// <summary>
    /// Opens <paramref name="count"/> devices: every CUDA GPU in turn when <paramref name="choice"/>
    /// is Cuda (an error if there are fewer), else that many CPU accelerators.
    /// </summary>
    /// <exception cref="DeviceUnavailableException">Fewer CUDA GPUs than asked for.</exception>
    public static DeviceGroup Open(int count, DeviceChoice choice = DeviceChoice.Cpu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var opened = new List<Device>();
        try
        {
            for (int i = 0; i < count; i++)
                opened.Add(choice == DeviceChoice.Cuda ? GpuAD.Devices.Open(DeviceChoice.Cuda, i) : GpuAD.Devices.Open(choice));
            return new DeviceGroup(opened);
        }
        catch
        {
            foreach (var d in opened) d.Dispose();
            throw;
        }
    }

    /// <summary>The devices, in the order their parts of a batch follow each other.</summary>
    public IReadOnlyList<Device> Devices => devices;

    /// <summary>The number of devices.</summary>
    public int Count => devices.Length;

    /// <summary>
    /// Splits a batch of <paramref name="batch"/> elements into one part per device and runs
    /// <paramref name="work"/>(device, part) for every part at once, one thread per device.
    /// Returns the results in device order. A numerical error names the global batch element
    /// (see <see cref="BatchShard.Run{TResult}"/>); if several parts fail, the error of the first
    /// failing part is thrown, after every part has finished.
    /// </summary>
    public TResult[] Map<TResult>(int batch, Func<Device, BatchShard, TResult> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        ObjectDisposedException.ThrowIf(disposed, this);
        var parts = BatchShard.Split(batch, devices.Length);
        var results = new TResult[devices.Length];
        var errors = new Exception?[devices.Length];
        var threads = new Thread[devices.Length];
        for (int d = 0; d < devices.Length; d++)
        {
            int index = d;
            threads[d] = new Thread(() =>
            {
                try
                {
                    results[index] = parts[index].Run(() => work(devices[index], parts[index]));
                }
                catch (Exception e)
                {
                    errors[index] = e;
                }
            }) { IsBackground = true, Name = $"GpuAD device {index}" };
            threads[d].Start();
        }
        foreach (var t in threads) t.Join();
        if (errors.FirstOrDefault(e => e is not null) is { } first) ExceptionDispatchInfo.Capture(first).Throw();
        return results;
    }

    /// <summary>Disposes every device of the group.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        foreach (var d in devices) d.Dispose();
    }
}
