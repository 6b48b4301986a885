using System.Numerics;

namespace GpuAD.Bench;

/// <summary>
/// Seeded random inputs, row-major [batch, n, n], generated on the host in O(batch·n²) (the
/// large GPU problems rule out forming A·Aᵀ on the host). Each matrix has its own seed, so the
/// batch is generated in parallel and the data does not depend on the thread count.
/// </summary>
internal static class HostData
{
    /// <summary>Entries uniform in (−1, 1).</summary>
    public static T[] Uniform<T>(int batch, int rows, int cols, int seed) where T : unmanaged, INumber<T>
    {
        long size = (long)rows * cols;
        var a = new T[batch * size];
        Parallel.For(0, batch, b =>
        {
            var rng = new Random(seed + 7919 * b);
            var m = a.AsSpan((int)(b * size), (int)size);
            for (int i = 0; i < m.Length; i++) m[i] = T.CreateTruncating(2 * rng.NextDouble() - 1);
        });
        return a;
    }

    /// <summary>
    /// Symmetric positive-definite matrices: off-diagonal entries uniform in (−1, 1), diagonal n.
    /// Strictly diagonally dominant, so SPD; a random ±1 matrix has spectral norm ≈ 2√n, so the
    /// eigenvalues lie near n ± 2√n and the matrices are well-conditioned at every order.
    /// </summary>
    public static T[] Spd<T>(int batch, int n, int seed) where T : unmanaged, INumber<T>
    {
        long size = (long)n * n;
        var a = new T[batch * size];
        Parallel.For(0, batch, b =>
        {
            var rng = new Random(seed + 7919 * b);
            var m = a.AsSpan((int)(b * size), (int)size);
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < i; j++) m[i * n + j] = T.CreateTruncating(2 * rng.NextDouble() - 1);
                m[i * n + i] = T.CreateTruncating((double)n);
            }
            for (int i = 0; i < n; i++) // mirror the strict lower triangle, row by row of the upper
                for (int j = i + 1; j < n; j++) m[i * n + j] = m[j * n + i];
        });
        return a;
    }

    /// <summary>
    /// Lower triangular matrices: diagonal uniform in [1, 2], strict lower triangle uniform in
    /// (−1/n, 1/n), zero above. Diagonally dominant by rows, so the solves neither grow nor shrink
    /// the right-hand sides much.
    /// </summary>
    public static T[] LowerTriangular<T>(int batch, int n, int seed) where T : unmanaged, INumber<T>
    {
        long size = (long)n * n;
        var a = new T[batch * size];
        Parallel.For(0, batch, b =>
        {
            var rng = new Random(seed + 7919 * b);
            var m = a.AsSpan((int)(b * size), (int)size);
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < i; j++) m[i * n + j] = T.CreateTruncating((2 * rng.NextDouble() - 1) / n);
                m[i * n + i] = T.CreateTruncating(1 + rng.NextDouble());
            }
        });
        return a;
    }
}
