using GpuAD.Distributed;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Cli;

/// <summary>
/// The processes a verb runs on: this one alone, or the MPI ranks <c>mpirun</c> started (a verb's
/// <c>--distributed</c>). A verb shards its batch with <see cref="Shard"/>, wraps each step that
/// can fail in <see cref="Agree{T}"/>, and concatenates per-element results in rank order with
/// <see cref="Gather"/>; only rank 0 prints (<see cref="Terminal.Quiet"/> on the others) and
/// writes files.
/// </summary>
internal sealed class Ranks : IDisposable
{
    private readonly Communicator? world;

    private Ranks(Communicator? world)
    {
        this.world = world;
        Terminal.Quiet = world is { IsRoot: false };
        // mpirun forwards each rank's output through a terminal of its own, 80 columns wide.
        if (world is not null) Terminal.Plain();
    }

    /// <summary>
    /// This process alone. Started by mpirun as one of several processes (without --distributed),
    /// each runs the whole batch: said once, on stderr, by the first process.
    /// </summary>
    public static Ranks Single()
    {
        if (Communicator.LaunchedByMpirun && LauncherSize() is > 1 and var size && LauncherRank() is 0 or null)
            Cli.Report.Note($"started by mpirun as one of {size} processes without --distributed: every process runs the whole batch. Add --distributed to give each rank a part of it.");
        return new(null);
    }

    private static int? LauncherSize() =>
        new[] { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE" }.Select(Environment.GetEnvironmentVariable).Select(v => int.TryParse(v, out int n) ? n : (int?)null).FirstOrDefault(n => n is not null);

    private static int? LauncherRank() =>
        new[] { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK" }.Select(Environment.GetEnvironmentVariable).Select(v => int.TryParse(v, out int n) ? n : (int?)null).FirstOrDefault(n => n is not null);

    /// <summary>The MPI world; a failure to start MPI is a <see cref="MpiUnavailableException"/>.</summary>
    public static Ranks Mpi() => new(Communicator.Initialize());

    public int Rank => world?.Rank ?? 0;

    public int Size => world?.Size ?? 1;

    public bool IsRoot => Rank == 0;

    public bool Distributed => world is not null;

    /// <summary>This rank's device: its own GPU on a multi-GPU node, else what --device asks for.</summary>
    public Device OpenDevice(string? request) =>
        world is null ? CommonOptions.OpenDevice(request) : RankDevices.Open(CheckDevice(request), world.LocalRank, adviseOption: "--device");

    /// <summary>This rank's part of a batch.</summary>
    public BatchShard Shard(int batch) => BatchShard.Of(batch, Size, Rank);

    /// <summary>Runs a step on every rank; a failure anywhere ends every rank with the same error.</summary>
    public T Agree<T>(Func<T> step) => world is null ? step() : world.Agree(step);

    /// <summary>Every rank's values concatenated in rank order (the whole batch, for per-element values).</summary>
    public double[] Gather(double[] local) => world is null ? local : world.AllGather<double>(local);

    /// <summary>Rank 0's value on every rank.</summary>
    public T Broadcast<T>(T value) where T : unmanaged
    {
        if (world is null) return value;
        Span<T> one = [value];
        world.Broadcast(one, root: 0);
        return one[0];
    }

    /// <summary>
    /// Reports a failure every rank agreed on: each rank prints the same line, and none exits
    /// before all have printed (mpirun ends the others once one rank exits with an error).
    /// </summary>
    public int Report(RankFailedException failure)
    {
        var (code, message) = Cli.Report.Classify(failure);
        Cli.Report.Error(message);
        world?.Barrier();
        return code;
    }

    /// <summary>
    /// Ends every rank at once when an error escaped that the others cannot know of (they would
    /// wait in the next collective): prints it here, then MPI_Abort with the exit code.
    /// </summary>
    public void AbortOthers(int exitCode)
    {
        if (world is { Size: > 1 }) world.Abort(exitCode);
    }

    public void Dispose()
    {
        Terminal.Quiet = false;
        world?.Dispose();
    }

    private static string? CheckDevice(string? request)
    {
        CommonOptions.ParseDevice(request); // a usage error for a value that is no device
        return request;
    }
}
