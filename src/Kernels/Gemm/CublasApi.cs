using System.Runtime.InteropServices;

namespace GpuAD.Kernels;

/// <summary>cuBLAS's <c>cublasOperation_t</c>.</summary>
internal enum CublasOperation
{
    N = 0,
    T = 1,
}

/// <summary>cuBLAS's <c>cublasFillMode_t</c>.</summary>
internal enum CublasFill
{
    Lower = 0,
    Upper = 1,
}

/// <summary>
/// The cuBLAS entry points GpuAD's GEMM provider calls, with cuBLAS's own conventions: column-major
/// matrices with leading dimensions, α and β read from host memory (the default pointer mode), the
/// matrices' elements in device memory, a status code returned (0: success). Two implementations:
/// the library itself (<see cref="CublasLibrary"/>) and a managed reference of the same calls
/// (<see cref="CublasReference"/>), which lets the CPU accelerator check every call site's mapping.
/// </summary>
internal unsafe interface ICublasApi
{
    /// <summary>What runs the calls, for <c>gpuad devices</c> (e.g. "cuBLAS 13.1.0 (libcublas.so.13 at /usr/lib/…)").</summary>
    string Description { get; }

    int Create(out nint handle);

    int Destroy(nint handle);

    int SetStream(nint handle, nint stream);

    int SetMathMode(nint handle, int mode);

    int GetVersion(nint handle, out int version);

    int Dgemm(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        double* alpha, double* a, int lda, double* b, int ldb, double* beta, double* c, int ldc);

    int Sgemm(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, float* a, int lda, float* b, int ldb, float* beta, float* c, int ldc);

    int DgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        double* alpha, double* a, int lda, long strideA, double* b, int ldb, long strideB, double* beta, double* c, int ldc, long strideC, int batchCount);

    int SgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, float* a, int lda, long strideA, float* b, int ldb, long strideB, float* beta, float* c, int ldc, long strideC, int batchCount);

    int Dsyrk(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, double* alpha, double* a, int lda, double* beta, double* c, int ldc);

    int Ssyrk(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, float* alpha, float* a, int lda, float* beta, float* c, int ldc);
}

/// <summary>Why cuBLAS is or is not used, in the words of <see cref="CublasLibrary.Load"/>.</summary>
internal enum CublasLoad
{
    /// <summary>Loaded, every entry point found.</summary>
    Loaded,

    /// <summary><c>GPUAD_CUBLAS=off</c>.</summary>
    Off,

    /// <summary>No libcublas.so.13 or .12 anywhere looked, or <c>GPUAD_CUBLAS</c> names no file.</summary>
    NotFound,

    /// <summary><c>GPUAD_CUBLAS</c> names a directory.</summary>
    Directory,

    /// <summary>The file is not a library this process can load (another architecture, its CUDA runtime missing).</summary>
    NotLoadable,

    /// <summary>The library lacks an entry point GpuAD calls (too old a cuBLAS).</summary>
    SymbolMissing,
}

/// <summary>
/// libcublas loaded at run time (no link-time dependency): the entry points of
/// <see cref="ICublasApi"/> as unmanaged function pointers.
/// </summary>
internal sealed unsafe class CublasLibrary : ICublasApi
{
    /// <summary>The environment variable naming libcublas's file, tried first; <c>off</c> turns the provider off.</summary>
    internal const string EnvironmentVariable = "GPUAD_CUBLAS";

    /// <summary>The library names tried, newest first.</summary>
    internal static readonly string[] Names = OperatingSystem.IsWindows()
        ? ["cublas64_13.dll", "cublas64_12.dll"]
        : ["libcublas.so.13", "libcublas.so.12"];

    private readonly delegate* unmanaged<nint*, int> create;
    private readonly delegate* unmanaged<nint, int> destroy;
    private readonly delegate* unmanaged<nint, nint, int> setStream;
    private readonly delegate* unmanaged<nint, int, int> setMathMode;
    private readonly delegate* unmanaged<nint, int*, int> getVersion;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, double*, double*, int, double*, int, double*, double*, int, int> dgemm;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, float*, int, float*, int, float*, float*, int, int> sgemm;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, double*, double*, int, long, double*, int, long, double*, double*, int, long, int, int> dgemmBatched;
    private readonly delegate* unmanaged<nint, int, int, int, int, int, float*, float*, int, long, float*, int, long, float*, float*, int, long, int, int> sgemmBatched;
    private readonly delegate* unmanaged<nint, int, int, int, int, double*, double*, int, double*, double*, int, int> dsyrk;
    private readonly delegate* unmanaged<nint, int, int, int, int, float*, float*, int, float*, float*, int, int> ssyrk;

    private CublasLibrary(nint library, string path)
    {
        Description = path;
        create = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(library, "cublasCreate_v2");
        destroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(library, "cublasDestroy_v2");
        setStream = (delegate* unmanaged<nint, nint, int>)NativeLibrary.GetExport(library, "cublasSetStream_v2");
        setMathMode = (delegate* unmanaged<nint, int, int>)NativeLibrary.GetExport(library, "cublasSetMathMode");
        getVersion = (delegate* unmanaged<nint, int*, int>)NativeLibrary.GetExport(library, "cublasGetVersion_v2");
        dgemm = (delegate* unmanaged<nint, int, int, int, int, int, double*, double*, int, double*, int, double*, double*, int, int>)NativeLibrary.GetExport(library, "cublasDgemm_v2");
        sgemm = (delegate* unmanaged<nint, int, int, int, int, int, float*, float*, int, float*, int, float*, float*, int, int>)NativeLibrary.GetExport(library, "cublasSgemm_v2");
        dgemmBatched = (delegate* unmanaged<nint, int, int, int, int, int, double*, double*, int, long, double*, int, long, double*, double*, int, long, int, int>)NativeLibrary.GetExport(library, "cublasDgemmStridedBatched");
        sgemmBatched = (delegate* unmanaged<nint, int, int, int, int, int, float*, float*, int, long, float*, int, long, float*, float*, int, long, int, int>)NativeLibrary.GetExport(library, "cublasSgemmStridedBatched");
        dsyrk = (delegate* unmanaged<nint, int, int, int, int, double*, double*, int, double*, double*, int, int>)NativeLibrary.GetExport(library, "cublasDsyrk_v2");
        ssyrk = (delegate* unmanaged<nint, int, int, int, int, float*, float*, int, float*, float*, int, int>)NativeLibrary.GetExport(library, "cublasSsyrk_v2");
    }

    /// <summary>The entry points every call site needs; a library missing one is not used.</summary>
    internal static readonly string[] Exports =
    [
        "cublasCreate_v2", "cublasDestroy_v2", "cublasSetStream_v2", "cublasSetMathMode", "cublasGetVersion_v2",
        "cublasDgemm_v2", "cublasSgemm_v2", "cublasDgemmStridedBatched", "cublasSgemmStridedBatched", "cublasDsyrk_v2", "cublasSsyrk_v2",
    ];

    public string Description { get; }

    /// <summary>
    /// Finds and loads libcublas: <c>GPUAD_CUBLAS</c> (a file; <c>off</c>: not at all), then each of
    /// <see cref="Names"/> on the loader's path, then in the usual CUDA folders and the library
    /// folders of Python CUDA wheels (nvidia-cublas). The library, or null and the reason in one line.
    /// </summary>
    /// <param name="setting">The value of <c>GPUAD_CUBLAS</c> (null or empty: unset).</param>
    internal static (CublasLibrary? Library, CublasLoad Outcome, string Status) Load(string? setting)
    {
        if (string.Equals(setting, "off", StringComparison.OrdinalIgnoreCase))
            return (null, CublasLoad.Off, $"cuBLAS not used: {EnvironmentVariable}=off");
        if (!string.IsNullOrEmpty(setting))
        {
            if (System.IO.Directory.Exists(setting))
                return (null, CublasLoad.Directory, $"cuBLAS not loaded: {EnvironmentVariable}={setting} is a directory; give libcublas's file");
            if (!File.Exists(setting))
                return (null, CublasLoad.NotFound, $"cuBLAS not loaded: {EnvironmentVariable}={setting}: no such file");
            return Open(setting);
        }
        foreach (string name in Names)
            if (NativeLibrary.TryLoad(name, out nint handle))
                return FromHandle(handle, name);
        foreach (string dir in Folders())
        foreach (string name in Names)
        {
            string path = Path.Combine(dir, name);
            if (File.Exists(path)) return Open(path);
        }
        return (null, CublasLoad.NotFound, $"cuBLAS not loaded: {string.Join(" and ", Names)} not found (on the loader's path, in the CUDA folders or a Python CUDA wheel; {EnvironmentVariable}=FILE names it)");
    }

    private static (CublasLibrary?, CublasLoad, string) FromHandle(nint handle, string path)
    {
        string? missing = Exports.FirstOrDefault(e => !NativeLibrary.TryGetExport(handle, e, out _));
        if (missing is not null) return (null, CublasLoad.SymbolMissing, $"cuBLAS not loaded: {path} has no {missing}");
        var lib = new CublasLibrary(handle, path);
        return (lib, CublasLoad.Loaded, $"cuBLAS {lib.Description}");
    }

    private static (CublasLibrary?, CublasLoad, string) Open(string path) =>
        NativeLibrary.TryLoad(path, out nint handle)
            ? FromHandle(handle, path)
            : (null, CublasLoad.NotLoadable, $"cuBLAS not loaded: {path} could not be loaded (not a library for this machine, or its CUDA runtime is missing)");

    /// <summary>The usual CUDA library folders and those of Python CUDA wheels.</summary>
    private static IEnumerable<string> Folders()
    {
        var roots = new List<string> { "/usr/local/cuda/lib64", "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/local/cuda/targets/sbsa-linux/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu" };
        if (Environment.GetEnvironmentVariable("CUDA_HOME") is { Length: > 0 } cudaHome) roots.Insert(0, Path.Combine(cudaHome, "lib64"));
        var prefixes = new List<string> { "/usr/lib", "/usr/local/lib", "/opt/conda/lib" };
        foreach (string env in new[] { "VIRTUAL_ENV", "CONDA_PREFIX" })
            if (Environment.GetEnvironmentVariable(env) is { Length: > 0 } p) prefixes.Insert(0, Path.Combine(p, "lib"));
        if (Environment.GetEnvironmentVariable("HOME") is { Length: > 0 } home) prefixes.Add(Path.Combine(home, ".local", "lib"));
        foreach (string root in roots) yield return root;
        foreach (string prefix in prefixes)
        {
            if (!Directory.Exists(prefix)) continue;
            string[] pythons;
            try { pythons = Directory.GetDirectories(prefix, "python3*"); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException) { continue; }
            foreach (string python in pythons.OrderDescending(StringComparer.Ordinal))
            foreach (string packages in new[] { "site-packages", "dist-packages" })
            foreach (string wheel in new[] { "cu13", "cublas", "cu12" })
                yield return Path.Combine(python, packages, "nvidia", wheel, "lib");
        }
    }

    public int Create(out nint handle)
    {
        nint h;
        int status = create(&h);
        handle = h;
        return status;
    }

    public int Destroy(nint handle) => destroy(handle);

    public int SetStream(nint handle, nint stream) => setStream(handle, stream);

    public int SetMathMode(nint handle, int mode) => setMathMode(handle, mode);

    public int GetVersion(nint handle, out int version)
    {
        int v;
        int status = getVersion(handle, &v);
        version = v;
        return status;
    }

    public int Dgemm(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        double* alpha, double* a, int lda, double* b, int ldb, double* beta, double* c, int ldc) =>
        dgemm(handle, (int)transa, (int)transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public int Sgemm(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, float* a, int lda, float* b, int ldb, float* beta, float* c, int ldc) =>
        sgemm(handle, (int)transa, (int)transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    public int DgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        double* alpha, double* a, int lda, long strideA, double* b, int ldb, long strideB, double* beta, double* c, int ldc, long strideC, int batchCount) =>
        dgemmBatched(handle, (int)transa, (int)transb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batchCount);

    public int SgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, float* a, int lda, long strideA, float* b, int ldb, long strideB, float* beta, float* c, int ldc, long strideC, int batchCount) =>
        sgemmBatched(handle, (int)transa, (int)transb, m, n, k, alpha, a, lda, strideA, b, ldb, strideB, beta, c, ldc, strideC, batchCount);

    public int Dsyrk(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, double* alpha, double* a, int lda, double* beta, double* c, int ldc) =>
        dsyrk(handle, (int)uplo, (int)trans, n, k, alpha, a, lda, beta, c, ldc);

    public int Ssyrk(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, float* alpha, float* a, int lda, float* beta, float* c, int ldc) =>
        ssyrk(handle, (int)uplo, (int)trans, n, k, alpha, a, lda, beta, c, ldc);
}
