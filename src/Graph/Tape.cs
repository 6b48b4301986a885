namespace GpuAD.Graph;
