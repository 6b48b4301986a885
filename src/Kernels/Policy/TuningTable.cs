using System.Text.Json;
using GpuAD.Kernels;
using System.Text.Json.Serialization;

namespace GpuAD;

/// <summary>
/// The GPU family's tunable choices for one device: which GEMM tile shape large and small products
/// use, when a product is split along K, and the blocked Cholesky's block sizes and whole-matrix
/// limit. A table measured by <c>gpuad tune</c> on a GPU is committed per device name
/// (src/Kernels/Tuning/*.json, embedded); a device without one uses <see cref="Defaults"/>, values
/// reasoned from the kernels' shapes. <c>GPUAD_TUNING=FILE</c> replaces the table of every GPU-family
/// device of the process. The CPU family has nothing to tune here.
/// </summary>
public sealed record TuningTable
{
    /// <summary>The device name the table was measured on (empty for the defaults).</summary>
    public string Device { get; init; } = "";

    /// <summary>When and with what command the table was measured.</summary>
    public string Measured { get; init; } = "";

    /// <summary>
    /// GEMM tiling of products with enough tiles to fill the device, float64 (e.g. "128x64k8"; a
    /// tiling ending in "mma", e.g. "128x128k8mma", runs on the fp64 tensor cores where the device
    /// has them and as its SIMT shape elsewhere).
    /// </summary>
    public string GemmF64 { get; init; } = "128x64k8";

    /// <summary>GEMM tiling of products with enough tiles to fill the device, float32.</summary>
    public string GemmF32 { get; init; } = "128x128k8";

    /// <summary>GEMM tiling of products too small to fill the device with the large tiling, float64.</summary>
    public string GemmSmallF64 { get; init; } = "64x64k16";

    /// <summary>GEMM tiling of products too small to fill the device with the large tiling, float32.</summary>
    public string GemmSmallF32 { get; init; } = "64x64k16";

    /// <summary>
    /// Thread groups per multiprocessor a launch should have: below it a product takes the small
    /// tiling, and if still below, splits along K.
    /// </summary>
    public double GroupsPerMultiprocessor { get; init; } = 2;

    /// <summary>Most splits along K (1 turns split-K off).</summary>
    public int MaxSplits { get; init; } = 16;

    /// <summary>Shortest K range one split multiplies.</summary>
    public int MinSplitK { get; init; } = 256;

    /// <summary>
    /// The GEMM shape classes cuBLAS runs where it loads (<see cref="Device.BlasProvider"/>), comma
    /// separated: <c>large</c> (M, N and K above 256), <c>k-panel</c> (K ≤ 256, a blocked Cholesky's
    /// trailing update), <c>mn-panel</c> (M or N ≤ 256 with a long K, its reverse's T̄ and C̄
    /// updates), <c>small</c> (K and M or N ≤ 256, batches of small products), or <c>all</c>; empty:
    /// the ILGPU tilings run every product. A grouped launch goes by its largest product.
    /// </summary>
    public string GemmCublas { get; init; } = "";

    /// <summary>Diagonal blocks of the blocked Cholesky and its reverse, up to <see cref="PotrfLargeFrom"/>.</summary>
    public int PotrfBlock { get; init; } = Kernels.PotrfGpu.BlockSize;

    /// <summary>Diagonal blocks beyond <see cref="PotrfLargeFrom"/>.</summary>
    public int PotrfLargeBlock { get; init; } = Kernels.PotrfGpu.LargeBlockSize;

    /// <summary>The order beyond which <see cref="PotrfLargeBlock"/> applies.</summary>
    public int PotrfLargeFrom { get; init; } = Kernels.PotrfGpu.LargeFrom;

    /// <summary>Largest order factored and differentiated whole in one group (0: as far as shared memory allows).</summary>
    public int PotrfWholeUpTo { get; init; }

    /// <summary>
    /// Threads per row in the blocked Cholesky's panel steps, forward and reverse (the reverse's
    /// diagonal-block step and its panel solve B̄·T⁻¹) (1, 2 or 4): more
    /// split each row's updates and sums between consecutive threads of a warp (a shorter serial
    /// chain, more warps per group). 1 until a sweep has timed the others on a GPU.
    /// </summary>
    public int PotrfPanelLanes { get; init; } = 1;

    /// <summary>
    /// Threads per row in the kernels that factor and differentiate a whole small matrix in one
    /// group (orders up to the whole-matrix limit; batches of small matrices): 1, 2 or 4, as
    /// <see cref="PotrfPanelLanes"/>. 1 until a sweep has timed the others on a GPU.
    /// </summary>
    public int PotrfWholeLanes { get; init; } = 1;

    /// <summary>
    /// Most threads per column of a left triangular solve with fewer than 32 columns (a power of
    /// two up to 32; a GP's solves with y have one column): a group's otherwise idle threads split
    /// each column's sums. 1 until a sweep has timed the others on a GPU.
    /// </summary>
    public int TrsmNarrowLanes { get; init; } = 1;

    /// <summary>
    /// The blocked Cholesky factorization with look-ahead (GPU family): each block's launch runs its
    /// panel step beside the previous panel's trailing update, whose columns of this block the
    /// panel groups update themselves first, one launch per block and the panel's serial chain
    /// overlapped with the update; false: a panel launch, then an update launch. On by default
    /// (half the forward's launches, nothing serialized that was not); a sweep times both.
    /// </summary>
    public bool PotrfLookAhead { get; init; } = true;

    /// <summary>
    /// Outer blocks of the two-level blocked Cholesky and its reverse (GPU family), beyond
    /// <see cref="PotrfOuterFrom"/>; 0: one level. Each outer diagonal block is factored (and
    /// differentiated) in leaf blocks of <see cref="PotrfLargeBlock"/> by the one-level kernels,
    /// its panel is one GEMM against its inverse (<see cref="PotrfPanelInverse"/>), and the
    /// trailing update is one GEMM with K of this order: a few large products where one level has
    /// n/64 narrow ones. 512 by default, after MAGMA's dpotrf_gpu and the critical-path model
    /// (<c>GpuAD.Bench plan</c>, bench/results/2026-12-07-cholesky-plan-model.md); a sweep times it
    /// against 256, 1024 and one level.
    /// </summary>
    public int PotrfOuterBlock { get; init; } = 512;

    /// <summary>
    /// The order beyond which <see cref="PotrfOuterBlock"/> applies: 8192 by default, where the
    /// critical-path model of the H100's kernels has one and two levels even (two levels ahead by
    /// 12–19% at 16384, behind below 8192, where the leaf chains dominate and one level's fused
    /// look-ahead launches are fewer).
    /// </summary>
    public int PotrfOuterFrom { get; init; } = 8192;

    /// <summary>
    /// Two levels: the outer panels, forward L21 ← A21·L11⁻ᵀ and reverse B̄ ← B̄·T⁻¹, are one GEMM
    /// against the diagonal block's inverse (TRTRI) rather than a triangular solve in leaf blocks,
    /// whose diagonal blocks are a serial chain over every row of the panel. On by default; a
    /// sweep times both.
    /// </summary>
    public bool PotrfPanelInverse { get; init; } = true;

    /// <summary>
    /// Two levels, forward: left-looking, each outer block column updated by every column left of
    /// it (one GEMM with K up to n) just before its diagonal block is factored, as MAGMA's
    /// dpotrf_gpu does; false: right-looking, the whole trailing matrix updated after each block
    /// (K = the outer order). Left-looking writes the trailing matrix once instead of once per
    /// block, and its GEMMs have the longer K; right-looking's updates are wider. False until a
    /// sweep has timed both on a GPU.
    /// </summary>
    public bool PotrfLeftLooking { get; init; }

    /// <summary>
    /// Two levels, reverse: each outer diagonal block differentiated by three GEMMs of its order
    /// against its inverse, the composed formula on the block (Σ̄ = T⁻ᵀ·Φ*(tril(Tᵀ·T̄))·T⁻¹), rather
    /// than by Murray's reverse in leaf blocks, whose leaf reverses are a serial chain. The block
    /// executes 6·w³ flops where Murray's executes (2/3)·w³: about 3% more for the whole reverse at
    /// n = 8192 in blocks of 512, for a few GEMM launches in place of 8 serial leaf reverses. False
    /// until a sweep has timed both on a GPU (the critical-path model puts the reverse at 8192 at
    /// 64.5 ms against 101.5 ms, bench/results/2026-12-07-cholesky-plan-model-block-reverse.md).
    /// </summary>
    public bool PotrfBlockReverseByInverse { get; init; }

    /// <summary>
    /// Two levels: 2 runs GEMM work on a second stream beside the chain of outer diagonal blocks,
    /// the host ordering the two streams. Right-looking, each outer block's trailing update is
    /// split into the next block's columns (default stream) and the rest (second stream, beside
    /// the next block's factor, inverse and panel); left-looking, the next block column's update
    /// by the columns already final runs on the second stream beside the current block; the
    /// reverse inverts the next outer block on it. 1: one stream, the same steps in order (the
    /// same result, bitwise). 1 until a sweep has timed both on a GPU.
    /// </summary>
    public int PotrfStreams { get; init; } = 1;

    /// <summary>
    /// The order up to which the automatic choice factors and differentiates by tiles in one
    /// persistent launch per pass (<see cref="CholeskyAlgorithm.Dataflow"/>, GPU family): single
    /// matrices and small batches in 2 + 5 launches, where the blocked path's chain of panel
    /// launches is latency-bound: batches of order-n matrices with batch·n up to this order (a
    /// single matrix up to it). 0 (off) until a sweep has timed it on a GPU against the blocked path.
    /// </summary>
    public int PotrfDataflowUpTo { get; init; }

    /// <summary>Where the table came from: "defaults", "committed (FILE)" or "GPUAD_TUNING (FILE)".</summary>
    [JsonIgnore]
    public string Source { get; init; } = "defaults";

    /// <summary>The reasoned defaults, for a GPU without a measured table.</summary>
    public static TuningTable Defaults { get; } = new();

    // A misspelt field would otherwise leave its default in force without a word: unknown fields are errors.
    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>The table as JSON (what <c>gpuad tune</c> writes).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>Reads a table from JSON, checking every value.</summary>
    /// <exception cref="FormatException">The JSON is not a table, or a value is out of range.</exception>
    public static TuningTable FromJson(string json, string source)
    {
        CheckFields(json, source);
        TuningTable? table;
        try
        {
            table = JsonSerializer.Deserialize<TuningTable>(json, Json);
        }
        catch (JsonException e)
        {
            // CheckFields has named every field and type already; this is a last resort.
            throw new FormatException($"Tuning table {source}: {e.Message}", e);
        }
        if (table is null) throw new FormatException($"Tuning table {source}: empty.");
        table = table with { Source = source };
        table.Validate();
        return table;
    }

    /// <summary>
    /// Checks the JSON's shape field by field, in the table's words rather than the serializer's:
    /// malformed JSON by line and column, an unknown field with the known ones, a value of the wrong
    /// kind with the field, the value and what it must be.
    /// </summary>
    private static void CheckFields(string json, string source)
    {
        string Fail(string what) => throw new FormatException($"Tuning table {source}: {what}.");
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            string where = e.LineNumber is long line ? $" at line {line + 1}, column {(e.BytePositionInLine ?? 0) + 1}" : "";
            if (string.IsNullOrWhiteSpace(json)) Fail("the file is empty; a table is a JSON object such as {\"gemmF64\": \"128x64k8\"}");
            Fail($"not valid JSON{where}");
            return;
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                Fail($"the file holds a JSON {Kind(document.RootElement)}; a table is a JSON object such as {{\"gemmF64\": \"128x64k8\"}}");
            var fields = typeof(TuningTable).GetProperties()
                .Where(p => p.CanWrite && !Attribute.IsDefined(p, typeof(JsonIgnoreAttribute)))
                .ToDictionary(p => JsonNamingPolicy.CamelCase.ConvertName(p.Name), p => p.PropertyType, StringComparer.Ordinal);
            foreach (var field in document.RootElement.EnumerateObject())
            {
                if (!fields.TryGetValue(field.Name, out var type))
                    Fail($"unknown field '{field.Name}'; the fields are {string.Join(", ", fields.Keys)}");
                var v = field.Value;
                string? need = type == typeof(string) ? v.ValueKind == JsonValueKind.String ? null : "a string"
                    : type == typeof(int) ? v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out _) ? null : "an integer"
                    : type == typeof(double) ? v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) && double.IsFinite(d) ? null : "a number"
                    : type == typeof(bool) ? v.ValueKind is JsonValueKind.True or JsonValueKind.False ? null : "true or false"
                    : null;
                if (need is not null) Fail($"{field.Name} {v.GetRawText()}: must be {need}");
            }
        }
    }

    private static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Array => "array",
        JsonValueKind.String => "string",
        JsonValueKind.Number => "number",
        JsonValueKind.True or JsonValueKind.False => "boolean",
        JsonValueKind.Null => "null",
        _ => "value",
    };

    private void Validate()
    {
        string Error(string field, object? value, string why) => $"Tuning table {Source}: {field} {value}: {why}.";
        if (Device is null || Measured is null)
            throw new FormatException($"Tuning table {Source}: device and measured must be strings.");
        foreach (var (field, value, size) in new[] { ("gemmF64", GemmF64, 8), ("gemmSmallF64", GemmSmallF64, 8), ("gemmF32", GemmF32, 4), ("gemmSmallF32", GemmSmallF32, 4) })
        {
            var tiling = GemmTiling.Parse(value ?? "")
                ?? throw new FormatException(Error(field, $"'{value}'", $"not a GEMM tiling; the tilings are {string.Join(", ", Kernels.GemmGpu.Tilings)}"));
            if (!tiling.FitsSharedMemory(size))
                throw new FormatException(Error(field, $"'{value}'", $"needs {tiling.SharedElements * size / 1024.0:0.#} KiB of shared memory in float{8 * size}, more than the {Kernels.GpuLimits.SharedBytes / 1024} KiB of a thread group"));
            if (!tiling.Serves(size))
                throw new FormatException(Error(field, $"'{value}'", "runs on the fp64 tensor cores, float64 only"));
        }
        if (GemmCublas is null) throw new FormatException(Error("gemmCublas", "null", "must be a string"));
        if (GemmCublas.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .FirstOrDefault(c => c != "all" && GemmShapeClasses.Parse(c) is null) is { } unknown)
            throw new FormatException(Error("gemmCublas", $"'{GemmCublas}'", $"'{unknown}' is not a shape class; the classes are {string.Join(", ", GemmShapeClasses.Names)} or all"));
        if (!(GroupsPerMultiprocessor > 0) || !double.IsFinite(GroupsPerMultiprocessor))
            throw new FormatException(Error("groupsPerMultiprocessor", GroupsPerMultiprocessor, "must be a positive number"));
        if (MaxSplits < 1) throw new FormatException(Error("maxSplits", MaxSplits, "must be at least 1 (1 turns split-K off)"));
        if (MinSplitK < 1) throw new FormatException(Error("minSplitK", MinSplitK, "must be at least 1"));
        // The diagonal blocks are factored in one group's shared memory, in either element type.
        int max = Math.Min(Kernels.PotrfGpu.MaxOrder(sizeof(float)), Kernels.PotrfGpu.MaxOrder(sizeof(double)));
        foreach (var (field, value) in new[] { ("potrfBlock", PotrfBlock), ("potrfLargeBlock", PotrfLargeBlock) })
        {
            if (value < 1) throw new FormatException(Error(field, value, "must be at least 1"));
            if (value > max) throw new FormatException(Error(field, value, $"Cholesky blocks of more than {max} do not fit a thread group's shared memory in float64"));
        }
        if (PotrfOuterBlock < 0) throw new FormatException(Error("potrfOuterBlock", PotrfOuterBlock, "must not be negative (0: one level)"));
        if (PotrfOuterBlock > 0 && PotrfOuterBlock <= Math.Max(PotrfBlock, PotrfLargeBlock))
            throw new FormatException(Error("potrfOuterBlock", PotrfOuterBlock, $"must exceed the diagonal blocks it is factored in (potrfBlock {PotrfBlock}, potrfLargeBlock {PotrfLargeBlock}), or be 0 for one level"));
        if (PotrfStreams is not (1 or 2)) throw new FormatException(Error("potrfStreams", PotrfStreams, "must be 1 or 2"));
        if (PotrfDataflowUpTo < 0) throw new FormatException(Error("potrfDataflowUpTo", PotrfDataflowUpTo, "must not be negative (0: off)"));
        if (PotrfOuterFrom < 0) throw new FormatException(Error("potrfOuterFrom", PotrfOuterFrom, "must not be negative"));
        if (PotrfLargeFrom < 0) throw new FormatException(Error("potrfLargeFrom", PotrfLargeFrom, "must not be negative"));
        if (PotrfWholeUpTo < 0) throw new FormatException(Error("potrfWholeUpTo", PotrfWholeUpTo, "must not be negative (0: as far as shared memory allows)"));
        if (PotrfPanelLanes is not (1 or 2 or 4)) throw new FormatException(Error("potrfPanelLanes", PotrfPanelLanes, "must be 1, 2 or 4"));
        if (PotrfWholeLanes is not (1 or 2 or 4)) throw new FormatException(Error("potrfWholeLanes", PotrfWholeLanes, "must be 1, 2 or 4"));
        if (TrsmNarrowLanes is not (1 or 2 or 4 or 8 or 16 or 32)) throw new FormatException(Error("trsmNarrowLanes", TrsmNarrowLanes, "must be a power of two up to 32"));
    }

    /// <summary>True when the table gives the products of <paramref name="shape"/> to cuBLAS.</summary>
    internal bool UsesCublas(GemmShapeClass shape) =>
        GemmCublas.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Any(c => c == "all" || GemmShapeClasses.Parse(c) == shape);

    /// <summary>The large-product tiling for an element size.</summary>
    internal GemmTiling Gemm(int elementSize) => GemmTiling.Parse(elementSize == 8 ? GemmF64 : GemmF32)!.Value;

    /// <summary>The small-product tiling for an element size.</summary>
    internal GemmTiling GemmSmall(int elementSize) => GemmTiling.Parse(elementSize == 8 ? GemmSmallF64 : GemmSmallF32)!.Value;

    /// <summary>The environment variable naming a table file that replaces every GPU device's table.</summary>
    public const string EnvironmentVariable = "GPUAD_TUNING";

    /// <summary>
    /// The table for a GPU-family device: the file named by <c>GPUAD_TUNING</c>, else the committed
    /// table measured on a device of this name, else <see cref="Defaults"/>.
    /// </summary>
    /// <exception cref="FormatException">GPUAD_TUNING names a file that cannot be read or is not a valid table.</exception>
    public static TuningTable For(string deviceName) => For(deviceName, Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary>
    /// <see cref="For(string)"/> with the value of <c>GPUAD_TUNING</c> given (null or empty: unset),
    /// so that tests need not change the process's environment.
    /// </summary>
    /// <exception cref="FormatException">The file cannot be read or is not a valid table.</exception>
    internal static TuningTable For(string deviceName, string? file)
    {
        if (!string.IsNullOrEmpty(file))
        {
            string json;
            if (Directory.Exists(file))
                throw new FormatException($"Tuning table {EnvironmentVariable} ({file}): is a directory; give the table's file.");
            try { json = File.ReadAllText(file); }
            catch (FileNotFoundException e)
            {
                throw new FormatException($"Tuning table {EnvironmentVariable} ({file}): no such file.", e);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new FormatException($"Tuning table {EnvironmentVariable} ({file}): cannot be read: {e.Message}", e);
            }
            return FromJson(json, $"{EnvironmentVariable} ({file})");
        }
        return Committed.FirstOrDefault(t => string.Equals(t.Device, deviceName, StringComparison.Ordinal)) ?? Defaults;
    }

    /// <summary>The tables committed with the library (embedded resources under Tuning/).</summary>
    public static IReadOnlyList<TuningTable> Committed { get; } = LoadCommitted();

    private static TuningTable[] LoadCommitted()
    {
        var assembly = typeof(TuningTable).Assembly;
        var tables = new List<TuningTable>();
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.Contains(".Tuning.", StringComparison.Ordinal) && n.EndsWith(".json", StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            string file = name[(name.IndexOf(".Tuning.", StringComparison.Ordinal) + ".Tuning.".Length)..];
            tables.Add(FromJson(reader.ReadToEnd(), $"committed ({file})"));
        }
        return tables.ToArray();
    }
}
