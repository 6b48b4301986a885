namespace GpuAD;

/// <summary>
/// Small managed float64 references, one matrix at a time, for the catalogue's
/// <see cref="OpInfo.Reference"/>: textbook algorithms, no blocking, no device.
/// </summary>
internal static class Float64Reference
{
    /// <summary>A·B.</summary>
    /// <exception cref="ArgumentException">The inner dimensions differ.</exception>
    public static double[,] Mul(double[,] a, double[,] b)
    {
        int m = a.GetLength(0), k = a.GetLength(1), n = b.GetLength(1);
        if (b.GetLength(0) != k) throw new ArgumentException($"Mul: [{m}, {k}]·[{b.GetLength(0)}, {n}]");
        var c = new double[m, n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double s = 0;
            for (int p = 0; p < k; p++) s += a[i, p] * b[p, j];
            c[i, j] = s;
        }
        return c;
    }

    /// <summary>Aᵀ.</summary>
    public static double[,] T(double[,] a)
    {
        var t = new double[a.GetLength(1), a.GetLength(0)];
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++)
            t[j, i] = a[i, j];
        return t;
    }

    /// <summary>A or Aᵀ.</summary>
    public static double[,] Op(double[,] a, bool transpose) => transpose ? T(a) : a;

    /// <summary>The lower triangle on and below diagonal k.</summary>
    public static double[,] Tril(double[,] a, int k)
    {
        var t = (double[,])a.Clone();
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++)
            if (j > i + k) t[i, j] = 0;
        return t;
    }

    /// <summary>f applied elementwise to A and B (of one shape).</summary>
    public static double[,] Map(double[,] a, double[,] b, Func<double, double, double> f)
    {
        var c = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        for (int j = 0; j < a.GetLength(1); j++)
            c[i, j] = f(a[i, j], b[i, j]);
        return c;
    }

    /// <summary>f applied elementwise to A.</summary>
    public static double[,] Map(double[,] a, Func<double, double> f) => Map(a, a, (p, _) => f(p));

    /// <summary>A 1×1 matrix.</summary>
    public static double[,] Scalar(double v) => new double[,] { { v } };

    /// <summary>A column.</summary>
    public static double[,] Column(double[] v)
    {
        var c = new double[v.Length, 1];
        for (int i = 0; i < v.Length; i++) c[i, 0] = v[i];
        return c;
    }

    /// <summary>Σᵢⱼ Aᵢⱼ.</summary>
    public static double Sum(double[,] a) => a.Cast<double>().Sum();

    /// <summary>A + s·I.</summary>
    public static double[,] AddDiagonal(double[,] a, double s)
    {
        var y = (double[,])a.Clone();
        for (int i = 0; i < y.GetLength(0); i++) y[i, i] += s;
        return y;
    }

    /// <summary>A⁻¹·B by Gaussian elimination with partial pivoting.</summary>
    public static double[,] Solve(double[,] a, double[,] b)
    {
        int n = a.GetLength(0), q = b.GetLength(1);
        var lu = (double[,])a.Clone();
        var x = (double[,])b.Clone();
        for (int k = 0; k < n; k++)
        {
            int p = k;
            for (int i = k + 1; i < n; i++) if (Math.Abs(lu[i, k]) > Math.Abs(lu[p, k])) p = i;
            for (int j = 0; j < n; j++) (lu[k, j], lu[p, j]) = (lu[p, j], lu[k, j]);
            for (int j = 0; j < q; j++) (x[k, j], x[p, j]) = (x[p, j], x[k, j]);
            for (int i = k + 1; i < n; i++)
            {
                double f = lu[i, k] / lu[k, k];
                for (int j = k; j < n; j++) lu[i, j] -= f * lu[k, j];
                for (int j = 0; j < q; j++) x[i, j] -= f * x[k, j];
            }
        }
        for (int k = n - 1; k >= 0; k--)
        for (int j = 0; j < q; j++)
        {
            double s = x[k, j];
            for (int i = k + 1; i < n; i++) s -= lu[k, i] * x[i, j];
            x[k, j] = s / lu[k, k];
        }
        return x;
    }

    /// <summary>
    /// op(T)⁻¹·B (left) or B·op(T)⁻¹ (right), reading one triangle of T (and not its diagonal when
    /// unit-diagonal).
    /// </summary>
    public static double[,] TriangularSolve(double[,] t, double[,] rhs, bool lower, bool left, bool transpose, bool unitDiagonal)
    {
        var tri = Tril(lower ? t : T(t), unitDiagonal ? -1 : 0);
        if (!lower) tri = T(tri);
        if (unitDiagonal) for (int i = 0; i < tri.GetLength(0); i++) tri[i, i] = 1;
        var a = Op(tri, transpose);
        return left ? Solve(a, rhs) : T(Solve(T(a), T(rhs))); // X·A = B ⇔ Aᵀ·Xᵀ = Bᵀ
    }

    /// <summary>The lower Cholesky factor, reading the lower triangle.</summary>
    /// <exception cref="InvalidOperationException">A leading minor is not positive-definite.</exception>
    public static double[,] Cholesky(double[,] a)
    {
        int n = a.GetLength(0);
        var l = new double[n, n];
        for (int j = 0; j < n; j++)
        {
            double d = a[j, j];
            for (int k = 0; k < j; k++) d -= l[j, k] * l[j, k];
            if (!(d > 0)) throw new InvalidOperationException($"leading minor of order {j + 1} is not positive-definite");
            l[j, j] = Math.Sqrt(d);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = s / l[j, j];
            }
        }
        return l;
    }

    /// <summary>log det of an SPD matrix, through its Cholesky factor.</summary>
    public static double LogDet(double[,] spd)
    {
        var l = Cholesky(spd);
        return Enumerable.Range(0, l.GetLength(0)).Sum(i => 2 * Math.Log(l[i, i]));
    }

    /// <summary>Batch element b of row-major [batch, rows, cols] data; a batch of 1 broadcasts.</summary>
    public static double[,] Matrix(double[] data, Shape shape, int b)
    {
        long offset = (shape.Batch == 1 ? 0 : b) * shape.MatrixLength;
        var m = new double[shape.Rows, shape.Cols];
        for (int i = 0; i < shape.Rows; i++)
        for (int j = 0; j < shape.Cols; j++)
            m[i, j] = data[offset + (long)i * shape.Cols + j];
        return m;
    }
}
