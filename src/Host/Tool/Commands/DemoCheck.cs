using System.CommandLine;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary><c>gpuad demo</c>'s derivative check: the gradient of window 0 against Richardson differences (<see cref="Gradcheck.Gradient"/>).</summary>
internal static partial class DemoCommand
{
    /// <summary>The derivative check of window 0 (x and y begin with it), at the start and at the fitted θ; prints its verdicts.</summary>
    private static bool Check(Device device, double[] x, double[] y, double[] theta, int n)
    {
        bool pass = true;
        using (var check = new GpObjective<double>(device, x[..n], y[..n], 1, n, 1, Kernel, ard: false))
        {
            foreach (var (label, point) in new[] { ("start", Start), ("fitted", theta[..3]) })
            {
                var r = CheckGradient(check, point);
                pass &= r.Passed;
                var worst = r.Worst()!;
                Terminal.Verdict(r.Passed, $"Derivative check (float64), {label} θ of window 0: {(r.Passed ? "PASS" : "FAIL")}");
                Terminal.Line($"    worst |graph − Richardson difference| {worst.Error:0.0e+00}, allowance {worst.Allowance:0.0e+00} (its truncation + rounding)");
                foreach (var c in r.Comparisons)
                    Terminal.Line($"    ∂NLL/∂{ThetaNames[c.Direction]}: graph {c.Computed,17:0.0000000000e+00}   difference {c.Reference,17:0.0000000000e+00}   allowance {c.Allowance:0.0e+00}");
            }
        }
        return pass;
    }

    /// <summary>
    /// The settings of the demo's gradient check (<see cref="Gradcheck.Gradient"/>) for an NLL of
    /// <paramref name="n"/> points: a step of 10⁻³ in log space, where the covariance at the bounds'
    /// corners is so ill-conditioned that the NLL's rounding noise dwarfs ε·|NLL|; the noise probed
    /// 10⁻⁸ apart too (the NLL is one number, one sample of the difference points' noise is not
    /// enough); a floor of 64·ε·(|NLL| + n)/(h/2), n the size of the NLL's n cancelling terms, for
    /// the noise one scalar's probes may miss.
    /// </summary>
    internal static GradcheckOptions CheckOptions(int n) => new(Step: 1e-3, NoiseStep: 1e-8, Magnitude: n, NoiseFloor: 64);

    /// <summary>The gradient of problem 0 of <paramref name="objective"/> at θ against Richardson differences of its NLL.</summary>
    internal static GradcheckResult CheckGradient(GpObjective<double> objective, double[] theta) =>
        Gradcheck.Gradient(t => objective.Evaluate(t, 0, 1, gradient: false).Nll[0], objective.Evaluate(theta, 0, 1, gradient: true).Gradient!, theta, CheckOptions(objective.N));
}
