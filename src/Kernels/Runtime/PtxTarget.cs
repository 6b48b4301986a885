using System.Reflection;
using ILGPU.Runtime.Cuda;

namespace GpuAD.Kernels;

/// <summary>
/// The PTX target architecture of a CUDA device's kernels. ILGPU 1.5.3 writes the lowest
/// architecture its capabilities need, <c>.target sm_80</c> on every device of compute capability
/// 8.0 and later, which rules out the fp64 tensor-core shapes of sm_90 (docs/ilgpu-ptx-target.md).
/// <c>GPUAD_PTX_TARGET=device</c> raises it to the device's own architecture (sm_90 on an H100)
/// through the capability context's non-public setter, before any kernel is compiled; unset (or
/// <c>ilgpu</c>) keeps ILGPU's choice. Opt-in until a GPU has loaded and checked kernels so compiled.
/// </summary>
internal static class PtxTarget
{
    /// <summary>The environment variable: <c>device</c> or <c>ilgpu</c> (the default).</summary>
    internal const string EnvironmentVariable = "GPUAD_PTX_TARGET";

    private static readonly MethodInfo? Setter =
        typeof(CudaCapabilityContext).GetProperty("TargetArchitecture", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.GetSetMethod(nonPublic: true);

    /// <summary>The architecture <paramref name="capabilities"/> makes ILGPU write after <c>.target</c>.</summary>
    internal static CudaArchitecture? Of(CudaCapabilityContext capabilities) =>
        (CudaArchitecture?)typeof(CudaCapabilityContext).GetProperty("TargetArchitecture", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic)?.GetValue(capabilities);

    /// <summary>
    /// Makes ILGPU write <paramref name="architecture"/> after <c>.target</c> for kernels compiled
    /// with <paramref name="capabilities"/> from now on.
    /// </summary>
    /// <exception cref="InvalidOperationException">This ILGPU has no target-architecture setter to call.</exception>
    internal static void Raise(CudaCapabilityContext capabilities, CudaArchitecture architecture)
    {
        if (Setter is null)
            throw new InvalidOperationException($"{EnvironmentVariable}=device: this ILGPU has no CudaCapabilityContext.TargetArchitecture setter; unset {EnvironmentVariable}.");
        Setter.Invoke(capabilities, [architecture]);
    }

    /// <summary>Applies <paramref name="setting"/> (the variable's value) to a CUDA accelerator before its first kernel.</summary>
    /// <exception cref="FormatException">The setting is neither <c>device</c> nor <c>ilgpu</c>.</exception>
    internal static void Apply(CudaAccelerator cuda, string? setting)
    {
        if (string.IsNullOrEmpty(setting) || setting == "ilgpu") return;
        if (setting != "device")
            throw new FormatException($"{EnvironmentVariable}: '{setting}' is neither 'device' (the GPU's own architecture) nor 'ilgpu' (ILGPU's choice, the default).");
        if (cuda.Architecture is { } architecture) Raise(cuda.Capabilities, architecture);
    }
}
