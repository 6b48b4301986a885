using GpuAD.Kernels;
using GpuAD.Tool.Commands;

namespace GpuAD.Tests.Cli;

/// <summary>
/// The demo's derivative check never cries wolf and still catches a wrong gradient. Every
/// optimizer setting keeps θ inside the bounds, so checking the start, the bounds' corners and
/// seeded interior points for n = 2…16 covers every learning rate and step count.
/// </summary>
[Collection("Graph")]
public sealed class DemoCheckTests(DeviceFixture devices)
{
    private const double Bound = 11.512925464970229;

    private static IEnumerable<double[]> Points(int seed)
    {
        yield return [0, 0, 0];
        foreach (double a in new[] { -Bound, Bound })
        foreach (double b in new[] { -Bound, Bound })
        foreach (double c in new[] { -Bound, Bound })
            yield return [a, b, c];
        var rng = new Random(seed);
        for (int i = 0; i < 4; i++) yield return [Bound * (2 * rng.NextDouble() - 1), Bound * (2 * rng.NextDouble() - 1), Bound * (2 * rng.NextDouble() - 1)];
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void TheCheckPassesForTheTrueGradientEverywhereTheOptimizersCanGo()
    {
        var failures = new List<string>();
        for (int n = 2; n <= 16; n++)
        {
            var (x, y, _) = DemoCommand.Co2.Windows(1, n, seed: n);
            using var objective = new GpObjective<double>(devices.Cpu, x, y, 1, n, 1, StationaryKernel.Matern52, ard: false);
            foreach (var theta in Points(n))
            {
                GpEvaluation at;
                try
                {
                    at = objective.Evaluate(theta, 0, 1, gradient: true);
                }
                catch (JitterExhaustedException)
                {
                    continue; // the demo reports such a point as a divergence, not as a check
                }
                var r = Gradcheck.Gradient(t => objective.Evaluate(t, 0, 1, gradient: false).Nll[0], at.Gradient!, theta, DemoCommand.CheckOptions(n));
                if (!r.Passed) failures.Add($"n {n}, θ [{string.Join(", ", theta)}]: error {r.Worst()!.Error:E2} > allowance {r.Worst()!.Allowance:E2}");
            }
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [InlineData(4, 1e-3)]
    [InlineData(16, 1e-4)]
    public void TheCheckFailsAWrongGradient(int n, double relativeError)
    {
        var (x, y, _) = DemoCommand.Co2.Windows(1, n, seed: 3);
        using var objective = new GpObjective<double>(devices.Cpu, x, y, 1, n, 1, StationaryKernel.Matern52, ard: false);
        double[] theta = [0, 0, 0];
        var g = objective.Evaluate(theta, 0, 1, gradient: true).Gradient!;
        var right = Gradcheck.Gradient(t => objective.Evaluate(t, 0, 1, gradient: false).Nll[0], g, theta, DemoCommand.CheckOptions(n));
        Assert.True(right.Passed, $"{right}");
        var wrong = g.Select((v, j) => j == 1 ? v * (1 + relativeError) : v).ToArray();
        var r = Gradcheck.Gradient(t => objective.Evaluate(t, 0, 1, gradient: false).Nll[0], wrong, theta, DemoCommand.CheckOptions(n));
        Assert.False(r.Passed, $"a gradient off by {relativeError:E0} passed: {r}");
        Assert.False(r.Comparisons[1].Passed, $"{r}");
    }
}
