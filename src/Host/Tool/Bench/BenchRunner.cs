using System.Runtime.ExceptionServices;
using System.Text.Json.Serialization;
using GpuAD.Bench;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Bench;

/// <summary>Median times of one op at one size, and the executed-flop rates they imply.</summary>
/// <param name="Op">The op's name.</param>
/// <param name="N">Order of every operand (n×n).</param>
/// <param name="Batch">Matrices per operand.</param>
/// <param name="DType">f32 or f64.</param>
/// <param name="Repeat">Timed runs (after one untimed run that compiles the kernels).</param>
/// <param name="ForwardMs">Median forward time, milliseconds (a kernel op's one phase).</param>
/// <param name="BackwardMs">Median backward time (every input's gradient), milliseconds; 0 for a kernel op.</param>
/// <param name="TotalMs">Median of forward + backward of the same run, milliseconds.</param>
/// <param name="ForwardGflops">Executed forward flops per second, 10⁹ (<see cref="Flops"/>).</param>
/// <param name="BackwardGflops">Executed backward flops per second, 10⁹; null for a kernel op.</param>
/// <param name="Path">The algorithm that ran, where the op has several (Cholesky).</param>
/// <param name="PeakBytes">Peak bytes of the device pool during the backward pass, inputs included.</param>
internal sealed record BenchResult(string Op, int N, int Batch, [property: JsonPropertyName("dtype")] string DType, int Repeat,
    double ForwardMs, double BackwardMs, double TotalMs, double? ForwardGflops, double? BackwardGflops, string? Path, long? PeakBytes)
{
    /// <summary>The PyTorch reference's medians on the same sizes, when it ran.</summary>
    public TorchTiming? Torch { get; init; }

    /// <summary>PyTorch's forward + backward time over GpuAD's: above 1, GpuAD is faster.</summary>
    public double? SpeedupVsTorch => Torch is null ? null : Torch.TotalMs / TotalMs;

    /// <summary>The engine's case id, op/dtype/BATCHxN.</summary>
    [JsonIgnore]
    public string Id => $"{Op}/{(DType == "f32" ? "fp32" : "fp64")}/{Batch}x{N}";
}

/// <summary>PyTorch's median times for one case.</summary>
internal sealed record TorchTiming(double ForwardMs, double BackwardMs, double TotalMs);

/// <summary>Times one case on the benchmark engine that the bench suites use (<see cref="Engine"/>).</summary>
internal static class BenchRunner
{
    /// <summary>One untimed run, then the medians of <paramref name="repeat"/> runs.</summary>
    /// <exception cref="DeviceOutOfMemoryException">The problem does not fit (checked before any host data is made).</exception>
    public static BenchResult Measure(Device device, Problem problem, int repeat, int seed, ISet<(BenchOp, DType)> loaded)
    {
        var r = Engine.Measure(device, problem, new MeasureSettings(Warmup: 1, Reps: repeat, CapSeconds: double.PositiveInfinity), loaded, seed);
        if (!r.Ran)
        {
            if (r.Error is not null) ExceptionDispatchInfo.Throw(r.Error);
            throw new InvalidOperationException($"{problem.Id}: {r.Note}");
        }
        bool graph = problem.IsGraph;
        string first = graph ? "forward" : "op";
        return new BenchResult(problem.OpKey, problem.N, problem.Batch, problem.DType == DType.Fp32 ? "f32" : "f64", repeat,
            r.PhaseMs(first) ?? 0, graph ? r.PhaseMs("backward") ?? 0 : 0, r.MedianMs ?? 0,
            r.PhaseGflops(first), graph ? r.PhaseGflops("backward") : null, r.Path, r.PeakBytes);
    }
}
