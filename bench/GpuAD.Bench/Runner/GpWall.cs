using System.Diagnostics;
using System.Globalization;

namespace GpuAD.Bench.Runner;

/// <summary>
/// <c>GpuAD.Bench gp-wall [--cap-mib M] [--time-s S] [--d D] [--from N]</c>: the memory wall of the
/// exact GP likelihood. For the fused path (<see cref="Op.GpNegativeLogMarginalLikelihood{T}"/>,
/// one n×n buffer per problem) and the composed one (K, Cholesky and the normal's log density as
/// separate ops), n doubles from <c>--from</c> (default 256) while NLL + gradient for θ, X and y
/// (float64, Matérn 5⁄2, ARD over d dimensions, one problem) completes within the pool cap M MiB
/// (default: the device's memory) and S seconds (default 120); prints one markdown row per n and
/// path: the wall time of the evaluation after compiling ones at n = from and n = 1025, and the
/// pool's peak. The device comes from <c>GPUAD_DEVICE</c> (Devices.Open).
/// </summary>
internal static class GpWall
{
    public static int Run(string[] args)
    {
        long? capMib = null;
        double timeCap = 120;
        int d = 8, from = 256;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--cap-mib": capMib = long.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--time-s": timeCap = double.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--d": d = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--from": from = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                default: throw new ArgumentException($"gp-wall: unknown option {args[i]}");
            }
        }
        if (args.Length % 2 != 0) throw new ArgumentException("usage: GpuAD.Bench gp-wall [--cap-mib M] [--time-s S] [--d D] [--from N]");
        using var device = Devices.Open();
        long cap = capMib is { } m ? m << 20 : device.MemoryBytes;
        Console.WriteLine($"device {device.Name}; pool cap {cap:N0} bytes; time cap {timeCap} s; float64, Matérn 5/2, ARD, d = {d}");
        Console.WriteLine();
        Console.WriteLine("| path | n | wall (s) | peak pool (bytes) | peak / n²·8 | outcome |");
        Console.WriteLine("|---|---:|---:|---:|---:|---|");
        foreach (bool composed in new[] { false, true })
        {
            string path = composed ? "composed" : "fused";
            // Compiles the kernels outside the timed runs: whole-matrix and blocked Cholesky both (blocked above 512 on the CPU family).
            foreach (int warm in new[] { from, 2 * PotrfWholeUpTo + 1 })
            {
                try { Evaluate(device, warm, d, composed); }
                catch (DeviceOutOfMemoryException) { }
            }
            int largest = 0;
            for (long n = from; n <= int.MaxValue; n *= 2)
            {
                var (seconds, peak, outcome) = Timed(device, (int)n, d, composed, cap);
                Console.WriteLine($"| {path} | {n:N0} | {seconds:F2} | {peak:N0} | {(double)peak / (8.0 * n * n):F3} | {outcome} |");
                if (outcome != "ok") break;
                largest = (int)n;
                if (seconds > timeCap) break;
            }
            Console.WriteLine($"| {path} | largest n: {largest:N0} | | | | |");
        }
        return 0;
    }

    private const int PotrfWholeUpTo = 512;

    private static (double Seconds, long Peak, string Outcome) Timed(Device device, int n, int d, bool composed, long cap)
    {
        device.Synchronize();
        device.Pool.CapBytes = cap;
        device.Pool.ResetPeak();
        long baseline = device.Pool.BytesInUse;
        var clock = Stopwatch.StartNew();
        try
        {
            Evaluate(device, n, d, composed);
            return (clock.Elapsed.TotalSeconds, device.Pool.PeakBytes - baseline, "ok");
        }
        catch (DeviceOutOfMemoryException e)
        {
            return (clock.Elapsed.TotalSeconds, device.Pool.PeakBytes - baseline, $"out of memory: requested {e.RequestedBytes:N0}, available {e.AvailableBytes:N0}");
        }
        finally
        {
            device.Pool.CapBytes = null;
            device.Pool.Trim();
        }
    }

    private static void Evaluate(Device device, int n, int d, bool composed)
    {
        var rng = new Random(n);
        var x = new double[(long)n * d];
        var y = new double[n];
        for (long i = 0; i < x.Length; i++) x[i] = rng.NextDouble() * 10;
        for (int i = 0; i < n; i++) y[i] = Math.Sin(x[(long)i * d]) + 0.1 * rng.NextDouble();
        var theta = new double[d + 2];
        theta[^1] = Math.Log(0.1);
        using var objective = new GpObjective<double>(device, x, y, 1, n, d, StationaryKernel.Matern52, ard: true) { Composed = composed };
        objective.Evaluate(theta, 0, 1, gradient: true);
    }
}
