using System.Runtime.InteropServices;

namespace GpuAD.Distributed;

/// <summary>
/// The few calls of Open MPI's C API that GpuAD needs, bound at run time from <c>libmpi.so.40</c>.
/// Open MPI's handles (<c>MPI_COMM_WORLD</c>, <c>MPI_BYTE</c>, …) are the addresses of exported
/// globals (<c>ompi_mpi_comm_world</c>, <c>ompi_mpi_byte</c>, …), so no C shim is needed. The
/// library is opened with <c>RTLD_GLOBAL</c>, as Open MPI's own plugins expect of their host.
/// Other MPI implementations (MPICH, MS-MPI) have another ABI and are refused by name.
/// </summary>
internal sealed unsafe class OpenMpi
{
    /// <summary>The environment variable that names the library file to load instead of the default.</summary>
    public const string LibraryVariable = "GPUAD_MPI_LIBRARY";

    public const int Success = 0;
    public const int ThreadSerialized = 2;
    public const int CommTypeShared = 0;
    private const int MaxErrorString = 256;

    private static readonly string[] DefaultNames = ["libmpi.so.40", "libmpi.so"];
    private static readonly object LoadGate = new();
    private static OpenMpi? loaded;

    public readonly nint CommWorld, Byte, InfoNull;
    public readonly delegate* unmanaged<int*, byte***, int, int*, int> InitThread;
    public readonly delegate* unmanaged<int*, int> Initialized;
    public readonly delegate* unmanaged<int*, int> Finalized;
    public readonly delegate* unmanaged<int> Finalize;
    public readonly delegate* unmanaged<nint, int*, int> CommRank;
    public readonly delegate* unmanaged<nint, int*, int> CommSize;
    public readonly delegate* unmanaged<nint, int, int, nint, nint*, int> CommSplitType;
    public readonly delegate* unmanaged<nint*, int> CommFree;
    public readonly delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int> Allgather;
    public readonly delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int> Allgatherv;
    public readonly delegate* unmanaged<void*, int, nint, int, nint, int> Bcast;
    public readonly delegate* unmanaged<nint, int> Barrier;
    public readonly delegate* unmanaged<nint, int, int> Abort;
    private readonly delegate* unmanaged<int, byte*, int*, int> errorString;

    /// <summary>Where the library was loaded from.</summary>
    public string Path { get; }

    private OpenMpi(nint handle, string path)
    {
        Path = path;
        nint Get(string name) => NativeLibrary.TryGetExport(handle, name, out nint address)
            ? address
            : throw new MpiUnavailableException($"MPI: {path} has no symbol '{name}'. GpuAD binds Open MPI (libmpi.so.40); MPICH, Intel MPI and MS-MPI have another binary interface.");
        CommWorld = Get("ompi_mpi_comm_world");
        Byte = Get("ompi_mpi_byte");
        InfoNull = Get("ompi_mpi_info_null");
        InitThread = (delegate* unmanaged<int*, byte***, int, int*, int>)Get("MPI_Init_thread");
        Initialized = (delegate* unmanaged<int*, int>)Get("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Get("MPI_Finalized");
        Finalize = (delegate* unmanaged<int>)Get("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Get("MPI_Comm_size");
        CommSplitType = (delegate* unmanaged<nint, int, int, nint, nint*, int>)Get("MPI_Comm_split_type");
        CommFree = (delegate* unmanaged<nint*, int>)Get("MPI_Comm_free");
        Allgather = (delegate* unmanaged<void*, int, nint, void*, int, nint, nint, int>)Get("MPI_Allgather");
        Allgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, int>)Get("MPI_Allgatherv");
        Bcast = (delegate* unmanaged<void*, int, nint, int, nint, int>)Get("MPI_Bcast");
        Barrier = (delegate* unmanaged<nint, int>)Get("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Get("MPI_Abort");
        errorString = (delegate* unmanaged<int, byte*, int*, int>)Get("MPI_Error_string");
    }

    /// <summary>Loads the library once per process.</summary>
    /// <exception cref="MpiUnavailableException">No Open MPI library could be loaded.</exception>
    public static OpenMpi Load()
    {
        lock (LoadGate)
        {
            if (loaded is not null) return loaded;
            var names = Environment.GetEnvironmentVariable(LibraryVariable) is { Length: > 0 } explicitPath
                ? [explicitPath]
                : DefaultNames;
            var failures = new List<string>();
            foreach (var name in names)
            {
                if (TryOpen(name, out nint handle, out string? error))
                {
                    loaded = new OpenMpi(handle, name);
                    return loaded;
                }
                failures.Add($"{name}: {error}");
            }
            throw new MpiUnavailableException(
                $"MPI: Open MPI's library could not be loaded ({string.Join("; ", failures)}). Install Open MPI " +
                $"(Debian/Ubuntu: apt-get install openmpi-bin libopenmpi-dev) or set {LibraryVariable} to the path of libmpi.so.40.");
        }
    }

    /// <summary>Throws <see cref="MpiException"/> naming the call when an MPI call did not succeed.</summary>
    public void Check(int code, string call)
    {
        if (code == Success) return;
        throw new MpiException(call, code, Describe(code));
    }

    private string Describe(int code)
    {
        var buffer = stackalloc byte[MaxErrorString + 1];
        int length = 0;
        return errorString(code, buffer, &length) == Success && length > 0
            ? System.Text.Encoding.UTF8.GetString(buffer, Math.Min(length, MaxErrorString))
            : $"error code {code}";
    }

    // Open MPI's plugins resolve symbols of libmpi itself, so the library must be opened with
    // RTLD_GLOBAL; NativeLibrary.Load opens with RTLD_LOCAL.
    private const int RtldNow = 0x2, RtldGlobal = 0x100;

    [DllImport("libc.so.6", EntryPoint = "dlopen")]
    private static extern nint DlOpenLibc(string file, int mode);

    [DllImport("libc.so.6", EntryPoint = "dlerror")]
    private static extern nint DlErrorLibc();

    private static bool TryOpen(string name, out nint handle, out string? error)
    {
        error = null;
        if (OperatingSystem.IsLinux())
        {
            try
            {
                handle = DlOpenLibc(name, RtldNow | RtldGlobal);
                if (handle != 0) return true;
                error = Marshal.PtrToStringUTF8(DlErrorLibc()) ?? "not found";
                return false;
            }
            catch (DllNotFoundException)
            {
                // Not glibc: fall through to the runtime's loader.
            }
        }
        if (NativeLibrary.TryLoad(name, out handle)) return true;
        error ??= "not found";
        return false;
    }
}
