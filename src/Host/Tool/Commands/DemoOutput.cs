using System.Text.Json;
using GpuAD.Tool.Cli;

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

    /// <summary>Fails before any work when FILE cannot be written: no such folder, or a folder by that name.</summary>
    /// <exception cref="UsageException">The path names a folder, or its folder does not exist.</exception>
    public static void CheckWritable(string path)
    {
        if (Directory.Exists(path)) throw new UsageException($"--json {path}: is a folder; give a file name.");
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        if (!Directory.Exists(folder)) throw new UsageException($"--json {path}: the folder {folder} does not exist.");
    }

    /// <summary>Writes the file (through a temporary file in the same folder, then renamed); returns 0.</summary>
    public static int Write(string path, Run run)
    {
        string full = Path.GetFullPath(path);
        string temporary = full + $".{Environment.ProcessId}.tmp";
        using (var stream = File.Create(temporary))
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
        File.Move(temporary, full, overwrite: true);
        return 0;
    }

    private static IEnumerable<double> Column(double[] theta, int j) => Enumerable.Range(0, theta.Length / 3).Select(b => theta[3 * b + j]);

    private static void Array(Utf8JsonWriter w, string name, IEnumerable<double> values)
    {
        w.WriteStartArray(name);
        foreach (var v in values) w.WriteNumberValue(v);
        w.WriteEndArray();
    }
}
