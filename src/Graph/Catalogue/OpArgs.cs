using System.Globalization;

namespace GpuAD;

/// <summary>
/// The flag values of one op call, by the flag's name (<c>transA</c>, <c>lower</c>, <c>alpha</c>,
/// <c>k</c>): booleans as 0 and 1, integers and reals as numbers. Immutable.
/// </summary>
internal sealed class OpArgs
{
    private readonly SortedDictionary<string, double> values;

    private OpArgs(SortedDictionary<string, double> values) => this.values = values;

    /// <summary>No flags: every flag at its default.</summary>
    public static OpArgs None { get; } = new(new(StringComparer.Ordinal));

    /// <summary>The flags' names and values.</summary>
    public IReadOnlyDictionary<string, double> Values => values;

    /// <summary>These flags with <paramref name="name"/> set to <paramref name="value"/>.</summary>
    public OpArgs With(string name, double value) => new(new(values, StringComparer.Ordinal) { [name] = value });

    /// <summary>These flags with the boolean <paramref name="name"/> set.</summary>
    public OpArgs With(string name, bool value) => With(name, value ? 1 : 0);

    /// <summary>True when <paramref name="name"/> is set.</summary>
    public bool Has(string name) => values.ContainsKey(name);

    /// <summary>A boolean flag.</summary>
    /// <exception cref="KeyNotFoundException">The flag is not set.</exception>
    public bool Bool(string name) => Number(name) != 0;

    /// <summary>A numeric flag.</summary>
    /// <exception cref="KeyNotFoundException">The flag is not set.</exception>
    public double Number(string name) =>
        values.TryGetValue(name, out var v) ? v : throw new KeyNotFoundException($"no flag '{name}' (flags: {this}).");

    /// <summary>An integer flag.</summary>
    /// <exception cref="KeyNotFoundException">The flag is not set.</exception>
    public int Int(string name) => checked((int)Number(name));

    /// <summary>"lower=1 left=0", or "none".</summary>
    public override string ToString() => values.Count == 0
        ? "none"
        : string.Join(" ", values.Select(p => $"{p.Key}={p.Value.ToString(CultureInfo.InvariantCulture)}"));
}
