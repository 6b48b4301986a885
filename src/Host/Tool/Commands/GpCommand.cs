using System.CommandLine;
using System.Globalization;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using Device = GpuAD.Device;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad gp nll</c>, <c>gpuad gp fit</c> and <c>gpuad gp predict</c>: Gaussian-process regression
/// on .npy data with the shorthand model <c>ConstantKernel * Kernel + WhiteKernel</c> and its θ order,
/// or any scikit-learn kernel expression through <see cref="GpRegressor{T}"/>.
/// </summary>
internal static class GpCommand
{
    private const string ThetaOrder = "θ = natural logs of (signal variance, lengthscale — d of them with --ard, else one —, noise variance)";

    public static Command Create() => new("gp", $"""
        Gaussian-process regression from data: K = s²·k(X, X) + σ²·I with k = RBF or Matérn
        (ν = ½, 3⁄2, 5⁄2) in scikit-learn's parametrization, NLL = ½·yᵀK⁻¹y + ½·log det K + (n/2)·log 2π.
        {ThetaOrder} (scikit-learn's order for ConstantKernel * Kernel + WhiteKernel).
        --kernel also takes any kernel expression in scikit-learn's syntax (what print(gp.kernel_)
        shows); θ is then that kernel's, and the model scikit-learn's GaussianProcessRegressor's.
        """)
    {
        Nll(),
        Fit(),
        Predict(),
    };

    private sealed record Options(Option<string> X, Option<string> Y, Option<string> Kernel, Option<bool> Ard, Option<string> Out, Option<string> DType, Option<string?> Device);

    private static Options Common(string outDescription) => new(
        new Option<string>("--x") { Description = "Inputs X (.npy): [n, d] or [batch, n, d]", HelpName = "PATH", Required = true },
        new Option<string>("--y") { Description = "Targets y (.npy): [n], [n, 1] or [batch, n, 1]", HelpName = "PATH", Required = true },
        new Option<string>("--kernel") { Description = "A kernel expression in scikit-learn's repr syntax (what print(gp.kernel_) shows, e.g. \"1.0**2 * RBF(length_scale=1.0) + WhiteKernel(noise_level=0.1)\"), or the shorthand rbf, matern12, matern32 or matern52 (ConstantKernel * kernel + WhiteKernel)", HelpName = "KERNEL", Required = true },
        new Option<bool>("--ard") { Description = "With a shorthand: one lengthscale per input dimension [default: one shared]; an expression writes length_scale=[…]" },
        new Option<string>("--out") { Description = outDescription, HelpName = "DIR", Required = true },
        CommonOptions.DType(),
        CommonOptions.Device());

    private static Command Nll()
    {
        var o = Common("Directory for nll.npy and grad_theta.npy");
        var theta = new Option<string>("--theta") { Description = $"θ (.npy): [p] or [batch, p]; {ThetaOrder}", HelpName = "PATH", Required = true };
        var normalizeY = NormalizeY();
        var repeat = new Option<int>("--repeat") { Description = "Time N more evaluations after the first (which compiles the kernels) and print their median", HelpName = "N", DefaultValueFactory = _ => 0 };
        var command = new Command("nll", $"""
            The negative log marginal likelihood and its gradient with respect to θ, computed on the
            device: writes DIR/nll.npy ([] or [batch]) and DIR/grad_theta.npy ([p] or [batch, p]), float64.
            {ThetaOrder}.
            With a kernel expression it is gp fit's model, scikit-learn's GaussianProcessRegressor(kernel,
            alpha=1e-10, normalize_y): −log_marginal_likelihood(θ, eval_gradient=True).
            """) { o.X, o.Y, o.Kernel, o.Ard, theta, normalizeY, o.Out, o.DType, o.Device, repeat };
        command.SetAction(Report.Guard(parse =>
        {
            var kernel = ParseKernel(parse.GetValue(o.Kernel)!);
            var type = CommonOptions.ParseDType(parse.GetValue(o.DType)!);
            int repeats = CommonOptions.Positive("--repeat", parse.GetValue(repeat), min: 0, max: 10_000);
            string xPath = parse.GetValue(o.X)!, yPath = parse.GetValue(o.Y)!, thetaPath = parse.GetValue(theta)!;
            // Every output is checked, and its temporary file opened, before any work; written all or none.
            using var files = OutputFiles.Prepare("--out", parse.GetValue(o.Out)!, ["nll.npy", "grad_theta.npy"],
                Inputs(("--x", xPath), ("--y", yPath), ("--theta", thetaPath)));
            var data = GpData.Read(xPath, yPath, kernel, parse.GetValue(o.Ard));
            var th = data.Theta("--theta", thetaPath, bounded: false);
            using var device = CommonOptions.OpenDevice(parse.GetValue(o.Device));
            CheckFits(device, data.Batch, data.N, data.D, data.Ard, type);
            bool normalize = parse.GetValue(normalizeY);
            if (normalize && data.Choice.Expression is null) throw new UsageException("--normalize-y applies to a kernel expression (the shorthands' model takes y as given).");
            var r = type == DType.F32 ? Evaluate<float>(device, data, th, repeats, normalize) : Evaluate<double>(device, data, th, repeats, normalize);
            WriteNpy(files, "nll.npy", r.Nll, data.Batched ? [data.Batch] : []);
            WriteNpy(files, "grad_theta.npy", r.Gradient!, data.Batched ? [data.Batch, data.P] : [data.P]);
            files.Commit();
            for (int b = 0; b < data.Batch; b++)
                Terminal.Line($"{(data.Batched ? $"element {b}: " : "")}NLL {r.Nll[b].ToString("R", CultureInfo.InvariantCulture)}{(r.Jitter[b] > 0 ? $" (jitter {r.Jitter[b]:G3} added to K's diagonal)" : "")}");
            Terminal.Line($"wrote {files.PathOf("nll.npy")} and {files.PathOf("grad_theta.npy")}");
            return ExitCodes.Success;
        }));
        return command;
    }

    /// <summary>
    /// Refuses, before anything is allocated, a problem whose estimated device memory
    /// (<see cref="GpObjective{T}.DeviceBytes"/>: one n×n matrix per problem and O(n·(d + p))) exceeds
    /// the device's memory (its pool's cap when one is set), naming both numbers.
    /// </summary>
    /// <exception cref="ToolFailureException">The problem does not fit.</exception>
    internal static void CheckFits(Device device, int batch, int n, int d, bool ard, DType type)
    {
        long need = type == DType.F32 ? GpObjective<float>.DeviceBytes(device, batch, n, d, ard) : GpObjective<double>.DeviceBytes(device, batch, n, d, ard);
        long have = device.Pool.CapBytes ?? device.MemoryBytes;
        if (need > have)
            throw new ToolFailureException(string.Create(CultureInfo.InvariantCulture,
                $"gp nll: {batch} problem(s) of n = {n} points ({(type == DType.F32 ? "float32" : "float64")}) need {need:N0} bytes of device memory (one n×n matrix each), but {device.Name} has {have:N0} bytes."));
    }

    /// <summary>The input files as OutputFiles compares them with the outputs (an archive's file, not ARCHIVE:ARRAY).</summary>
    private static IEnumerable<(string What, string Path)> Inputs(params (string What, string? Path)[] inputs) =>
        inputs.Where(i => i.Path is not null).Select(i => (i.What, InputArrays.Split(i.Path!).File));

    /// <summary>--kernel: a shorthand (today's StationaryKernel model and θ order) or a scikit-learn kernel expression.</summary>
    private sealed record KernelChoice(StationaryKernel? Shorthand, Kernel? Expression, string Name);

    private static KernelChoice ParseKernel(string kernelName)
    {
        string name = kernelName.Trim().ToLowerInvariant();
        StationaryKernel? shorthand = name switch
        {
            "rbf" => StationaryKernel.Rbf,
            "matern12" => StationaryKernel.Matern12,
            "matern32" => StationaryKernel.Matern32,
            "matern52" => StationaryKernel.Matern52,
            _ => null,
        };
        if (shorthand is not null) return new(shorthand, null, name);
        try
        {
            var kernel = Kernel.Parse(kernelName);
            return new(null, kernel, kernel.ToString());
        }
        catch (KernelExpressionException e)
        {
            throw new UsageException($"--kernel '{kernelName}': column {e.Column}: {e.Problem} (a scikit-learn kernel expression, or rbf, matern12, matern32, matern52).");
        }
    }

    private static void WriteNpy(OutputFiles files, string name, double[] data, int[] shape) =>
        files.Write(name, stream => Npy.Write<double>(stream, data, shape));

    private static GpEvaluation Evaluate<T>(Device device, GpData data, double[] theta, int repeats, bool normalize) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (data.Choice.Expression is not null)
        {
            // A kernel expression: gp fit's model (GpRegressor, alpha 1e-10), −LML and its gradient at θ.
            if (repeats > 0) throw new UsageException("--repeat times the shorthand kernels' evaluation; leave it out with a kernel expression.");
            using var gp = new GpRegressor<T>(device, data.Model, RegressorOptions(0, 0, normalize, optimize: false));
            gp.Fit(data.X, data.Y, data.Batch, data.N, data.D, theta);
            var (lml, grad) = gp.LogMarginalLikelihood([], gradient: true);
            return new GpEvaluation(lml.Select(v => -v).ToArray(), grad!.Select(v => -v).ToArray(), new double[data.Batch]);
        }
        using var objective = data.Objective<T>(device);
        var first = objective.Evaluate(theta, 0, data.Batch, gradient: true);
        if (repeats == 0) return first;
        // Wall time of the whole evaluation as a user sees it: distances, kernel, Cholesky, backward
        // and the copies of the NLL and gradient to the host.
        var ms = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            objective.Evaluate(theta, 0, data.Batch, gradient: true);
            ms[i] = clock.Elapsed.TotalMilliseconds;
        }
        Array.Sort(ms);
        Terminal.Line($"NLL and gradient: median {ms[repeats / 2].ToString("F1", CultureInfo.InvariantCulture)} ms over {repeats} evaluations (min {ms[0].ToString("F1", CultureInfo.InvariantCulture)} ms), after a first evaluation that compiled the kernels");
        return first;
    }

    private static Command Fit()
    {
        var o = Common("Directory for theta.npy, nll.npy and (for d = 1) fit.png");
        var theta0 = new Option<string?>("--theta0") { Description = $"Start θ₀ (.npy): [p] or [batch, p] [default: zeros, every hyperparameter 1]", HelpName = "PATH" };
        var restarts = new Option<int>("--restarts") { Description = "Extra random starts per problem, log-uniform within the bounds [1e−5, 1e5]", HelpName = "R", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random starts (with an expression: scikit-learn's random_state, the same draws)", HelpName = "S", DefaultValueFactory = _ => 1 };
        var normalize = NormalizeY();
        var command = new Command("fit", $"""
            Maximum marginal likelihood: bounded BFGS (MathNet.Numerics) on θ within [log 1e−5, log 1e5]
            (scikit-learn's default bounds), NLL and gradient from the device, from θ₀ and R random
            starts; the best optimum per problem is kept. Writes DIR/theta.npy ([p] or [batch, p]),
            DIR/nll.npy and, for one input dimension, DIR/fit.png (data, posterior mean, ±2σ band).
            {ThetaOrder}.
            With a kernel expression the model is scikit-learn's GaussianProcessRegressor(kernel,
            alpha=1e-10, normalize_y, n_restarts_optimizer=R, random_state=S): θ is the expression's
            (natural logs of its non-fixed hyperparameters, within its bounds) and nll.npy holds −LML.
            """) { o.X, o.Y, o.Kernel, o.Ard, theta0, restarts, seed, normalize, o.Out, o.DType, o.Device };
        command.SetAction(Report.Guard(parse =>
        {
            var kernel = ParseKernel(parse.GetValue(o.Kernel)!);
            var type = CommonOptions.ParseDType(parse.GetValue(o.DType)!);
            int r = CommonOptions.Positive("--restarts", parse.GetValue(restarts), min: 0, max: 1000);
            string xPath = parse.GetValue(o.X)!, yPath = parse.GetValue(o.Y)!;
            string? theta0Path = parse.GetValue(theta0);
            // The data decide whether there is a plot: read them first (reading writes nothing).
            var data = GpData.Read(xPath, yPath, kernel, parse.GetValue(o.Ard));
            bool plot = data.D == 1 && data.Batch > 0 && data.N > 0;
            using var files = OutputFiles.Prepare("--out", parse.GetValue(o.Out)!, plot ? ["theta.npy", "nll.npy", "fit.png"] : ["theta.npy", "nll.npy"],
                Inputs(("--x", xPath), ("--y", yPath), ("--theta0", theta0Path)));
            var start = theta0Path is not null ? data.Theta("--theta0", theta0Path, bounded: true) : null;
            using var device = CommonOptions.OpenDevice(parse.GetValue(o.Device));
            Terminal.Line($"device   {CommonOptions.Describe(device)}");
            Terminal.Line($"data     {data.Batch} × {data.N} points in {data.D} dimension(s), kernel {data.KernelName}{(data.Ard ? " (ARD)" : "")}");
            if (data.Choice.Expression is not null)
                return type == DType.F32
                    ? RunRegressorFit<float>(device, data, start, r, parse.GetValue(seed), parse.GetValue(normalize), files)
                    : RunRegressorFit<double>(device, data, start, r, parse.GetValue(seed), parse.GetValue(normalize), files);
            if (parse.GetValue(normalize)) throw new UsageException("--normalize-y applies to a kernel expression (the shorthands' model fits y as given).");
            return type == DType.F32
                ? RunFit<float>(device, data, start, r, parse.GetValue(seed), files)
                : RunFit<double>(device, data, start, r, parse.GetValue(seed), files);
        }));
        return command;
    }

    private static int RunFit<T>(Device device, GpData data, double[]? start, int restarts, int seed, OutputFiles files) where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var objective = data.Objective<T>(device);
        var result = GpFit.Fit(objective, start, new GpFitOptions(restarts, seed, Progress: Terminal.Line));
        for (int b = 0; b < data.Batch; b++)
        {
            var th = result.Theta.AsSpan(b * data.P, data.P).ToArray();
            string ls = string.Join(", ", th[1..^1].Select(v => Math.Exp(v).ToString("G6", CultureInfo.InvariantCulture)));
            Terminal.Line($"{(data.Batched ? $"element {b}: " : "")}signal variance {Math.Exp(th[0]):G6}, lengthscale{(th.Length > 3 ? "s" : "")} {ls}, noise variance {Math.Exp(th[^1]):G6}; NLL {result.Nll[b]:F6}{(result.Jitter[b] > 0 ? $" (jitter {result.Jitter[b]:G3})" : "")}");
        }
        WriteNpy(files, "theta.npy", result.Theta, data.Batched ? [data.Batch, data.P] : [data.P]);
        WriteNpy(files, "nll.npy", result.Nll, data.Batched ? [data.Batch] : []);
        if (files.Has("fit.png"))
        {
            var png = GpPlot.Render<T>(device, data.X[..data.N], data.Y[..data.N], data.Kernel, result.Theta[..data.P], result.Jitter[0],
                $"gpuad gp fit: {data.KernelName}{(data.Batched ? ", batch element 0" : "")}", "x", "y");
            files.Write("fit.png", stream => stream.Write(png));
        }
        files.Commit();
        if (files.Has("fit.png")) Terminal.Line($"wrote {files.PathOf("fit.png")}");
        else if (data.D == 1) Terminal.Line("no plot: there are no points to draw");
        Terminal.Line($"wrote {files.PathOf("theta.npy")} and {files.PathOf("nll.npy")}");
        return ExitCodes.Success;
    }

    private static Option<bool> NormalizeY() => new("--normalize-y") { Description = "With a kernel expression: fit (y − mean)/std per problem and rescale predictions (scikit-learn's normalize_y=True)" };

    private static GpRegressorOptions RegressorOptions(int restarts, int seed, bool normalize, bool optimize = true) =>
        new(NormalizeY: normalize, Restarts: restarts, RandomState: unchecked((uint)seed), Optimize: optimize, Progress: Terminal.Line);

    private static int RunRegressorFit<T>(Device device, GpData data, double[]? start, int restarts, int seed, bool normalize, OutputFiles files)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var gp = new GpRegressor<T>(device, data.Model, RegressorOptions(restarts, seed, normalize));
        var fit = gp.Fit(data.X, data.Y, data.Batch, data.N, data.D, start);
        for (int b = 0; b < data.Batch; b++)
            Terminal.Line($"{(data.Batched ? $"element {b}: " : "")}{fit.Kernels[b]}; log marginal likelihood {fit.LogMarginalLikelihood[b]:F6}");
        WriteNpy(files, "theta.npy", fit.Theta, data.Batched ? [data.Batch, data.P] : [data.P]);
        WriteNpy(files, "nll.npy", fit.LogMarginalLikelihood.Select(v => -v).ToArray(), data.Batched ? [data.Batch] : []);
        if (files.Has("fit.png"))
        {
            var (grid, mean, std) = GpPlot.Grid(data.X[..data.N], 400, m => gp.Predict(m, m.Length));
            var png = GpPlot.Draw(data.X[..data.N], data.Y[..data.N], grid, mean, std, "±2σ",
                $"gpuad gp fit: {fit.Kernels[0]}{(data.Batched ? ", batch element 0" : "")}", "x", "y");
            files.Write("fit.png", stream => stream.Write(png));
        }
        files.Commit();
        if (files.Has("fit.png")) Terminal.Line($"wrote {files.PathOf("fit.png")}");
        Terminal.Line($"wrote {files.PathOf("theta.npy")} and {files.PathOf("nll.npy")}");
        return ExitCodes.Success;
    }

    private static Command Predict()
    {
        var o = Common("Directory for mean.npy and std.npy");
        var xStar = new Option<string>("--x-star") { Description = "Test inputs X* (.npy): [m, d] (every problem) or [batch, m, d]", HelpName = "PATH", Required = true };
        var theta = new Option<string?>("--theta") { Description = "Predict at this θ (.npy): [p] or [batch, p] [default: fit first]", HelpName = "PATH" };
        var theta0 = new Option<string?>("--theta0") { Description = "Start of the fit (.npy): [p] or [batch, p] [default: the kernel's θ]", HelpName = "PATH" };
        var restarts = new Option<int>("--restarts") { Description = "Extra random starts of the fit", HelpName = "R", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random starts (scikit-learn's random_state)", HelpName = "S", DefaultValueFactory = _ => 1 };
        var normalize = NormalizeY();
        var command = new Command("predict", """
            The posterior predictive at X*, as scikit-learn's GaussianProcessRegressor(kernel,
            alpha=1e-10, normalize_y).predict(X*, return_std=True): fits first (as gp fit does with a
            kernel expression, no jitter), or takes θ from --theta. A shorthand kernel is its
            expression ConstantKernel * kernel + WhiteKernel (θ in the same order as gp fit's). The standard deviation includes a WhiteKernel's noise, as
            scikit-learn's. Writes DIR/mean.npy and DIR/std.npy, [m] or [batch, m], float64.
            """) { o.X, o.Y, o.Kernel, o.Ard, xStar, theta, theta0, restarts, seed, normalize, o.Out, o.DType, o.Device };
        command.SetAction(Report.Guard(parse =>
        {
            var kernel = ParseKernel(parse.GetValue(o.Kernel)!);
            var type = CommonOptions.ParseDType(parse.GetValue(o.DType)!);
            int r = CommonOptions.Positive("--restarts", parse.GetValue(restarts), min: 0, max: 1000);
            string xPath = parse.GetValue(o.X)!, yPath = parse.GetValue(o.Y)!, starPath = parse.GetValue(xStar)!;
            string? thetaPath = parse.GetValue(theta), theta0Path = parse.GetValue(theta0);
            if (thetaPath is not null && theta0Path is not null) throw new UsageException("--theta predicts without a fit; --theta0 starts one: give one of them.");
            using var files = OutputFiles.Prepare("--out", parse.GetValue(o.Out)!, ["mean.npy", "std.npy"],
                Inputs(("--x", xPath), ("--y", yPath), ("--x-star", starPath), ("--theta", thetaPath), ("--theta0", theta0Path)));
            var data = GpData.Read(xPath, yPath, kernel, parse.GetValue(o.Ard));
            var star = InputArrays.Read("--x-star", starPath, "x_star");
            bool starBatched = star.Shape.Length == 3;
            if (!(star.Shape.Length == 2 && star.Shape[1] == data.D || starBatched && star.Shape[0] == data.Batch && star.Shape[2] == data.D))
                throw new ToolFailureException($"--x-star {starPath}: X* must be [m, {data.D}]{(data.Batched ? $" or [{data.Batch}, m, {data.D}]" : "")}, got [{string.Join(", ", star.Shape)}].");
            int m = star.Shape[^2];
            var xs = InputArrays.Convert<double>("--x-star", starPath, star);
            int bad = Array.FindIndex(xs, v => !double.IsFinite(v));
            if (bad >= 0) throw new ToolFailureException($"--x-star {starPath}: element {bad} (flat) is {xs[bad].ToString(CultureInfo.InvariantCulture)}; every value must be finite.");
            var given = thetaPath is not null ? data.Theta("--theta", thetaPath, bounded: false) : theta0Path is not null ? data.Theta("--theta0", theta0Path, bounded: false) : null;
            using var device = CommonOptions.OpenDevice(parse.GetValue(o.Device));
            var options = RegressorOptions(r, parse.GetValue(seed), parse.GetValue(normalize), optimize: thetaPath is null);
            var p = type == DType.F32 ? RunPredict<float>(device, data, given, options, xs, m) : RunPredict<double>(device, data, given, options, xs, m);
            int[] shape = data.Batched ? [data.Batch, m] : [m];
            WriteNpy(files, "mean.npy", p.Mean, shape);
            WriteNpy(files, "std.npy", p.Std, shape);
            files.Commit();
            Terminal.Line($"wrote {files.PathOf("mean.npy")} and {files.PathOf("std.npy")}");
            return ExitCodes.Success;
        }));
        return command;
    }

    private static GpPrediction RunPredict<T>(Device device, GpData data, double[]? theta, GpRegressorOptions options, double[] xStar, int m)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        using var gp = new GpRegressor<T>(device, data.Model, options);
        var fit = gp.Fit(data.X, data.Y, data.Batch, data.N, data.D, theta);
        for (int b = 0; b < data.Batch; b++)
            Terminal.Line($"{(data.Batched ? $"element {b}: " : "")}{fit.Kernels[b]}; log marginal likelihood {fit.LogMarginalLikelihood[b]:F6}");
        return gp.Predict(xStar, m);
    }

    /// <summary>The arrays of a gp verb, validated: X [batch, n, d], y [batch, n], the kernel.</summary>
    private sealed record GpData(double[] X, double[] Y, int Batch, int N, int D, bool Batched, KernelChoice Choice, bool Ard)
    {
        public int P => Choice.Expression?.ThetaLength ?? (Ard ? D + 2 : 3);

        /// <summary>The shorthand's stationary kernel (only for a shorthand).</summary>
        public StationaryKernel Kernel => Choice.Shorthand!.Value;

        public string KernelName => Choice.Name;

        /// <summary>The model as a composable kernel: the expression, or the shorthand's c·k + White (ARD with --ard).</summary>
        public Kernel Model => Choice.Expression ?? KernelParser.Shorthand(Kernel, Ard ? D : null);

        private string Order => Choice.Expression is { } e
            ? "the natural logs of " + string.Join(", ", e.Hyperparameters.Where(h => !h.IsFixed).Select(h => h.Values.Count > 1 ? $"{h.Name} × {h.Values.Count}" : h.Name)) + $" of {e}"
            : Ard
                ? $"log signal variance, {D} log lengthscales (one per dimension), log noise variance"
                : "log signal variance, log lengthscale, log noise variance";

        // The files the data came from, to name an element that does not fit the dtype.
        private (string Option, string Path, int[] Shape) XFile { get; init; } = ("--x", "", []);
        private (string Option, string Path, int[] Shape) YFile { get; init; } = ("--y", "", []);

        /// <summary>The objective on the device; a value beyond T's range is refused naming the file and its element.</summary>
        public GpObjective<T> Objective<T>(Device device) where T : unmanaged, IFloatingPointIeee754<T>
        {
            try
            {
                return new(device, X, Y, Batch, N, D, Kernel, Ard);
            }
            catch (ElementRangeException e) when (e.Input is "X" or "y")
            {
                var (option, path, shape) = e.Input == "X" ? XFile : YFile;
                throw new ToolFailureException($"{option} {path}: element {FileIndex(e.FlatIndex, shape)} = {e.Value.ToString("R", CultureInfo.InvariantCulture)} does not fit {e.ElementType} (largest finite value 3.4028235e38). Use --dtype f64.");
            }
        }

        private static string FileIndex(long flat, int[] shape)
        {
            var index = new long[shape.Length];
            for (int k = shape.Length - 1; k >= 0; k--)
            {
                index[k] = shape[k] == 0 ? 0 : flat % shape[k];
                flat = shape[k] == 0 ? 0 : flat / shape[k];
            }
            return $"[{string.Join(", ", index)}]";
        }

        public static GpData Read(string xPath, string yPath, KernelChoice kernel, bool ard)
        {
            if (ard && kernel.Expression is not null)
                throw new UsageException("--ard applies to the shorthands rbf, matern12, matern32, matern52; in an expression write one lengthscale per dimension, length_scale=[1.0, 1.0].");
            var x = InputArrays.Read("--x", xPath, "x");
            var y = InputArrays.Read("--y", yPath, "y");
            int batch, n, d;
            bool batched;
            switch (x.Shape.Length)
            {
                case 2: (batch, n, d, batched) = (1, x.Shape[0], x.Shape[1], false); break;
                case 3: (batch, n, d, batched) = (x.Shape[0], x.Shape[1], x.Shape[2], true); break;
                default: throw new ToolFailureException($"--x {xPath}: X must be [n, d] or [batch, n, d], got [{string.Join(", ", x.Shape)}].");
            }
            if (d < 1) throw new ToolFailureException($"--x {xPath}: X has no input dimensions (d = 0).");
            if (kernel.Expression?.InputDimensions is int dims && dims != d)
                throw new ToolFailureException($"--x {xPath}: X has {d} dimension(s) but the kernel {kernel.Name} has {dims} lengthscales.");
            bool yFits = batched
                ? y.Shape.Length == 3 && y.Shape[0] == batch && y.Shape[2] == 1 || y.Shape.Length == 2 && y.Shape[0] == batch
                : y.Shape.Length == 1 || y.Shape.Length == 2 && y.Shape[1] == 1;
            int yPoints = y.Shape.Length switch { 1 => y.Shape[0], 2 => batched ? y.Shape[1] : y.Shape[0], 3 => y.Shape[1], _ => -1 };
            if (!yFits)
                throw new ToolFailureException($"--y {yPath}: y must be {(batched ? $"[{batch}, n, 1] for X [{batch}, n, d]" : "[n] or [n, 1]")}, got [{string.Join(", ", y.Shape)}].");
            if (yPoints != n)
                throw new ToolFailureException($"--x and --y have different lengths: X has {n} points but y has {yPoints}.");
            var xs = InputArrays.Convert<double>("--x", xPath, x);
            var ys = InputArrays.Convert<double>("--y", yPath, y);
            Finite("--x", xPath, xs, n, d);
            Finite("--y", yPath, ys, n, 1);
            return new GpData(xs, ys, batch, n, d, batched, kernel, ard)
            {
                XFile = ("--x", xPath, x.Shape),
                YFile = ("--y", yPath, y.Shape),
            };
        }

        /// <summary>θ from a file: [p] (shared) or [batch, p], finite; with <paramref name="bounded"/>, within the fit's bounds.</summary>
        public double[] Theta(string option, string path, bool bounded)
        {
            var t = InputArrays.Read(option, path, "theta");
            var v = InputArrays.Convert<double>(option, path, t);
            bool ok = t.Shape.Length == 1 && t.Shape[0] == P || t.Shape.Length == 2 && t.Shape[0] == Batch && t.Shape[1] == P;
            if (!ok)
                throw new ToolFailureException($"{option} {path}: θ is [{string.Join(", ", t.Shape)}] but the {KernelName} kernel{(Ard ? $" with --ard in {D} dimensions" : "")} takes {P} values, in this order: {Order}{(Batched ? $" ([{P}] or [{Batch}, {P}])" : "")}.");
            Finite(option, path, v, 1, P);
            if (bounded)
            {
                var bounds = new GpFitOptions();
                int i = Array.FindIndex(v, e => e < bounds.LowerBound || e > bounds.UpperBound);
                if (i >= 0)
                    throw new ToolFailureException($"{option} {path}: element {(t.Shape.Length == 1 ? $"[{i}]" : $"[{i / P}, {i % P}]")} = {v[i].ToString("R", CultureInfo.InvariantCulture)} lies outside the bounds [log 1e−5, log 1e5] = [{bounds.LowerBound:F4}, {bounds.UpperBound:F4}] of the fit ({Order}).");
            }
            return t.Shape.Length == 1 && Batch > 1 ? Enumerable.Range(0, Batch).SelectMany(_ => v).ToArray() : v;
        }

        private static void Finite(string option, string path, double[] data, int rows, int cols)
        {
            int i = Array.FindIndex(data, v => !double.IsFinite(v));
            if (i < 0) return;
            int per = rows * cols, b = i / per, r = i % per;
            throw new ToolFailureException($"{option} {path}: element [{b}, {r / cols}, {r % cols}] is {data[i].ToString(CultureInfo.InvariantCulture)}; every value must be finite.");
        }
    }
}

/// <summary>The d = 1 plot of a GP fit: data, posterior mean and a ±2σ band of the latent function.</summary>
internal static class GpPlot
{
    /// <summary>The plot as PNG bytes, for <see cref="OutputFiles.Write"/>.</summary>
    public static byte[] Render<T>(Device device, double[] x, double[] y, StationaryKernel kernel, double[] theta, double jitter,
        string title, string xLabel, string yLabel) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = x.Length, m = 400;
        double lo = x.Min(), hi = x.Max(), pad = 0.05 * Math.Max(hi - lo, 1e-12);
        var grid = Enumerable.Range(0, m).Select(i => lo - pad + (hi - lo + 2 * pad) * i / (m - 1)).ToArray();
        // Centre x so the single precision case keeps its digits (a stationary kernel only sees differences).
        double centre = 0.5 * (lo + hi);
        T[] C(IEnumerable<double> v) => v.Select(T.CreateChecked).ToArray();
        using var tape = new Tape(device);
        var th = new GpTheta<T>(tape.Constant(C(theta[..1]), new Shape(1, 1, 1)), tape.Constant(C(theta[1..^1]), new Shape(1, 1, theta.Length - 2)), tape.Constant(C(theta[^1..]), new Shape(1, 1, 1)));
        var (mean, variance) = GaussianProcess.Predict(tape.Constant(C(x.Select(v => v - centre)), new Shape(1, n, 1)), tape.Constant(C(y), new Shape(1, n, 1)),
            tape.Constant(C(grid.Select(v => v - centre)), new Shape(1, m, 1)), kernel, th, jitter: jitter > 0 ? [jitter] : null);
        var mu = mean.ToArray().Select(double.CreateChecked).ToArray();
        var sd = variance.ToArray().Select(v => Math.Sqrt(Math.Max(double.CreateChecked(v), 0))).ToArray();
        return Draw(x, y, grid, mu, sd, "±2σ (latent)", title, xLabel, yLabel);
    }

    /// <summary>
    /// <paramref name="m"/> points from 5 % before the data to 5 % after them (or to
    /// <paramref name="until"/>), and the prediction there.
    /// </summary>
    public static (double[] Grid, double[] Mean, double[] Std) Grid(double[] x, int m, Func<double[], GpPrediction> predict, double? until = null)
    {
        double lo = x.Min(), hi = x.Max(), pad = 0.05 * Math.Max(hi - lo, 1e-12);
        double end = until ?? hi + pad;
        var grid = Enumerable.Range(0, m).Select(i => lo - pad + (end - lo + pad) * i / (m - 1)).ToArray();
        var p = predict(grid);
        return (grid, p.Mean, p.Std);
    }

    /// <summary>The data, a mean line and a ±2σ band, as PNG bytes.</summary>
    public static byte[] Draw(double[] x, double[] y, double[] grid, double[] mu, double[] sd, string bandLabel, string title, string xLabel, string yLabel)
    {
        var plot = new ScottPlot.Plot();
        var band = plot.Add.FillY(grid, mu.Select((v, i) => v - 2 * sd[i]).ToArray(), mu.Select((v, i) => v + 2 * sd[i]).ToArray());
        band.FillColor = ScottPlot.Colors.SteelBlue.WithAlpha(0.25);
        band.LegendText = bandLabel;
        var line = plot.Add.Scatter(grid, mu);
        line.MarkerSize = 0;
        line.LineWidth = 2;
        line.Color = ScottPlot.Colors.SteelBlue;
        line.LegendText = "posterior mean";
        var points = plot.Add.ScatterPoints(x, y);
        points.Color = ScottPlot.Colors.Black;
        points.MarkerSize = 3;
        points.LegendText = "data";
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { LabelFormatter = v => v.ToString("G6", CultureInfo.InvariantCulture) };
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend();
        return plot.GetImageBytes(1000, 500, ScottPlot.ImageFormat.Png);
    }
}
