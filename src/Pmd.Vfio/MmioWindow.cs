using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace Pmd.Vfio;

/// <summary>
/// Device registers in a mapped BAR, or a part of one: volatile, naturally aligned loads and stores
/// at offsets checked against the window's length, so a driver never holds a raw pointer into MMIO
/// and a wrong offset is an exception, not a write into whatever lies past the BAR. The mapping
/// belongs to the <see cref="VfioPciDevice"/> that made the window and lives until it is disposed.
/// </summary>
public readonly unsafe struct MmioWindow
{
    private readonly byte* _base;

    /// <summary>For the owner of a mapping (the device, or a test's fake register file).</summary>
    internal MmioWindow(byte* start, uint length)
    {
        _base = start;
        Length = length;
    }

    /// <summary>Bytes in the window.</summary>
    public uint Length { get; }

    public bool IsEmpty => _base == null;

    /// <summary>The <paramref name="length"/> bytes at <paramref name="offset"/>, e.g. one virtio structure inside a BAR.</summary>
    public MmioWindow Slice(uint offset, uint length)
    {
        if ((ulong)offset + length > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), $"0x{offset:x}+{length} is outside a {Length}-byte MMIO window");
        return new MmioWindow(_base + offset, length);
    }

    public byte Read8(uint offset) => Volatile.Read(ref *At(offset, 1));

    public ushort Read16(uint offset) => Volatile.Read(ref *(ushort*)At(offset, 2));

    public uint Read32(uint offset) => Volatile.Read(ref *(uint*)At(offset, 4));

    public void Write8(uint offset, byte value) => Volatile.Write(ref *At(offset, 1), value);

    public void Write16(uint offset, ushort value) => Volatile.Write(ref *(ushort*)At(offset, 2), value);

    public void Write32(uint offset, uint value) => Volatile.Write(ref *(uint*)At(offset, 4), value);

    /// <summary>
    /// Reads a register only to push earlier posted writes out to the device: PCI orders a read
    /// behind the writes before it, so when the read returns they have arrived (e1000's
    /// E1000_WRITE_FLUSH reads STATUS for this).
    /// </summary>
    public void Flush(uint offset) => _ = Read32(offset);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private byte* At(uint offset, uint size)
    {
        // Unaligned MMIO may tear or fault on some buses; an offset past the end is a driver bug.
        if (offset > Length - size || (offset & (size - 1)) != 0 || Length < size) ThrowOutside(offset, size);
        return _base + offset;
    }

    [DoesNotReturn, MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowOutside(uint offset, uint size) =>
        throw new ArgumentOutOfRangeException(nameof(offset), $"a {size}-byte register at 0x{offset:x} is outside or misaligned in a {Length}-byte MMIO window");
}
