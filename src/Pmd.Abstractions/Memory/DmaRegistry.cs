namespace Pmd.Memory;

/// <summary>One region that devices may DMA to: what SET_MEM_TABLE and VFIO_IOMMU_MAP_DMA need.</summary>
public readonly record struct DmaRegion(int Fd, long FdOffset, nint VirtualAddress, ulong Iova, nuint Length, HugeRegion Owner);

/// <summary>
/// Every region that Pmd allocated for packet memory. Transports take a snapshot when they start
/// (vhost-user's memory table) and subscribe to <see cref="Changed"/> to map regions created later
/// (VFIO). Control path only.
/// </summary>
public sealed class DmaRegistry
{
    private readonly Lock _lock = new();
    private readonly List<HugeRegion> _regions = [];

    public static DmaRegistry Shared { get; } = new();

    /// <summary>
    /// The IOVA mode for memory created without naming one (DPDK's --iova-mode): the virtual
    /// address by default; the physical address when an IOMMU cannot reach this process's virtual
    /// addresses (a vIOMMU with 39 address bits), or in noiommu mode. Set it before creating pools.
    /// </summary>
    public static IovaMode DefaultIovaMode { get; set; } = IovaMode.VirtualAddress;

    /// <summary>Raised after a region is added (true) or before it is removed (false).</summary>
    public event Action<DmaRegion, bool>? Changed;

    public IReadOnlyList<DmaRegion> Snapshot()
    {
        lock (_lock) return _regions.Select(Describe).ToArray();
    }

    internal void Add(HugeRegion region)
    {
        lock (_lock) _regions.Add(region);
        Changed?.Invoke(Describe(region), true);
    }

    internal void Remove(HugeRegion region)
    {
        bool removed;
        lock (_lock) removed = _regions.Remove(region);
        if (removed) Changed?.Invoke(Describe(region), false);
    }

    private static DmaRegion Describe(HugeRegion r) =>
        new(r.Fd.Fd, 0, r.Address, r.IovaOf(r.Address), r.Length, r);
}
