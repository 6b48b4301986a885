using System.Reflection;

namespace GpuAD.Tests.Host;

/// <summary>
/// Properties of the public surface that the PublicAPI.*.txt baselines do not state: no ILGPU type
/// in any public signature, no public kernel launcher, no mutable process-wide setting, no bare
/// flag on a backward pass.
/// </summary>
public sealed class PublicApiTests
{
    private static readonly Assembly[] Library =
    [
        typeof(Device).Assembly,                          // GpuAD.Kernels
        typeof(Tape).Assembly,                            // GpuAD.Graph
        typeof(Devices).Assembly,                         // GpuAD
        typeof(GpFit).Assembly,                           // GpuAD.GaussianProcesses
        typeof(GpuAD.Distributed.Communicator).Assembly,  // GpuAD.Distributed
        typeof(GpuAD.Bench.Flops).Assembly,               // GpuAD.Benchmarking
    ];

    private const BindingFlags Visible = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance |
                                         BindingFlags.Static | BindingFlags.DeclaredOnly;

    private static IEnumerable<Type> Exported => Library.SelectMany(a => a.GetExportedTypes());

    [Fact]
    public void NoIlgpuTypeInAPublicSignature()
    {
        var offenders = new List<string>();
        foreach (var type in Exported)
            foreach (var (where, used) in Signatures(type))
                if (Mentions(used, IsIlgpu)) offenders.Add($"{type.FullName}: {where} uses {used}");
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    [Fact]
    public void KernelLaunchersAreInternal()
    {
        var kernels = typeof(Device).Assembly.GetExportedTypes().Where(t => t.Namespace != "GpuAD").Select(t => t.FullName);
        Assert.Empty(kernels);
    }

    [Fact]
    public void NoPublicStaticSetting()
    {
        var offenders = new List<string>();
        foreach (var type in Exported)
        {
            foreach (var p in type.GetProperties(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
                if (p.SetMethod is { IsPublic: true }) offenders.Add($"{type.FullName}.{p.Name}");
            foreach (var f in type.GetFields(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
                if (!f.IsInitOnly && !f.IsLiteral) offenders.Add($"{type.FullName}.{f.Name}");
        }
        Assert.True(offenders.Count == 0, string.Join("\n", offenders));
    }

    [Fact]
    public void BackwardTakesNoBareFlag()
    {
        var overloads = typeof(Tape).GetMethods().Where(m => m.Name == nameof(Tape.Backward)).ToList();
        Assert.NotEmpty(overloads);
        foreach (var m in overloads)
            Assert.DoesNotContain(m.GetParameters(), p => p.ParameterType == typeof(bool));
    }

    /// <summary>In namespace GpuAD; GpuAD.Distributed's per-rank <c>RankDevices.Open</c> chooses a device and opens it with Devices.Open.</summary>
    [Fact]
    public void DevicesOpenIsTheOneWayToADevice()
    {
        var factories = Exported.Where(t => t.Namespace == "GpuAD").SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Where(m => m.ReturnType == typeof(Device))
            .Select(m => $"{m.DeclaringType!.Name}.{m.Name}")
            .Distinct()
            .ToList();
        Assert.Equal(["Devices.Open"], factories);
    }

    private static bool IsIlgpu(Type t) => t.Assembly.GetName().Name!.StartsWith("ILGPU", StringComparison.Ordinal);

    private static bool Mentions(Type t, Func<Type, bool> bad)
    {
        if (t.IsGenericParameter) return t.GetGenericParameterConstraints().Any(c => Mentions(c, bad));
        if (t.HasElementType) return Mentions(t.GetElementType()!, bad);
        if (bad(t)) return true;
        return t.IsGenericType && t.GetGenericArguments().Any(a => !a.IsGenericParameter && Mentions(a, bad));
    }

    /// <summary>Every type a caller outside the assembly can see in <paramref name="type"/>'s declaration and its visible members.</summary>
    private static IEnumerable<(string Where, Type Used)> Signatures(Type type)
    {
        if (type.BaseType is { } b) yield return ("base type", b);
        foreach (var i in type.GetInterfaces()) yield return ("interface", i);
        foreach (var g in type.GetGenericArguments())
            foreach (var c in g.GetGenericParameterConstraints()) yield return ($"constraint on {g.Name}", c);

        foreach (var member in type.GetMembers(Visible))
        {
            switch (member)
            {
                case FieldInfo f when f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly:
                    yield return (f.Name, f.FieldType);
                    break;
                case PropertyInfo p when Seen(p.GetMethod) || Seen(p.SetMethod):
                    yield return (p.Name, p.PropertyType);
                    foreach (var i in p.GetIndexParameters()) yield return ($"{p.Name}[{i.Name}]", i.ParameterType);
                    break;
                case EventInfo e when Seen(e.AddMethod):
                    yield return (e.Name, e.EventHandlerType!);
                    break;
                case MethodBase m when Seen(m) && !m.IsSpecialName || m is ConstructorInfo && Seen(m):
                    if (m is MethodInfo mi) yield return ($"{m.Name} (return)", mi.ReturnType);
                    foreach (var p in m.GetParameters()) yield return ($"{m.Name}({p.Name})", p.ParameterType);
                    if (m.IsGenericMethodDefinition)
                        foreach (var g in m.GetGenericArguments())
                            foreach (var c in g.GetGenericParameterConstraints()) yield return ($"{m.Name}<{g.Name}>", c);
                    break;
            }
        }
    }

    private static bool Seen(MethodBase? m) => m is not null && (m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly);
}
