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
}
