using Device = GpuAD.Device;

namespace GpuAD.Distributed;

/// <summary>
/// The device of each rank. A request of <c>auto</c> (or none) or of plain <c>cuda</c> gives
/// each rank on a node its own GPU, <c>cuda:&lt;local rank&gt;</c> (ranks beyond the node's GPU
/// count share them round-robin), or the CPU accelerator where there is no GPU (auto only). A
/// request naming one device (<c>cpu</c>, <c>cuda:N</c>, or any other choice <see cref="Devices"/>
/// knows) opens that device on every rank.
/// </summary>
public static class RankDevices
{
    /// <summary>
    /// The device string a rank should open, and why, for a request (a <c>--device</c> value or
    /// <c>GPUAD_DEVICE</c>; null or empty for auto), the rank's node-local rank and the node's CUDA GPU count.
    /// </summary>
    public static (string Device, string Reason) Choose(string? request, int localRank, int cudaCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(localRank);
        string r = (request ?? "").Trim().ToLowerInvariant();
        bool perRank = r is "" or "auto" or "cuda" or "gpu";
        if (!perRank) return (r, $"{r}, as asked, on every rank");
        if (cudaCount > 0)
        {
            int gpu = localRank % cudaCount;
            return ($"cuda:{gpu}", localRank < cudaCount
                ? $"CUDA GPU {gpu}: one GPU per rank on the node (node-local rank {localRank})"
                : $"CUDA GPU {gpu}: node-local rank {localRank} shares it, the node has {cudaCount} GPU(s)");
        }
        return r is "cuda" or "gpu"
            ? ("cuda", "CUDA asked for")   // Devices.Open reports that there is none
            : ("cpu", "CPU accelerator: ILGPU finds no CUDA GPU");
    }

    /// <summary>
    /// Opens this rank's device (see <see cref="RankDevices"/>); <paramref name="request"/> null
    /// consults <c>GPUAD_DEVICE</c>.
    /// </summary>
    /// <exception cref="DeviceUnavailableException">The device asked for does not exist.</exception>
    /// <exception cref="ArgumentException">The request is not a device GpuAD knows.</exception>
    public static Device Open(string? request, int localRank) => Open(request, localRank, adviseOption: null);

    /// <summary>
    /// <see cref="Open(string?, int)"/>, advising another device in the words of the option that
    /// chooses it (<paramref name="adviseOption"/>, e.g. <c>--device</c>: "use --device cpu")
    /// rather than the API's.
    /// </summary>
    internal static Device Open(string? request, int localRank, string? adviseOption)
    {
        request ??= Environment.GetEnvironmentVariable(Devices.EnvironmentVariable);
        int cudaCount = Devices.List().Count(d => d.Kind == GpuAD.DeviceKind.Cuda);
        var (device, _) = Choose(request, localRank, cudaCount);
        var (choice, index) = Devices.Parse(device);
        return Devices.Open(choice, index, requestedBy: adviseOption is null ? null : $"{adviseOption} {device}");
    }
}
