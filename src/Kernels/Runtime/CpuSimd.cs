using System.Runtime.CompilerServices;
using System.Numerics;

namespace GpuAD.Kernels;

/// <summary>
/// SIMD loops over contiguous spans for the CPU-tuned kernels (<see cref="Vector{T}"/>: the
/// machine's vector width). ILGPU's front end does not take SIMD vectors (nor stackalloc), so these
/// are called only from methods marked <c>[External]</c>: ILGPU compiles a CPU kernel's IL to check
/// it but runs the .NET method itself, and an external method is opaque to that check — its body
/// runs as ordinary JIT-compiled .NET code.
/// </summary>
internal static unsafe class CpuSimd
{
    /// <summary>y[0..n) += α·x[0..n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Axpy<T>(T* y, T* x, T alpha, int n) where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count, k = 0;
        var va = new Vector<T>(alpha);
        for (; k + w <= n; k += w)
            Vector.Store(Vector.Load(y + k) + va * Vector.Load(x + k), y + k);
        for (; k < n; k++) y[k] += alpha * x[k];
    }

    /// <summary>y[0..n) += α·x[0..n) and v[0..n) += β·u[0..n) in one pass.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Axpy2<T>(T* y, T* x, T alpha, T* v, T* u, T beta, int n) where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count, k = 0;
        var va = new Vector<T>(alpha);
        var vb = new Vector<T>(beta);
        for (; k + w <= n; k += w)
        {
            Vector.Store(Vector.Load(y + k) + va * Vector.Load(x + k), y + k);
            Vector.Store(Vector.Load(v + k) + vb * Vector.Load(u + k), v + k);
        }
        for (; k < n; k++)
        {
            y[k] += alpha * x[k];
            v[k] += beta * u[k];
        }
    }

    /// <summary>x[0..n) *= α.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scale<T>(T* x, T alpha, int n) where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count, k = 0;
        var va = new Vector<T>(alpha);
        for (; k + w <= n; k += w)
            Vector.Store(va * Vector.Load(x + k), x + k);
        for (; k < n; k++) x[k] *= alpha;
    }

    /// <summary>x[0..n) /= d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Divide<T>(T* x, T d, int n) where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count, k = 0;
        var vd = new Vector<T>(d);
        for (; k + w <= n; k += w)
            Vector.Store(Vector.Load(x + k) / vd, x + k);
        for (; k < n; k++) x[k] /= d;
    }

    /// <summary>Σ x[k]·y[k] over [0, n): lane-wise partial sums, then a fixed-order reduction.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static T Dot<T>(T* x, T* y, int n) where T : unmanaged, INumber<T>
    {
        int w = Vector<T>.Count, k = 0;
        var acc = Vector<T>.Zero;
        for (; k + w <= n; k += w)
            acc += Vector.Load(x + k) * Vector.Load(y + k);
        T s = Vector.Sum(acc);
        for (; k < n; k++) s += x[k] * y[k];
        return s;
    }
}
