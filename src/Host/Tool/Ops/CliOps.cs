using GpuAD.Tool.Cli;

namespace GpuAD.Tool.Ops;

/// <summary>
/// The ops the tool runs by name (vjp, jvp): the catalogue's entries marked <see cref="OpInfo.OnCli"/>
/// (the factorizations and products, with triangular-solve's flags as options), then every entry
/// that takes no flags (the other solves, CholeskyInverse, the elementwise ops, reductions,
/// Distances, the GP NLL). Entries with numeric flags (scale's α, tril's k, …) are left out: the
/// tool has no option for them.
/// </summary>
internal static class CliOps
{
    /// <summary>The ops: the marked entries in the catalogue's order, then the flagless ones.</summary>
    public static IReadOnlyList<OpInfo> All { get; } =
        [.. Catalogue.All.Entries.Where(o => o.OnCli), .. Catalogue.All.Entries.Where(o => !o.OnCli && o.Flags.Count == 0)];

    /// <summary>Names for help texts: "matmul, axb, …".</summary>
    public static string Names => string.Join(", ", All.Select(o => o.Kebab));

    /// <summary>A one-line-per-op listing of the ops and their inputs, for help texts.</summary>
    public static string Listing => string.Join(Environment.NewLine, All.Select(o =>
        $"  {o.Kebab,-17} {string.Join(", ", o.Inputs.Select(x => $"{x.Name} {x.Shape}"))}: {o.Formula}"));

    /// <summary>The op of that name.</summary>
    /// <exception cref="UsageException">No op has that name.</exception>
    public static OpInfo Find(string name) =>
        All.FirstOrDefault(o => o.Kebab == name.Trim().ToLowerInvariant())
        ?? throw new UsageException($"unknown op '{name}'; the ops are {Names}.");
}
