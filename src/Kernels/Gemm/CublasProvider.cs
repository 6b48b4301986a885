using ILGPU;
using ILGPU.Runtime.Cuda;

namespace GpuAD.Kernels;

/// <summary>
/// The GEMM provider over cuBLAS: runs GpuAD's row-major products as cuBLAS's column-major calls on
/// the device's own stream and buffers, no copies. A row-major C = op(A)·op(B) is, read
/// column-major, Cᵀ = op(B)ᵀ·op(A)ᵀ: the operands swap, each keeps its own transpose flag, and the
/// row strides become leading dimensions. A lower-triangle update C −= A·Aᵀ (or Aᵀ·A) of one
/// operand is a SYRK on the upper triangle of the column-major Cᵀ; other lower-triangle updates
/// compute the whole product (the upper triangle's values are unspecified either way).
/// </summary>
internal sealed unsafe class CublasProvider : IDisposable
{
    /// <summary>cuBLAS's <c>CUBLAS_DEFAULT_MATH</c>: no TF32 for float32 (FP64 tensor cores stay on: they round as IEEE FMAs).</summary>
    private const int DefaultMath = 0;

    private readonly Device device;
    private readonly ICublasApi api;
    private nint handle;
    private bool onSide; // the handle's stream is the device's side stream

    private CublasProvider(Device device, ICublasApi api, nint handle, string description)
    {
        this.device = device;
        this.api = api;
        this.handle = handle;
        Description = description;
    }

    /// <summary>What runs the calls and its version, for <c>gpuad devices</c>.</summary>
    public string Description { get; }

    /// <summary>The calls behind the provider (the tests read the reference's count).</summary>
    internal ICublasApi Api => api;

    /// <summary>
    /// A provider on <paramref name="device"/>'s stream through <paramref name="api"/>, or null and
    /// the reason in one line when the handle cannot be made (no CUDA context, a driver too old for
    /// the library, …).
    /// </summary>
    internal static (CublasProvider? Provider, string Status) Create(Device device, ICublasApi api)
    {
        nint stream = device.Accelerator.DefaultStream is CudaStream cuda ? cuda.StreamPtr : 0;
        int status = api.Create(out nint h);
        if (status != 0) return (null, $"cuBLAS not used: cublasCreate returned {Name(status)} ({api.Description})");
        if ((status = api.SetStream(h, stream)) != 0 || (status = api.SetMathMode(h, DefaultMath)) != 0)
        {
            api.Destroy(h);
            return (null, $"cuBLAS not used: setting its stream or math mode returned {Name(status)} ({api.Description})");
        }
        string version = api.GetVersion(h, out int v) == 0 && v > 0 ? $"{v / 10000}.{v / 100 % 100}.{v % 100} " : "";
        var provider = new CublasProvider(device, api, h, $"{version}{api.Description}".Trim());
        return (provider, $"cuBLAS {provider.Description}");
    }

    /// <summary>
    /// One product of a launch (its layouts relative to the views), over <paramref name="batch"/>
    /// matrices: one launch in <see cref="Device.Launches"/>, however many cuBLAS calls it takes.
    /// </summary>
    internal void Gemm<T>(ArrayView<T> a, ArrayView<T> b, ArrayView<T> c, GemmArgs<T> p, int batch) where T : unmanaged
    {
        ObjectDisposedException.ThrowIf(handle == 0, this);
        if (device.IsOnSide != onSide)
        {
            // The handle follows the device's launches between its default and side streams.
            var stream = device.IsOnSide ? device.SideStream : device.Accelerator.DefaultStream;
            Check(api.SetStream(handle, stream is CudaStream cuda ? cuda.StreamPtr : 0), "setStream", p);
            onSide = device.IsOnSide;
        }
        device.CountLaunch();
        if (device.Kind == DeviceKind.Cpu) device.Accelerator.Synchronize(); // the reference reads host memory directly
        T* pa = Pointer(a) + p.A.Offset, pb = Pointer(b) + p.B.Offset, pc = Pointer(c) + p.C.Offset;
        T alpha = p.Alpha, beta = p.Beta;
        int status;
        bool syrk = p.LowerOnly != 0 && p.TransA != p.TransB && pa == pb && p.A.Ld == p.B.Ld && p.A.BatchStride == p.B.BatchStride;
        if (syrk)
        {
            // Row-major lower(C) = column-major upper(Cᵀ); C = A·Aᵀ with A stored [M, K] is Xᵀ·X for the
            // column-major X = Aᵀ (trans T); C = Aᵀ·A with A stored [K, M] is X·Xᵀ (trans N).
            var trans = p.TransA == 0 ? CublasOperation.T : CublasOperation.N;
            for (int e = 0; e < batch; e++)
            {
                status = Syrk(CublasFill.Upper, trans, p.M, p.K, &alpha, pa + e * p.A.BatchStride, p.A.Ld, &beta, pc + e * p.C.BatchStride, p.C.Ld);
                Check(status, "syrk", p);
            }
            return;
        }
        // Cᵀ = op(B)ᵀ·op(A)ᵀ, column-major: B first with B's flag, then A with A's.
        var ta = p.TransB != 0 ? CublasOperation.T : CublasOperation.N;
        var tb = p.TransA != 0 ? CublasOperation.T : CublasOperation.N;
        if (batch == 1)
        {
            Check(Gemm(ta, tb, p.N, p.M, p.K, &alpha, pb, p.B.Ld, pa, p.A.Ld, &beta, pc, p.C.Ld), "gemm", p);
            return;
        }
        for (int start = 0; start < batch; start += GpuLimits.MaxGridYZ)
        {
            int count = Math.Min(GpuLimits.MaxGridYZ, batch - start);
            status = GemmStridedBatched(ta, tb, p.N, p.M, p.K, &alpha,
                pb + start * p.B.BatchStride, p.B.Ld, p.B.BatchStride,
                pa + start * p.A.BatchStride, p.A.Ld, p.A.BatchStride, &beta,
                pc + start * p.C.BatchStride, p.C.Ld, p.C.BatchStride, count);
            Check(status, "gemmStridedBatched", p);
        }
    }

    private int Gemm<T>(CublasOperation ta, CublasOperation tb, int m, int n, int k, T* alpha, T* a, int lda, T* b, int ldb, T* beta, T* c, int ldc)
        where T : unmanaged =>
        typeof(T) == typeof(double)
            ? api.Dgemm(handle, ta, tb, m, n, k, (double*)alpha, (double*)a, lda, (double*)b, ldb, (double*)beta, (double*)c, ldc)
            : api.Sgemm(handle, ta, tb, m, n, k, (float*)alpha, (float*)a, lda, (float*)b, ldb, (float*)beta, (float*)c, ldc);

    private int GemmStridedBatched<T>(CublasOperation ta, CublasOperation tb, int m, int n, int k, T* alpha,
        T* a, int lda, long sa, T* b, int ldb, long sb, T* beta, T* c, int ldc, long sc, int count) where T : unmanaged =>
        typeof(T) == typeof(double)
            ? api.DgemmStridedBatched(handle, ta, tb, m, n, k, (double*)alpha, (double*)a, lda, sa, (double*)b, ldb, sb, (double*)beta, (double*)c, ldc, sc, count)
            : api.SgemmStridedBatched(handle, ta, tb, m, n, k, (float*)alpha, (float*)a, lda, sa, (float*)b, ldb, sb, (float*)beta, (float*)c, ldc, sc, count);

    private int Syrk<T>(CublasFill uplo, CublasOperation trans, int n, int k, T* alpha, T* a, int lda, T* beta, T* c, int ldc) where T : unmanaged =>
        typeof(T) == typeof(double)
            ? api.Dsyrk(handle, uplo, trans, n, k, (double*)alpha, (double*)a, lda, (double*)beta, (double*)c, ldc)
            : api.Ssyrk(handle, uplo, trans, n, k, (float*)alpha, (float*)a, lda, (float*)beta, (float*)c, ldc);

    /// <summary>The address of a view's first element (device memory on CUDA, host memory on the CPU accelerator).</summary>
    private static T* Pointer<T>(ArrayView<T> view) where T : unmanaged =>
        (T*)(((IArrayView)view).Buffer.NativePtr + (nint)((IContiguousArrayView)view).IndexInBytes);

    private void Check<T>(int status, string call, GemmArgs<T> p) where T : unmanaged
    {
        if (status != 0)
            throw new GpuADException($"Gemm: cuBLAS {call} returned {Name(status)} for [{p.M}, {p.K}]·[{p.K}, {p.N}] ({api.Description}).");
    }

    private static string Name(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        _ => $"status {status}",
    };

    public void Dispose()
    {
        if (handle == 0) return;
        api.Destroy(handle);
        handle = 0;
    }
}
