using System.Reflection;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Xunit;

namespace GpuAD.Tests.Kernels;

/// <summary>
/// The GPU-family kernels compile to PTX. The emulated GPU device runs a kernel's .NET code, so it
/// cannot catch what ILGPU's CUDA back end rejects (generic conversions such as
/// <c>double.CreateChecked</c>, for one); this compiles the kernels for sm_90 without a GPU.
/// </summary>
public sealed class GpuKernelCompileTests
{
    public static TheoryData<string> Kernels() => new() { "TrsmLeft", "TrsmRight", "Potrf", "PotrfBackward" };

    [Theory]
    [MemberData(nameof(Kernels))]
    public void CompilesToPtxForFloatAndDouble(string kernel)
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        foreach (var method in Methods(kernel))
        {
            var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
            var compiled = (PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty);
            Assert.Contains(".entry", compiled.PTXAssembly);
            Assert.Contains("bar.sync", compiled.PTXAssembly);
        }
    }

    private static MethodInfo[] Methods(string kernel) => kernel switch
    {
        "TrsmLeft" => [M<ArrayView<float>, ArrayView<float>, TrsmArgs<float>>(TrsmGpu.LeftKernel), M<ArrayView<double>, ArrayView<double>, TrsmArgs<double>>(TrsmGpu.LeftKernel)],
        "TrsmRight" => [M<ArrayView<float>, ArrayView<float>, TrsmArgs<float>>(TrsmGpu.RightKernel), M<ArrayView<double>, ArrayView<double>, TrsmArgs<double>>(TrsmGpu.RightKernel)],
        "Potrf" => [M<ArrayView<float>, ArrayView<int>, PotrfArgs>(PotrfGpu.Kernel<float>), M<ArrayView<double>, ArrayView<int>, PotrfArgs>(PotrfGpu.Kernel<double>)],
        "PotrfBackward" =>
        [
            M<ArrayView<float>, ArrayView<float>, ArrayView<float>, PotrfBackwardArgs>(PotrfBackwardGpu.Kernel<float>),
            M<ArrayView<double>, ArrayView<double>, ArrayView<double>, PotrfBackwardArgs>(PotrfBackwardGpu.Kernel<double>),
        ],
        _ => throw new ArgumentException(kernel),
    };

    private static MethodInfo M<T1, T2, T3>(Action<T1, T2, T3> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel) => kernel.Method;
}
