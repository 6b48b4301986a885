using System.Diagnostics;
using GpuAD.Graph;
using GpuAD.Kernels;
using GpuAD.Tool.Ops;
using Device = GpuAD.Kernels.Device;

namespace GpuAD.Tool.Bench;

/// <summary>Median times of one op at one size, and the throughput they imply.</summary>
/// <param name="Op">The op's command-line name.</param>
/// <param name="N">Order of every operand (n×n).</param>
/// <param name="Batch">Matrices per operand.</param>
/// <param name="DType">f32 or f64.</param>
/// <param name="Repeat">Timed runs (after one untimed run that compiles the kernels).</param>
/// <param name="ForwardMs">Median forward time, milliseconds.</param>
/// <param name="BackwardMs">Median backward time (every input's gradient), milliseconds.</param>
/// <param name="TotalMs">Median of forward + backward of the same run, milliseconds.</param>
/// <param name="ForwardGflops">Forward operations per second, 10⁹ (see <see cref="CliOp.ForwardFlops"/>).</param>
/// <param name="BackwardGflops">Backward operations per second, 10⁹.</param>
internal sealed record BenchResult(string Op, int N, int Batch, [property: System.Text.Json.Serialization.JsonPropertyName("dtype")] string DType, int Repeat,
    double ForwardMs, double BackwardMs, double TotalMs, double ForwardGflops, double BackwardGflops)
{
    /// <summary>The PyTorch reference's medians on the same sizes, when it ran.</summary>
    public TorchTiming? Torch { get; init; }

    /// <summary>PyTorch's forward + backward time over GpuAD's: above 1, GpuAD is faster.</summary>
    public double? SpeedupVsTorch => Torch is null ? null : Torch.TotalMs / TotalMs;
}

/// <summary>PyTorch's median times for one case.</summary>
internal sealed record TorchTiming(double ForwardMs, double BackwardMs, double TotalMs);

/// <summary>Times an op's forward and backward passes on a device.</summary>
internal static class BenchRunner
{
    public static BenchResult Measure<T>(Device device, CliOp op, int n, int batch, int repeat, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var shape = new Shape(batch, n, n);
        device.EnsureFits<T>([.. op.Operands.Select(_ => shape)]);
        var inputs = op.BenchInputs(n, batch, seed).Select(d => device.Upload<T>(Synthetic.To<T>(d), shape)).ToList();
        Tensor<T>? cotangent = null;
        try
        {
            // One untimed run compiles every kernel the forward and backward passes launch.
            Once(device, op, inputs, ref cotangent, seed);
            var forward = new double[repeat];
            var backward = new double[repeat];
            var total = new double[repeat];
            for (int r = 0; r < repeat; r++)
            {
                (forward[r], backward[r]) = Once(device, op, inputs, ref cotangent, seed);
                total[r] = forward[r] + backward[r];
            }
            double f = Median(forward), b = Median(backward);
            return new BenchResult(op.Name, n, batch, typeof(T) == typeof(float) ? "f32" : "f64", repeat, f, b, Median(total),
                batch * op.ForwardFlops(n) / (f * 1e6), batch * op.BackwardFlops(n) / (b * 1e6));
        }
        finally
        {
            cotangent?.Dispose();
            foreach (var t in inputs) t.Dispose();
        }
    }

    /// <summary>One forward and one backward pass, each timed between device synchronizations.</summary>
    private static (double ForwardMs, double BackwardMs) Once<T>(Device device, CliOp op, List<Tensor<T>> inputs, ref Tensor<T>? cotangent, int seed)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var tape = new Tape(device);
        var vars = inputs.Select(t => tape.Variable(t)).ToArray();
        device.Synchronize();
        long start = Stopwatch.GetTimestamp();
        var y = op.Apply(vars, TriangularFlags.Default);
        device.Synchronize();
        long forwardEnd = Stopwatch.GetTimestamp();
        cotangent ??= device.Upload<T>(Synthetic.To<T>(Synthetic.Uniform(y.Shape, seed + 99)), y.Shape);
        long backwardStart = Stopwatch.GetTimestamp();
        tape.Backward(y, cotangent);
        device.Synchronize();
        long end = Stopwatch.GetTimestamp();
        return (Stopwatch.GetElapsedTime(start, forwardEnd).TotalMilliseconds, Stopwatch.GetElapsedTime(backwardStart, end).TotalMilliseconds);
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : 0.5 * (sorted[mid - 1] + sorted[mid]);
    }
}
