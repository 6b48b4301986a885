namespace GpuAD.Tests;

/// <summary>Plain float64 reference implementations (row-major [batch, rows, cols]).</summary>
public static class Reference
{
    /// <summary>op(X)[i, j] of matrix b of a [batch, rows, cols] array (batch 1 broadcasts).</summary>
    public static double At(double[] x, int batch, int rows, int cols, int b, int i, int j, bool trans)
    {
        int bb = batch == 1 ? 0 : b;
        return trans ? x[(long)bb * rows * cols + (long)j * cols + i] : x[(long)bb * rows * cols + (long)i * cols + j];
    }

    /// <summary>C = α·op(A)·op(B) + β·C; A is [ba, ra, ca], B is [bb, rb, cb], C is [batch, m, n].</summary>
    public static double[] Gemm(double[] a, (int b, int r, int c) sa, bool ta, double[] bm, (int b, int r, int c) sb, bool tb,
        double[]? c, int batch, double alpha, double beta)
    {
        int m = ta ? sa.c : sa.r, k = ta ? sa.r : sa.c, n = tb ? sb.r : sb.c;
        var result = new double[batch * m * n];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++)
                s += At(a, sa.b, sa.r, sa.c, b, i, p, ta) * At(bm, sb.b, sb.r, sb.c, b, p, j, tb);
            long idx = (long)b * m * n + i * n + j;
            result[idx] = alpha * s + (beta == 0 || c is null ? 0 : beta * c[idx]);
        }
        return result;
    }

    /// <summary>Row-major transpose of each matrix.</summary>
    public static double[] Transpose(double[] x, int batch, int rows, int cols)
    {
        var r = new double[x.Length];
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            r[(long)b * rows * cols + (long)j * rows + i] = x[(long)b * rows * cols + (long)i * cols + j];
        return r;
    }

    /// <summary>
    /// α·op(T)⁻¹·B (left) or α·B·op(T)⁻¹ (right) by plain substitution. T is [tBatch, n, n] (a batch
    /// of 1 broadcasts) and only its <paramref name="lower"/> or upper triangle is read (not its
    /// diagonal when <paramref name="unitDiagonal"/>); B is [batch, rows, cols].
    /// </summary>
    public static double[] TriangularSolve(double[] t, int tBatch, int n, double[] b, int batch, int rows, int cols,
        bool left, bool lower, bool transpose, bool unitDiagonal, double alpha)
    {
        var x = new double[b.Length];
        var m = new double[n, n];
        for (int bt = 0; bt < batch; bt++)
        {
            long tBase = (long)(tBatch == 1 ? 0 : bt) * n * n, bBase = (long)bt * rows * cols;
            Array.Clear(m);
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                if (lower ? j > i : j < i) continue;
                double v = i == j && unitDiagonal ? 1 : t[tBase + (long)i * n + j];
                if (transpose) m[j, i] = v;
                else m[i, j] = v;
            }
            // Left: op(T)·x = α·b for each column. Right: x·op(T) = α·b, i.e. op(T)ᵀ·xᵀ = α·bᵀ, for each row.
            int systems = left ? cols : rows;
            var y = new double[n];
            for (int s = 0; s < systems; s++)
            {
                for (int k = 0; k < n; k++) y[k] = alpha * b[bBase + (left ? (long)k * cols + s : (long)s * cols + k)];
                Substitute(m, useM: left, isLower: left == (lower != transpose), y);
                for (int k = 0; k < n; k++) x[bBase + (left ? (long)k * cols + s : (long)s * cols + k)] = y[k];
            }
        }
        return x;
    }

    /// <summary>Solves S·y = rhs in place, S = M (or Mᵀ) lower (or upper) triangular.</summary>
    private static void Substitute(double[,] m, bool useM, bool isLower, double[] y)
    {
        int n = y.Length;
        double At(int i, int j) => useM ? m[i, j] : m[j, i];
        for (int s = 0; s < n; s++)
        {
            int i = isLower ? s : n - 1 - s;
            double v = y[i];
            for (int j = 0; j < n; j++)
                if (j != i && (isLower ? j < i : j > i)) v -= At(i, j) * y[j];
            y[i] = v / At(i, i);
        }
    }

    /// <summary>
    /// The lower Cholesky factor L (A = L·Lᵀ) of each matrix of a [batch, n, n] array, by the
    /// textbook column algorithm, reading only the lower triangle; the strict upper triangle is 0.
    /// </summary>
    public static double[] Cholesky(double[] a, int batch, int n)
    {
        var l = new double[a.Length];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            for (int j = 0; j < n; j++)
            {
                double d = a[o + j * n + j];
                for (int p = 0; p < j; p++) d -= l[o + j * n + p] * l[o + j * n + p];
                double ljj = Math.Sqrt(d);
                l[o + j * n + j] = ljj;
                for (int i = j + 1; i < n; i++)
                {
                    double s = a[o + i * n + j];
                    for (int p = 0; p < j; p++) s -= l[o + i * n + p] * l[o + j * n + p];
                    l[o + i * n + j] = s / ljj;
                }
            }
        }
        return l;
    }

    /// <summary>
    /// The symmetric gradient of a Cholesky factorization, Σ̄ = sym(L⁻ᵀ·Φ*(tril(Lᵀ·tril(L̄)))·L⁻¹)
    /// with Φ*(Z) = ½(Z + Zᵀ − diag Z) (PyTorch's formula), by substitution in float64. Only the
    /// lower triangles of L and L̄ are read.
    /// </summary>
    public static double[] CholeskyBackward(double[] l, double[] lbar, int batch, int n)
    {
        var result = new double[(long)batch * n * n];
        var s = new double[n, n];
        for (int b = 0; b < batch; b++)
        {
            long o = (long)b * n * n;
            double L(int i, int j) => j <= i ? l[o + i * n + j] : 0;
            // S = Φ*(tril(Lᵀ·L̄)): P[i, j] = Σ_k L[k, i]·L̄[k, j] over k ≥ i (i ≥ j).
            for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
            {
                double p = 0;
                for (int k = i; k < n; k++) p += L(k, i) * lbar[o + k * n + j];
                s[i, j] = s[j, i] = p / 2;
            }
            // X = L⁻ᵀ·S: Lᵀ·X = S, back substitution down each column.
            for (int c = 0; c < n; c++)
            for (int i = n - 1; i >= 0; i--)
            {
                double v = s[i, c];
                for (int k = i + 1; k < n; k++) v -= L(k, i) * s[k, c];
                s[i, c] = v / L(i, i);
            }
            // Σ̄ = X·L⁻¹: Σ̄·L = X, each row by back substitution.
            for (int r = 0; r < n; r++)
            for (int j = n - 1; j >= 0; j--)
            {
                double v = s[r, j];
                for (int k = j + 1; k < n; k++) v -= s[r, k] * L(k, j);
                s[r, j] = v / L(j, j);
            }
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                result[o + i * n + j] = (s[i, j] + s[j, i]) / 2;
        }
        return result;
    }
}
