using System.Reflection;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The fused and multi-group GPU kernels compile to PTX for sm_90 in float and double: the
/// blocked Cholesky's factor-and-panel step, the grouped GEMM, the first pass of a multi-group
/// reduction and log det's cotangent map (the emulated GPU runs their .NET code, not PTX).
/// </summary>
public sealed class FusedKernelCompileTests
{
    [Fact]
    public void CompileToPtxForFloatAndDouble()
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        string Compile(MethodInfo method, bool explicitGroups)
        {
            var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
            var entry = explicitGroups ? EntryPointDescription.FromExplicitlyGroupedKernel(method) : EntryPointDescription.FromImplicitlyGroupedKernel(method);
            return ((PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty)).PTXAssembly;
        }
        Assert.Contains("bar.sync", Compile(M<ArrayView<float>, ArrayView<float>, ArrayView<int>, PotrfPanelArgs>(PotrfPanelGpu.Kernel<float>), true));
        Assert.Contains("bar.sync", Compile(M<ArrayView<double>, ArrayView<double>, ArrayView<int>, PotrfPanelArgs>(PotrfPanelGpu.Kernel<double>), true));
        Assert.Contains("bar.sync", Compile(M<ArrayView<float>, ArrayView<float>, ArrayView<float>, PotrfBackwardPanelArgs, int>(PotrfBackwardPanelGpu.Kernel<float>), true));
        Assert.Contains("bar.sync", Compile(M<ArrayView<double>, ArrayView<double>, ArrayView<double>, PotrfBackwardPanelArgs, int>(PotrfBackwardPanelGpu.Kernel<double>), true));
        Assert.Contains("bar.sync", Compile(M<ArrayView<float>, ArrayView<float>, ArrayView<float>, ReduceArgs, long>(Elementwise.ReducePartialGpu), true));
        Assert.Contains("bar.sync", Compile(M<ArrayView<double>, ArrayView<double>, ArrayView<double>, ReduceArgs, long>(Elementwise.ReducePartialGpu), true));
        Assert.Contains(".entry", Compile(M<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, MapArgs, LaunchSegment, Maps.LogDetCotangent<float>>(Elementwise.MapGpu<float, Maps.LogDetCotangent<float>>), false));
        Assert.Contains(".entry", Compile(M<Index1D, ArrayView<double>, ArrayView<double>, ArrayView<double>, MapArgs, LaunchSegment, Maps.LogDetCotangent<double>>(Elementwise.MapGpu<double, Maps.LogDetCotangent<double>>), false));
    }

    private static MethodInfo M<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel) => kernel.Method;
}
