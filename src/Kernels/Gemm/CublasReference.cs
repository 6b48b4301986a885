using System.Numerics;

namespace GpuAD.Kernels;

/// <summary>
/// A managed reference of the cuBLAS calls in <see cref="ICublasApi"/>, with cuBLAS's documented
/// semantics and argument checks (column-major, leading dimensions at least the rows stored, β = 0
/// ignoring C's old contents, SYRK touching only its triangle, a stride per batch element), on
/// host pointers. On the CPU accelerator a device buffer is host memory, so the GEMM provider's
/// exact calls — operand swap, transposes, leading dimensions, offsets, batch strides, α and β —
/// run and are checked against the float64 references in CI without a GPU.
/// </summary>
internal sealed unsafe class CublasReference : ICublasApi
{
    private const int Success = 0, InvalidValue = 7, NotInitialized = 1;
    private int handles;

    public string Description => "column-major reference (managed; the CPU accelerator)";

    /// <summary>The calls made so far (the tests count them).</summary>
    public int Calls { get; private set; }

    public int Create(out nint handle)
    {
        handle = Interlocked.Increment(ref handles);
        return Success;
    }

    public int Destroy(nint handle) => handle > 0 ? Success : NotInitialized;

    public int SetStream(nint handle, nint stream) => handle > 0 ? Success : NotInitialized;

    public int SetMathMode(nint handle, int mode) => handle > 0 && mode is 0 ? Success : InvalidValue;

    public int GetVersion(nint handle, out int version)
    {
        version = 0;
        return handle > 0 ? Success : NotInitialized;
    }

    public int Dgemm(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        double* alpha, double* a, int lda, double* b, int ldb, double* beta, double* c, int ldc) =>
        Gemm(handle, transa, transb, m, n, k, *alpha, a, lda, 0, b, ldb, 0, *beta, c, ldc, 0, 1);

    public int Sgemm(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, float* a, int lda, float* b, int ldb, float* beta, float* c, int ldc) =>
        Gemm(handle, transa, transb, m, n, k, *alpha, a, lda, 0, b, ldb, 0, *beta, c, ldc, 0, 1);

    public int DgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        double* alpha, double* a, int lda, long strideA, double* b, int ldb, long strideB, double* beta, double* c, int ldc, long strideC, int batchCount) =>
        Gemm(handle, transa, transb, m, n, k, *alpha, a, lda, strideA, b, ldb, strideB, *beta, c, ldc, strideC, batchCount);

    public int SgemmStridedBatched(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        float* alpha, float* a, int lda, long strideA, float* b, int ldb, long strideB, float* beta, float* c, int ldc, long strideC, int batchCount) =>
        Gemm(handle, transa, transb, m, n, k, *alpha, a, lda, strideA, b, ldb, strideB, *beta, c, ldc, strideC, batchCount);

    public int Dsyrk(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, double* alpha, double* a, int lda, double* beta, double* c, int ldc) =>
        Syrk(handle, uplo, trans, n, k, *alpha, a, lda, *beta, c, ldc);

    public int Ssyrk(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, float* alpha, float* a, int lda, float* beta, float* c, int ldc) =>
        Syrk(handle, uplo, trans, n, k, *alpha, a, lda, *beta, c, ldc);

    /// <summary>C = α·op(A)·op(B) + β·C, column-major: op(A) m×k, op(B) k×n, C m×n, per batch element.</summary>
    private int Gemm<T>(nint handle, CublasOperation transa, CublasOperation transb, int m, int n, int k,
        T alpha, T* a, int lda, long strideA, T* b, int ldb, long strideB, T beta, T* c, int ldc, long strideC, int batchCount)
        where T : unmanaged, INumber<T>
    {
        if (handle <= 0) return NotInitialized;
        if (!Enum.IsDefined(transa) || !Enum.IsDefined(transb) || m < 0 || n < 0 || k < 0 || batchCount < 0) return InvalidValue;
        if (lda < Math.Max(1, transa == CublasOperation.N ? m : k)) return InvalidValue;
        if (ldb < Math.Max(1, transb == CublasOperation.N ? k : n)) return InvalidValue;
        if (ldc < Math.Max(1, m)) return InvalidValue;
        Calls++;
        for (int batch = 0; batch < batchCount; batch++)
        {
            T* ab = a + batch * strideA, bb = b + batch * strideB, cb = c + batch * strideC;
            for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++)
            {
                T sum = T.Zero;
                for (int l = 0; l < k; l++)
                {
                    T x = transa == CublasOperation.N ? ab[i + (long)l * lda] : ab[l + (long)i * lda];
                    T y = transb == CublasOperation.N ? bb[l + (long)j * ldb] : bb[j + (long)l * ldb];
                    sum += x * y;
                }
                long at = i + (long)j * ldc;
                cb[at] = beta == T.Zero ? alpha * sum : alpha * sum + beta * cb[at];
            }
        }
        return Success;
    }

    /// <summary>C = α·op(A)·op(A)ᵀ + β·C on C's <paramref name="uplo"/> triangle, column-major: op(A) n×k.</summary>
    private int Syrk<T>(nint handle, CublasFill uplo, CublasOperation trans, int n, int k, T alpha, T* a, int lda, T beta, T* c, int ldc)
        where T : unmanaged, INumber<T>
    {
        if (handle <= 0) return NotInitialized;
        if (!Enum.IsDefined(uplo) || !Enum.IsDefined(trans) || n < 0 || k < 0) return InvalidValue;
        if (lda < Math.Max(1, trans == CublasOperation.N ? n : k) || ldc < Math.Max(1, n)) return InvalidValue;
        Calls++;
        for (int j = 0; j < n; j++)
        for (int i = uplo == CublasFill.Upper ? 0 : j; i < (uplo == CublasFill.Upper ? j + 1 : n); i++)
        {
            T sum = T.Zero;
            for (int l = 0; l < k; l++)
            {
                T x = trans == CublasOperation.N ? a[i + (long)l * lda] : a[l + (long)i * lda];
                T y = trans == CublasOperation.N ? a[j + (long)l * lda] : a[l + (long)j * lda];
                sum += x * y;
            }
            long at = i + (long)j * ldc;
            c[at] = beta == T.Zero ? alpha * sum : alpha * sum + beta * c[at];
        }
        return Success;
    }
}
