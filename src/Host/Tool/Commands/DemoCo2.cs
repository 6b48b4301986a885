using System.Diagnostics;
using System.Globalization;
using GpuAD.Tool.Cli;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad demo --model co2</c>: scikit-learn's gallery example "Forecasting of CO2 level on Mona
/// Loa dataset using Gaussian process regression" on the monthly means of the shipped record —
/// its composite kernel and start, fitted by <see cref="GpRegressor{T}"/>, then the fit and a few
/// years of extrapolation with ±2σ plotted.
/// </summary>
internal static partial class DemoCommand
{
    /// <summary>The gallery's kernel: long-term trend, seasonal (fixed one-year period), irregularities, noise.</summary>
    internal const string Co2Kernel =
        "50.0**2 * RBF(length_scale=50.0)" +
        " + 2.0**2 * RBF(length_scale=100.0) * ExpSineSquared(length_scale=1.0, periodicity=1.0, periodicity_bounds=\"fixed\")" +
        " + 0.5**2 * RationalQuadratic(length_scale=1.0, alpha=1.0)" +
        " + 0.1**2 * RBF(length_scale=0.1) + WhiteKernel(noise_level=0.1**2, noise_level_bounds=(1e-5, 1e5))";

    private const double ForecastYears = 8;

    private static int RunCo2<T>(Device device, OutputFiles outputs) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var total = Stopwatch.StartNew();
        var (x, ppm) = Co2.Monthly();
        double mean = ppm.Average();
        var y = ppm.Select(v => v - mean).ToArray();
        var kernel = GpuAD.Kernel.Parse(Co2Kernel);
        Terminal.Heading("GpuAD demo: the Mauna Loa CO₂ forecast of scikit-learn's gallery");
        Terminal.Line($"device     {CommonOptions.Describe(device)}");
        Terminal.Line($"data       {x.Length} monthly means {x[0].ToString("F2", CultureInfo.InvariantCulture)}–{x[^1].ToString("F2", CultureInfo.InvariantCulture)} (x = year + month/12), ppm minus their mean {mean.ToString("F2", CultureInfo.InvariantCulture)}; {(typeof(T) == typeof(float) ? "f32" : "f64")}");
        Terminal.Line($"kernel     {kernel}");
        Terminal.Line($"optimizer  bounded BFGS from the kernel's values, θ = logs of its {kernel.ThetaLength} free hyperparameters within their bounds (the period is fixed)");
        Terminal.Line();
        using var gp = new GpRegressor<T>(device, kernel, new GpRegressorOptions(Progress: Terminal.Line));
        var clock = Stopwatch.StartNew();
        var fit = gp.Fit(x, y, x.Length, 1);
        Terminal.Line();
        Terminal.Line($"fitted     {fit.Kernels[0]}");
        Terminal.Line($"log marginal likelihood {fit.LogMarginalLikelihood[0].ToString("F4", CultureInfo.InvariantCulture)} after {fit.Evaluations[0]} evaluations ({clock.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s)");
        var (grid, mu, sd) = GpPlot.Grid(x, 1000, g => gp.Predict(g, g.Length), until: x[^1] + ForecastYears);
        var png = GpPlot.Draw(x, ppm, grid, mu.Select(v => v + mean).ToArray(), sd, "±2σ", $"gpuad demo --model co2: monthly means and {ForecastYears:F0} years of forecast", "year", "CO₂ (ppm)");
        outputs.Write("--plot", stream => stream.Write(png));
        outputs.Commit();
        Terminal.Line($"forecast   {grid[^1].ToString("F2", CultureInfo.InvariantCulture)}: {(mu[^1] + mean).ToString("F1", CultureInfo.InvariantCulture)} ± {(2 * sd[^1]).ToString("F1", CultureInfo.InvariantCulture)} ppm (2σ)");
        Terminal.Line($"Plot: {outputs.PathOf("--plot")}");
        Terminal.Line($"Total {total.Elapsed.TotalSeconds.ToString("F1", CultureInfo.InvariantCulture)} s.");
        return ExitCodes.Success;
    }
}
