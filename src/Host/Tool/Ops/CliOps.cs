using GpuAD.Tool.Cli;

namespace GpuAD.Tool.Ops;

/// <summary>The ops the tool runs by name (vjp, jvp): the catalogue's entries it offers (<see cref="OpInfo.OnCli"/>).</summary>
internal static class CliOps
{
    /// <summary>The ops, in the catalogue's order.</summary>
    public static IReadOnlyList<OpInfo> All { get; } = [.. Catalogue.All.Entries.Where(o => o.OnCli)];

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
