namespace GpuAD.Kernels;

/// <summary>The CUDA limits every GPU-family launcher sizes its grids and shared memory by.</summary>
internal static class GpuLimits
{
    /// <summary>The most thread groups along a grid's y or z dimension.</summary>
    internal const int MaxGridYZ = 65535;

    /// <summary>The most thread groups along a grid's x dimension (2³¹ − 1).</summary>
    internal const int MaxGridX = int.MaxValue;

    /// <summary>Shared memory a CUDA thread group gets without opting in (ILGPU 1.5.3 cannot opt in): 48 KiB.</summary>
    internal const int SharedBytes = 48 * 1024;
}
