using System.CommandLine;
using System.Diagnostics;
using GpuAD.Distributed;
using GpuAD.Graph;
using GpuAD.Kernels;
using GpuAD.Tool.Cli;
using GpuAD.Tool.Ops;
using Device = GpuAD.Kernels.Device;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad demo</c>: batched Gaussian-process regression. Fits the hyperparameters of an RBF
/// kernel to synthetic data by gradient steps on the negative log marginal likelihood, with the
/// gradient taken through the graph (Cholesky and its backward on the device), then checks one
/// gradient component against central differences in float64.
/// </summary>
internal static class DemoCommand
{
    private const int CpuPoints = 512, GpuPoints = 2048;

    // The data: y = sin(x) + ε, ε ~ N(0, NoiseStd²): unit amplitude, length scale about 1.
    private const double NoiseStd = 0.1;

    // A deliberately wrong start: too short a length scale, too much signal and noise.
    private static readonly (double Lengthscale, double Signal, double Noise) Start = (0.2, 4.0, 1.0);

    // Central differences on log ℓ: truncation O(h²), rounding O(ε·NLL/h).
    private const double SpotCheckStep = 1e-5;
    private const double SpotCheckTolerance = 1e-6;

    public static Command Create()
    {
        var n = new Option<int?>("--n") { HelpName = "N", Description = $"Points per batch element [default: {CpuPoints} on the CPU, {GpuPoints} on a GPU]" };
        var batch = new Option<int>("--batch") { HelpName = "N", Description = "Independent regression problems, each with its own hyperparameters", DefaultValueFactory = _ => 8 };
        var steps = new Option<int>("--steps") { HelpName = "N", Description = "Adam steps on the log-hyperparameters", DefaultValueFactory = _ => 8 };
        var rate = new Option<double>("--learning-rate") { HelpName = "RATE", Description = "Adam's step size (in log space)", DefaultValueFactory = _ => 0.1 };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var seed = CommonOptions.Seed();
        var distributed = new Option<bool>("--distributed") { Description = "Run on the MPI ranks mpirun started: the batch is split across them, rank 0 prints (mpirun -np N gpuad demo --distributed …)" };
        var json = new Option<string?>("--json") { HelpName = "FILE", Description = "Write the NLL of every step and the final hyperparameters and NLLs to FILE (JSON)" };
        var corrupt = new Option<int?>("--corrupt-element") { HelpName = "K", Hidden = true, Description = "Make batch element K's covariance NaN (not positive-definite): exercises the failure path" };
        var command = new Command("demo", $"""
            Batched Gaussian-process regression on synthetic data, the job GpuAD is for.
            For each of --batch problems: n points x ~ U[0, 10], y = sin(x) + N(0, {NoiseStd}²).
            Model: Σ = s²·exp(−(xᵢ − xⱼ)²/(2ℓ²)) + σ²·I, with ℓ, s², σ² log-parametrized [batch, 1, 1].
            Loss: NLL = ½·yᵀΣ⁻¹y + ½·log det Σ + (n/2)·log 2π per problem; its gradient with respect
            to the three hyperparameters comes from the graph (Cholesky, triangular solves and their
            backward rules on the device). Adam steps from a wrong start (ℓ = {Start.Lengthscale},
            s² = {Start.Signal}, σ² = {Start.Noise}) print the NLL falling, then one gradient component is
            checked against central differences in float64 (exit code 3 if it fails).
            With --distributed under mpirun, each rank takes a contiguous part of the batch; the
            per-element results are gathered in rank order, so the run gives the same numbers as
            one process. --json FILE writes the per-step NLL and the final hyperparameters.
            """) { n, batch, steps, rate, device, dtype, seed, distributed, json, corrupt };
        command.SetAction(Report.Guard(parse =>
        {
            var type = CommonOptions.ParseDType(parse.GetValue(dtype)!);
            int b = CommonOptions.Positive("--batch", parse.GetValue(batch), max: 4096);
            int s = CommonOptions.Positive("--steps", parse.GetValue(steps), max: 100_000);
            double lr = parse.GetValue(rate);
            if (!(lr > 0 && double.IsFinite(lr))) throw new UsageException($"--learning-rate {lr} must be a positive number.");
            int? points = parse.GetValue(n);
            if (points is int p) CommonOptions.Positive("--n", p, min: 2, max: 65536);
            string? jsonPath = parse.GetValue(json);
            if (jsonPath is not null) DemoOutput.CheckWritable(jsonPath);
            int? bad = parse.GetValue(corrupt);
            if (bad is int k) CommonOptions.Positive("--corrupt-element", k, min: 0, max: b - 1);
            CommonOptions.ParseDevice(parse.GetValue(device));
            // Every option is checked before MPI starts: a usage error ends every rank alike.
            using var ranks = parse.GetValue(distributed) ? Ranks.Mpi() : Ranks.Single();
            try
            {
                using var dev = ranks.Agree(() => ranks.OpenDevice(parse.GetValue(device)));
                var settings = new Settings(points ?? (dev.Kind == DeviceKind.Cuda ? GpuPoints : CpuPoints), b, s, lr, parse.GetValue(seed), jsonPath, bad);
                return type == DType.F32 ? Run<float>(ranks, dev, settings) : Run<double>(ranks, dev, settings);
            }
            catch (RankFailedException e)
            {
                return ranks.Report(e);
            }
            catch (Exception e) when (ranks.Size > 1)
            {
                // Raised on this rank alone, outside an agreed step: the others cannot know of it.
                var (code, message) = Report.Classify(e);
                Report.Error(message);
                ranks.AbortOthers(code);
                return code;
            }
        }));
        return command;
    }

    private sealed record Settings(int N, int Batch, int Steps, double LearningRate, int Seed, string? Json, int? CorruptElement);

    private static int Run<T>(Ranks ranks, Device device, Settings s) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var total = Stopwatch.StartNew();
        string dtype = typeof(T) == typeof(float) ? "f32" : "f64";
        Terminal.Heading("GpuAD demo: batched Gaussian-process regression");
        Terminal.Line($"device     {CommonOptions.Describe(device)}" + (ranks.Distributed ? $" on rank 0 of {ranks.Size} MPI ranks, each with a contiguous part of the batch" : ""));
        Terminal.Line($"data       batch {s.Batch} × n {s.N} points, x ~ U[0, 10], y = sin(x) + N(0, {NoiseStd}²), seed {s.Seed}, {dtype}");
        Terminal.Line($"model      RBF kernel, Σ = s²·exp(−(xᵢ − xⱼ)²/(2ℓ²)) + σ²·I; NLL = ½·yᵀΣ⁻¹y + ½·log det Σ + (n/2)·log 2π");
        Terminal.Line($"start      ℓ = {Start.Lengthscale}, s² = {Start.Signal}, σ² = {Start.Noise} (the data's noise variance is {NoiseStd * NoiseStd:G3})");
        Terminal.Line($"optimizer  Adam on log ℓ, log s², log σ² (one set per batch element), step size {s.LearningRate}");
        Terminal.Line();

        device.EnsureFits<double>(new Shape(s.Batch, s.N, s.N)); // before the host data: the float64 spot check holds Σ's distances too
        var data = GpData.Generate(s.Batch, s.N, s.Seed);
        if (s.CorruptElement is int bad) data.SquaredDistances[(long)bad * s.N * s.N] = double.NaN;
        var shard = ranks.Shard(s.Batch);
        var local = data.Slice(shard.Start, shard.Count);
        var nllHistory = new List<double[]>();
        var theta = new[]
        {
            Filled(s.Batch, Math.Log(Start.Lengthscale)),
            Filled(s.Batch, Math.Log(Start.Signal)),
            Filled(s.Batch, Math.Log(Start.Noise)),
        };
        var adam = new Adam(theta, s.LearningRate);
        var stepMs = new List<double>();
        double firstNll = double.NaN, lastNll = double.NaN;

        using (var problem = new Problem<T>(device, local))
        {
            Terminal.Line($"{"step",5}  {"NLL (mean over batch)",22}  {"ℓ",8}  {"s²",8}  {"σ²",8}  {"time",10}");
            for (int step = 1; step <= s.Steps; step++)
            {
                var clock = Stopwatch.StartNew();
                // This rank's part of every batch element's NLL and gradient, then the whole batch in rank order.
                var (localNll, localGrad) = ranks.Agree(() => shard.Run(() => problem.Evaluate(Part(theta, shard.Start, shard.Count), gradient: true)));
                var nll = ranks.Gather(localNll);
                var grad = localGrad!.Select(ranks.Gather).ToArray();
                clock.Stop();
                nllHistory.Add(nll);
                double mean = nll.Average();
                if (step == 1) firstNll = mean;
                lastNll = mean;
                stepMs.Add(clock.Elapsed.TotalMilliseconds);
                Terminal.Line($"{step,5}  {mean,22:F4}  {MeanExp(theta[0]),8:F4}  {MeanExp(theta[1]),8:F4}  {MeanExp(theta[2]),8:F4}  {clock.Elapsed.TotalMilliseconds,7:F0} ms"
                    + (step == 1 ? "  (includes compiling the kernels)" : ""));
                adam.Step(grad);
            }
            if (s.Json is not null)
            {
                var finalNll = ranks.Gather(ranks.Agree(() => shard.Run(() => problem.Evaluate(Part(theta, shard.Start, shard.Count), gradient: false).Nll)));
                ranks.Agree(() => ranks.IsRoot ? DemoOutput.Write(s.Json, new DemoOutput.Run(
                    dtype, s.Batch, s.N, s.Steps, s.Seed, s.LearningRate, ranks.Size, nllHistory, finalNll, theta)) : 0);
            }
        }
        Terminal.Line();
        bool fell = lastNll < firstNll;
        Terminal.Line(fell
            ? $"NLL fell from {firstNll:F4} to {lastNll:F4} over {s.Steps} steps."
            : $"NLL did not fall: {firstNll:F4} → {lastNll:F4} over {s.Steps} steps (try a smaller --learning-rate).");
        if (stepMs.Count > 1)
        {
            var later = stepMs.Skip(1).Order().ToArray();
            Terminal.Line($"Time per step (forward + backward + copy of the gradient to the host): median {later[later.Length / 2]:F1} ms over steps 2–{s.Steps}; step 1 took {stepMs[0]:F0} ms with kernel compilation.");
        }

        // Spot check at the final hyperparameters, in float64 whatever the run's dtype, on element 0: rank 0's.
        var spot = ranks.Agree(() => ranks.IsRoot ? SpotCheck(device, local, Part(theta, 0, local.Batch)) : default);
        bool pass = ranks.Broadcast(spot.RelativeError <= SpotCheckTolerance);
        Terminal.Line($"Spot check (float64): ∂NLL/∂log ℓ of batch element 0: graph {spot.Graph:0.0000000000e+00}, central difference (h = {SpotCheckStep:0e+00}) {spot.FiniteDifference:0.0000000000e+00}");
        Terminal.Verdict(pass, $"relative error {spot.RelativeError:0.00e+00}: {(pass ? "PASS" : "FAIL")} (tolerance {SpotCheckTolerance:0e+00})");
        Terminal.Line($"Total {total.Elapsed.TotalSeconds:F1} s.");
        return pass ? ExitCodes.Success : ExitCodes.CheckFailed;
    }

    private static (double Graph, double FiniteDifference, double RelativeError) SpotCheck(Device device, GpData data, double[][] theta)
    {
        using var problem = new Problem<double>(device, data);
        var (_, grad) = problem.Evaluate(theta, gradient: true);
        double Nll0(double shift)
        {
            var shifted = theta.Select(t => (double[])t.Clone()).ToArray();
            shifted[0][0] += shift;
            return problem.Evaluate(shifted, gradient: false).Nll[0];
        }
        double fd = (Nll0(SpotCheckStep) - Nll0(-SpotCheckStep)) / (2 * SpotCheckStep);
        double g = grad![0][0];
        return (g, fd, Math.Abs(g - fd) / Math.Max(Math.Max(Math.Abs(g), Math.Abs(fd)), 1e-300));
    }

    private static double[] Filled(int count, double value) => Enumerable.Repeat(value, count).ToArray();

    private static double[][] Part(double[][] theta, int start, int count) => theta.Select(t => t.AsSpan(start, count).ToArray()).ToArray();

    private static double MeanExp(double[] logs) => logs.Average(Math.Exp);

    /// <summary>The synthetic regression problems: pairwise squared distances and targets, float64.</summary>
    private sealed record GpData(int Batch, int N, double[] SquaredDistances, double[] Targets)
    {
        public static GpData Generate(int batch, int n, int seed)
        {
            var rng = new Random(seed);
            var d = new double[(long)batch * n * n];
            var y = new double[(long)batch * n];
            var x = new double[n];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < n; i++)
                {
                    x[i] = 10 * rng.NextDouble();
                    y[(long)b * n + i] = Math.Sin(x[i]) + NoiseStd * Gaussian(rng);
                }
                long o = (long)b * n * n;
                for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                    d[o + (long)i * n + j] = (x[i] - x[j]) * (x[i] - x[j]);
            }
            return new GpData(batch, n, d, y);
        }

        /// <summary>Elements [start, start + count) of the batch.</summary>
        public GpData Slice(int start, int count) => new(count, N,
            SquaredDistances.AsSpan((int)((long)start * N * N), (int)((long)count * N * N)).ToArray(),
            Targets.AsSpan(start * N, count * N).ToArray());

        // Box–Muller.
        private static double Gaussian(Random rng) =>
            Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
    }

    /// <summary>The data on the device, and the NLL with its gradient at given hyperparameters.</summary>
    private sealed class Problem<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Device device;
        private readonly Tensor<T> distances, targets;
        private readonly int batch;

        public Problem(Device device, GpData data)
        {
            this.device = device;
            batch = data.Batch;
            distances = device.Upload<T>(Synthetic.To<T>(data.SquaredDistances), new Shape(data.Batch, data.N, data.N));
            targets = device.Upload<T>(Synthetic.To<T>(data.Targets), new Shape(data.Batch, data.N, 1));
        }

        /// <summary>NLL per batch element; with <paramref name="gradient"/>, ∂NLL/∂(log ℓ, log s², log σ²) per element.</summary>
        public (double[] Nll, double[][]? Grad) Evaluate(double[][] theta, bool gradient)
        {
            using var tape = new Tape(device);
            var shape = new Shape(batch, 1, 1);
            var p = theta.Select(t => gradient ? tape.Variable(Synthetic.To<T>(t), shape) : tape.Constant(Synthetic.To<T>(t), shape)).ToArray();
            var sigma = GaussianProcess.RbfCovariance(tape.Constant(distances), p[0], p[1], p[2]);
            var nll = GaussianProcess.NegativeLogMarginalLikelihood(sigma, tape.Constant(targets));
            var values = Synthetic.ToDouble(nll.ToArray());
            if (!gradient) return (values, null);
            // The problems are independent, so a cotangent of ones gives every element's own gradient.
            using var ones = device.Upload<T>(Enumerable.Repeat(T.One, batch).ToArray(), nll.Shape);
            tape.Backward(nll, ones);
            return (values, p.Select(v => Synthetic.ToDouble(v.Grad!.ToArray())).ToArray());
        }

        public void Dispose()
        {
            distances.Dispose();
            targets.Dispose();
        }
    }

    /// <summary>Adam (Kingma and Ba 2015) with the usual β₁ = 0.9, β₂ = 0.999, ε = 1e−8.</summary>
    private sealed class Adam(double[][] parameters, double rate)
    {
        private const double Beta1 = 0.9, Beta2 = 0.999, Epsilon = 1e-8;
        private readonly double[][] m = parameters.Select(p => new double[p.Length]).ToArray();
        private readonly double[][] v = parameters.Select(p => new double[p.Length]).ToArray();
        private int t;

        public void Step(double[][] grad)
        {
            t++;
            for (int k = 0; k < parameters.Length; k++)
            for (int i = 0; i < parameters[k].Length; i++)
            {
                double g = grad[k][i];
                m[k][i] = Beta1 * m[k][i] + (1 - Beta1) * g;
                v[k][i] = Beta2 * v[k][i] + (1 - Beta2) * g * g;
                double mHat = m[k][i] / (1 - Math.Pow(Beta1, t)), vHat = v[k][i] / (1 - Math.Pow(Beta2, t));
                parameters[k][i] -= rate * mHat / (Math.Sqrt(vHat) + Epsilon);
            }
        }
    }
}
