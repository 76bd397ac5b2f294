using Pmd.Memory;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// One shared-memory block holding every ring of a port, so that a port costs one entry in
/// vhost-user's memory table (eight at most) and one VFIO mapping. Parts are zeroed and 64-byte
/// aligned. The arena is replaced, not reused, when a port restarts.
/// </summary>
public sealed unsafe class RingArena : IDisposable
{
    private readonly HugeRegion _region;
    private nuint _used;

    public RingArena(string name, nuint bytes, IovaMode iovaMode = IovaMode.VirtualAddress)
    {
        _region = HugeRegion.Allocate(name, bytes, iovaMode);
        new Span<byte>(_region.Pointer, (int)Math.Min(_region.Length, int.MaxValue)).Clear();
    }

    public HugeRegion Region => _region;

    /// <summary>Takes <paramref name="bytes"/> zeroed bytes; the IOVA of the part is <see cref="IovaOf"/>.</summary>
    public byte* Take(int bytes, int alignment = 4096)
    {
        nuint start = PageSizes.RoundUp(_used, (nuint)alignment);
        if (start + (nuint)bytes > _region.Length) throw new InvalidOperationException($"ring arena {_region.Name} is full");
        _used = start + (nuint)bytes;
        return _region.Pointer + start;
    }

    public ulong IovaOf(void* pointer) => _region.IovaOf((nint)pointer);

    /// <summary>Bytes a port needs for <paramref name="queues"/> rings of <paramref name="size"/> entries, with slack for alignment.</summary>
    public static nuint BytesFor(int queues, int size, bool packed)
    {
        int ring = packed ? PackedRingLayout.For(size).TotalBytes : SplitRingLayout.For(size).TotalBytes;
        return (nuint)queues * (nuint)(ring + 4096) + 4096;
    }

    public void Dispose() => _region.Dispose();
}
