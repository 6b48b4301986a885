using System.Diagnostics;
using System.Reflection;

namespace GpuAD.Kernels;

/// <summary>
/// Per-kernel device time, for finding where a GPU run spends it: while a profile is attached to a
/// device (<see cref="Device.Profile"/>), every launch waits for the device before and after it,
/// and its time (the host's launch cost included) is added to its kernel's entry. The waits
/// serialize the run and cost a synchronization per launch, so a profiled run is slower than a
/// timed one; the time outside launches (<see cref="Outside"/>: copies, fills, host work) is what the
/// wall clock of the profiled region adds. For diagnosis only (<c>GpuAD.Bench run --profile</c>).
/// </summary>
internal sealed class KernelProfile
{
    private readonly Dictionary<string, (int Count, double Seconds)> entries = [];
    private readonly Stopwatch wall = new();
    private long launchStart;
    private double inside;

    /// <summary>Kernels by name: launches and seconds, in descending seconds.</summary>
    public IReadOnlyList<(string Kernel, int Count, double Seconds)> Entries =>
        entries.Select(e => (e.Key, e.Value.Count, e.Value.Seconds)).OrderByDescending(e => e.Seconds).ToList();

    /// <summary>Seconds of the profiled region (from <see cref="Start"/> to <see cref="Stop"/>).</summary>
    public double Wall => wall.Elapsed.TotalSeconds;

    /// <summary>Seconds of the region outside kernel launches.</summary>
    public double Outside => Wall - inside;

    /// <summary>Starts (or resumes) the wall clock of the region.</summary>
    public void Start() => wall.Start();

    /// <summary>Stops the wall clock of the region.</summary>
    public void Stop() => wall.Stop();

    internal void Begin(Device device)
    {
        device.Accelerator.Synchronize();
        launchStart = Stopwatch.GetTimestamp();
    }

    internal void End(Device device, string kernel)
    {
        device.Accelerator.Synchronize();
        double s = Stopwatch.GetElapsedTime(launchStart).TotalSeconds;
        inside += s;
        var e = entries.GetValueOrDefault(kernel);
        entries[kernel] = (e.Count + 1, e.Seconds + s);
    }

    /// <summary>A kernel method's name in the profile: <c>Type.Method&lt;type arguments&gt;</c>.</summary>
    internal static string NameOf(MethodInfo method)
    {
        static string Short(Type t) => t.IsGenericType
            ? $"{t.Name[..t.Name.IndexOf('`')]}<{string.Join(",", t.GetGenericArguments().Select(Short))}>"
            : t.Name switch { "Double" => "f64", "Single" => "f32", "Int32" => "i32", var n => n };
        string args = method.IsGenericMethod ? $"<{string.Join(",", method.GetGenericArguments().Select(Short))}>" : "";
        return $"{(method.DeclaringType is null ? "" : Short(method.DeclaringType) + ".")}{method.Name}{args}";
    }
}
