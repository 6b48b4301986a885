using System.Reflection;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuAD.Bench.Runner;

/// <summary>
/// <c>GpuAD.Bench diagnose --out DIR</c>: what ILGPU sees of the CUDA devices (name, compute
/// capability, the PTX architecture and ISA version ILGPU emits for it, the driver version), the
/// PTX ILGPU emits for the GEMM kernel written to DIR/gemm_f64.ptx and for the DMMA GEMM kernel
/// (fp64 tensor cores, inline PTX) to DIR/gemm_f64_dmma.ptx (so the device's JIT can be run on
/// them for its logs: registers, spills, errors), then one small GEMM through GpuAD on the device,
/// checked against the host, and the same with the DMMA tiling where the device has DMMA. Every failure is printed whole (type, message, inner exceptions, stack) and the
/// verb goes on; exit code 0 when the GEMM ran and matched, else 1.
/// </summary>
internal static class Diagnose
{
    public static int Run(string[] args)
    {
        string output = args.Length == 2 && args[0] == "--out" ? args[1] : throw new ArgumentException("usage: GpuAD.Bench diagnose --out DIR");
        Directory.CreateDirectory(output);
        Console.WriteLine($"ILGPU {typeof(Context).Assembly.GetName().Version}, .NET {Environment.Version}");
        Context context;
        try
        {
            context = Context.Create(builder => builder.Cuda().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        }
        catch (Exception e)
        {
            Console.WriteLine($"ILGPU could not create a CUDA context:\n{e}");
            return 1;
        }
        using var _ = context;
        var devices = context.GetCudaDevices();
        Console.WriteLine($"ILGPU sees {devices.Count} CUDA device(s)");
        if (devices.Count == 0) return 1;
        var device = devices[0];
        Step("device", () =>
        {
            Console.WriteLine($"  name {device.Name}; architecture {device.Architecture}; PTX ISA ILGPU emits {device.InstructionSet}; " +
                              $"driver {device.DriverVersion}; memory {device.MemorySize:N0} bytes; {device.NumMultiprocessors} multiprocessors");
        });
        CudaAccelerator? accelerator = null;
        Step("accelerator", () =>
        {
            accelerator = device.CreateCudaAccelerator(context);
            // As a GpuAD device does: GPUAD_PTX_TARGET=device raises .target to the device's architecture.
            PtxTarget.Apply(accelerator, Environment.GetEnvironmentVariable(PtxTarget.EnvironmentVariable));
            Console.WriteLine($"  accelerator: architecture {accelerator.Architecture}, instruction set {accelerator.InstructionSet}, backend {accelerator.Backend.GetType().Name}, "
                + $"PTX target {PtxTarget.Of(accelerator.Capabilities)} ({PtxTarget.EnvironmentVariable}={Environment.GetEnvironmentVariable(PtxTarget.EnvironmentVariable) ?? "unset"})");
        });
        Step("ptx", () =>
        {
            // The accelerator's own back end; without one (its creation failed), a PTX back end for
            // the architecture and ISA ILGPU chose for the device, as the accelerator would have used.
            var backend = accelerator?.Backend as PTXBackend ?? new PTXBackend(context,
                new CudaCapabilityContext(device.Architecture!.Value), device.Architecture.Value, device.InstructionSet!.Value, nvvmAPI: null!);
            foreach (var (method, file) in new[]
            {
                (((Action<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, GemmGroupArgs<double>>)GemmGpu.Kernel<double, Micro8x4<double>, Slice8>).Method, "gemm_f64.ptx"),
                (((Action<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, GemmGroupArgs<double>>)GemmGpu.Kernel<double, Mma8x8<double>, Slice8>).Method, "gemm_f64_dmma.ptx"),
            })
            {
                var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty);
                string path = Path.Combine(output, file);
                File.WriteAllText(path, compiled.PTXAssembly);
                var header = compiled.PTXAssembly.Split('\n').Where(l => l.StartsWith(".version", StringComparison.Ordinal) || l.StartsWith(".target", StringComparison.Ordinal));
                Console.WriteLine($"  {string.Join("; ", header)} → {path}");
            }
        });
        if (accelerator is null) return 1;
        using var acc = accelerator;
        bool ok = false;
        Step("gemm", () =>
        {
            using var gpu = GpuAD.Device.FromAccelerator(acc);
            ok = Gemm70(gpu, tiling: null);
            if (gpu.SupportsDmma) Gemm70(gpu, GemmTiling.Parse("128x128k8mma"));
            else Console.WriteLine($"  {gpu.Name} has no DMMA (compute capability below 8.0): the DMMA tilings are not run");
        });
        return ok ? 0 : 1;
    }

    /// <summary>One 70×70 GEMM on the device (the policy's tiling, or a given one) against the host; true when it matches.</summary>
    private static bool Gemm70(GpuAD.Device gpu, GemmTiling? tiling)
    {
        const int n = 70;
        var a = new double[n * n];
        var b = new double[n * n];
        for (int i = 0; i < a.Length; i++) { a[i] = Math.Sin(i); b[i] = Math.Cos(i); }
        using var ta = gpu.Upload<double>(a, 1, n, n);
        using var tb = gpu.Upload<double>(b, 1, n, n);
        using var tc = gpu.Allocate<double>(1, n, n);
        if (tiling is { } t) Blas.GemmWith(gpu, ta.Mat, false, tb.Mat, false, tc.Mat, 1.0, 0.0, t, splits: 1);
        else Blas.Gemm(gpu, ta.Mat, transA: false, tb.Mat, transB: false, tc.Mat, 1.0, 0.0);
        var c = tc.ToArray();
        double err = 0;
        for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
            err = Math.Max(err, Math.Abs(s - c[i * n + j]));
        }
        bool ok = err < 1e-9;
        Console.WriteLine($"  70×70 GEMM on the device ({(tiling is null ? "the policy's tiling" : tiling.ToString())}): max |error| {err:E2} against the host: {(ok ? "ok" : "WRONG")}");
        return ok;
    }

    private static void Step(string name, Action action)
    {
        try
        {
            action();
        }
        catch (Exception e)
        {
            Console.WriteLine($"  {name} FAILED:");
            for (var x = e; x is not null; x = x.InnerException)
                Console.WriteLine($"    {x.GetType().FullName}: {x.Message}");
            Console.WriteLine(e.ToString());
        }
    }
}
