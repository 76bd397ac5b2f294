using System.Runtime.InteropServices;
using Pmd.Memory;
using Pmd.VirtioNet.Rings;

namespace Pmd.TestSupport.Virtio;

/// <summary>
/// Zeroed native memory for one ring, with the driver's ring and the in-process device model laid
/// over the same bytes. Page-aligned, as the port's DMA arena aligns a real ring. Freed on Dispose.
/// </summary>
internal sealed unsafe class RingMemory : IDisposable
{
    private const int PageSize = 4096;
    private readonly int _ringBytes;
    private readonly IndirectTables _indirect;
    private byte* _memory;

    private RingMemory(int size, int ringBytes, bool indirectTables)
    {
        int tablesOffset = Alignment.AlignUp(ringBytes, PageSize);
        nuint bytes = (nuint)(tablesOffset + (indirectTables ? IndirectTables.BytesFor(size) : 0));
        _memory = (byte*)NativeMemory.AlignedAlloc(bytes, PageSize);
        NativeMemory.Clear(_memory, bytes);
        // The device model reads through IOVAs as pointers, so a table's IOVA is its address.
        if (indirectTables) _indirect = new IndirectTables(_memory + tablesOffset, (ulong)(_memory + tablesOffset));
        _ringBytes = ringBytes;
        Size = size;
    }

    /// <summary>Memory for a ring of <paramref name="size"/> entries in one layout, with its indirect tables if asked for.</summary>
    public static RingMemory For(int size, bool packed, bool indirectTables = false) =>
        new(size, packed ? PackedRingDevice.BytesFor(size) : SplitRingDevice.BytesFor(size), indirectTables);

    /// <summary>Memory that fits a ring of <paramref name="size"/> entries in either layout, for tests that lay both on it in turn.</summary>
    public static RingMemory ForEitherLayout(int size) =>
        new(size, Math.Max(SplitRingDevice.BytesFor(size), PackedRingDevice.BytesFor(size)), indirectTables: false);

    /// <summary>Entries in the ring.</summary>
    public int Size { get; }

    public nint Address => (nint)_memory;

    public (SplitRing Ring, SplitRingDevice Device) Split(RingFeatures features)
    {
        EnsureFits(SplitRingDevice.BytesFor(Size));
        return (new SplitRing(_memory, Size, features, _indirect), new SplitRingDevice(Address, Size));
    }

    /// <summary>The split layout driven by the RX ring whose buffer ids are its slots.</summary>
    public (SplitRxRing Ring, SplitRingDevice Device) SplitRx(RingFeatures features)
    {
        EnsureFits(SplitRingDevice.BytesFor(Size));
        return (new SplitRxRing(_memory, Size, features), new SplitRingDevice(Address, Size));
    }

    /// <summary>The packed layout driven by the RX ring whose buffer ids are its positions.</summary>
    public (PackedRxRing Ring, PackedRingDevice Device) PackedRx(RingFeatures features)
    {
        EnsureFits(PackedRingDevice.BytesFor(Size));
        return (new PackedRxRing(_memory, Size, features), new PackedRingDevice(Address, Size));
    }

    public (PackedRing Ring, PackedRingDevice Device) Packed(RingFeatures features)
    {
        EnsureFits(PackedRingDevice.BytesFor(Size));
        return (new PackedRing(_memory, Size, features, _indirect), new PackedRingDevice(Address, Size));
    }

    private void EnsureFits(int bytes)
    {
        ObjectDisposedException.ThrowIf(_memory == null, this);
        if (bytes > _ringBytes)
            throw new InvalidOperationException($"this memory holds {_ringBytes} bytes of ring; that layout needs {bytes}");
    }

    public void Dispose()
    {
        NativeMemory.AlignedFree(_memory);
        _memory = null;
    }
}
