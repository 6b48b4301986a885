using System.Numerics;
using System.Text;
using GpuAD.Kernels;

namespace GpuAD.Distributed;

/// <summary>
/// The MPI world of this process: its rank, the number of ranks, the node-local rank, and the
/// collectives GpuAD needs — all-reduce sum, all-gather and broadcast of host spans and device
/// tensors — staged through host memory.
/// </summary>
/// <remarks>
/// <para>Reductions are deterministic: every rank gathers every rank's values and adds them in
/// rank order, ((x₀ + x₁) + x₂) + …, so every rank holds the same bits, and a run is bitwise
/// reproducible for a given number of ranks (MPI's own MPI_Allreduce may add in any order).</para>
/// <para>Every collective first exchanges each rank's element type and shape, so a rank that
/// passes a different shape makes every rank throw the same <see cref="ArgumentException"/>
/// instead of corrupting memory or waiting forever.</para>
/// <para>Calls are serialized (MPI_THREAD_SERIALIZED); every rank must make the same collective
/// calls in the same order. Transfers are limited to 2 GiB per collective (MPI's int counts).</para>
/// </remarks>
public sealed unsafe class Communicator : IDisposable
{
    private static int initializedInProcess;

    // Variables an MPI launcher sets in each process it starts: Open MPI's mpirun, PMIx, Hydra/Slurm PMI.
    private static readonly string[] LauncherVariables = ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"];

    private readonly OpenMpi mpi;
    private readonly object gate = new();
    private bool disposed;

    private Communicator(OpenMpi mpi, int rank, int size, int localRank, int localSize)
    {
        this.mpi = mpi;
        Rank = rank;
        Size = size;
        LocalRank = localRank;
        LocalSize = localSize;
    }

    /// <summary>This process's rank in the world, 0 … <see cref="Size"/> − 1.</summary>
    public int Rank { get; }

    /// <summary>The number of ranks.</summary>
    public int Size { get; }

    /// <summary>This process's rank among the ranks on its node (0 … <see cref="LocalSize"/> − 1), which picks its GPU.</summary>
    public int LocalRank { get; }

    /// <summary>The number of ranks on this node.</summary>
    public int LocalSize { get; }

    /// <summary>True on rank 0, the rank that prints and writes files.</summary>
    public bool IsRoot => Rank == 0;

    /// <summary>Whether an MPI launcher (<c>mpirun</c>, <c>srun</c>) started this process, judged by the variables it sets.</summary>
    public static bool LaunchedByMpirun => LauncherVariables.Any(v => Environment.GetEnvironmentVariable(v) is { Length: > 0 });

    /// <summary>
    /// Initializes MPI (MPI_Init_thread, serialized) and returns the world. Call once per process;
    /// dispose to finalize MPI.
    /// </summary>
    /// <exception cref="MpiUnavailableException">The process was not started by an MPI launcher, or Open MPI's library is missing.</exception>
    /// <exception cref="InvalidOperationException">MPI was initialized before in this process.</exception>
    public static Communicator Initialize()
    {
        if (!LaunchedByMpirun)
        {
            throw new MpiUnavailableException(
                "MPI: this process was not started by mpirun (none of " + string.Join(", ", LauncherVariables) +
                " is set). Start it as 'mpirun -np N COMMAND …', or run it without its distributed option as one process.");
        }
        var mpi = OpenMpi.Load();
        if (Interlocked.Exchange(ref initializedInProcess, 1) == 1)
            throw new InvalidOperationException("MPI: Communicator.Initialize was called twice; MPI initializes once per process.");
        int already = 0, provided = 0;
        mpi.Check(mpi.Initialized(&already), "MPI_Initialized");
        if (already != 0) throw new InvalidOperationException("MPI: MPI was initialized by other code in this process.");
        mpi.Check(mpi.InitThread(null, null, OpenMpi.ThreadSerialized, &provided), "MPI_Init_thread");
        if (provided < OpenMpi.ThreadSerialized)
        {
            mpi.Finalize();
            throw new MpiUnavailableException($"MPI: the library provides thread level {provided}; GpuAD needs MPI_THREAD_SERIALIZED ({OpenMpi.ThreadSerialized}).");
        }
        int rank = 0, size = 0, localRank = 0, localSize = 0;
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        nint node = 0;
        mpi.Check(mpi.CommSplitType(mpi.CommWorld, OpenMpi.CommTypeShared, rank, mpi.InfoNull, &node), "MPI_Comm_split_type");
        mpi.Check(mpi.CommRank(node, &localRank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(node, &localSize), "MPI_Comm_size");
        mpi.Check(mpi.CommFree(&node), "MPI_Comm_free");
        return new Communicator(mpi, rank, size, localRank, localSize);
    }

    /// <summary>The contiguous part of a batch of <paramref name="batch"/> elements that this rank owns.</summary>
    public BatchShard Shard(int batch) => BatchShard.Of(batch, Size, Rank);

    /// <summary>Waits until every rank has called it.</summary>
    public void Barrier()
    {
        lock (gate)
        {
            ThrowIfDisposed();
            mpi.Check(mpi.Barrier(mpi.CommWorld), "MPI_Barrier");
        }
    }

    /// <summary>
    /// Ends every rank at once (MPI_Abort) with the given exit code: the way out of an error that
    /// not every rank can know of, so that none waits forever in a collective.
    /// </summary>
    public void Abort(int exitCode)
    {
        mpi.Abort(mpi.CommWorld, exitCode);
    }

    /// <summary>
    /// Runs a step on every rank and agrees on its outcome: if it threw on any rank, every rank
    /// throws the same <see cref="RankFailedException"/> carrying the message of the lowest
    /// failing rank. Wrap each step that can fail on some ranks only (a factorization, a read).
    /// </summary>
    /// <exception cref="RankFailedException">The step threw on at least one rank.</exception>
    public TResult Agree<TResult>(Func<TResult> step)
    {
        ArgumentNullException.ThrowIfNull(step);
        TResult result = default!;
        Exception? failure = null;
        try
        {
            result = step();
        }
        catch (Exception e)
        {
            failure = e;
        }
        var failed = AllGatherRaw(failure is null ? 0 : 1);
        int first = Array.IndexOf(failed, 1);
        if (first < 0) return result;
        byte[] message = first == Rank ? Encoding.UTF8.GetBytes(failure!.Message) : [];
        int length = message.Length;
        BroadcastRaw(new Span<byte>(&length, sizeof(int)), first);
        if (first != Rank) message = new byte[length];
        BroadcastRaw(message, first);
        throw new RankFailedException(first, Size, Encoding.UTF8.GetString(message), first == Rank ? failure : null);
    }

    /// <summary>As <see cref="Agree{TResult}(Func{TResult})"/>, for a step without a result.</summary>
    public void Agree(Action step)
    {
        ArgumentNullException.ThrowIfNull(step);
        Agree(() =>
        {
            step();
            return 0;
        });
    }

    // ---- host spans ----

    /// <summary>
    /// Concatenates every rank's values in rank order; ranks may contribute different lengths.
    /// Every rank receives the whole.
    /// </summary>
    public T[] AllGather<T>(ReadOnlySpan<T> local) where T : unmanaged
    {
        var descriptors = Exchange(sizeof(T), local.Length);
        ExpectSame(descriptors, 0, "element size", "AllGather");
        var counts = descriptors.Select(d => d[1]).ToArray();
        return AllGatherVariable(local, counts);
    }

    /// <summary>
    /// Sums <paramref name="values"/> over the ranks in place, adding in rank order
    /// (((x₀ + x₁) + x₂) + …), so every rank holds the same bits.
    /// </summary>
    /// <exception cref="ArgumentException">Another rank passed a different length or element type (thrown on every rank).</exception>
    public void AllReduceSum<T>(Span<T> values) where T : unmanaged, INumberBase<T>
    {
        var descriptors = Exchange(sizeof(T), values.Length);
        ExpectSame(descriptors, 0, "element size", "AllReduceSum");
        ExpectSame(descriptors, 1, "length", "AllReduceSum");
        var all = AllGatherVariable<T>(values, descriptors.Select(d => d[1]).ToArray());
        FixedOrderSum.Over(all, Size, values);
    }

    /// <summary>Copies <paramref name="values"/> of rank <paramref name="root"/> to every rank.</summary>
    /// <exception cref="ArgumentException">Another rank passed a different length or element type (thrown on every rank).</exception>
    public void Broadcast<T>(Span<T> values, int root) where T : unmanaged
    {
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        var descriptors = Exchange(sizeof(T), values.Length);
        ExpectSame(descriptors, 0, "element size", "Broadcast");
        ExpectSame(descriptors, 1, "length", "Broadcast");
        BroadcastRaw(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values), root);
    }

    // ---- device tensors ----

    /// <summary>
    /// Sums a device tensor over the ranks in place (staged through host memory, added in rank
    /// order, the same bits on every rank). Every rank passes a tensor of the same shape.
    /// </summary>
    /// <exception cref="ArgumentException">Another rank passed a different shape or element type (thrown on every rank).</exception>
    public void AllReduceSum<T>(DeviceTensor<T> tensor) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        var descriptors = Exchange(sizeof(T), tensor.Batch, tensor.Rows, tensor.Cols);
        ExpectSame(descriptors, 0, "element size", "AllReduceSum");
        ExpectSameShape(descriptors, "AllReduceSum", batchToo: true);
        var local = tensor.ToArray();
        var all = AllGatherVariable<T>(local, Enumerable.Repeat(local.Length, Size).ToArray());
        FixedOrderSum.Over(all, Size, local);
        tensor.CopyFrom(local);
    }

    /// <summary>
    /// Concatenates every rank's tensor along the batch, in rank order: [Σ batchᵣ, rows, cols] on
    /// the device of <paramref name="local"/>. Ranks may hold different batch counts (a shard each).
    /// </summary>
    /// <exception cref="ArgumentException">Another rank's matrices have another size or element type (thrown on every rank).</exception>
    public DeviceTensor<T> AllGather<T>(DeviceTensor<T> local) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(local);
        var descriptors = Exchange(sizeof(T), local.Batch, local.Rows, local.Cols);
        ExpectSame(descriptors, 0, "element size", "AllGather");
        ExpectSameShape(descriptors, "AllGather", batchToo: false);
        var counts = descriptors.Select(d => checked(d[1] * d[2] * d[3])).ToArray();
        var all = AllGatherVariable<T>(local.ToArray(), counts);
        int batch = descriptors.Sum(d => d[1]);
        return local.Device.Upload<T>(all, new Shape(batch, local.Rows, local.Cols));
    }

    /// <summary>Copies the tensor of rank <paramref name="root"/> into every rank's tensor of the same shape.</summary>
    /// <exception cref="ArgumentException">Another rank passed a different shape or element type (thrown on every rank).</exception>
    public void Broadcast<T>(DeviceTensor<T> tensor, int root) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(tensor);
        ArgumentOutOfRangeException.ThrowIfNegative(root);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(root, Size);
        var descriptors = Exchange(sizeof(T), tensor.Batch, tensor.Rows, tensor.Cols);
        ExpectSame(descriptors, 0, "element size", "Broadcast");
        ExpectSameShape(descriptors, "Broadcast", batchToo: true);
        var host = Rank == root ? tensor.ToArray() : new T[tensor.Length];
        BroadcastRaw(System.Runtime.InteropServices.MemoryMarshal.AsBytes(host.AsSpan()), root);
        if (Rank != root) tensor.CopyFrom(host);
    }

    /// <summary>Finalizes MPI. Every rank must dispose its communicator.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
            int finalized = 0;
            mpi.Finalized(&finalized);
            if (finalized == 0) mpi.Check(mpi.Finalize(), "MPI_Finalize");
        }
    }

    // ---- plumbing ----

    /// <summary>Every rank's descriptor (a few ints), indexed by rank.</summary>
    private int[][] Exchange(params int[] descriptor)
    {
        var flat = new int[descriptor.Length * Size];
        lock (gate)
        {
            ThrowIfDisposed();
            fixed (int* send = descriptor)
            fixed (int* receive = flat)
            {
                int bytes = descriptor.Length * sizeof(int);
                mpi.Check(mpi.Allgather(send, bytes, mpi.Byte, receive, bytes, mpi.Byte, mpi.CommWorld), "MPI_Allgather");
            }
        }
        return Enumerable.Range(0, Size).Select(r => flat.AsSpan(r * descriptor.Length, descriptor.Length).ToArray()).ToArray();
    }

    private int[] AllGatherRaw(int value) => Exchange(value).Select(d => d[0]).ToArray();

    private T[] AllGatherVariable<T>(ReadOnlySpan<T> local, int[] counts) where T : unmanaged
    {
        long total = counts.Sum(c => (long)c);
        long totalBytes = total * sizeof(T);
        if (totalBytes > int.MaxValue)
            throw new ArgumentException($"Communicator: a collective of {totalBytes:N0} bytes exceeds MPI's 2 GiB limit per call; split it.");
        var byteCounts = counts.Select(c => c * sizeof(T)).ToArray();
        var displacements = new int[Size];
        for (int r = 1; r < Size; r++) displacements[r] = displacements[r - 1] + byteCounts[r - 1];
        var result = new T[total];
        lock (gate)
        {
            ThrowIfDisposed();
            fixed (T* send = local)
            fixed (T* receive = result)
            fixed (int* c = byteCounts)
            fixed (int* d = displacements)
            {
                mpi.Check(mpi.Allgatherv(send, local.Length * sizeof(T), mpi.Byte, receive, c, d, mpi.Byte, mpi.CommWorld), "MPI_Allgatherv");
            }
        }
        return result;
    }

    private void BroadcastRaw(Span<byte> bytes, int root)
    {
        if (bytes.Length == 0) return;
        lock (gate)
        {
            ThrowIfDisposed();
            fixed (byte* p = bytes)
            {
                mpi.Check(mpi.Bcast(p, bytes.Length, mpi.Byte, root, mpi.CommWorld), "MPI_Bcast");
            }
        }
    }

    private static void ExpectSame(int[][] descriptors, int field, string what, string op)
    {
        for (int r = 1; r < descriptors.Length; r++)
        {
            if (descriptors[r][field] != descriptors[0][field])
                throw new ArgumentException($"Communicator.{op}: rank 0 passed {what} {descriptors[0][field]} but rank {r} passed {descriptors[r][field]}; every rank must pass the same.");
        }
    }

    private static void ExpectSameShape(int[][] descriptors, string op, bool batchToo)
    {
        static string Shape(int[] d) => $"[{d[1]}, {d[2]}, {d[3]}]";
        for (int r = 1; r < descriptors.Length; r++)
        {
            bool same = descriptors[r][2] == descriptors[0][2] && descriptors[r][3] == descriptors[0][3]
                && (!batchToo || descriptors[r][1] == descriptors[0][1]);
            if (!same)
            {
                throw new ArgumentException($"Communicator.{op}: rank 0 passed a tensor of shape {Shape(descriptors[0])} but rank {r} passed {Shape(descriptors[r])}; "
                    + (batchToo ? "every rank must pass the same shape." : "the matrices must have the same rows and cols on every rank."));
            }
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(disposed, this);
}
