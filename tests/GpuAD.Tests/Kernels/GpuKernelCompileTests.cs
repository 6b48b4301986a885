using System.Numerics;
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
    public static TheoryData<string> Kernels() => new() { "TrsmLeft", "TrsmRight", "Potrf", "PotrfBackward", "PotrfPanel", "PotrfBackwardPanel", "PotrfDataflow" };

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
            if (kernel.EndsWith("Panel", StringComparison.Ordinal)) Assert.Contains("shfl.sync.bfly", compiled.PTXAssembly);
            if (kernel == "PotrfDataflow" && method.Name != nameof(PotrfDataflowGpu.ProductKernel))
            {
                // Tickets and flags are atomics; a tile is published and read behind device-scope fences.
                Assert.Contains("atom.add.global", compiled.PTXAssembly);   // the ticket
                Assert.Contains("atom.cas.global", compiled.PTXAssembly);   // a flag polled
                Assert.Contains("atom.exch.global", compiled.PTXAssembly);  // a flag set
                Assert.Contains("membar.gl", compiled.PTXAssembly);
            }
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
        // The blocked path's fused steps, with their several-threads-per-row variants (warp shuffles).
        "PotrfPanel" => [M<ArrayView<float>, ArrayView<float>, ArrayView<int>, PotrfPanelArgs>(PotrfPanelGpu.Kernel<float>), M<ArrayView<double>, ArrayView<double>, ArrayView<int>, PotrfPanelArgs>(PotrfPanelGpu.Kernel<double>)],
        "PotrfBackwardPanel" =>
        [
            M<ArrayView<float>, ArrayView<float>, ArrayView<float>, PotrfBackwardPanelArgs, int>(PotrfBackwardPanelGpu.Kernel<float>),
            M<ArrayView<double>, ArrayView<double>, ArrayView<double>, PotrfBackwardPanelArgs, int>(PotrfBackwardPanelGpu.Kernel<double>),
        ],
        // The dataflow path's persistent launches (the finish is an implicitly grouped map, compiled by the inventory test).
        "PotrfDataflow" =>
        [
            M<ArrayView<float>, ArrayView<int>, ArrayView<int>, DataflowArgs>(PotrfDataflowGpu.FactorKernel<float>),
            M<ArrayView<double>, ArrayView<int>, ArrayView<int>, DataflowArgs>(PotrfDataflowGpu.FactorKernel<double>),
            M<ArrayView<float>, ArrayView<float>, ArrayView<float>, DataflowArgs>(PotrfDataflowGpu.ProductKernel<float>),
            M<ArrayView<double>, ArrayView<double>, ArrayView<double>, DataflowArgs>(PotrfDataflowGpu.ProductKernel<double>),
            M<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<int>, DataflowArgs>(PotrfDataflowGpu.SolveKernel<float>),
            M<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<int>, DataflowArgs>(PotrfDataflowGpu.SolveKernel<double>),
        ],
        _ => throw new ArgumentException(kernel),
    };

    /// <summary>
    /// The kernels the GPU family shares with every op: GEMM (explicit groups), every element map
    /// and the batch sum (implicit groups), the per-matrix reduction and the backward's symmetrization.
    /// </summary>
    [Fact]
    public void SharedKernelsCompileToPtxForFloatAndDouble()
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        string Compile(MethodInfo method, bool explicitGroups)
        {
            var backend = new PTXBackend(context, new CudaCapabilityContext(CudaArchitecture.SM_90), CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
            var entry = explicitGroups ? EntryPointDescription.FromExplicitlyGroupedKernel(method) : EntryPointDescription.FromImplicitlyGroupedKernel(method);
            return ((PTXCompiledKernel)backend.Compile(entry, KernelSpecialization.Empty)).PTXAssembly;
        }
        Assert.Contains("bar.sync", Compile(((Action<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, GemmGroupArgs<float>>)GemmGpu.Kernel<float, Micro4x4<float>, Slice16>).Method, true));
        Assert.Contains("bar.sync", Compile(((Action<ArrayView<double>, ArrayView<double>, ArrayView<double>, ArrayView<double>, GemmGroupArgs<double>>)GemmGpu.Kernel<double, Micro4x4<double>, Slice16>).Method, true));
        Assert.Contains("bar.sync", Compile(((Action<ArrayView<double>, ArrayView<double>, ArrayView<double>, ReduceArgs, long>)Elementwise.ReducePartialGpu).Method, true));
        Assert.Contains(".entry", Compile(M<Index1D, ArrayView<float>, ArrayView<float>, ReduceArgs, LaunchSegment, int, float, float>(Elementwise.SumBatchKernel), false));
        Assert.Contains(".entry", Compile(M<Index1D, ArrayView<double>, MatLayout, LaunchSegment>(PotrfBackwardGpu.SymmetrizeKernel), false));
        MapsCompile<float>(Compile);
        MapsCompile<double>(Compile);
    }

    private static void MapsCompile<T>(Func<MethodInfo, bool, string> compile) where T : unmanaged, IFloatingPointIeee754<T>
    {
        void One<TOp>() where TOp : struct, IElementMap<T> =>
            Assert.Contains(".entry", compile(M<Index1D, ArrayView<T>, ArrayView<T>, ArrayView<T>, MapArgs, LaunchSegment, TOp>(Elementwise.MapGpu<T, TOp>), false));
        One<Maps.Axpby<T>>(); One<Maps.Multiply<T>>(); One<Maps.Tril<T>>(); One<Maps.Triu<T>>(); One<Maps.Phi<T>>();
        One<Maps.PhiStarOfTril<T>>(); One<Maps.PhiStar<T>>(); One<Maps.AddTransposed<T>>(); One<Maps.Transpose<T>>();
        One<Maps.Fill<T>>(); One<Maps.Identity<T>>(); One<Maps.ScaledIdentity<T>>(); One<Maps.AddDiagonal<T>>(); One<Maps.AddScaledIdentity<T>>();
        One<Maps.Log<T>>(); One<Maps.Exp<T>>(); One<Maps.Divide<T>>(); One<Maps.Symmetrize<T>>();
        // the elementwise ops' maps (sin, cos, tanh, pow, log go through ILGPU's XMath on the GPU)
        One<Maps.Sin<T>>(); One<Maps.Cos<T>>(); One<Maps.SinDerivative<T>>(); One<Maps.CosDerivative<T>>();
        One<Maps.Sqrt<T>>(); One<Maps.SqrtDerivative<T>>(); One<Maps.Square<T>>(); One<Maps.Reciprocal<T>>();
        One<Maps.ReciprocalDerivative<T>>(); One<Maps.Tanh<T>>(); One<Maps.TanhDerivative<T>>(); One<Maps.Abs<T>>();
        One<Maps.AbsDerivative<T>>(); One<Maps.PowConstant<T>>(); One<Maps.PowConstantDerivative<T>>(); One<Maps.Pow<T>>();
        One<Maps.PowBaseDerivative<T>>(); One<Maps.PowExponentLog<T>>(); One<Maps.Swapped<T, Maps.Divide<T>>>();
        One<Maps.Swapped<T, Maps.Pow<T>>>();
    }

    private static MethodInfo M<T1, T2, T3>(Action<T1, T2, T3> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5, T6>(Action<T1, T2, T3, T4, T5, T6> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5, T6, T7>(Action<T1, T2, T3, T4, T5, T6, T7> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5, T6, T7, T8>(Action<T1, T2, T3, T4, T5, T6, T7, T8> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4>(Action<T1, T2, T3, T4> kernel) => kernel.Method;

    private static MethodInfo M<T1, T2, T3, T4, T5>(Action<T1, T2, T3, T4, T5> kernel) => kernel.Method;

    /// <summary>
    /// Why an H100 got <c>.target sm_80</c> (docs/ilgpu-ptx-target.md): ILGPU 1.5.3 sets an sm_90
    /// capability context's target to the lowest architecture its capabilities need, sm_80, and the
    /// PTX back end writes that. <see cref="PtxTarget.Raise"/> (<c>GPUAD_PTX_TARGET=device</c> on a
    /// CUDA device) makes the same compile of a DMMA GEMM write <c>.target sm_90</c>, its mma intact.
    /// </summary>
    [Fact]
    public void IlgpuTargetsSm80UnlessThePtxTargetIsRaisedToTheDevicesArchitecture()
    {
        using var context = Context.Create(builder => builder.EnableAlgorithms().Optimize(OptimizationLevel.O2));
        var method = typeof(GemmGpu).GetMethod(nameof(GemmGpu.Kernel), BindingFlags.Static | BindingFlags.NonPublic)!
            .MakeGenericMethod(typeof(double), typeof(Mma8x8<double>), typeof(Slice8));
        string Ptx(CudaCapabilityContext capabilities)
        {
            var backend = new PTXBackend(context, capabilities, CudaArchitecture.SM_90, CudaInstructionSet.ISA_80, nvvmAPI: null!);
            return ((PTXCompiledKernel)backend.Compile(EntryPointDescription.FromExplicitlyGroupedKernel(method), KernelSpecialization.Empty)).PTXAssembly;
        }
        var capabilities = new CudaCapabilityContext(CudaArchitecture.SM_90);
        Assert.Equal(CudaArchitecture.SM_80, PtxTarget.Of(capabilities));
        Assert.Contains(".target sm_80", Ptx(capabilities));

        PtxTarget.Raise(capabilities, CudaArchitecture.SM_90);
        Assert.Equal(CudaArchitecture.SM_90, PtxTarget.Of(capabilities));
        string raised = Ptx(capabilities);
        Assert.Contains(".target sm_90", raised);
        Assert.Contains("mma.sync.aligned.m8n8k4.row.col.f64.f64.f64.f64", raised);
        Assert.Throws<FormatException>(() => PtxTarget.Apply(null!, "sm_90"));
    }
}
