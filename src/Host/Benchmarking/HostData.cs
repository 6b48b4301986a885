using System.Numerics;
using System.Runtime.InteropServices;
using GpuAD.Kernels;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Bench;

/// <summary>
/// Seeded random inputs of the catalogue's kinds (<see cref="InputKind"/>) written straight into
/// device tensors, a block of rows at a time, in O(batch·n²): the large problems rule out forming
/// A·Aᵀ as <see cref="InputData"/> does, and a matrix may hold more elements than a host array. Each
/// entry is a hash of (seed, matrix, row, column), so the data does not depend on the thread count
/// or the block size; bench/torch_ref.py builds the same kinds:
/// <list type="bullet">
/// <item><see cref="InputKind.General"/>: entries uniform in (−1, 1).</item>
/// <item><see cref="InputKind.Spd"/>: off-diagonal entries uniform in (−1, 1), symmetric, diagonal n.
/// Strictly diagonally dominant, so SPD; a random ±1 matrix has spectral norm ≈ 2√n, so the
/// eigenvalues lie near n ± 2√n and the matrices are well-conditioned at every order.</item>
/// <item><see cref="InputKind.Lower"/>: diagonal uniform in [1, 2], strict lower triangle uniform in
/// (−1/n, 1/n), zero above. Diagonally dominant by rows, so solves neither grow nor shrink much.</item>
/// <item><see cref="InputKind.Invertible"/>: 2·I + E/√n with E uniform in (−1, 1).</item>
/// </list>
/// </summary>
internal static class HostData
{
    private const long BlockElements = 1 << 22;

    /// <summary>Fills <paramref name="tensor"/> ([batch, n, n]) with inputs of <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentException">A kind the benchmark does not build (Positive, Upper).</exception>
    public static void Fill<T>(DeviceTensor<T> tensor, InputKind kind, int seed) where T : unmanaged, INumber<T> =>
        Fill(tensor, (b, i, j) => Entry(kind, seed, b, i, j, tensor.Cols));

    /// <summary>Fills <paramref name="tensor"/> with <c>entry(b, i, j)</c>, a block of rows at a time, in parallel.</summary>
    public static void Fill<T>(DeviceTensor<T> tensor, Func<int, int, int, double> entry) where T : unmanaged, INumber<T>
    {
        int n = tensor.Cols;
        int rowsPerBlock = (int)Math.Max(1, BlockElements / Math.Max(1, n));
        // Pinned: ILGPU copies from a raw pointer to the array without pinning it itself.
        var block = GC.AllocateArray<T>((int)(Math.Min((long)rowsPerBlock, tensor.Rows) * n), pinned: true);
        for (int b = 0; b < tensor.Batch; b++)
        {
            if (n == 0) break;
            for (int r0 = 0; r0 < tensor.Rows; r0 += rowsPerBlock)
            {
                int rows = Math.Min(rowsPerBlock, tensor.Rows - r0);
                Parallel.For(0, rows, r =>
                {
                    int i = r0 + r;
                    var row = block.AsSpan(r * n, n);
                    for (int j = 0; j < n; j++) row[j] = T.CreateTruncating(entry(b, i, j));
                });
                var span = new ReadOnlySpan<T>(block, 0, rows * n);
                long offset = ((long)b * tensor.Rows + r0) * n;
                using var _ = tensor.Device.Enter();
                tensor.View.SubView(offset, span.Length).CopyFromCPU(ref MemoryMarshal.GetReference(span), span.Length);
            }
        }
        tensor.Device.Synchronize();
    }

    private static double Entry(InputKind kind, int seed, int b, int i, int j, int n) => kind switch
    {
        InputKind.General => Uniform(seed, b, i, j),
        InputKind.Spd => i == j ? n : Uniform(seed, b, Math.Max(i, j), Math.Min(i, j)),
        InputKind.Lower => i == j ? 1 + Unit(seed, b, i, j) : j < i ? Uniform(seed, b, i, j) / n : 0,
        InputKind.Invertible => (i == j ? 2 : 0) + Uniform(seed, b, i, j) / Math.Sqrt(n),
        _ => throw new ArgumentException($"the benchmark has no {kind} inputs (bench/torch_ref.py builds uniform, SPD, lower triangular and invertible ones).", nameof(kind)),
    };

    /// <summary>Uniform in (−1, 1), a hash of the coordinates.</summary>
    public static double Uniform(int seed, int b, int i, int j) => 2 * Unit(seed, b, i, j) - 1;

    /// <summary>A double in [0, 1) from SplitMix64 of the entry's coordinates.</summary>
    public static double Unit(int seed, int b, int i, int j)
    {
        ulong z = (ulong)(uint)seed * 0x9E3779B97F4A7C15UL ^ (ulong)(uint)b << 42 ^ (ulong)(uint)i << 21 ^ (uint)j;
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 11) * (1.0 / (1UL << 53));
    }
}
