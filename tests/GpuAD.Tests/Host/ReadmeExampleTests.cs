using System.Numerics.Tensors;
using GpuAD.Kernels;

namespace GpuAD.Tests.Host;

/// <summary>The API examples of README.md, docs/API.md and docs/GaussianProcesses.md, verbatim in spirit, checked against an independent computation.</summary>
[Collection("Graph")]
public sealed class ReadmeExampleTests(DeviceFixture devices)
{
    [Fact]
    public void GaussianProcessFitExample()
    {
        const int batch = 2, n = 12, d = 2;
        double[] x = TestData.Random(new Shape(batch, n, d), seed: 3);
        double[] y = x.Chunk(d).Select(p => Math.Sin(2 * p[0]) + 0.5 * p[1]).ToArray();

        var device = devices.Cpu; // docs/GaussianProcesses.md: using var device = Devices.Open();
        using var gp = new GpObjective<double>(device, x, y, batch, n, d, StationaryKernel.Matern52, ard: true);
        var fit = GpFit.Fit(gp, theta0: null, new GpFitOptions(Restarts: 2));
        double[] theta = fit.Theta;
        double[] nll = fit.Nll;
        var r = gp.Evaluate(theta, lo: 0, hi: batch, gradient: true);

        Assert.Equal(batch * (d + 2), theta.Length);
        Assert.Equal(nll, r.Nll);
        var start = gp.Evaluate(new double[batch * (d + 2)], 0, batch, gradient: false).Nll;
        for (int b = 0; b < batch; b++) Assert.True(nll[b] < start[b] - 1, $"problem {b}: {start[b]} → {nll[b]}");
        // At an interior optimum the gradient vanishes; at a bound it points outward.
        for (int i = 0; i < theta.Length; i++)
        {
            double g = r.Gradient![i];
            bool atBound = Math.Abs(Math.Abs(theta[i]) - 11.512925464970229) < 1e-6;
            Assert.True(Math.Abs(g) < 1e-3 || (atBound && Math.Sign(g) == -Math.Sign(theta[i])), $"θ[{i}] = {theta[i]}: ∂NLL/∂θ = {g}");
        }
    }

    [Fact]
    public void GaussianProcessGradientExample()
    {
        const int batch = 4, n = 16;
        double[] sigmaData = TestData.Spd(batch, n, seed: 1);
        double[] yData = TestData.Random(new Shape(batch, n, 1), seed: 2);

        var device = devices.Cpu; // README: using var device = Devices.Open();
        using var tape = new Tape(device);
        var sigma = tape.Variable(sigmaData, new Shape(batch, n, n));
        var y = tape.Variable(yData, new Shape(batch, n, 1));
        var nll = GaussianProcess.NegativeLogMarginalLikelihood(sigma, y); // [4, 1, 1]
        var loss = Op.SumBatch(nll);                                      // [1, 1, 1]
        tape.Backward(loss);
        double[] dSigma = sigma.Grad!.ToArray();
        double[] dY = y.Grad!.ToArray();

        // ∂/∂y = Σ⁻¹y and ∂/∂Σ = ½(Σ⁻¹ − Σ⁻¹yyᵀΣ⁻¹), from an independent dense computation.
        for (int b = 0; b < batch; b++)
        {
            var s = sigmaData.AsSpan(b * n * n, n * n).ToArray();
            var inv = Invert(s, n);
            var alpha = new double[n];
            for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) alpha[i] += inv[i * n + k] * yData[b * n + k];
            TestData.AssertClose(alpha, dY.AsSpan(b * n, n).ToArray(), 1e-10, "∂/∂y");
            var expected = new double[n * n];
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) expected[i * n + j] = 0.5 * (inv[i * n + j] - alpha[i] * alpha[j]);
            TestData.AssertClose(expected, dSigma.AsSpan(b * n * n, n * n).ToArray(), 1e-10, "∂/∂Σ");
        }
    }

    /// <summary>docs/API.md's interop example: a System.Numerics.Tensors tensor and a span in, gradients out.</summary>
    [Fact]
    public void InteropExample()
    {
        const int n = 8;
        double[] sigmaData = TestData.Spd(4, n, seed: 3);
        double[] yData = TestData.Random(new Shape(4, n, 1), seed: 4);

        using var tape = new Tape(devices.Cpu);
        var sigma = tape.Variable(Tensor.Create(sigmaData, [4, n, n]));
        var y = tape.Variable(new ReadOnlySpan<double>(yData), new Shape(4, n, 1));
        var loss = Op.SumBatch(GaussianProcess.NegativeLogMarginalLikelihood(sigma, y));
        tape.Backward(loss);
        var dSigma = sigma.Grad!.ToHostTensor();
        var dY = new double[4 * n];
        y.Grad!.CopyTo(dY);

        Assert.Equal([4, n, n], dSigma.Lengths.ToArray());
        var dSigmaFlat = new double[dSigma.FlattenedLength];
        dSigma.FlattenTo(dSigmaFlat);
        for (int b = 0; b < 4; b++)
        {
            var inv = Invert(sigmaData.AsSpan(b * n * n, n * n).ToArray(), n);
            var alpha = new double[n];
            for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) alpha[i] += inv[i * n + k] * yData[b * n + k];
            TestData.AssertClose(alpha, dY.AsSpan(b * n, n).ToArray(), 1e-10, "∂/∂y");
            var expected = new double[n * n];
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) expected[i * n + j] = 0.5 * (inv[i * n + j] - alpha[i] * alpha[j]);
            TestData.AssertClose(expected, dSigmaFlat.AsSpan(b * n * n, n * n).ToArray(), 1e-10, "∂/∂Σ");
        }
    }

    private static double[] Invert(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var inv = new double[n * n];
        for (int i = 0; i < n; i++) inv[i * n + i] = 1;
        for (int c = 0; c < n; c++)
        {
            int p = c;
            for (int r = c + 1; r < n; r++) if (Math.Abs(m[r * n + c]) > Math.Abs(m[p * n + c])) p = r;
            for (int k = 0; k < n; k++)
            {
                (m[c * n + k], m[p * n + k]) = (m[p * n + k], m[c * n + k]);
                (inv[c * n + k], inv[p * n + k]) = (inv[p * n + k], inv[c * n + k]);
            }
            double d = m[c * n + c];
            for (int k = 0; k < n; k++) { m[c * n + k] /= d; inv[c * n + k] /= d; }
            for (int r = 0; r < n; r++)
            {
                if (r == c) continue;
                double f = m[r * n + c];
                for (int k = 0; k < n; k++) { m[r * n + k] -= f * m[c * n + k]; inv[r * n + k] -= f * inv[c * n + k]; }
            }
        }
        return inv;
    }
}
