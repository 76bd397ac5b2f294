using Pmd.Interop;

namespace Pmd.Memory;

/// <summary>
/// One shared-memory region backed by a memfd: 2 MiB hugepages when the kernel has them free,
/// otherwise 4 KiB pages (with one warning per process). The fd is what lets a vhost-user backend
/// map the same memory; the region registers itself with <see cref="DmaRegistry"/> so that VFIO
/// and vhost-user see it.
/// </summary>
public sealed unsafe class HugeRegion : IDisposable
{
    private static int s_fallbackWarned;
    private readonly SafeFdHandle _fd;
    private readonly SafeMappingHandle _mapping;
    private readonly ulong[]? _pageIovas;

    private HugeRegion(string name, SafeFdHandle fd, SafeMappingHandle mapping, int pageSize, IovaMode mode)
    {
        Name = name;
        _fd = fd;
        _mapping = mapping;
        PageSize = pageSize;
        IovaMode = mode;
        if (mode == IovaMode.PhysicalAddress) _pageIovas = ResolvePhysicalPages();
        DmaRegistry.Shared.Add(this);
    }

    public string Name { get; }

    /// <summary>The memfd; valid until <see cref="Dispose"/>.</summary>
    internal SafeFdHandle Fd => _fd;

    public nint Address => _mapping.Address;

    public nuint Length => _mapping.Length;

    public int PageSize { get; }

    public bool IsHugePages => PageSize >= PageSizes.HugePage2M;

    public IovaMode IovaMode { get; }

    public byte* Pointer => (byte*)_mapping.Address;

    /// <summary>
    /// Allocates at least <paramref name="length"/> bytes, rounded up to the page size.
    /// Hugepages are tried first unless <paramref name="allowHuge"/> is false (DPDK's --no-huge).
    /// </summary>
    public static HugeRegion Allocate(string name, nuint length, IovaMode mode = IovaMode.VirtualAddress, bool allowHuge = true)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        if (allowHuge && TryMap(name, length, huge: true, out var fd, out var mapping))
            return new HugeRegion(name, fd, mapping, PageSizes.HugePage2M, mode);

        if (allowHuge && Interlocked.Exchange(ref s_fallbackWarned, 1) == 0)
        {
            AbstractionsLog.NoFreeHugePages(PmdLogging.CreateLogger("Pmd.Memory"), name, PageSizes.FreeHugePages);
        }
        if (!TryMap(name, length, huge: false, out fd, out mapping))
            throw Libc.Error($"memfd region '{name}' of {length} bytes");
        return new HugeRegion(name, fd, mapping, PageSizes.SmallPage, mode);
    }

    private static bool TryMap(string name, nuint length, bool huge, out SafeFdHandle fd, out SafeMappingHandle mapping)
    {
        fd = null!;
        mapping = null!;
        var flags = Libc.MemfdFlags.CloExec | (huge ? Libc.MemfdFlags.HugeTlb | Libc.MemfdFlags.Huge2MB : 0);
        int raw = Libc.MemfdCreate("pmd:" + name, flags);
        if (raw < 0) return false;
        var handle = new SafeFdHandle(raw);
        nuint size = Alignment.AlignUp(length, (nuint)(huge ? PageSizes.HugePage2M : PageSizes.SmallPage));
        if (Libc.FTruncate(raw, (long)size) != 0)
        {
            handle.Dispose();
            return false;
        }
        // MAP_POPULATE makes a hugetlb mapping reserve its pages now: a shortage fails here with
        // ENOMEM instead of a SIGBUS on first touch in the datapath.
        nint address = Libc.MMap(0, size, Libc.Prot.Read | Libc.Prot.Write, Libc.MapFlags.Shared | Libc.MapFlags.Populate, raw, 0);
        if (address == Libc.MapFailed)
        {
            handle.Dispose();
            return false;
        }
        fd = handle;
        mapping = new SafeMappingHandle(address, size);
        return true;
    }

    /// <summary>True when [offset, offset+length) lies within this region.</summary>
    public bool Contains(nint va, nuint length) =>
        va >= Address && (nuint)(va - Address) + length <= Length;

    /// <summary>The IOVA that a device uses for <paramref name="va"/>, which must be inside the region.</summary>
    public ulong IovaOf(nint va)
    {
        nuint offset = (nuint)(va - Address);
        if (_pageIovas is null) return (ulong)va;
        return _pageIovas[(int)(offset / (nuint)PageSize)] + (ulong)(offset % (nuint)PageSize);
    }

    /// <summary>Whether a device can address [va, va+length) as one contiguous IOVA range.</summary>
    public bool IsIovaContiguous(nint va, nuint length)
    {
        if (_pageIovas is null || length == 0) return true;
        return PagesAreContiguous(va, length);
    }

    private bool PagesAreContiguous(nint va, nuint length)
    {
        int firstPage = (int)((nuint)(va - Address) / (nuint)PageSize);
        int lastPage = (int)((nuint)(va - Address + (nint)length - 1) / (nuint)PageSize);
        for (int p = firstPage; p < lastPage; p++)
            if (_pageIovas![p + 1] != _pageIovas[p] + (ulong)PageSize) return false;
        return true;
    }

    private ulong[] ResolvePhysicalPages()
    {
        if (Libc.MLock(Address, Length) != 0) throw Libc.Error($"mlock region '{Name}'");
        using var pagemap = Libc.OpenHandle("/proc/self/pagemap", Libc.O_RDONLY);
        var iovas = new ulong[(int)(Length / (nuint)PageSize)];
        for (int i = 0; i < iovas.Length; i++)
            iovas[i] = PhysicalAddresses.Translate(pagemap.Fd, Address + i * PageSize);
        return iovas;
    }

    public void Dispose()
    {
        if (_mapping.IsClosed) return;
        DmaRegistry.Shared.Remove(this);
        _mapping.Dispose();
        _fd.Dispose();
    }
}
