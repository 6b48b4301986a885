using System.Numerics;
using GpuAD.Kernels;

namespace GpuAD.Tool.Ops;

/// <summary>What <see cref="Float32Check.Run"/> measured: float32 against float64 on one device.</summary>
/// <param name="ValueError">‖y₃₂ − y₆₄‖∞ / ‖y₆₄‖∞.</param>
/// <param name="VjpError">The worst input's ‖(Jᵀv)₃₂ − (Jᵀv)₆₄‖∞ / ‖(Jᵀv)₆₄‖∞.</param>
/// <param name="JvpError">‖(J·u)₃₂ − (J·u)₆₄‖∞ / ‖(J·u)₆₄‖∞.</param>
/// <param name="AdjointError">|⟨v, J·u⟩ − ⟨Jᵀv, u⟩| relative, both sides in float32.</param>
/// <param name="Tolerance">The bound every error was held to.</param>
/// <param name="Passed">True when every error is within the bound.</param>
internal sealed record Float32Result(double ValueError, double VjpError, double JvpError, double AdjointError, double Tolerance, bool Passed);

/// <summary>
/// Checks a function's float32 forward, JVP and VJP against its float64 ones on the same device,
/// whose derivatives the float64 gradcheck verifies. Finite differences say little in float32
/// (their rounding error, ε₃₂·|f|/h, is about 1e-3 relative at the best h), so float32 is held to
/// agreement with float64, within the rounding error a float32 factorization is known to make.
/// </summary>
internal static class Float32Check
{
    /// <summary>
    /// The bound for a computation through factorizations of order n: 10·(n + 1)·ε₃₂. A Cholesky
    /// factor computed in floating point has a backward error of at most (n + 1)·ε·‖A‖ (Higham,
    /// Accuracy and Stability of Numerical Algorithms, 2nd ed., Thm 10.3), its forward error about
    /// κ(A) times that; the check's matrices have κ ≤ 3, and a derivative chains about three such
    /// solves, hence the factor 10. Rounding errors in practice grow like √n, far below this.
    /// </summary>
    public static double Tolerance(int n) => 10 * (n + 1) * Epsilon32;

    /// <summary>The float32 machine epsilon, 2⁻²³ (the spacing of floats at 1).</summary>
    public const double Epsilon32 = 1.0 / (1 << 23);

    /// <summary>Runs one random direction u (symmetric for SPD inputs) and one random cotangent v in both precisions.</summary>
    public static Float32Result Run(Device device, Func<Var<float>[], Var<float>> f32, Func<Var<double>[], Var<double>> f64,
        IReadOnlyList<GradcheckInput> inputs, double tolerance, int seed = 1234)
    {
        var rng = new Random(seed);
        var u = inputs.Select(input => Direction(input, rng)).ToArray();
        var (y64, ydot64, g64) = Evaluate(device, f64, inputs, u, rng, v: null, out var v);
        var (y32, ydot32, g32) = Evaluate(device, f32, inputs, u, rng, v, out _);

        double value = RelMax(y32, y64), jvp = RelMax(ydot32, ydot64), vjp = 0;
        for (int i = 0; i < inputs.Count; i++) vjp = Math.Max(vjp, RelMax(g32[i], g64[i]));
        double vJu = Dot(v, ydot32), jtvU = 0;
        for (int i = 0; i < inputs.Count; i++) jtvU += Dot(g32[i], u[i]);
        double adjoint = Math.Abs(vJu - jtvU) / Math.Max(Math.Max(Math.Abs(vJu), Math.Abs(jtvU)), 1e-300);
        bool passed = new[] { value, jvp, vjp, adjoint }.All(e => e <= tolerance);
        return new Float32Result(value, vjp, jvp, adjoint, tolerance, passed);
    }

    /// <summary>y, J·u and Jᵀ·v in precision T, all as float64; v is drawn here when not given (the float64 run draws it).</summary>
    private static (double[] Y, double[] Ydot, double[][] Grads) Evaluate<T>(Device device, Func<Var<T>[], Var<T>> f,
        IReadOnlyList<GradcheckInput> inputs, double[][] u, Random rng, double[]? v, out double[] cotangent)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var tape = new Tape(device);
        var owned = new List<DeviceTensor<T>>();
        try
        {
            var vars = inputs.Select((input, i) =>
            {
                var value = device.Upload<T>(Synthetic.To<T>(input.Data), input.Shape);
                owned.Add(value);
                var tangent = device.Upload<T>(Synthetic.To<T>(u[i]), input.Shape);
                owned.Add(tangent);
                return tape.Variable(value, tangent);
            }).ToArray();
            var output = f(vars);
            var y = Synthetic.ToDouble(output.ToArray());
            var ydot = output.Tangent is { } t ? Synthetic.ToDouble(t.ToArray()) : new double[y.Length];
            if (v is null)
            {
                v = new double[y.Length];
                for (int k = 0; k < v.Length; k++) v[k] = 2 * rng.NextDouble() - 1;
            }
            cotangent = v;
            using var cot = device.Upload<T>(Synthetic.To<T>(v), output.Shape);
            tape.Backward(output, cot);
            var grads = vars.Select(x => x.Grad is { } g ? Synthetic.ToDouble(g.ToArray()) : new double[x.Shape.Length]).ToArray();
            return (y, ydot, grads);
        }
        finally
        {
            foreach (var t in owned) t.Dispose();
        }
    }

    private static double[] Direction(GradcheckInput input, Random rng)
    {
        var d = new double[input.Data.Length];
        for (long k = 0; k < d.Length; k++) d[k] = 2 * rng.NextDouble() - 1;
        if (input.Kind != PerturbationKind.Symmetric) return d;
        var (batch, n) = (input.Shape.Batch, input.Shape.Rows);
        for (int b = 0; b < batch; b++)
        for (int i = 0; i < n; i++)
        for (int j = 0; j < i; j++)
        {
            long ij = (long)b * n * n + (long)i * n + j, ji = (long)b * n * n + (long)j * n + i;
            d[ij] = d[ji] = 0.5 * (d[ij] + d[ji]);
        }
        return d;
    }

    private static double RelMax(double[] got, double[] expected)
    {
        double diff = 0, scale = 0;
        for (long k = 0; k < got.Length; k++)
        {
            diff = Math.Max(diff, Math.Abs(got[k] - expected[k]));
            scale = Math.Max(scale, Math.Abs(expected[k]));
        }
        return double.IsNaN(diff) ? double.PositiveInfinity : diff / Math.Max(scale, 1e-300);
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (long k = 0; k < a.Length; k++) s += a[k] * b[k];
        return s;
    }
}
