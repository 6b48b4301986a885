using System.Numerics;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD.Kernels;

/// <summary>Parameters of a substitution launch.</summary>
internal struct SubstitutionArgs
{
    public MatLayout T, B;
    public int N, Lines;
    public int Left, Forward, TransposeT, UnitDiagonal;
}

/// <summary>
/// The triangular solves of GETRS by plain substitution: one thread per right-hand side (a
/// column of B for left solves, consecutive threads on consecutive addresses; a row of B for
/// right solves), both families. A right solve X·op(T) = B is the left solve op(T)ᵀ·Xᵀ = Bᵀ, so
/// every case is forward substitution (op'(T) lower) or back substitution (upper) along a line.
/// Only T's triangle is read, and with a unit diagonal not the diagonal either.
/// </summary>
internal static class LuTriangular
{
    internal static void Solve<T>(Device device, MatRef<T> t, MatRef<T> b, bool left, bool lower, bool transpose, bool unitDiagonal)
        where T : unmanaged, INumber<T>
    {
        int lines = left ? b.Cols : b.Rows;
        long count = (long)b.Batch * lines;
        if (count == 0 || t.Rows == 0) return;
        if (count > int.MaxValue) throw new ArgumentException($"Getrs: {count} right-hand sides exceed one launch.");
        bool transposeT = transpose == left; // op'(T) = op(T) for left solves, op(T)ᵀ for right
        var args = new SubstitutionArgs
        {
            T = t.Layout, B = b.Layout, N = t.Rows, Lines = lines,
            Left = left ? 1 : 0, Forward = lower != transposeT ? 1 : 0, TransposeT = transposeT ? 1 : 0,
            UnitDiagonal = unitDiagonal ? 1 : 0,
        };
        var kernel = device.Kernel(Kernel<T>, acc => acc.LoadAutoGroupedStreamKernel<Index1D, ArrayView<T>, ArrayView<T>, SubstitutionArgs>(Kernel<T>));
        kernel((int)count, t.Data, b.Data, args);
    }

    internal static void Kernel<T>(Index1D index, ArrayView<T> t, ArrayView<T> b, SubstitutionArgs p)
        where T : unmanaged, INumber<T>
    {
        int line = index % p.Lines, m = index / p.Lines;
        long start = p.Left == 1 ? p.B.At(m, 0, line) : p.B.At(m, line, 0);
        long step = p.Left == 1 ? p.B.Ld : 1;
        // M = op'(T): M[i, q] = T[q, i] when TransposeT, else T[i, q].
        long rowStep = p.TransposeT == 1 ? 1 : p.T.Ld, colStep = p.TransposeT == 1 ? p.T.Ld : 1;
        long tBase = p.T.Offset + m * p.T.BatchStride;
        for (int s = 0; s < p.N; s++)
        {
            int i = p.Forward == 1 ? s : p.N - 1 - s;
            int q0 = p.Forward == 1 ? 0 : i + 1, q1 = p.Forward == 1 ? i : p.N;
            long mi = tBase + i * rowStep;
            T acc = b[start + i * step];
            for (int q = q0; q < q1; q++) acc -= t[mi + q * colStep] * b[start + q * step];
            if (p.UnitDiagonal == 0) acc /= t[mi + i * colStep];
            b[start + i * step] = acc;
        }
    }
}
