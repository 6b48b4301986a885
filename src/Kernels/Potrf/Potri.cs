using System.Numerics;

namespace GpuAD.Kernels;

internal static partial class Blas
{
    /// <summary>
    /// The inverse from a Cholesky factor in place, as LAPACK's POTRI (lower): each matrix's lower
    /// triangle L becomes S = (L·Lᵀ)⁻¹, whole (both triangles written). Only L's lower triangle is
    /// read. A zero diagonal entry gives infinities or NaN, as in LAPACK; nothing is checked here
    /// (callers check the diagonal first: <see cref="FirstZeroDiagonal{T}"/>).
    /// </summary>
    /// <param name="device">The device holding A.</param>
    /// <param name="a">The factors, [n, n] each, overwritten by S.</param>
    /// <param name="blockSize">Order of the diagonal blocks; 0 chooses the family's Cholesky blocks.</param>
    /// <exception cref="ArgumentException">A is not square, or broadcasts (batch stride 0).</exception>
    /// <exception cref="NotSupportedException">The element type is neither float nor double.</exception>
    public static void Potri<T>(Device device, MatRef<T> a, int blockSize = 0) where T : unmanaged, INumber<T>
    {
        CheckPotri(a);
        Potri(device, a, CholeskyInversePlan.For<T>(device, a.Rows, a.Batch, blockSize));
    }

    /// <summary><see cref="Potri{T}(Device, MatRef{T}, int)"/> executing a plan made for A's order and batch on this device.</summary>
    internal static void Potri<T>(Device device, MatRef<T> a, CholeskyInversePlan plan) where T : unmanaged, INumber<T>
    {
        CheckPotri(a);
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.N != a.Rows || plan.Batch != a.Batch || plan.Family != device.Family)
            throw new ArgumentException($"Potri: the plan is for {plan.Batch} matrices of order {plan.N} on the {plan.Family} family, not {a.Batch} of order {a.Rows} on {device.Name}.");
        if (plan.Steps.Count == 0) return;
        int n = a.Rows, nb = plan.BlockSize, batch = a.Batch;
        using var _ = device.Enter();
        int wb = Math.Min(nb, n);
        using var work = device.Allocate<T>(new Shape(batch, wb, wb));
        using var row = n > nb ? device.Allocate<T>(new Shape(batch, nb, n)) : null;
        foreach (var step in plan.Steps)
        {
            int j0 = step.J0, w = step.Width, j1 = j0 + w, below = n - j1;
            var a11 = a.Block(j0, j0, w, w);
            var w11 = work.Mat.Block(0, 0, w, w);
            switch (step.Kind)
            {
                case CholeskyInverseStepKind.InvertPanel:
                {
                    // A21 ← −L22⁻¹·A21·L11⁻¹ with L22 and L11 not yet inverted.
                    var a21 = a.Block(j1, j0, below, w);
                    Trsm(device, a.Block(j1, j1, below, below), a21, left: true, lower: true, transpose: false, unitDiagonal: false, -T.One);
                    Trsm(device, a11, a21, left: false, lower: true, transpose: false, unitDiagonal: false, T.One, blockSize: w);
                    break;
                }
                case CholeskyInverseStepKind.InvertDiagonal:
                    // L11⁻¹ = L11⁻¹·I; the copy back writes zeros above the diagonal, which LAUUM's products by X11 rely on.
                    Elementwise.Map(device, new Maps.Identity<T>(T.One), w11, w11);
                    Trsm(device, a11, w11, left: true, lower: true, transpose: false, unitDiagonal: false, T.One, blockSize: w);
                    Elementwise.Map(device, new Maps.Tril<T>(0, T.One), w11, a11);
                    break;
                case CholeskyInverseStepKind.ProductRow:
                {
                    // A10 ← X11ᵀ·A10 + X21ᵀ·X20 (rows j0.. of X are still L⁻¹).
                    var a10 = a.Block(j0, 0, w, j0);
                    var r10 = row!.Mat.Block(0, 0, w, j0);
                    Elementwise.Map(device, new Maps.Axpby<T>(T.One, T.Zero), a10, r10);
                    Gemm(device, a11, transA: true, r10, transB: false, a10, T.One, T.Zero, lowerOnly: false, step.Gemm);
                    if (below > 0)
                        Gemm(device, a.Block(j1, j0, below, w), transA: true, a.Block(j1, 0, below, j0), transB: false, a10, T.One, T.One, lowerOnly: false, step.Gemm2);
                    break;
                }
                case CholeskyInverseStepKind.ProductDiagonal:
                    // A11 ← X11ᵀ·X11 + X21ᵀ·X21 (the upper triangle too for the first product; the mirror overwrites it).
                    Elementwise.Map(device, new Maps.Axpby<T>(T.One, T.Zero), a11, w11);
                    Gemm(device, w11, transA: true, w11, transB: false, a11, T.One, T.Zero, lowerOnly: false, step.Gemm);
                    if (below > 0)
                    {
                        var x21 = a.Block(j1, j0, below, w);
                        Gemm(device, x21, transA: true, x21, transB: false, a11, T.One, T.One, lowerOnly: true, step.Gemm2);
                    }
                    break;
                case CholeskyInverseStepKind.Mirror:
                    Elementwise.Map(device, new Maps.MirrorLower<T>(), a, a, YAccess.Transposed, a);
                    break;
                default:
                    throw new InvalidOperationException($"Potri: a plan cannot hold a {step.Kind} step.");
            }
        }
    }

    private static void CheckPotri<T>(MatRef<T> a) where T : unmanaged, INumber<T>
    {
        var shape = new Shape(a.Batch, a.Rows, a.Cols);
        CheckFloatingPoint<T>("Potri");
        if (a.Rows != a.Cols)
            throw ShapeErrors.Invalid("Potri", "the matrices must be square", shape);
        if (a.Batch > 1 && a.BatchStride == 0 && a.Rows > 0)
            throw ShapeErrors.Invalid("Potri", "a broadcast matrix (batch stride 0) cannot be inverted in place", shape);
    }

    /// <summary>
    /// The first zero (or NaN) diagonal entry of the factors, read back to the host: (batch element,
    /// zero-based index), or null when every diagonal entry is non-zero. An infinite entry counts as
    /// zero too: its inverse is.
    /// </summary>
    internal static (int Batch, int Index)? FirstZeroDiagonal<T>(DeviceTensor<T> factors) where T : unmanaged, INumber<T>
    {
        var shape = factors.Shape;
        int n = shape.Rows;
        if (n == 0 || shape.Batch == 0) return null;
        using var diagonal = factors.Device.Allocate<T>(new Shape(shape.Batch, n, 1));
        Elementwise.Map(factors.Device, new Maps.Axpby<T>(T.One, T.Zero), Elementwise.Diagonal(factors.Mat), diagonal.Mat);
        var d = diagonal.ToArray();
        for (int b = 0; b < shape.Batch; b++)
        for (int i = 0; i < n; i++)
        {
            T v = d[(long)b * n + i];
            if (v == T.Zero || !T.IsFinite(v)) return (b, i);
        }
        return null;
    }
}
