using System.Numerics;
using System.Reflection;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;
using Device = GpuAD.Device;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// Every kernel the GPU family launches, found by running every operation on the emulated GPU
/// and reading the device's loaded-kernel cache (so kernels added later are covered without a
/// list to maintain): each compiles to PTX for sm_90, and its shared memory, the static
/// allocations ILGPU reports plus the largest dynamic request its launcher makes, fits the
/// 48 KiB a CUDA thread group gets without opting in (ILGPU 1.5.3 cannot opt in).
/// </summary>
[Collection("EmulatedGpu")]
public sealed class GpuKernelInventoryTests(DeviceFixture devices)
{
    private const int SharedLimitBytes = 48 * 1024;

    [Fact]
    [Trait("Tier", "Slow")]
    public void EveryLaunchedGpuKernelCompilesToPtxWithinTheSharedMemoryLimit()
    {
        var device = devices.GpuEmulated;
        RunEveryOperation<double>(device);
        RunEveryOperation<float>(device);
        var methods = device.LoadedKernelMethods;
        foreach (var owner in new[] { typeof(GemmGpu), typeof(TrsmGpu), typeof(PotrfGpu), typeof(PotrfBackwardGpu), typeof(PotrfDataflowGpu), typeof(LuGpu), typeof(Elementwise), typeof(Distances) })
            Assert.Contains(methods, m => m.DeclaringType == owner);

        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var failures = new List<string>();
        var staticSizes = new List<(string Name, int Bytes)>();
        foreach (var method in methods.OrderBy(m => m.DeclaringType!.Name + m.Name + string.Join(",", m.GetGenericArguments().Select(a => a.Name))))
        {
            string name = $"{method.DeclaringType!.Name}.{method.Name}<{string.Join(", ", method.GetGenericArguments().Select(a => a.Name))}>";
            var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
            bool implicitGroups = method.GetParameters()[0].ParameterType is var p && (p == typeof(Index1D) || p == typeof(Index2D) || p == typeof(Index3D));
            var entry = implicitGroups ? EntryPointDescription.FromImplicitlyGroupedKernel(method) : EntryPointDescription.FromExplicitlyGroupedKernel(method);
            PTXCompiledKernel compiled;
            try
            {
                compiled = (PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty);
            }
            catch (Exception e)
            {
                failures.Add($"{name} does not compile to PTX: {e.Message}");
                continue;
            }
            Assert.Contains(".entry", compiled.PTXAssembly);
            // CompiledKernel.EntryPoint is internal in ILGPU 1.5.3; its shared-memory specification is what the CUDA launcher reads.
            var entryPoint = typeof(ILGPU.Backends.CompiledKernel).GetProperty("EntryPoint", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!.GetValue(compiled)!;
            var shared = entryPoint.GetType().GetProperty("SharedMemory", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)!.GetValue(entryPoint)!;
            int staticBytes = (int)shared.GetType().GetProperty("StaticSize")!.GetValue(shared)!;
            bool hasDynamic = (bool)shared.GetType().GetProperty("HasDynamicMemory")!.GetValue(shared)!;
            long dynamicBytes = hasDynamic ? LargestDynamicRequest(method, name) : 0;
            if (staticBytes + dynamicBytes > SharedLimitBytes)
                failures.Add($"{name}: {staticBytes} B static + {dynamicBytes} B dynamic shared memory exceed {SharedLimitBytes} B");
            staticSizes.Add((name, staticBytes));
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        // The GEMMs ran, each policy-chosen tiling through its own specialized kernel.
        Assert.Contains(staticSizes, s => s.Name.StartsWith("GemmGpu.Kernel<", StringComparison.Ordinal));
        Assert.Contains(staticSizes, s => s.Name.StartsWith("Distances.ScaleCotangentPartialGpu<", StringComparison.Ordinal));
    }

    /// <summary>
    /// The largest dynamic shared memory the launcher of a kernel requests: the unblocked
    /// Cholesky keeps one packed triangle of its block, its reverse two, of an order up to
    /// <see cref="Blas.PotrfMaxWholeOrder{T}"/>. A kernel with dynamic shared memory that is
    /// not listed here fails the test until its launcher's bound is added. The blocked path's fused
    /// panel kernels and the panel-matched TRSM take blocks up to the same order.
    /// </summary>
    private long LargestDynamicRequest(MethodInfo method, string name)
    {
        var element = method.GetGenericArguments().FirstOrDefault(t => t == typeof(float) || t == typeof(double))
            ?? throw new InvalidOperationException($"{name}: dynamic shared memory of an unknown element type");
        int size = element == typeof(double) ? sizeof(double) : sizeof(float);
        int n = element == typeof(double) ? Blas.PotrfMaxWholeOrder<double>(devices.GpuEmulated) : Blas.PotrfMaxWholeOrder<float>(devices.GpuEmulated);
        var definition = method.IsGenericMethod ? method.GetGenericMethodDefinition() : method;
        if (method.DeclaringType == typeof(GemmGpu) && method.Name == nameof(GemmGpu.Kernel))
            return (long)GemmGpu.TilingOf(method.GetGenericArguments()[1], method.GetGenericArguments()[2]).SharedElements * size;
        if (definition == Definition(PotrfGpu.Kernel<double>)) return (long)PotrfGpu.Packed(n) * size;
        if (definition == Definition(PotrfBackwardGpu.Kernel<double>)) return 2L * PotrfGpu.Packed(n) * size;
        // The blocked path's fused launches take blocks of at most the unblocked order (Potrf's block-size check).
        if (definition == Definition(PotrfPanelGpu.Kernel<double>)) return (long)PotrfPanelGpu.SharedElements(n, size) * size;
        if (method.DeclaringType == typeof(PotrfPanelGpu) && method.Name == nameof(PotrfPanelGpu.LookAheadKernel)) // the panel step with look-ahead, or the update's tiles
            return (long)Math.Max(PotrfPanelGpu.SharedElements(n, size, lookAhead: true),
                GemmGpu.TilingOf(method.GetGenericArguments()[1], method.GetGenericArguments()[2]).SharedElements) * size;
        if (definition == Definition(PotrfBackwardPanelGpu.Kernel<double>)) return (long)PotrfBackwardPanelGpu.SharedElements(n, n) * size; // with the previous block's panel solve
        // Panel-matched TRSM blocks are capped by TrsmGpu.MaxBlockSize (Trsm's launcher).
        if (definition == Definition(TrsmGpu.LeftKernel<double>) || definition == Definition(TrsmGpu.RightKernel<double>))
            return (long)TrsmGpu.SharedElements(TrsmGpu.MaxBlockSize(size)) * size;
        // The two-level TRTRI's leaves: two packed triangles of the leaf order, at most the unblocked order (TrtriGpu.MaxLeaf).
        if (definition == Definition(TrtriGpu.LeafKernel<double>)) return 2L * PotrfGpu.Packed(TrtriGpu.MaxLeaf(size)) * size;
        throw new InvalidOperationException($"{name} requests dynamic shared memory: add its launcher's largest request to this test.");
    }

    private static MethodInfo Definition(Delegate kernel) => kernel.Method.GetGenericMethodDefinition();

    /// <summary>Every Blas and Elementwise operation and every op of the graph at small sizes, whole and blocked.</summary>
    private static void RunEveryOperation<T>(Device device) where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int batch = 2, n = 40;
        var shape = new Shape(batch, n, n);
        using var tape = new Tape(device);
        var sigma = tape.Variable(TestData.To<T>(TestData.Spd(batch, n, seed: 1)), shape, TestData.To<T>(TestData.Random(shape, 2)));
        var b = tape.Variable(TestData.To<T>(TestData.Random(new Shape(batch, n, 3), 3)), new Shape(batch, n, 3));
        var x = tape.Variable(TestData.To<T>(TestData.Random(shape, 4)), shape);
        var terms = new List<Var<T>>
        {
            Op.Sum(GaussianProcess.NegativeLogMarginalLikelihood(sigma, b.Tape.Constant(TestData.To<T>(TestData.Random(new Shape(batch, n, 1), 5)), new Shape(batch, n, 1)))),
            Op.Sum(Op.Solve(Op.Add(x, Op.Scale(Op.Transpose(x), T.CreateChecked(0.5))), b)),
            // Two levels: outer blocks of 16 in leaves of 8 (the TRTRI's leaf kernel and doubling GEMMs).
            Op.Sum(Op.Cholesky(sigma, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Blocked, BlockSize = 8, OuterBlockSize = 16 })),
            Op.Sum(Op.AXInvB(Op.Transpose(b), Op.Add(x, Op.Transpose(x)), b)),
            Op.Sum(Op.TriangularSolve(Op.Tril(sigma), b, lower: true, left: true, transpose: true)),
            Op.Sum(Op.Exp(Op.Scale(Op.Diag(sigma), T.CreateChecked(0.1)))),
            Op.Sum(Op.Log(Op.Diag(sigma))),
            Op.Sum(Op.Multiply(x, x)),
            Op.Dot(Op.MatMul(x, x, transposeA: true), sigma),
            Op.Trace(Op.Axb(x, sigma, x)),
            Op.Sum(Op.LogDet(sigma)),
            Op.Sum(Op.CholeskySolve(sigma, b)),
            Op.Sum(Op.Cholesky(sigma, CholeskyAlgorithm.Blocked)),
            Op.Sum(Op.Cholesky(sigma, CholeskyAlgorithm.Composed)),
            // The dataflow path: the persistent factor and solves (atomics, fences), the product and the finish.
            Op.Sum(Op.Cholesky(sigma, new CholeskyOptions { Algorithm = CholeskyAlgorithm.Dataflow, BlockSize = 16 })),
            Op.Sum(Op.Stationary(Op.SquaredDistances(b, b, tape.Variable(TestData.To<T>([0.7, 1.3, 0.9]), new Shape(1, 1, 3))), StationaryKernel.Matern52)),
        };
        var total = terms[0];
        foreach (var t in terms.Skip(1)) total = Op.Add(total, t);
        tape.Backward(Op.SumBatch(total));

        // The kernels directly, blocked with explicit block sizes, and each triangular-solve side.
        using var a = TestData.Upload<T>(device, TestData.Spd(batch, n, seed: 6), shape);
        using var info = device.Allocate<int>(new Shape(batch, 1, 1));
        Blas.Potrf(device, a.Mat, info, blockSize: 16);
        using var lbar = TestData.Upload<T>(device, TestData.Random(shape, 7), shape);
        Blas.PotrfBackward(device, a.Mat, lbar.Mat, blockSize: 16, symmetrize: true);
        using var rhs = TestData.Upload<T>(device, TestData.Random(shape, 8), shape);
        Blas.Trsm(a, rhs, left: false, lower: true, transpose: false, unitDiagonal: false);
        Blas.Trsm(a, rhs, left: true, lower: false, transpose: false, unitDiagonal: true);
        using var sums = device.Allocate<T>(new Shape(batch, 1, 1));
        Elementwise.Reduce(device, rhs.Mat, null, sums.Mat);
        using var pivots = device.Allocate<int>(new Shape(batch, n, 1));
        Blas.Getrf(rhs, pivots, info);
        Blas.Laswp(device, lbar.Mat, pivots, columns: true, backward: true);
    }
}
