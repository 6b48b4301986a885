using System.Text.Json;

namespace GpuAD.Tool.Commands;

/// <summary>
/// <c>gpuad demo --json FILE</c>: the run's settings, the NLL of every step (per batch element and
/// their mean) and the final hyperparameters with the NLL at them, so that runs — one process or
/// several ranks — can be compared number for number. Doubles are written round-trip exact.
/// </summary>
internal static class DemoOutput
{
    // NllPerStep: per batch element, at every Adam step; for BFGS at the start and at the end.
    // Theta: the final θ = (log s², log ℓ, log σ²) per window, [batch, 3] row-major.
    public sealed record Run(string DType, int Batch, int N, int Steps, int Seed, string Optimizer, double LearningRate, int Ranks,
        IReadOnlyList<double[]> NllPerStep, double[] FinalNll, double[] Theta);

    /// <summary>Writes the run as JSON into <paramref name="stream"/> (the temporary file of <c>--json</c>).</summary>
    public static void Write(Stream stream, Run run)
    {
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteString("dtype", run.DType);
            w.WriteNumber("batch", run.Batch);
            w.WriteNumber("n", run.N);
            w.WriteNumber("steps", run.Steps);
            w.WriteNumber("seed", run.Seed);
            w.WriteString("optimizer", run.Optimizer);
            if (run.Optimizer == "adam") w.WriteNumber("learningRate", run.LearningRate);
            w.WriteNumber("ranks", run.Ranks);
            w.WriteStartArray("history");
            for (int i = 0; i < run.NllPerStep.Count; i++)
            {
                w.WriteStartObject();
                w.WriteNumber("step", i + 1);
                w.WriteNumber("meanNll", run.NllPerStep[i].Average());
                Array(w, "nll", run.NllPerStep[i]);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartObject("final");
            w.WriteNumber("meanNll", run.FinalNll.Average());
            Array(w, "nll", run.FinalNll);
            Array(w, "signalVariance", Column(run.Theta, 0).Select(Math.Exp));
            Array(w, "lengthscale", Column(run.Theta, 1).Select(Math.Exp));
            Array(w, "noiseVariance", Column(run.Theta, 2).Select(Math.Exp));
            w.WriteEndObject();
            w.WriteEndObject();
        }
    }

    private static IEnumerable<double> Column(double[] theta, int j) => Enumerable.Range(0, theta.Length / 3).Select(b => theta[3 * b + j]);

    private static void Array(Utf8JsonWriter w, string name, IEnumerable<double> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
