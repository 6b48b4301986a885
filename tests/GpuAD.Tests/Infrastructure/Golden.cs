using System.Text.Json;

namespace GpuAD.Tests;

/// <summary>
/// One golden case from tests/golden/&lt;case&gt;/, written by tests/oracle/generate.py: an op's
/// inputs, output, and PyTorch's float64 VJP and JVP at random cotangent and tangents.
/// </summary>
public sealed class GoldenCase
{
    /// <summary>The case folder's name, e.g. <c>cholesky-b3-7</c>.</summary>
    public required string Name { get; init; }

    /// <summary>The case folder.</summary>
    public required string Folder { get; init; }

    /// <summary>The op, e.g. <c>matmul</c>, <c>triangular-solve</c>, <c>gp-nll</c>.</summary>
    public required string Op { get; init; }

    /// <summary>The op's flags as written in meta.json (booleans, numbers, strings).</summary>
    public required IReadOnlyDictionary<string, JsonElement> Flags { get; init; }

    /// <summary>The inputs' names in call order.</summary>
    public required IReadOnlyList<string> InputNames { get; init; }

    /// <summary>Inputs that are symmetric positive-definite (their tangents and gradients are symmetric).</summary>
    public required IReadOnlyList<string> SpdNames { get; init; }

    /// <summary>meta.json's note on the op's semantics and conventions.</summary>
    public required string Note { get; init; }

    /// <summary>in_&lt;name&gt;.npy by input name.</summary>
    public required IReadOnlyDictionary<string, NpyArray> Inputs { get; init; }

    /// <summary>grad_&lt;name&gt;.npy (the VJP) by input name.</summary>
    public required IReadOnlyDictionary<string, NpyArray> Grads { get; init; }

    /// <summary>tangent_&lt;name&gt;.npy by input name.</summary>
    public required IReadOnlyDictionary<string, NpyArray> Tangents { get; init; }

    /// <summary>The output.</summary>
    public required NpyArray Y { get; init; }

    /// <summary>The cotangent the VJP was taken at (y's shape).</summary>
    public required NpyArray Cotangent { get; init; }

    /// <summary>The JVP along <see cref="Tangents"/> (y's shape).</summary>
    public required NpyArray Ydot { get; init; }

    /// <summary>A boolean flag.</summary>
    public bool Flag(string name) => FlagValue(name).GetBoolean();

    /// <summary>A numeric flag.</summary>
    public double Number(string name) => FlagValue(name).GetDouble();

    /// <summary>A string flag.</summary>
    public string Text(string name) => FlagValue(name).GetString()!;

    /// <summary>The catalogue entry the case names (its op, and the flag that tells CholeskySolve from CholeskySolveFactor).</summary>
    /// <exception cref="NotSupportedException">No entry.</exception>
    internal OpInfo Entry => EntryOrNull ?? throw new NotSupportedException($"Golden case {Name}: unknown op '{Op}'.");

    /// <summary>The catalogue entry the case names, or null (a composition of ops, not one entry).</summary>
    internal OpInfo? EntryOrNull =>
        Catalogue.All.FindGolden(Op, flag => Flags.TryGetValue(flag, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null);

    /// <summary>The case's values of its entry's flags (booleans as 0 and 1), every one set.</summary>
    internal OpArgs Args => Entry.Resolve(Entry.Flags.Aggregate(OpArgs.None, (args, f) =>
        Flags.TryGetValue(f.Name, out var v) ? args.With(f.Name, v.ValueKind switch
        {
            JsonValueKind.True => 1,
            JsonValueKind.False => 0,
            _ => v.GetDouble(),
        }) : args));

    /// <summary>True when the input is symmetric positive-definite.</summary>
    public bool IsSpd(string input) => SpdNames.Contains(input);

    public override string ToString() => Name;

    private JsonElement FlagValue(string name) =>
        Flags.TryGetValue(name, out var value) ? value
            : throw new KeyNotFoundException($"Golden case {Name}: no flag '{name}' (flags: {string.Join(", ", Flags.Keys)}).");
}

/// <summary>Finds and loads the golden cases copied next to the test assembly.</summary>
public static class Golden
{
    /// <summary>The golden folder in the test output (tests/golden/** is copied there by the project file).</summary>
    public static string Root { get; } = Path.Combine(AppContext.BaseDirectory, "golden");

    /// <summary>Every case folder's name (folders holding a meta.json), in ordinal order.</summary>
    public static IEnumerable<string> AllCases()
    {
        if (!Directory.Exists(Root))
            throw new DirectoryNotFoundException($"No golden data at {Root}: tests/golden/** should be copied to the test output.");
        return Directory.EnumerateDirectories(Root)
            .Where(d => File.Exists(Path.Combine(d, "meta.json")))
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .ToList()!;
    }

    /// <summary>The names of the cases of one op.</summary>
    public static IEnumerable<string> Cases(string op) => AllCases().Where(name => ReadOp(name) == op);

    /// <summary>The case names of one op as xunit theory data.</summary>
    public static TheoryData<string> CaseData(string op) => new(Cases(op));

    /// <summary>Loads a case: meta.json and every array it promises.</summary>
    /// <exception cref="FileNotFoundException">A promised file is missing.</exception>
    /// <exception cref="NpyFormatException">An array file is not a valid .npy file.</exception>
    public static GoldenCase Load(string caseName)
    {
        string folder = Path.Combine(Root, caseName);
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "meta.json")));
        var root = meta.RootElement;
        var inputs = Strings(root.GetProperty("inputs"));
        NpyArray Array(string file) => Npy.Read(Path.Combine(folder, file));
        return new GoldenCase
        {
            Name = caseName,
            Folder = folder,
            Op = root.GetProperty("op").GetString()!,
            Flags = root.GetProperty("flags").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone()),
            InputNames = inputs,
            SpdNames = Strings(root.GetProperty("spd")),
            Note = root.TryGetProperty("note", out var note) ? note.GetString() ?? "" : "",
            Inputs = inputs.ToDictionary(n => n, n => Array($"in_{n}.npy")),
            Grads = inputs.ToDictionary(n => n, n => Array($"grad_{n}.npy")),
            Tangents = inputs.ToDictionary(n => n, n => Array($"tangent_{n}.npy")),
            Y = Array("y.npy"),
            Cotangent = Array("cotangent.npy"),
            Ydot = Array("ydot.npy"),
        };
    }

    internal static string ReadOp(string caseName)
    {
        using var meta = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, caseName, "meta.json")));
        return meta.RootElement.GetProperty("op").GetString()!;
    }

    private static List<string> Strings(JsonElement array) => array.EnumerateArray().Select(e => e.GetString()!).ToList();

    /// <summary>
    /// Runs a case on a device: the inputs (with their tangents) on a fresh tape, the op by
    /// <paramref name="apply"/>, then the value, the JVP and, after a backward pass with the case's
    /// cotangent, every input's gradient (its shape and values) against PyTorch's.
    /// </summary>
    public static void Check<T>(Device device, GoldenCase c, double tol, Func<GoldenCase, Var<T>[], Var<T>> apply) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var tape = new Tape(device);
        var owned = new List<DeviceTensor<T>>();
        DeviceTensor<T> Up(NpyArray a)
        {
            var t = device.Upload<T>(a.To<T>(), a.BatchShape);
            owned.Add(t);
            return t;
        }
        static void Close(NpyArray expected, T[] actual, double tol, string what) => TestData.AssertClose(expected.ToDouble(), actual, tol, what);
        try
        {
            var vars = c.InputNames.Select(n => tape.Variable(Up(c.Inputs[n]), Up(c.Tangents[n]))).ToArray();
            var y = apply(c, vars);
            Close(c.Y, y.Value.ToArray(), tol, $"{c.Name} y");
            Close(c.Ydot, y.Tangent!.ToArray(), tol, $"{c.Name} JVP");
            tape.Backward(y, Up(c.Cotangent));
            for (int i = 0; i < vars.Length; i++)
            {
                var name = c.InputNames[i];
                Assert.True(vars[i].Grad is not null, $"{c.Name}: no gradient for {name}");
                Assert.Equal(vars[i].Shape, vars[i].Grad!.Shape);
                Close(c.Grads[name], vars[i].Grad!.ToArray(), tol, $"{c.Name} grad {name}");
            }
        }
        finally
        {
            tape.Dispose();
            foreach (var t in owned) t.Dispose();
        }
    }
}
