using GpuAD.Kernels;
using GpuAD.Tests.Cli;
using Xunit;
using Device = GpuAD.Device;

namespace GpuAD.Tests.Host;

/// <summary>
/// The emulated GPU is a device choice like the others, every device is named the same way by the
/// library, <c>gpuad devices</c> and the other verbs, and messages tell two devices apart.
/// </summary>
[Collection("Cli")]
public sealed class DeviceChoiceTests
{
    [Theory]
    [InlineData("emulated-gpu", DeviceChoice.EmulatedGpu)]
    [InlineData(" Emulated-GPU ", DeviceChoice.EmulatedGpu)]
    [InlineData("cpu", DeviceChoice.Cpu)]
    [InlineData("auto", DeviceChoice.Auto)]
    public void GpuadDeviceValuesParse(string value, DeviceChoice expected)
    {
        Assert.Equal(expected, Devices.Parse(value).Choice);
        var e = Assert.Throws<ArgumentException>(() => Devices.Parse("emulated"));
        Assert.Contains("emulated-gpu", e.Message);
    }

    [Fact]
    public void EmulatedGpuOpensTheGpuKernelsOnTheCpuAcceleratorNamedLikeItsListing()
    {
        using var emulated = Devices.Open(DeviceChoice.EmulatedGpu);
        using var cpu = Devices.Open(DeviceChoice.Cpu);
        Assert.Equal((DeviceKind.Cpu, KernelFamily.GpuTuned, "emulated-gpu"), (emulated.Kind, emulated.Family, emulated.ChoiceName));
        Assert.Equal((DeviceKind.Cpu, KernelFamily.CpuTuned, "cpu"), (cpu.Kind, cpu.Family, cpu.ChoiceName));
        Assert.Equal(32, emulated.WarpSize);
        foreach (var device in new[] { emulated, cpu })
        {
            var listed = Assert.Single(Devices.List(), d => d.ChoiceName == device.ChoiceName);
            Assert.Equal((device.Name, device.Family, device.WarpSize, device.MaxGroupSize), (listed.Name, listed.Family, listed.WarpSize, listed.MaxGroupSize));
        }
    }

    [Fact]
    public void TheCrossDeviceErrorTellsTheTwoDevicesApart()
    {
        using var first = Device.CreateCpu();
        using var second = Device.CreateCpu();
        Assert.NotEqual(first.ToString(), second.ToString());
        using var a = first.Zeros<double>(new Shape(1, 2, 2));
        using var b = second.Zeros<double>(new Shape(1, 2, 2));
        using var c = first.Zeros<double>(new Shape(1, 2, 2));
        var e = Assert.Throws<ArgumentException>(() => Blas.Gemm(a, b, c));
        Assert.Contains(first.ToString(), e.Message);
        Assert.Contains(second.ToString(), e.Message);
        e = Assert.Throws<ArgumentException>(() => c.CopyFrom(b));
        Assert.Contains(first.ToString(), e.Message);
        Assert.Contains(second.ToString(), e.Message);
    }

    [Fact]
    public void GpuadDevicesListsTheEmulatedGpuAndTheVerbsNameItTheSameWay()
    {
        var devices = ToolProcess.Run("devices", "--device", "emulated-gpu");
        Assert.True(devices.ExitCode == 0, devices.ToString());
        string description = $"emulated-gpu ({Device.CpuName(KernelFamily.GpuTuned)}, GPU-tuned kernels)";
        Assert.Contains($"GpuAD would use: {description}: asked for by --device emulated-gpu", devices.Stdout);
        Assert.Contains("cpu", devices.Stdout);

        var check = ToolProcess.Run("check", "--device", "emulated-gpu", "--filter", "Trace");
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Contains($"on {description}", check.Stdout);
    }

    [Fact]
    [Trait("Tier", "Slow")]
    public void CudaAskedForByDeviceWithoutAGpuIsAdvisedOtherDeviceValues()
    {
        if (Devices.List().Any(d => d.Kind == DeviceKind.Cuda)) return; // this machine has a GPU: nothing to advise
        var run = ToolProcess.Run("check", "--device", "cuda", "--filter", "Trace");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("--device cpu", run.Stderr);
        Assert.Contains("--device emulated-gpu", run.Stderr);
        Assert.DoesNotContain("GPUAD_DEVICE=", run.Stderr);
    }
}
