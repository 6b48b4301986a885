using System.Globalization;
using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Bench.Runner;

/// <summary>
/// <c>GpuAD.Bench plan [--n 1024,2048,...] [--dtype f64|f32] [--batch B] [--gemm ilgpu|cublas]</c>: the critical-path
/// model (<see cref="CholeskyPlanModel"/>) of the Cholesky designs on an H100, from the H100's
/// measured kernel times, before a GPU times them. Designs: one level, and two levels with outer
/// blocks of 256, 512 and 1024, right-looking with the outer panel by inverse and by TRSM,
/// left-looking by inverse, and the blocks' reverse by inverse, each on one stream and two. The plans are
/// built for the emulated GPU with the committed H100 table and 132 multiprocessors (as the launch
/// tests plan), so they are the H100's plans with the ILGPU GEMMs; <c>--gemm cublas</c> prices
/// their GEMMs at cuBLAS's measured rate instead (<see cref="KernelRates.WithCublasGemm"/>), the
/// what-if of the GEMM provider.
/// </summary>
internal static class PlanModel
{
    private const string H100 = "NVIDIA H100 80GB HBM3";

    public static int Run(string[] args)
    {
        int[] orders = [8192];
        string dtype = "f64";
        int batch = 1;
        bool cublas = false;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--n": orders = args[i + 1].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray(); break;
                case "--dtype": dtype = args[i + 1]; break;
                case "--batch": batch = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--gemm" when args[i + 1] is "ilgpu" or "cublas": cublas = args[i + 1] == "cublas"; break;
                default: throw new ArgumentException($"plan: unknown option {args[i]}");
            }
        }
        if (args.Length % 2 != 0 || dtype is not ("f64" or "f32"))
            throw new ArgumentException("usage: GpuAD.Bench plan [--n N[,N...]] [--dtype f64|f32] [--batch B] [--gemm ilgpu|cublas]");
        using var device = Devices.Open(DeviceChoice.EmulatedGpu);
        device.Tuning = TuningTable.Committed.Single(t => t.Device == H100);
        device.PlannedMultiprocessors = 132;
        if (dtype == "f64") Print<double>(device, orders, batch, cublas);
        else Print<float>(device, orders, batch, cublas);
        return 0;
    }

    private static void Print<T>(Device device, int[] orders, int batch, bool cublas) where T : unmanaged, INumber<T>
    {
        var rates = KernelRates.H100<T>(device);
        var model = new CholeskyPlanModel(cublas ? rates.WithCublasGemm(typeof(T) == typeof(double)) : rates);
        string dt = typeof(T) == typeof(double) ? "fp64" : "fp32";
        Console.WriteLine($"Critical-path model of the Cholesky plans on an {H100}, {dt}, batch {batch}: per step launches × launch cost + the serial");
        Console.WriteLine("chain of the diagonal-block kernels + GEMM (fixed time per launch + flops / rate, split-K reductions) + copies; fwd and bwd follow");
        Console.WriteLine("the plan's streams (two streams: the side stream's updates beside the next block, the host's waits as the plan orders them).");
        Console.WriteLine("'overlap': per diagonal block max(its diagonal-block steps, its panel and updates), a bound on what any second stream could save.");
        Console.WriteLine("Measured numbers it reads:");
        foreach (string source in model.Rates.Sources) Console.WriteLine($"- {source}");
        Console.WriteLine();
        Console.WriteLine("| n | design | fwd ms | bwd ms | total ms | launches | chain ms | GEMM ms | copies ms | launch ms | overlap fwd ms | overlap bwd ms |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var table = device.Tuning;
        foreach (int n in orders)
        {
            foreach (var (name, outer, byInverse, streams, left, blockByInverse) in Designs(n))
            {
                CholeskyPlan plan;
                try
                {
                    device.Tuning = table with { PotrfPanelInverse = byInverse, PotrfStreams = streams, PotrfLeftLooking = left, PotrfBlockReverseByInverse = blockByInverse };
                    plan = CholeskyPlan.For<T>(device, n, batch, CholeskyAlgorithm.Blocked, outerBlockSize: outer);
                }
                finally
                {
                    device.Tuning = table;
                }
                var f = model.Forward(plan);
                var b = model.Backward(plan);
                var all = f + b;
                double fw = model.Wall(plan, plan.Forward), bw = model.Wall(plan, plan.Backward);
                int launches = plan.ForwardLaunches + plan.BackwardLaunches(symmetrize: true);
                Console.WriteLine($"| {n} | {name} | {Ms(fw)} | {Ms(bw)} | {Ms(fw + bw)} | {launches} | {Ms(all.Chain)} | {Ms(all.Gemm)} | {Ms(all.Memory)} | {Ms(all.Launch)} | "
                    + $"{Ms(model.Overlapped(plan, plan.Forward))} | {Ms(model.Overlapped(plan, plan.Backward))} |");
            }
            if (n == 8192 && dt == "fp64")
                Console.WriteLine("| 8192 | measured: cuSOLVER fwd, PyTorch bwd (run 5) | 9.45 | 49.9 | 59.4 | | | | | | | |");
            if (n == 8192 && dt == "fp64")
                Console.WriteLine("| 8192 | measured: GpuAD one level, before look-ahead and the fused reverse TRSM (run 5) | 45.4 | 105.5 | 150.9 | 758 | | | | | | |");
        }
    }

    /// <summary>
    /// One level, then two levels with each outer block below n: right-looking with the panel by
    /// inverse and by TRSM, left-looking with the panel by inverse, each on one stream and two,
    /// and the panel by inverse with the blocks' reverse by inverse too.
    /// </summary>
    private static IEnumerable<(string Name, int Outer, bool ByInverse, int Streams, bool Left, bool BlockByInverse)> Designs(int n)
    {
        yield return ("one level", n, false, 1, false, false);
        foreach (int outer in new[] { 256, 512, 1024 })
        {
            if (outer >= n) continue;
            yield return ($"two levels, outer {outer}, panel by inverse", outer, true, 1, false, false);
            yield return ($"two levels, outer {outer}, panel by inverse, two streams", outer, true, 2, false, false);
            yield return ($"two levels, outer {outer}, panel by TRSM", outer, false, 1, false, false);
            yield return ($"two levels, outer {outer}, panel by TRSM, two streams", outer, false, 2, false, false);
            yield return ($"two levels, outer {outer}, left-looking, panel by inverse", outer, true, 1, true, false);
            yield return ($"two levels, outer {outer}, left-looking, panel by inverse, two streams", outer, true, 2, true, false);
            yield return ($"two levels, outer {outer}, panel and block reverse by inverse", outer, true, 1, false, true);
            yield return ($"two levels, outer {outer}, panel and block reverse by inverse, two streams", outer, true, 2, false, true);
        }
    }

    private static string Ms(double seconds) => (seconds * 1e3).ToString("F2", CultureInfo.InvariantCulture);
}
