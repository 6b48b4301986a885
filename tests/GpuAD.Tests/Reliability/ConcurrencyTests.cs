using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// A device may be shared between threads (it serializes launches, copies and allocations); a
/// tape, its vars and tensors belong to one thread at a time. Work running in parallel on one
/// device or on several gives bitwise the results of the same work run sequentially.
/// </summary>
[Collection("Soak")]
public sealed class ConcurrencyTests(DeviceFixture devices)
{
    /// <summary>Runs <paramref name="work"/>(t) on <paramref name="threads"/> threads started together.</summary>
    private static T[] InParallel<T>(int threads, Func<int, T> work)
    {
        var results = new T[threads];
        var errors = new Exception?[threads];
        using var start = new Barrier(threads);
        var pool = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                results[t] = work(t);
            }
            catch (Exception e)
            {
                errors[t] = e;
            }
        })).ToArray();
        foreach (var thread in pool) thread.Start();
        foreach (var thread in pool) thread.Join();
        foreach (var e in errors)
            if (e is not null) throw new AggregateException(e);
        return results;
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void FourThreadsSharingADeviceWithATapeEachGetTheSequentialResultsBitwise() => FourThreadsSharingADevice(Soak.Iterations(50));

    /// <summary>The same, 5 steps per thread.</summary>
    [Fact]
    public void FourThreadsSharingADeviceGetTheSequentialResultsBitwiseInAFewSteps() => FourThreadsSharingADevice(5);

    private void FourThreadsSharingADevice(int iterations)
    {
        var device = devices.Cpu;
        const int threads = 4;
        var steps = Enumerable.Range(0, threads).Select(t => new GpStep(device, seed: 10 * t + 1)).ToArray();
        try
        {
            var sequential = steps.Select(s => OpTable.Bits(s.Run())).ToArray();
            long bytes = device.Pool.BytesInUse;
            var mismatches = InParallel(threads, t =>
            {
                int wrong = 0;
                for (int i = 0; i < iterations; i++)
                    if (!OpTable.Bits(steps[t].Run()).SequenceEqual(sequential[t])) wrong++;
                return wrong;
            });
            Assert.Equal(new int[threads], mismatches);
            Assert.Equal(bytes, device.Pool.BytesInUse);
        }
        finally
        {
            foreach (var s in steps) s.Dispose();
        }
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void SeparateDevicesOnParallelThreadsGetTheSequentialResultsBitwise() => SeparateDevices(Soak.Iterations(10));

    /// <summary>The same, 2 steps per thread.</summary>
    [Fact]
    public void SeparateDevicesOnParallelThreadsGetTheSequentialResultsBitwiseInAFewSteps() => SeparateDevices(2);

    private void SeparateDevices(int iterations)
    {
        using var second = Device.CreateCpu();
        Device[] pair = [devices.Cpu, second];
        var steps = pair.Select((d, t) => new GpStep(d, seed: 5)).ToArray();
        try
        {
            var sequential = steps.Select(s => OpTable.Bits(s.Run())).ToArray();
            Assert.Equal(sequential[0], sequential[1]); // the same family on the same kind of device
            var mismatches = InParallel(pair.Length, t =>
            {
                int wrong = 0;
                for (int i = 0; i < iterations; i++)
                    if (!OpTable.Bits(steps[t].Run()).SequenceEqual(sequential[t])) wrong++;
                return wrong;
            });
            Assert.Equal(new int[pair.Length], mismatches);
        }
        finally
        {
            foreach (var s in steps) s.Dispose();
        }
    }
}
