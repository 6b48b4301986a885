using System.Text.Json;
using System.Text.Json.Serialization;

namespace GpuAD.Bench.Runner;

/// <summary>
/// A suite of bench/suites.json: the cases (ids <c>op/dtype/BATCHxN</c>) and the time budget.
/// bench/torch_ref.py reads the same file, so both sides measure the same problems.
/// </summary>
internal sealed record Suite
{
    /// <summary>What the suite is for.</summary>
    public string Description { get; init; } = "";

    /// <summary>Untimed full-size runs before measuring.</summary>
    public int Warmup { get; init; } = 1;

    /// <summary>Measured runs per case (fewer when the case cap is reached).</summary>
    public int Reps { get; init; } = 10;

    /// <summary>Seconds one case may spend warming up and measuring; at least one run is always measured.</summary>
    [JsonPropertyName("case_cap_s")]
    public double CaseCapSeconds { get; init; } = 20;

    /// <summary>Seconds the whole suite may take; cases not started by then are skipped.</summary>
    [JsonPropertyName("budget_s")]
    public double BudgetSeconds { get; init; } = 300;

    /// <summary>Case ids, in run order.</summary>
    public List<string> Cases { get; init; } = [];

    /// <summary>The file next to the program, as published.</summary>
    public static string DefaultPath => Path.Combine(AppContext.BaseDirectory, "suites.json");

    /// <summary>Reads suite <paramref name="name"/> from <paramref name="path"/>.</summary>
    public static Suite Load(string path, string name)
    {
        using var stream = File.OpenRead(path);
        var file = JsonSerializer.Deserialize<SuitesFile>(stream, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower })
            ?? throw new InvalidDataException($"{path}: empty");
        return file.Suites.TryGetValue(name, out var suite)
            ? suite
            : throw new ArgumentException($"{path} has no suite '{name}' (it has {string.Join(", ", file.Suites.Keys)})");
    }

    /// <summary>Parses a case id <c>op/dtype/BATCHxN</c>, e.g. <c>cholesky/fp64/64x512</c>.</summary>
    public static Problem ParseCase(string id)
    {
        var parts = id.Split('/');
        var size = parts.Length == 3 ? parts[2].Split('x') : [];
        if (size.Length != 2 || !int.TryParse(size[0], out int batch) || !int.TryParse(size[1], out int n) || batch < 1 || n < 1)
            throw new ArgumentException($"case '{id}' is not op/dtype/BATCHxN");
        return new Problem(Problem.ParseOp(parts[0]), Problem.ParseDType(parts[1]), batch, n);
    }

    private sealed record SuitesFile
    {
        public Dictionary<string, Suite> Suites { get; init; } = [];
    }
}
