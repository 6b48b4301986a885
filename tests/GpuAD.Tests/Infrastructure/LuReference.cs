namespace GpuAD.Tests;

/// <summary>
/// Float64 reference LU with partial pivoting (LAPACK's dgetf2 order: pivot = first row of
/// largest |a|, interchange whole rows, scale, rank-1 update), and the solves built on it.
/// Matrices are row-major [batch, rows, cols].
/// </summary>
public static class LuReference
{
    /// <summary>The factors of one batch: LU packed as LAPACK stores it, pivots (zero-based), info (one-based or 0).</summary>
    public sealed record Factors(double[] Lu, int[] Pivots, int[] Info, int Batch, int N);

    /// <summary>
    /// Factors every matrix. A pivot that is exactly zero leaves its column unscaled and sets
    /// info (the first one wins); so does a non-finite pivot, whose column is scaled anyway.
    /// </summary>
    public static Factors Getrf(double[] a, int batch, int n)
    {
        var lu = (double[])a.Clone();
        var pivots = new int[batch * n];
        var info = new int[batch];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int k = 0; k < n; k++)
            {
                int p = k;
                for (int i = k + 1; i < n; i++)
                    if (Better(lu[o + i * n + k], lu[o + p * n + k])) p = i;
                pivots[b * n + k] = p;
                double pv = lu[o + p * n + k];
                if (info[b] == 0 && (pv == 0 || !double.IsFinite(pv))) info[b] = k + 1;
                if (p != k)
                    for (int j = 0; j < n; j++)
                        (lu[o + k * n + j], lu[o + p * n + j]) = (lu[o + p * n + j], lu[o + k * n + j]);
                if (pv != 0)
                    for (int i = k + 1; i < n; i++) lu[o + i * n + k] /= pv;
                for (int i = k + 1; i < n; i++)
                {
                    double l = lu[o + i * n + k];
                    for (int j = k + 1; j < n; j++) lu[o + i * n + j] -= l * lu[o + k * n + j];
                }
            }
        }
        return new Factors(lu, pivots, info, batch, n);
    }

    /// <summary>Candidate x beats the incumbent y (earlier index): larger |x|, a non-finite x above any finite y.</summary>
    private static bool Better(double x, double y)
    {
        double ax = Math.Abs(x), ay = Math.Abs(y);
        bool topX = !double.IsFinite(ax), topY = !double.IsFinite(ay);
        if (topX != topY) return topX;
        return !topX && ax > ay;
    }

    /// <summary>P·L·U of every matrix, from packed factors and zero-based pivots (the reconstruction of A).</summary>
    public static double[] Reconstruct(double[] lu, int[] pivots, int batch, int n)
    {
        var a = new double[lu.Length];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k <= Math.Min(i, j); k++)
                    s += (k == i ? 1 : lu[o + i * n + k]) * lu[o + k * n + j];
                a[o + i * n + j] = s;
            }
            // A = P·(L·U) with P = P₀·P₁·…·Pₙ₋₁: apply the interchanges to the rows from the last to the first.
            for (int k = n - 1; k >= 0; k--)
            {
                int p = pivots[b * n + k];
                if (p == k) continue;
                for (int j = 0; j < n; j++)
                    (a[o + k * n + j], a[o + p * n + j]) = (a[o + p * n + j], a[o + k * n + j]);
            }
        }
        return a;
    }

    /// <summary>
    /// X with op(A)·X = B (left) or X·op(A) = B (right), op(A) = Aᵀ when transposed, by Gaussian
    /// elimination with partial pivoting on each system in float64. A is [batchA, n, n] (batch 1
    /// broadcasts); B is [batch, n, m] (left) or [batch, m, n] (right).
    /// </summary>
    public static double[] Solve(double[] a, int batchA, int n, double[] b, int batch, int m, bool left, bool transpose)
    {
        // X·op(A) = B ⇔ op(A)ᵀ·Xᵀ = Bᵀ: reduce every case to a left solve with M = op(A) or op(A)ᵀ.
        bool transM = left ? transpose : !transpose;
        var x = new double[b.Length];
        for (int bt = 0; bt < batch; bt++)
        {
            long oa = (long)(batchA == 1 ? 0 : bt) * n * n, ob = (long)bt * n * m;
            var mat = new double[n * n];
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                mat[i * n + j] = transM ? a[oa + j * n + i] : a[oa + i * n + j];
            var rhs = new double[n * m]; // [n, m]
            for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                rhs[i * m + j] = left ? b[ob + i * m + j] : b[ob + j * n + i];
            var f = Getrf(mat, 1, n);
            for (int k = 0; k < n; k++)
            {
                int p = f.Pivots[k];
                for (int j = 0; j < m; j++) (rhs[k * m + j], rhs[p * m + j]) = (rhs[p * m + j], rhs[k * m + j]);
            }
            for (int i = 0; i < n; i++)
            for (int q = 0; q < i; q++)
            for (int j = 0; j < m; j++)
                rhs[i * m + j] -= f.Lu[i * n + q] * rhs[q * m + j];
            for (int i = n - 1; i >= 0; i--)
            {
                for (int q = i + 1; q < n; q++)
                for (int j = 0; j < m; j++)
                    rhs[i * m + j] -= f.Lu[i * n + q] * rhs[q * m + j];
                for (int j = 0; j < m; j++) rhs[i * m + j] /= f.Lu[i * n + i];
            }
            for (int i = 0; i < n; i++)
            for (int j = 0; j < m; j++)
                x[left ? ob + i * m + j : ob + j * n + i] = rhs[i * m + j];
        }
        return x;
    }
}
