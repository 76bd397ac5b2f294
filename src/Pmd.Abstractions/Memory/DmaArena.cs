namespace Pmd.Memory;

/// <summary>
/// One block of shared, DMA-able memory that a driver carves its descriptor rings (and other
/// device-visible tables) from, so that a port costs one entry in vhost-user's memory table
/// (eight at most) and one VFIO mapping. Parts are zeroed and aligned. A port that restarts on
/// the same device keeps its arena (<see cref="Reset"/>): a vhost-user backend judges a memory
/// table by addresses and sizes, so a new block at the old address would look unchanged to it
/// and it would go on reading the old pages. Only what the device must read or write goes here: the driver's
/// own bookkeeping stays in private memory.
/// </summary>
internal sealed unsafe class DmaArena : IDisposable
{
    private readonly HugeRegion _region;
    private nuint _used;

    public DmaArena(string name, nuint bytes, IovaMode iovaMode = IovaMode.VirtualAddress)
    {
        _region = HugeRegion.Allocate(name, bytes, iovaMode);
        new Span<byte>(_region.Pointer, (int)Math.Min(_region.Length, int.MaxValue)).Clear();
    }

    public HugeRegion Region => _region;

    /// <summary>Takes <paramref name="bytes"/> zeroed bytes; the IOVA of the part is <see cref="IovaOf"/>.</summary>
    public byte* Take(int bytes, int alignment = 4096)
    {
        nuint start = Alignment.AlignUp(_used, (nuint)alignment);
        if (start + (nuint)bytes > _region.Length) throw new InvalidOperationException($"DMA arena {_region.Name} is full");
        _used = start + (nuint)bytes;
        return _region.Pointer + start;
    }

    public ulong IovaOf(void* pointer) => _region.IovaOf((nint)pointer);

    /// <summary>Bytes the arena holds in all.</summary>
    public nuint Capacity => _region.Length;

    /// <summary>Zeroes what was taken and makes all of it available again, for a restart on the same device.</summary>
    public void Reset()
    {
        new Span<byte>(_region.Pointer, (int)Math.Min(_used, int.MaxValue)).Clear();
        _used = 0;
    }

    public void Dispose() => _region.Dispose();
}
