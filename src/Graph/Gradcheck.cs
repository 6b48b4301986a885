namespace GpuAD;

/// <summary>How <see cref="Gradcheck"/> perturbs an input.</summary>
public enum PerturbationKind
{
    /// <summary>Any direction.</summary>
    General,

    /// <summary>Symmetric directions only (for SPD inputs such as a Cholesky's Σ), so Σ ± h·U stays symmetric positive-definite.</summary>
    Symmetric,
}

/// <summary>One input of a function under <see cref="Gradcheck"/>.</summary>
/// <param name="Data">Row-major values, <c>[batch, rows, cols]</c>.</param>
/// <param name="Shape">The shape.</param>
/// <param name="Kind">How to perturb it.</param>
public sealed record GradcheckInput(double[] Data, Shape Shape, PerturbationKind Kind = PerturbationKind.General);

/// <summary>Settings of <see cref="Gradcheck.Run"/>.</summary>
/// <param name="Step">Finite-difference step h (central differences; error O(h²) + O(ε/h)).</param>
/// <param name="Tolerance">Largest accepted relative error of the VJP and JVP against finite differences.</param>
/// <param name="AdjointTolerance">Largest accepted relative error of the adjoint identity (exact up to rounding).</param>
/// <param name="Directions">Random directions tested (each checks one projection of the Jacobian).</param>
/// <param name="Seed">Seed of the random directions and cotangent.</param>
public sealed record GradcheckOptions(double Step = 1e-6, double Tolerance = 1e-6, double AdjointTolerance = 1e-10, int Directions = 3, int Seed = 1234);

/// <summary>The errors <see cref="Gradcheck.Run"/> measured (worst over the directions).</summary>
/// <param name="VjpError">|⟨v, J·u⟩_FD − ⟨Jᵀv, u⟩| relative to the larger magnitude: the VJP against finite differences.</param>
/// <param name="JvpError">‖J·u − (f(x+hu) − f(x−hu))/2h‖∞ relative to the latter's norm: the JVP against finite differences.</param>
/// <param name="AdjointError">|⟨v, J·u⟩ − ⟨Jᵀv, u⟩| relative: the JVP and VJP against each other (the adjoint identity).</param>
/// <param name="Passed">True when every error is within its tolerance.</param>
public sealed record GradcheckResult(double VjpError, double JvpError, double AdjointError, bool Passed);

/// <summary>
/// Checks a function's derivatives, like <c>torch.autograd.gradcheck</c>, in float64 on a device:
/// for random directions u (symmetrized for SPD inputs) and a random cotangent v it compares
/// the JVP J·u and the VJP Jᵀ·v with central finite differences, and the two with each other
/// through the adjoint identity ⟨v, J·u⟩ = ⟨Jᵀ·v, u⟩ on which every VJP rule rests.
/// </summary>
public static class Gradcheck
{
    /// <summary>Runs the check.</summary>
    /// <param name="device">Where to evaluate.</param>
    /// <param name="function">Builds the output from the input vars (records ops on their tape).</param>
    /// <param name="inputs">The point x at which to differentiate.</param>
    /// <param name="options">Step, tolerances, directions, seed.</param>
    public static GradcheckResult Run(Device device, Func<Var<double>[], Var<double>> function, IReadOnlyList<GradcheckInput> inputs, GradcheckOptions? options = null)
    {
        options ??= new GradcheckOptions();
        var rng = new Random(options.Seed);
        double vjpErr = 0, jvpErr = 0, adjErr = 0;
        for (int dir = 0; dir < options.Directions; dir++)
        {
            var u = inputs.Select(input => Direction(input, rng)).ToArray();

            // JVP and VJP at x, on one tape.
            double[] y, ydot, v;
            double[][] grads;
            using (var tape = new Tape(device))
            {
                var tangents = u.Select((d, i) => device.Upload<double>(d, inputs[i].Shape)).ToArray();
                var vars = inputs.Select((input, i) => tape.Variable(device.Upload<double>(input.Data, input.Shape), tangents[i])).ToArray();
                var output = function(vars);
                y = output.ToArray();
                ydot = output.Tangent?.ToArray() ?? new double[y.Length];
                v = Random(y.Length, rng);
                using var cot = device.Upload<double>(v, output.Shape);
                tape.Backward(output, cot);
                grads = vars.Select(x => x.Grad?.ToArray() ?? new double[x.Shape.Length]).ToArray();
                foreach (var t in tangents) t.Dispose();
                foreach (var x in vars) x.Value.Dispose();
            }

            // Central differences along u.
            var plus = Evaluate(device, function, inputs, u, options.Step);
            var minus = Evaluate(device, function, inputs, u, -options.Step);
            var fd = new double[y.Length];
            for (int k = 0; k < fd.Length; k++) fd[k] = (plus[k] - minus[k]) / (2 * options.Step);

            double fdNorm = fd.Max(Math.Abs), diff = 0;
            for (int k = 0; k < fd.Length; k++) diff = Math.Max(diff, Math.Abs(ydot[k] - fd[k]));
            jvpErr = Math.Max(jvpErr, diff / Math.Max(fdNorm, 1e-300));

            double vJu = Dot(v, ydot), vJuFd = Dot(v, fd), jtvU = 0;
            for (int i = 0; i < inputs.Count; i++) jtvU += Dot(grads[i], u[i]);
            vjpErr = Math.Max(vjpErr, Rel(vJuFd, jtvU));
            adjErr = Math.Max(adjErr, Rel(vJu, jtvU));
        }
        bool passed = vjpErr <= options.Tolerance && jvpErr <= options.Tolerance && adjErr <= options.AdjointTolerance;
        return new GradcheckResult(vjpErr, jvpErr, adjErr, passed);
    }

    private static double[] Evaluate(Device device, Func<Var<double>[], Var<double>> function, IReadOnlyList<GradcheckInput> inputs, double[][] u, double h)
    {
        using var tape = new Tape(device);
        var owned = new List<DeviceTensor<double>>();
        var vars = inputs.Select((input, i) =>
        {
            var shifted = input.Data.Select((x, k) => x + h * u[i][k]).ToArray();
            var t = device.Upload<double>(shifted, input.Shape);
            owned.Add(t);
            return tape.Constant(t);
        }).ToArray();
        var result = function(vars).ToArray();
        foreach (var t in owned) t.Dispose();
        return result;
    }

    private static double[] Direction(GradcheckInput input, Random rng)
    {
        var d = Random(input.Data.Length, rng);
        if (input.Kind == PerturbationKind.Symmetric)
        {
            var (batch, n) = (input.Shape.Batch, input.Shape.Rows);
            if (!input.Shape.IsSquare) throw new ArgumentException($"Gradcheck: a symmetric input must be square, got {input.Shape}.");
            for (int b = 0; b < batch; b++)
            for (int i = 0; i < n; i++)
            for (int j = 0; j < i; j++)
            {
                long ij = (long)b * n * n + (long)i * n + j, ji = (long)b * n * n + (long)j * n + i;
                d[ij] = d[ji] = 0.5 * (d[ij] + d[ji]);
            }
        }
        return d;
    }

    private static double[] Random(long length, Random rng)
    {
        var r = new double[length];
        for (long k = 0; k < length; k++) r[k] = 2 * rng.NextDouble() - 1;
        return r;
    }

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int k = 0; k < a.Length; k++) s += a[k] * b[k];
        return s;
    }

    private static double Rel(double a, double b) => Math.Abs(a - b) / Math.Max(Math.Max(Math.Abs(a), Math.Abs(b)), 1e-300);
}
