using GpuAD.Kernels;

namespace GpuAD.MpiRanks;

/// <summary>
/// A Gaussian-process likelihood summed over a batch of independent data sets with ONE set of
/// shared hyperparameters (log ℓ, log s², log σ²): the case where shards' gradients must be
/// reduced. Deterministic data from a seed; any element can be made non-positive-definite.
/// </summary>
public static class ShardedGp
{
    public static readonly double[] Theta = [Math.Log(0.7), Math.Log(1.3), Math.Log(0.05)];

    /// <summary>Squared distances [batch, n, n] and targets [batch, n, 1] of the whole batch.</summary>
    public static (double[] Distances, double[] Targets) Data(int batch, int n, int seed)
    {
        var rng = new Random(seed);
        var d = new double[batch * n * n];
        var y = new double[batch * n];
        var x = new double[n];
        for (int b = 0; b < batch; b++)
        {
            for (int i = 0; i < n; i++)
            {
                x[i] = 5 * rng.NextDouble();
                y[b * n + i] = Math.Sin(x[i]) + 0.1 * (rng.NextDouble() - 0.5);
            }
            for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                d[b * n * n + i * n + j] = (x[i] - x[j]) * (x[i] - x[j]);
        }
        return (d, y);
    }

    /// <summary>
    /// Σ NLL over the part [start, start + count) of the batch, and its gradient with respect to
    /// the shared hyperparameters: [value, ∂/∂log ℓ, ∂/∂log s², ∂/∂log σ²]. An element listed in
    /// <paramref name="notPositiveDefinite"/> gets a NaN distance, so its Cholesky fails.
    /// </summary>
    public static double[] Evaluate(Device device, int batch, int n, int seed, int start, int count, int notPositiveDefinite = -1)
    {
        if (count == 0) return new double[4];
        var (d, y) = Data(batch, n, seed);
        if (notPositiveDefinite >= 0) d[notPositiveDefinite * n * n] = double.NaN;
        using var tape = new Tape(device);
        var distances = tape.Constant(d.AsSpan(start * n * n, count * n * n).ToArray(), new Shape(count, n, n));
        var targets = tape.Constant(y.AsSpan(start * n, count * n).ToArray(), new Shape(count, n, 1));
        var p = Theta.Select(t => tape.Variable(new[] { t }, new Shape(1, 1, 1))).ToArray();
        var sigma = GaussianProcess.RbfCovariance(distances, p[0], p[1], p[2]);
        var loss = Op.SumBatch(GaussianProcess.NegativeLogMarginalLikelihood(sigma, targets));
        double value = loss.ToArray()[0];
        tape.Backward(loss);
        return [value, .. p.Select(v => v.Grad!.ToArray()[0])];
    }
}
