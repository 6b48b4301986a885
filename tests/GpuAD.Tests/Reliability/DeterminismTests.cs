using System.Numerics;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using GpuAD.Kernels;

namespace GpuAD.Tests.Reliability;

/// <summary>
/// The same inputs on the same device give bitwise-identical values, tangents and gradients from
/// run to run, for every op, on both kernel families (float32 too on the CPU-tuned one). Sizes cross the
/// block sizes of the blocked kernels: 64 for the CPU-tuned family, 32 for the GPU-tuned one
/// (emulated, so only the ops that reach POTRF, TRSM and GETRF run there at that size).
/// </summary>
[Collection("Reliability")]
public sealed class DeterminismTests(DeviceFixture devices)
{
    public static TheoryData<string, KernelFamily> EveryOp()
    {
        var data = new TheoryData<string, KernelFamily>();
        foreach (var spec in OpTable.All(1, 1))
        foreach (var family in new[] { KernelFamily.CpuTuned, KernelFamily.GpuTuned })
            data.Add(spec.Name, family);
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryOp))]
    public void RunsAreBitwiseIdentical(string op, KernelFamily family)
    {
        var device = devices.Get(family);
        int n = family == KernelFamily.CpuTuned ? 70 : op is "Cholesky" or "TriangularSolve" or "Solve" ? 33 : 9;
        var spec = OpTable.Get(op, 2, n);
        Check<double>(device, spec);
        if (family == KernelFamily.CpuTuned) Check<float>(device, spec); // the emulated GPU is slow: float64 only there
    }

    private static void Check<T>(Device device, OpSpec spec) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var first = OpTable.Run<T>(device, spec, 7);
        var second = OpTable.Run<T>(device, spec, 7);
        string what = $"{spec} {typeof(T).Name} on {device.Family}";
        Assert.True(first.Y.Length > 0 && first.Y.All(T.IsFinite), $"{what}: the output is empty or not finite");
        Assert.True(OpTable.Bits(first.Y).SequenceEqual(OpTable.Bits(second.Y)), $"{what}: the values differ");
        Assert.True(OpTable.Bits(first.Ydot).SequenceEqual(OpTable.Bits(second.Ydot)), $"{what}: the tangents differ");
        for (int i = 0; i < first.Grads.Length; i++)
            Assert.True(OpTable.Bits(first.Grads[i]).SequenceEqual(OpTable.Bits(second.Grads[i])), $"{what}: gradient {i} differs");
    }

    /// <summary>
    /// Reductions stay free of floating-point atomics, whose order of accumulation varies run to
    /// run. Integer atomics only schedule: the dataflow Cholesky's tickets, done flags and first
    /// failing minor (<see cref="PotrfDataflowGpu"/>), whose every tile is computed in a fixed order
    /// whichever group takes it (DataflowCholeskyTests checks its bits across runs on four
    /// multiprocessors). Each Atomic call's signature is read: no float32 or float64 anywhere in it.
    /// </summary>
    [Fact]
    public void NoKernelCodeUsesFloatingPointAtomics()
    {
        var integerAtomics = new List<string>();
        foreach (var assembly in new[] { typeof(Device).Assembly, typeof(Tape).Assembly })
        {
            using var pe = new PEReader(File.OpenRead(assembly.Location));
            var md = pe.GetMetadataReader();
            var called = new List<string>();
            foreach (var m in md.MemberReferences.Select(md.GetMemberReference))
            {
                string name = md.GetString(m.Name);
                string parent = m.Parent.Kind == HandleKind.TypeReference
                    ? md.GetString(md.GetTypeReference((TypeReferenceHandle)m.Parent).Namespace) + "." + md.GetString(md.GetTypeReference((TypeReferenceHandle)m.Parent).Name)
                    : "";
                called.Add($"{parent}.{name}");
                if (parent != "ILGPU.Atomic" && !name.StartsWith("Atomic", StringComparison.Ordinal)) continue;
                // A method signature: calling convention, parameter count, return type, parameters; ELEMENT_TYPE_I4 0x08, BYREF 0x10.
                var signature = md.GetBlobBytes(m.Signature);
                Assert.True(signature.Length > 2 && signature.Skip(2).All(b => b is 0x08 or 0x10),
                    $"{assembly.GetName().Name} calls {parent}.{name} with the signature {Convert.ToHexString(signature)}: only int atomics (scheduling) are allowed");
                integerAtomics.Add($"{parent}.{name}");
            }
            if (assembly == typeof(Device).Assembly)
                Assert.Contains("ILGPU.Group.Barrier", called); // the scan does see the kernels' calls into ILGPU
        }
        Assert.Contains("ILGPU.Atomic.CompareExchange", integerAtomics); // the scan does see the atomics it allows
    }
}
