using GpuAD.Kernels;
using System.Collections.Concurrent;
using System.Linq.Expressions;
using System.Numerics;
using System.Reflection;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace GpuAD;

/// <summary>The kind of hardware behind a <see cref="Device"/>.</summary>
public enum DeviceKind
{
    /// <summary>ILGPU's CPU accelerator (simulated GPU threads on OS threads).</summary>
    Cpu,

    /// <summary>An NVIDIA GPU through CUDA.</summary>
    Cuda,
}

/// <summary>
/// Which of the two kernel families a device runs. Both are ILGPU kernels computing the same
/// results; they differ in how work maps onto threads.
/// </summary>
public enum KernelFamily
{
    /// <summary>Shared-memory tiles, register blocking, hand-unrolled inner loops: for GPUs.</summary>
    GpuTuned,

    /// <summary>Barrier-free, one thread per large block with register tiles: for the CPU accelerator.</summary>
    CpuTuned,
}

/// <summary>
/// One compute device: an ILGPU accelerator with its memory pool, its loaded-kernel cache, and
/// counters of host transfers. Every tensor and kernel launch belongs to one device.
/// </summary>
/// <remarks>
/// <para>
/// Thread-safety: a device may be shared between threads. Launches, transfers and allocations
/// are serialized by the device (one in-order stream, see <see cref="Enter"/>), so results never
/// depend on which thread runs first; tensors and tapes themselves are not thread-safe and belong
/// to one thread at a time.
/// </para>
/// <para>
/// Determinism: the same inputs on the same device give bitwise-identical results from run to
/// run — values, gradients and tangents. No kernel uses atomics, every reduction sums in a fixed
/// order, and no kernel's arithmetic depends on thread scheduling. Results of the two kernel
/// families, or of float and double, agree to rounding only.
/// </para>
/// </remarks>
public sealed class Device : IDisposable
{
    private static int lastId;
    private readonly Context? ownedContext;
    private readonly ConcurrentDictionary<MethodInfo, object> kernels = new();
    private readonly ConcurrentDictionary<MethodInfo, object> sideKernels = new();
    private readonly object gate = new();
    private AcceleratorStream? side;
    private bool onSide;
    private long sideLaunches;
    private int boundThread = -1;
    private long hostToDevice, deviceToHost, launches;
    private bool disposed;

    private Device(Accelerator accelerator, KernelFamily family, Context? ownedContext)
    {
        Accelerator = accelerator;
        if (accelerator is CudaAccelerator cudaAccelerator)
            PtxTarget.Apply(cudaAccelerator, Environment.GetEnvironmentVariable(PtxTarget.EnvironmentVariable)); // before any kernel is compiled
        this.ownedContext = ownedContext;
        Family = family;
        Kind = accelerator.AcceleratorType == AcceleratorType.Cuda ? DeviceKind.Cuda : DeviceKind.Cpu;
        Id = Interlocked.Increment(ref lastId);
        Name = Kind == DeviceKind.Cpu ? CpuName(family) : accelerator.Name;
        ChoiceName = accelerator is CudaAccelerator cuda ? $"cuda:{cuda.DeviceId}"
            : Kind == DeviceKind.Cuda ? "cuda"
            : family == KernelFamily.CpuTuned ? "cpu" : "emulated-gpu";
        Pool = new BufferPool(accelerator, Name, () => MemoryBytes);
        Tuning = family == KernelFamily.GpuTuned ? TuningTable.For(Name) : TuningTable.Defaults;
        boundThread = Environment.CurrentManagedThreadId;
    }

    /// <summary>
    /// Wraps an accelerator the caller created. The family defaults to
    /// <see cref="KernelFamily.GpuTuned"/> on GPUs and <see cref="KernelFamily.CpuTuned"/> on the CPU.
    /// </summary>
    /// <param name="accelerator">The ILGPU accelerator; disposed with the device when <paramref name="ownedContext"/> is given.</param>
    /// <param name="family">The kernel family to run, or null for the accelerator's natural one.</param>
    /// <param name="ownedContext">A context the device owns and disposes (after the accelerator).</param>
    internal static Device FromAccelerator(Accelerator accelerator, KernelFamily? family = null, Context? ownedContext = null)
    {
        ArgumentNullException.ThrowIfNull(accelerator);
        var natural = accelerator.AcceleratorType == AcceleratorType.CPU ? KernelFamily.CpuTuned : KernelFamily.GpuTuned;
        return new Device(accelerator, family ?? natural, ownedContext);
    }

    /// <summary>
    /// Creates a CPU-accelerator device with its own ILGPU context.
    /// </summary>
    /// <param name="family">
    /// <see cref="KernelFamily.CpuTuned"/> (the default) runs one simulated thread per
    /// processor pair; <see cref="KernelFamily.GpuTuned"/> emulates a GPU with 32-wide warps and
    /// groups of 256 threads, so the GPU kernels can be checked without a GPU (slow: small sizes only).
    /// </param>
    /// <exception cref="FormatException">The family is GPU-tuned and <c>GPUAD_TUNING</c> names a file that is not a valid <see cref="TuningTable"/>.</exception>
    internal static Device CreateCpu(KernelFamily family = KernelFamily.CpuTuned) => CreateCpu(family, CpuConfiguration(family));

    /// <summary>
    /// An emulated GPU whose <paramref name="multiprocessors"/> multiprocessors run groups of up to
    /// <paramref name="groupSize"/> threads side by side (OS threads): for checking kernels whose
    /// groups wait on one another, which <see cref="CreateCpu(KernelFamily)"/>'s single
    /// multiprocessor runs one after the other.
    /// </summary>
    internal static Device CreateEmulatedGpu(int multiprocessors, int groupSize) =>
        CreateCpu(KernelFamily.GpuTuned, new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: Math.Max(1, groupSize / 32), numMultiprocessors: multiprocessors));

    private static Device CreateCpu(KernelFamily family, CPUDevice configuration)
    {
        if (!Enum.IsDefined(family)) throw new ArgumentOutOfRangeException(nameof(family), family, "Device: unknown kernel family.");
        var context = Context.Create(builder => builder.CPU().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        try
        {
            var accelerator = configuration.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
            return new Device(accelerator, family, context);
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The simulated hardware of <see cref="CreateCpu(KernelFamily)"/>'s accelerator for a family: for
    /// <see cref="KernelFamily.CpuTuned"/> one warp of 2 threads per processor; for
    /// <see cref="KernelFamily.GpuTuned"/> (the emulated GPU) one multiprocessor with groups of
    /// 8 warps of 32 threads.
    /// </summary>
    /// <param name="family">The kernel family the accelerator will run.</param>
    internal static CPUDevice CpuConfiguration(KernelFamily family) => family == KernelFamily.CpuTuned
        ? new CPUDevice(numThreadsPerWarp: 2, numWarpsPerMultiprocessor: 1, numMultiprocessors: Math.Max(1, Environment.ProcessorCount))
        : new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);

    /// <summary>
    /// The <see cref="Name"/> of a CPU-accelerator device running a family: "CPU accelerator", or
    /// "emulated GPU (CPU accelerator)" for the GPU-tuned kernels on a simulated GPU.
    /// </summary>
    /// <param name="family">The kernel family the device runs.</param>
    public static string CpuName(KernelFamily family) =>
        family == KernelFamily.CpuTuned ? "CPU accelerator" : "emulated GPU (CPU accelerator)";

    /// <summary>The ILGPU accelerator. Kernels code launches on it; graph code never needs it.</summary>
    internal Accelerator Accelerator { get; }

    private Lazy<(CublasProvider? Provider, string Status)>? cublas;

    /// <summary>
    /// The GEMM provider over cuBLAS: on a CUDA device where libcublas loads (see
    /// <see cref="CublasLibrary.Load"/>; <c>GPUAD_CUBLAS=off</c> turns it off), null elsewhere. The
    /// tuning table chooses it per shape class (<see cref="TuningTable.GemmCublas"/>). Tests put the
    /// managed reference of the same calls here on the emulated GPU.
    /// </summary>
    internal CublasProvider? Cublas
    {
        get => CublasState.Provider;
        set
        {
            var old = cublas is { IsValueCreated: true } c ? c.Value.Provider : null;
            if (!ReferenceEquals(old, value)) old?.Dispose();
            cublas = new(() => (value, value is null ? "cuBLAS not used" : $"cuBLAS {value.Description}"));
            _ = cublas.Value;
        }
    }

    /// <summary>
    /// The vendor BLAS in one line: "cuBLAS VERSION (FILE)" where it loaded, else why not (not a CUDA
    /// device, library not found, a symbol missing, turned off).
    /// </summary>
    public string BlasProvider => CublasState.Status;

    private (CublasProvider? Provider, string Status) CublasState
    {
        get
        {
            if (cublas is null)
                Interlocked.CompareExchange(ref cublas, new Lazy<(CublasProvider?, string)>(LoadCublas), null);
            return cublas.Value;
        }
    }

    private (CublasProvider?, string) LoadCublas()
    {
        if (Kind != DeviceKind.Cuda)
            return (null, "cuBLAS not used: not a CUDA device (the ILGPU kernels run every product)");
        var (library, _, status) = CublasLibrary.Load(Environment.GetEnvironmentVariable(CublasLibrary.EnvironmentVariable));
        if (library is null) return (null, status);
        Accelerator.Bind();
        return CublasProvider.Create(this, library);
    }

    /// <summary>CPU or CUDA.</summary>
    public DeviceKind Kind { get; }

    /// <summary>The kernel family this device runs.</summary>
    public KernelFamily Family { get; }

    /// <summary>
    /// The hardware's name: the GPU's own (e.g. "NVIDIA H100 80GB HBM3"), or
    /// <see cref="CpuName"/> for the CPU accelerator. Two devices can share it; see <see cref="Id"/>.
    /// </summary>
    public string Name { get; }

    /// <summary>
    /// The name that chooses this device in <c>GPUAD_DEVICE</c> and the tool's <c>--device</c>:
    /// <c>cpu</c>, <c>emulated-gpu</c> or <c>cuda:N</c>.
    /// </summary>
    public string ChoiceName { get; }

    /// <summary>
    /// A number unique to this device object in the process (1, 2, … in order of creation): it
    /// tells apart two devices of the same hardware in messages (see <see cref="ToString"/>).
    /// </summary>
    public int Id { get; }

    /// <summary>Device memory in bytes (for the CPU accelerator, the machine's memory).</summary>
    public long MemoryBytes => Kind == DeviceKind.Cpu ? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes : Accelerator.MemorySize;

    /// <summary>Threads per warp.</summary>
    public int WarpSize => Accelerator.WarpSize;

    /// <summary>Largest thread group.</summary>
    public int MaxGroupSize => Accelerator.MaxNumThreadsPerGroup;

    /// <summary>Multiprocessors (SMs) that run thread groups side by side.</summary>
    public int Multiprocessors => PlannedMultiprocessors ?? Accelerator.NumMultiprocessors;

    /// <summary>
    /// Makes the GEMM policy plan as for a GPU with this many multiprocessors (null: this device's),
    /// so that tests and reports can give another GPU's launch plan (with its table in
    /// <see cref="Tuning"/>) on the emulated GPU. Changes how work is split, never a result.
    /// </summary>
    internal int? PlannedMultiprocessors { get; set; }

    /// <summary>
    /// True when the GPU family can run its float64 GEMM on the fp64 tensor cores
    /// (<c>mma.sync.m8n8k4.f64</c>, compute capability 8.0 and later): CUDA devices of sm_80 on,
    /// and the emulated GPU, which runs the same tiles with the instruction's warp semantics
    /// emulated (each lane's fragments read where their owning lanes read them), so that the tiles'
    /// fragment indexing is checked without a GPU.
    /// Whether the tensor cores are used is the tuning table's choice (<see cref="TuningTable.GemmF64"/>).
    /// </summary>
    public bool SupportsDmma => Family == KernelFamily.GpuTuned &&
        (Accelerator is CudaAccelerator cuda ? cuda.Architecture is { } arch && arch >= CudaArchitecture.SM_80 : Kind == DeviceKind.Cpu);

    /// <summary>
    /// The GPU family's tuning table on this device (<see cref="TuningTable.For(string)"/>): a committed
    /// table measured on a GPU of this name, <c>GPUAD_TUNING</c>'s, or the defaults. Tests may
    /// replace it on their own device. Unused by the CPU family.
    /// </summary>
    public TuningTable Tuning { get; internal set; }

    /// <summary>
    /// Work items one element-map launch may index (<see cref="GpuAD.Kernels.Launches.MaxItems"/>); tests lower
    /// it on their own device to run the split launches at small sizes.
    /// </summary>
    internal int MaxLaunchItems { get; set; } = GpuAD.Kernels.Launches.MaxItems;

    /// <summary>The caching allocator every tensor of this device draws from.</summary>
    public BufferPool Pool { get; }

    /// <summary>Copies from host arrays to device memory so far.</summary>
    public long HostToDeviceCopies => Interlocked.Read(ref hostToDevice);

    /// <summary>Copies from device memory to host arrays so far (a backward pass makes none).</summary>
    public long DeviceToHostCopies => Interlocked.Read(ref deviceToHost);

    /// <summary>
    /// Kernel launches and memory fills queued on this device so far (a chunked launch counts
    /// once per chunk). Each costs the host microseconds on CUDA whatever its work, so this is the
    /// number to keep small for small problems. One interlocked increment per launch; thread-safe.
    /// </summary>
    public long Launches => Interlocked.Read(ref launches);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => disposed;

    /// <summary>Waits until every queued launch and copy has finished.</summary>
    public void Synchronize()
    {
        using var _ = Enter();
        Accelerator.Synchronize();
    }

    /// <summary>Allocates an uninitialized tensor from the pool.</summary>
    /// <exception cref="DeviceOutOfMemoryException">The pool's cap or the device's memory is exhausted.</exception>
    public DeviceTensor<T> Allocate<T>(Shape shape) where T : unmanaged, INumber<T>
    {
        shape.Validate("Allocate");
        using var _ = Enter();
        long bytes = shape.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
        var buffer = Pool.Rent(bytes);
        var tensor = new DeviceTensor<T>(this, buffer, shape);
        AllocationScope.Record(tensor);
        return tensor;
    }

    /// <summary>Allocates an uninitialized tensor from the pool.</summary>
    public DeviceTensor<T> Allocate<T>(int batch, int rows, int cols) where T : unmanaged, INumber<T> =>
        Allocate<T>(new Shape(batch, rows, cols));

    /// <summary>
    /// Checks, without allocating, that tensors of <paramref name="shapes"/> held at once could fit
    /// beside what the pool already holds: call it before building host data for a large problem.
    /// </summary>
    /// <exception cref="DeviceOutOfMemoryException">They need more bytes (in pool blocks) than the device has left.</exception>
    public void EnsureFits<T>(params ReadOnlySpan<Shape> shapes) where T : unmanaged, INumber<T>
    {
        long bytes = 0;
        foreach (var shape in shapes)
        {
            shape.Validate("EnsureFits");
            bytes += BufferPool.SizeClass(shape.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>());
        }
        long available = Math.Max(0, MemoryBytes - Pool.BytesInUse);
        if (bytes > available) throw new DeviceOutOfMemoryException(Name, bytes, available);
    }

    /// <summary>Allocates a tensor of zeros.</summary>
    public DeviceTensor<T> Zeros<T>(Shape shape) where T : unmanaged, INumber<T>
    {
        var t = Allocate<T>(shape);
        t.Clear();
        return t;
    }

    /// <summary>Copies a host array, row-major <c>[batch, rows, cols]</c>, to a new device tensor.</summary>
    /// <exception cref="ArgumentException">The array's length is not batch·rows·cols.</exception>
    public DeviceTensor<T> Upload<T>(ReadOnlySpan<T> data, Shape shape) where T : unmanaged, INumber<T>
    {
        HostTensors.ExpectLength(data.Length, shape, "Upload", nameof(data));
        var t = Allocate<T>(shape);
        try
        {
            t.CopyFrom(data);
        }
        catch
        {
            t.Dispose();
            throw;
        }
        return t;
    }

    /// <summary>Copies host memory, row-major <c>[batch, rows, cols]</c>, to a new device tensor.</summary>
    /// <exception cref="ArgumentException">The memory's length is not batch·rows·cols.</exception>
    public DeviceTensor<T> Upload<T>(ReadOnlyMemory<T> data, Shape shape) where T : unmanaged, INumber<T> => Upload(data.Span, shape);

    /// <summary>
    /// Copies a System.Numerics.Tensors tensor span to a new device tensor of its shape: rank 3
    /// <c>[batch, rows, cols]</c>, or rank 2 <c>[rows, cols]</c> as a batch of 1.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The rank is not 2 or 3, or the strides are not those of a dense row-major array (a
    /// transposed, sliced or broadcast view); raised before any allocation.
    /// </exception>
    public DeviceTensor<T> Upload<T>(System.Numerics.Tensors.ReadOnlyTensorSpan<T> data) where T : unmanaged, INumber<T>
    {
        var shape = HostTensors.ShapeOf(data, "Upload", nameof(data));
        return Upload(HostTensors.Elements(data), shape);
    }

    /// <summary>Copies a System.Numerics.Tensors tensor to a new device tensor of its shape (see <see cref="Upload{T}(System.Numerics.Tensors.ReadOnlyTensorSpan{T})"/>).</summary>
    /// <exception cref="ArgumentException">The rank is not 2 or 3, or the tensor is not dense row-major.</exception>
    public DeviceTensor<T> Upload<T>(System.Numerics.Tensors.Tensor<T> data) where T : unmanaged, INumber<T>
    {
        ArgumentNullException.ThrowIfNull(data);
        return Upload(data.AsReadOnlyTensorSpan());
    }

    /// <summary>Copies a host array, row-major <c>[batch, rows, cols]</c>, to a new device tensor.</summary>
    public DeviceTensor<T> Upload<T>(T[] data, int batch, int rows, int cols) where T : unmanaged, INumber<T> =>
        Upload<T>(data, new Shape(batch, rows, cols));

    internal void CountHostToDevice() => Interlocked.Increment(ref hostToDevice);

    internal void CountDeviceToHost() => Interlocked.Increment(ref deviceToHost);

    internal void CountLaunch() => Interlocked.Increment(ref launches);

    private void CountSideLaunch() => Interlocked.Increment(ref sideLaunches);

    /// <summary>
    /// Serializes access to the accelerator: launches, copies and allocations of one device never
    /// interleave between threads. Re-entrant. Binds the accelerator to the calling thread.
    /// </summary>
    internal Scope Enter()
    {
        Monitor.Enter(gate);
        if (disposed)
        {
            Monitor.Exit(gate);
            throw new ObjectDisposedException(nameof(Device), $"The device {this} has been disposed.");
        }
        int thread = Environment.CurrentManagedThreadId;
        if (boundThread != thread)
        {
            Accelerator.Bind();
            boundThread = thread;
        }
        return new Scope(gate);
    }

    /// <summary>Holds the device's lock until disposed.</summary>
    internal readonly struct Scope : IDisposable
    {
        private readonly object gate;

        internal Scope(object gate) => this.gate = gate;

        /// <summary>Releases the lock.</summary>
        public void Dispose() => Monitor.Exit(gate);
    }

    /// <summary>
    /// Returns the loaded kernel for <paramref name="method"/>, loading (compiling) it on first use.
    /// Kernels are cached per device and per generic instantiation.
    /// </summary>
    /// <param name="method">The kernel method (a generic instantiation identifies the element type).</param>
    /// <param name="load">Loads the kernel on this device's accelerator.</param>
    /// <returns>The launcher, which also counts each call in <see cref="Launches"/>.</returns>
    internal TLauncher Kernel<TLauncher>(Delegate method, Func<Accelerator, TLauncher> load) where TLauncher : Delegate =>
        onSide
            ? (TLauncher)sideKernels.GetOrAdd(method.Method, m => Counted(OnSideStream<TLauncher>(m), KernelProfile.NameOf(m)))
            : (TLauncher)kernels.GetOrAdd(method.Method, m => Counted(load(Accelerator), KernelProfile.NameOf(m)));

    /// <summary>
    /// The device's second stream (created on first use), on which a plan runs work beside the
    /// default stream's: the two-level Cholesky's trailing updates beside the next diagonal block.
    /// ILGPU 1.5.3 has no events, so the host orders the streams: <see cref="WaitForDefaultStream"/>
    /// before the side stream reads what the default stream wrote, <see cref="WaitForSideStream"/>
    /// before the default stream reads what the side stream wrote.
    /// </summary>
    internal AcceleratorStream SideStream => side ??= Accelerator.CreateStream();

    /// <summary>True while launches go to <see cref="SideStream"/> (inside <see cref="OnSide()"/>).</summary>
    internal bool IsOnSide => onSide;

    /// <summary>The launches made on <see cref="SideStream"/> so far (also counted in <see cref="Launches"/>).</summary>
    internal long SideLaunches => Interlocked.Read(ref sideLaunches);

    /// <summary>
    /// Sends the kernel launches of the calling code to <see cref="SideStream"/> until disposed
    /// (under <see cref="Enter"/>: one thread launches at a time). Only launches move: the work
    /// must allocate nothing that it frees before the stream has run it.
    /// </summary>
    internal SideScope OnSide()
    {
        _ = SideStream;
        onSide = true;
        return new SideScope(this);
    }

    /// <summary><see cref="OnSide()"/> when <paramref name="side"/>, else nothing (launches stay on the default stream).</summary>
    internal SideScope? OnSide(bool side) => side ? OnSide() : null;

    /// <summary>Ends <see cref="OnSide()"/>.</summary>
    internal readonly struct SideScope(Device device) : IDisposable
    {
        /// <summary>Launches go to the default stream again.</summary>
        public void Dispose() => device.onSide = false;
    }

    /// <summary>The host waits until the default stream has run everything launched on it.</summary>
    internal void WaitForDefaultStream() => Accelerator.DefaultStream.Synchronize();

    /// <summary>The host waits until <see cref="SideStream"/> has run everything launched on it (nothing when it was never used).</summary>
    internal void WaitForSideStream() => side?.Synchronize();

    /// <summary>
    /// A launcher of the default stream's delegate type (<c>Action&lt;KernelConfig, …&gt;</c>, or an
    /// index first for an auto-grouped kernel) that launches <paramref name="method"/> on
    /// <see cref="SideStream"/>: ILGPU's explicit-stream launcher
    /// (<c>Action&lt;AcceleratorStream, KernelConfig, …&gt;</c>) with the stream bound.
    /// </summary>
    private TLauncher OnSideStream<TLauncher>(MethodInfo method) where TLauncher : Delegate
    {
        var arguments = typeof(TLauncher).GetMethod("Invoke")!.GetParameters().Select(p => p.ParameterType).ToArray();
        var explicitType = Expression.GetActionType([typeof(AcceleratorStream), .. arguments]);
        // Explicitly grouped kernels take a KernelConfig; implicitly grouped ones an index, launched auto-grouped.
        var kernel = arguments[0] == typeof(KernelConfig) ? Accelerator.LoadKernel(method) : Accelerator.LoadAutoGroupedKernel(method);
        var launcher = (Delegate)typeof(ILGPU.Runtime.Kernel).GetMethod(nameof(ILGPU.Runtime.Kernel.CreateLauncherDelegate))!
            .MakeGenericMethod(explicitType).Invoke(kernel, null)!;
        var parameters = arguments.Select(t => Expression.Parameter(t)).ToArray();
        var count = Expression.Call(Expression.Constant(this), typeof(Device).GetMethod(nameof(CountSideLaunch), BindingFlags.NonPublic | BindingFlags.Instance)!);
        var body = Expression.Block(typeof(void), count,
            Expression.Invoke(Expression.Constant(launcher), [Expression.Constant(SideStream), .. parameters]));
        return Expression.Lambda<TLauncher>(body, parameters).Compile();
    }

    /// <summary>
    /// The profile every launch adds its time to, while set (diagnosis only: each launch then waits
    /// for the device before and after it). Null by default.
    /// </summary>
    internal KernelProfile? Profile { get; set; }

    /// <summary>
    /// The launcher behind a delegate of the same type that first counts the launch, and times it
    /// while a <see cref="Profile"/> is set.
    /// </summary>
    private TLauncher Counted<TLauncher>(TLauncher launcher, string name) where TLauncher : Delegate
    {
        var invoke = typeof(TLauncher).GetMethod("Invoke")!;
        var parameters = invoke.GetParameters().Select(p => Expression.Parameter(p.ParameterType, p.Name)).ToArray();
        const BindingFlags flags = BindingFlags.NonPublic | BindingFlags.Instance;
        var self = Expression.Constant(this);
        var profile = Expression.Variable(typeof(KernelProfile), "profile");
        var call = Expression.Invoke(Expression.Constant(launcher), parameters);
        var body = Expression.Block(
            typeof(void),
            [profile],
            Expression.Call(self, typeof(Device).GetMethod(nameof(CountLaunch), flags)!),
            Expression.Assign(profile, Expression.Property(self, typeof(Device).GetProperty(nameof(Profile), flags)!)),
            Expression.IfThenElse(
                Expression.Equal(profile, Expression.Constant(null, typeof(KernelProfile))),
                call,
                Expression.Block(
                    Expression.Call(profile, typeof(KernelProfile).GetMethod(nameof(KernelProfile.Begin), flags)!, self),
                    call,
                    Expression.Call(profile, typeof(KernelProfile).GetMethod(nameof(KernelProfile.End), flags)!, self, Expression.Constant(name)))));
        return Expression.Lambda<TLauncher>(body, parameters).Compile();
    }

    /// <summary>Number of kernels loaded (compiled) on this device (on its side stream too, where a plan launches there).</summary>
    public int LoadedKernels => kernels.Count + sideKernels.Count;

    /// <summary>The kernel methods loaded on this device so far (generic instantiations included).</summary>
    internal IReadOnlyCollection<MethodInfo> LoadedKernelMethods => kernels.Keys.Union(sideKernels.Keys).ToArray();

    /// <summary>
    /// The device in messages, e.g. "cuda:0 (NVIDIA H100 80GB HBM3, GPU-tuned kernels, device #1)":
    /// the choice name, the hardware, the kernel family and the <see cref="Id"/>, so that two
    /// devices of one kind read differently.
    /// </summary>
    public override string ToString() => $"{ChoiceName} ({Name}, {FamilyName(Family)} kernels, device #{Id})";

    /// <summary>"GPU-tuned" or "CPU-tuned".</summary>
    /// <param name="family">The kernel family.</param>
    public static string FamilyName(KernelFamily family) => family == KernelFamily.GpuTuned ? "GPU-tuned" : "CPU-tuned";

    /// <summary>Frees the pool, the loaded kernels and the accelerator (and the context if owned).</summary>
    public void Dispose()
    {
        lock (gate)
        {
            if (disposed) return;
            disposed = true;
        }
        Pool.Dispose();
        kernels.Clear();
        sideKernels.Clear();
        side?.Dispose();
        if (cublas is { IsValueCreated: true } c) c.Value.Provider?.Dispose();
        Accelerator.Dispose();
        ownedContext?.Dispose();
    }
}
