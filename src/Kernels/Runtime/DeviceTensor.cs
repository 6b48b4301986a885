using GpuAD.Kernels;
using System.Numerics;
using System.Runtime.InteropServices;
using ILGPU;
using ILGPU.Runtime;

namespace GpuAD;

/// <summary>
/// A batched matrix tensor <c>[batch, rows, cols]</c> in device memory, row-major, matrices
/// stored one after another. Owns a pooled buffer (returned to the pool on
/// <see cref="Dispose"/>), or is a view of another tensor's buffer (<see cref="Slice"/>,
/// <see cref="Reshape"/>) that stays valid while its owner lives.
/// </summary>
/// <typeparam name="T"><see cref="float"/> or <see cref="double"/> (and <see cref="int"/> for info codes and pivots).</typeparam>
/// <remarks>
/// A tensor is not thread-safe: use it from one thread at a time (its device may be shared).
/// An empty tensor (a dimension of 0) is valid everywhere and takes one minimum-size pool block.
/// </remarks>
public sealed class DeviceTensor<T> : IDisposable where T : unmanaged, INumber<T>
{
    private readonly MemoryBuffer1D<byte, Stride1D.Dense>? buffer; // null for views
    private readonly DeviceTensor<T>? owner;
    private readonly long offset;
    private MemoryAccount? account; // the account charged for the buffer (owners only)
    private bool disposed;

    internal DeviceTensor(Device device, MemoryBuffer1D<byte, Stride1D.Dense> buffer, Shape shape)
    {
        Device = device;
        this.buffer = buffer;
        Shape = shape;
        account = MemoryAccount.Current;
        account?.Charge(buffer.Length);
    }

    private DeviceTensor(DeviceTensor<T> owner, long offset, Shape shape)
    {
        Device = owner.Device;
        this.owner = owner.owner ?? owner;
        this.offset = owner.offset + offset;
        Shape = shape;
    }

    /// <summary>The device holding the data.</summary>
    public Device Device { get; }

    /// <summary>The shape <c>[batch, rows, cols]</c>.</summary>
    public Shape Shape { get; }

    /// <summary>Number of matrices.</summary>
    public int Batch => Shape.Batch;

    /// <summary>Rows of each matrix.</summary>
    public int Rows => Shape.Rows;

    /// <summary>Columns of each matrix.</summary>
    public int Cols => Shape.Cols;

    /// <summary>Total number of elements.</summary>
    public long Length => Shape.Length;

    /// <summary>True when this tensor views another tensor's memory.</summary>
    public bool IsView => owner is not null;

    /// <summary>True once this tensor (or, for a view, its owner) has been disposed.</summary>
    public bool IsDisposed => disposed || (owner?.IsDisposed ?? false) || Device.IsDisposed;

    /// <summary>The device memory, as an ILGPU view of exactly <see cref="Length"/> elements.</summary>
    /// <exception cref="ObjectDisposedException">The tensor, its owner or its device was disposed.</exception>
    internal ArrayView<T> View
    {
        get
        {
            ThrowIfDisposed();
            var raw = ((ArrayView<byte>)(owner?.buffer ?? buffer)!.View).Cast<T>();
            return raw.SubView(offset, Length);
        }
    }

    /// <summary>This tensor as a matrix reference for the kernel launchers.</summary>
    internal MatRef<T> Mat => new(View, 0, Cols, Shape.MatrixLength, Rows, Cols, Batch);

    /// <summary>A view of matrices <paramref name="start"/> to <paramref name="start"/>+<paramref name="count"/>−1, without copying.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the batch.</exception>
    public DeviceTensor<T> Slice(int start, int count)
    {
        ThrowIfDisposed();
        if (start < 0 || count < 0 || start + count > Batch)
            throw new ArgumentOutOfRangeException(nameof(start), $"Slice: batch range [{start}, {start + count}) is outside a tensor of shape {Shape}.");
        return new DeviceTensor<T>(this, start * Shape.MatrixLength, Shape.WithBatch(count));
    }

    /// <summary>A view of one matrix, shape <c>[1, rows, cols]</c>.</summary>
    public DeviceTensor<T> Matrix(int index) => Slice(index, 1);

    /// <summary>A view of the same memory with another shape of the same length.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public DeviceTensor<T> Reshape(Shape shape)
    {
        ThrowIfDisposed();
        if (shape.Length != Length)
            throw ShapeErrors.Mismatch("Reshape", "the number of elements must stay the same", Shape, shape);
        return new DeviceTensor<T>(this, 0, shape);
    }

    /// <summary>Sets every element to zero (asynchronously, in device order).</summary>
    public void Clear()
    {
        if (Length == 0) return;
        using var _ = Device.Enter();
        View.MemSetToZero();
        Device.CountLaunch();
    }

    /// <summary>Copies another tensor of the same length into this one, on the device.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void CopyFrom(DeviceTensor<T> source)
    {
        if (source.Length != Length)
            throw ShapeErrors.Mismatch("Copy", "the number of elements must be the same", source.Shape, Shape);
        if (source.Device != Device)
            throw new ArgumentException($"Copy: the tensors belong to different devices ({source.Device} and {Device}).");
        if (Length == 0) return;
        using var _ = Device.Enter();
        source.View.CopyTo(View);
    }

    /// <summary>Copies host data (row-major) into this tensor.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public unsafe void CopyFrom(ReadOnlySpan<T> data)
    {
        if (data.Length != Length)
            throw new ArgumentException($"Copy: {nameof(data)} has {data.Length} elements but the tensor {Shape} has {Length}.", nameof(data));
        using var _ = Device.Enter();
        // ILGPU copies through a raw pointer to the host memory without pinning it; a garbage
        // collection during the copy could move a managed array away from under it.
        fixed (T* pinned = data)
            if (Length > 0) View.CopyFromCPU(ref MemoryMarshal.GetReference(data), data.Length);
        Device.CountHostToDevice();
    }

    /// <summary>
    /// Copies a System.Numerics.Tensors tensor span into this tensor: rank 3
    /// <c>[batch, rows, cols]</c>, or rank 2 <c>[rows, cols]</c> for a batch of 1; dense row-major.
    /// </summary>
    /// <exception cref="ArgumentException">
    /// The rank is not 2 or 3, the shape is not this tensor's, or the strides are not row-major
    /// (checked before any copy).
    /// </exception>
    public void CopyFrom(System.Numerics.Tensors.ReadOnlyTensorSpan<T> data)
    {
        HostTensors.Expect(data, Shape, "Copy", nameof(data));
        CopyFrom(HostTensors.Elements(data));
    }

    /// <summary>Copies the tensor into a host tensor span of its shape (rank 3, or rank 2 for a batch of 1; dense row-major). Waits for pending work.</summary>
    /// <exception cref="ArgumentException">The rank, shape or strides do not fit (checked before any copy).</exception>
    public void CopyTo(System.Numerics.Tensors.TensorSpan<T> destination)
    {
        HostTensors.Expect<T>(destination, Shape, "Copy", nameof(destination));
        CopyTo(HostTensors.Elements(destination));
    }

    /// <summary>Copies the tensor into host memory of exactly <see cref="Length"/> elements. Waits for pending work.</summary>
    /// <exception cref="ArgumentException">The lengths differ.</exception>
    public void CopyTo(Memory<T> destination) => CopyTo(destination.Span);

    /// <summary>Copies the tensor to a new System.Numerics.Tensors tensor of lengths <c>[batch, rows, cols]</c>. Waits for pending work.</summary>
    public System.Numerics.Tensors.Tensor<T> ToHostTensor() =>
        System.Numerics.Tensors.Tensor.Create(ToArray(), [Batch, Rows, Cols]);

    /// <summary>Copies the tensor to a new host array, row-major <c>[batch, rows, cols]</c>. Waits for pending work.</summary>
    public T[] ToArray()
    {
        var result = new T[Length];
        CopyTo(result);
        return result;
    }

    /// <summary>Copies the tensor into a host span of exactly <see cref="Length"/> elements. Waits for pending work.</summary>
    public unsafe void CopyTo(Span<T> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException($"Copy: {nameof(destination)} has {destination.Length} elements but the tensor {Shape} has {Length}.", nameof(destination));
        using var _ = Device.Enter();
        fixed (T* pinned = destination) // pinned for the copy, as in CopyFrom
            if (Length > 0) View.CopyToCPU(ref MemoryMarshal.GetReference(destination), destination.Length);
        Device.CountDeviceToHost();
    }

    /// <summary>Copies this tensor to a new pooled tensor on the same device.</summary>
    public DeviceTensor<T> Clone()
    {
        var copy = Device.Allocate<T>(Shape);
        copy.CopyFrom(this);
        return copy;
    }

    /// <summary>
    /// Moves this tensor's bytes from the account it was allocated under to <paramref name="to"/>
    /// (a tape taking ownership of a tensor). Views own no bytes: nothing moves.
    /// </summary>
    internal void ChargeTo(MemoryAccount? to)
    {
        if (buffer is null || disposed || ReferenceEquals(account, to)) return;
        account?.Credit(buffer.Length);
        account = to;
        account?.Charge(buffer.Length);
    }

    private void ThrowIfDisposed()
    {
        if (IsDisposed)
            throw new ObjectDisposedException(nameof(DeviceTensor<T>), $"A tensor of shape {Shape} was used after it (or the tensor it views, or its device) was disposed.");
    }

    /// <summary>Returns the memory to the pool. Disposing a view does nothing to the memory.</summary>
    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        if (buffer is null) return;
        account?.Credit(buffer.Length);
        if (!Device.IsDisposed) Device.Pool.Return(buffer);
    }

    /// <inheritdoc/>
    public override string ToString() => $"DeviceTensor<{typeof(T).Name}>{Shape} on {Device.Name}";
}
