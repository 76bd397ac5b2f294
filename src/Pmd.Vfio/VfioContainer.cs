using Microsoft.Extensions.Logging;
using Pmd.Devargs;
using Pmd.Interop;
using Pmd.Memory;

namespace Pmd.Vfio;

/// <summary>
/// A VFIO container (/dev/vfio/vfio): one IOMMU address space shared by the groups attached to it.
/// With an IOMMU, every region of <see cref="DmaRegistry.Shared"/> is mapped for DMA at its IOVA,
/// including regions allocated later. In noiommu mode there is nothing to map: devices DMA to
/// physical addresses, so <see cref="IovaMode"/> is <see cref="IovaMode.PhysicalAddress"/>.
/// </summary>
public sealed unsafe class VfioContainer : IDisposable
{
    private static readonly Lock s_sharedLock = new();
    private static VfioContainer? s_shared;

    private readonly ILogger _log = PmdLogging.CreateLogger("Pmd.Vfio");
    private readonly SafeFdHandle _fd;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, (VfioGroup Group, int Users)> _groups = [];
    /// <summary>The IOVA ranges mapped for each region, so that removal unmaps exactly what was mapped.</summary>
    private readonly Dictionary<HugeRegion, List<(ulong Iova, ulong Size)>> _mapped = [];
    private readonly bool _offersType1v2;
    private readonly bool _offersNoIommu;
    private bool _iommuSet;
    private bool _disposed;

    /// <summary>Where the VFIO character devices live; tests point it at a fake directory.</summary>
    internal static string DeviceDirectory { get; set; } = "/dev/vfio";

    internal static string ContainerPath => Path.Combine(DeviceDirectory, "vfio");

    /// <summary>The process-wide container, created on first use. VFIO wants one container per process where possible.</summary>
    public static VfioContainer Shared
    {
        get
        {
            lock (s_sharedLock) return s_shared ??= new VfioContainer();
        }
    }

    public VfioContainer()
    {
        string path = ContainerPath;
        if (!Path.Exists(path)) throw VfioErrors.Unavailable(path);
        int raw = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (raw < 0)
        {
            int errno = Libc.LastErrno;
            throw errno == Libc.EACCES
                ? new VfioException($"no permission to open {path}: run as root, or give this user access to /dev/vfio")
                : new VfioException($"cannot open {path}: {Libc.Describe(errno)}");
        }
        _fd = new SafeFdHandle(raw);
        try
        {
            int version = Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_GET_API_VERSION, 0);
            if (version < 0) throw VfioErrors.IoctlFailed("VFIO_GET_API_VERSION", path, Libc.LastErrno);
            if (version != VfioInterop.VFIO_API_VERSION)
                throw new VfioException($"{path} speaks VFIO API version {version}; Pmd knows version {VfioInterop.VFIO_API_VERSION}");
            _offersType1v2 = Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_CHECK_EXTENSION, VfioInterop.VFIO_TYPE1v2_IOMMU) > 0;
            _offersNoIommu = Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_CHECK_EXTENSION, VfioInterop.VFIO_NOIOMMU_IOMMU) > 0;
            if (!_offersType1v2 && !_offersNoIommu)
                throw new VfioException($"{path} offers neither VFIO_TYPE1v2_IOMMU nor VFIO_NOIOMMU_IOMMU: enable the IOMMU (intel_iommu=on) or load vfio with enable_unsafe_noiommu_mode=1");
        }
        catch
        {
            _fd.Dispose();
            throw;
        }
        // Until a group decides it, guess from what the kernel offers: noiommu-only means noiommu.
        NoIommu = !_offersType1v2;
        DmaRegistry.Shared.Changed += OnDmaRegionChanged;
    }

    /// <summary>True when the groups in this container have no IOMMU behind them (vfio's unsafe noiommu mode).</summary>
    public bool NoIommu { get; private set; }

    /// <summary>What devices in this container must be given as addresses of our memory.</summary>
    public IovaMode IovaMode => NoIommu ? IovaMode.PhysicalAddress : DmaRegistry.DefaultIovaMode;

    /// <summary>
    /// The group <paramref name="number"/>, attached to this container; shared with other devices of
    /// the same group. The first group sets the IOMMU type and maps DMA for every known region.
    /// Pair with <see cref="ReleaseGroup"/>.
    /// </summary>
    internal VfioGroup AcquireGroup(int number, bool noIommu, PciAddress requestedBy)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_groups.TryGetValue(number, out var entry))
            {
                _groups[number] = (entry.Group, entry.Users + 1);
                return entry.Group;
            }
            if (_groups.Count > 0 && noIommu != NoIommu)
                throw new VfioException($"{requestedBy} is in {Kind(noIommu)} group {number}, but this VFIO container already holds {Kind(NoIommu)} groups; VFIO cannot mix them");

            var group = VfioGroup.Open(number, noIommu, requestedBy);
            try
            {
                group.SetContainer(_fd);
                if (!_iommuSet) SetIommu(noIommu, requestedBy, number);
            }
            catch
            {
                group.TryUnsetContainer(out _);
                group.Dispose();
                if (_groups.Count == 0) ForgetIommu();
                throw;
            }
            _groups[number] = (group, 1);
            return group;
        }
    }

    /// <summary>Drops one device's hold on its group; the last one detaches and closes it.</summary>
    internal void ReleaseGroup(VfioGroup group)
    {
        lock (_lock)
        {
            if (!_groups.TryGetValue(group.Number, out var entry) || !ReferenceEquals(entry.Group, group)) return;
            if (entry.Users > 1)
            {
                _groups[group.Number] = (group, entry.Users - 1);
                return;
            }
            _groups.Remove(group.Number);
            Detach(group);
            if (_groups.Count == 0) ForgetIommu();
        }
    }

    private void SetIommu(bool noIommu, PciAddress requestedBy, int number)
    {
        int type;
        if (noIommu)
        {
            if (!_offersNoIommu)
                throw new VfioException($"{requestedBy} is in noiommu group {number}, but {ContainerPath} does not offer VFIO_NOIOMMU_IOMMU: load vfio with enable_unsafe_noiommu_mode=1");
            type = VfioInterop.VFIO_NOIOMMU_IOMMU;
        }
        else
        {
            if (!_offersType1v2)
                throw new VfioException($"{requestedBy} is in IOMMU group {number}, but {ContainerPath} does not offer VFIO_TYPE1v2_IOMMU");
            type = VfioInterop.VFIO_TYPE1v2_IOMMU;
        }
        if (Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_SET_IOMMU, (nuint)type) < 0)
            throw VfioErrors.IoctlFailed("VFIO_SET_IOMMU", $"{ContainerPath} for {requestedBy}", Libc.LastErrno);
        _iommuSet = true;
        NoIommu = noIommu;
        if (!noIommu)
        {
            // Memory allocated before the first device opened must be reachable too.
            foreach (var region in DmaRegistry.Shared.Snapshot()) Map(region);
        }
    }

    /// <summary>When the last group leaves, the kernel tears down the IOMMU context and every mapping with it.</summary>
    private void ForgetIommu()
    {
        _iommuSet = false;
        _mapped.Clear();
    }

    /// <summary>
    /// Closing the group fd detaches it from the container (the kernel does that on release), so no
    /// VFIO_GROUP_UNSET_CONTAINER first: after a hot-unplug that ioctl fails (EINVAL) anyway, and a
    /// warning there would be the process's first log line, hundreds of ms of JIT under emulation,
    /// on the path a hypervisor's wait-unplug is waiting on.
    /// </summary>
    private static void Detach(VfioGroup group) => group.Dispose();

    private void OnDmaRegionChanged(DmaRegion region, bool added)
    {
        lock (_lock)
        {
            if (!_iommuSet || NoIommu || _disposed) return;
            try
            {
                if (added) Map(region);
                else Unmap(region);
            }
            catch (VfioException e)
            {
                // Raised inside HugeRegion's constructor or Dispose, where throwing would leave the
                // region half-registered; the device simply cannot reach this memory.
                VfioLog.DmaMappingFailed(_log, e, added ? "map" : "unmap", region.Owner.Name);
            }
        }
    }

    private void Map(DmaRegion region)
    {
        if (_mapped.ContainsKey(region.Owner)) return;
        var ranges = IovaRanges(region);
        var done = new List<(ulong Iova, ulong Size)>(ranges.Count);
        try
        {
            foreach (var (va, iova, size) in ranges)
            {
                var map = new VfioInterop.DmaMap
                {
                    ArgSize = (uint)sizeof(VfioInterop.DmaMap),
                    Flags = VfioInterop.DmaMapFlags.Read | VfioInterop.DmaMapFlags.Write,
                    VirtualAddress = va,
                    Iova = iova,
                    Size = size,
                };
                if (Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_IOMMU_MAP_DMA, &map) < 0)
                {
                    int errno = Libc.LastErrno;
                    // An IOMMU with 39 address bits (QEMU's default vIOMMU, many VT-d parts) cannot take
                    // a 47-bit virtual address as IOVA: say how to get physical addresses instead.
                    string hint = errno == Libc.EINVAL && iova + size > 1UL << 39
                        ? "; the IOMMU may not reach this address: use physical addresses as IOVAs (testpmd --iova-mode=pa, or DmaRegistry.DefaultIovaMode = PhysicalAddress)"
                        : "";
                    throw VfioErrors.IoctlFailed("VFIO_IOMMU_MAP_DMA", $"region {region.Owner.Name} (iova 0x{iova:x}, {size} bytes)", errno, hint);
                }
                done.Add((iova, size));
            }
        }
        catch
        {
            foreach (var (iova, size) in done) UnmapRange(iova, size);
            throw;
        }
        _mapped[region.Owner] = done;
    }

    private void Unmap(DmaRegion region)
    {
        if (!_mapped.Remove(region.Owner, out var ranges)) return;
        foreach (var (iova, size) in ranges)
        {
            if (!UnmapRange(iova, size))
                throw VfioErrors.IoctlFailed("VFIO_IOMMU_UNMAP_DMA", $"region {region.Owner.Name} (iova 0x{iova:x}, {size} bytes)", Libc.LastErrno);
        }
    }

    private bool UnmapRange(ulong iova, ulong size)
    {
        var unmap = new VfioInterop.DmaUnmap { ArgSize = (uint)sizeof(VfioInterop.DmaUnmap), Iova = iova, Size = size };
        return Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_IOMMU_UNMAP_DMA, &unmap) == 0;
    }

    /// <summary>
    /// The region as runs of contiguous IOVA. A region allocated with IOVA = VA is one run; one
    /// whose IOVAs are physical pages becomes one run per physically contiguous stretch.
    /// </summary>
    internal static List<(ulong Va, ulong Iova, ulong Size)> IovaRanges(DmaRegion region)
    {
        var runs = new List<(ulong Va, ulong Iova, ulong Size)>();
        var owner = region.Owner;
        if (owner.IovaMode == IovaMode.VirtualAddress)
        {
            runs.Add(((ulong)region.VirtualAddress, region.Iova, region.Length));
            return runs;
        }
        ulong page = (ulong)owner.PageSize;
        for (ulong offset = 0; offset < region.Length; offset += page)
        {
            ulong va = (ulong)region.VirtualAddress + offset;
            ulong iova = owner.IovaOf((nint)va);
            ulong size = Math.Min(page, region.Length - offset);
            if (runs.Count > 0 && runs[^1].Iova + runs[^1].Size == iova)
                runs[^1] = (runs[^1].Va, runs[^1].Iova, runs[^1].Size + size);
            else
                runs.Add((va, iova, size));
        }
        return runs;
    }

    private static string Kind(bool noIommu) => noIommu ? "noiommu" : "IOMMU";

    public void Dispose()
    {
        DmaRegistry.Shared.Changed -= OnDmaRegionChanged;
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var (group, _) in _groups.Values) Detach(group);
            _groups.Clear();
            ForgetIommu();
            _fd.Dispose();
        }
        lock (s_sharedLock)
        {
            if (ReferenceEquals(s_shared, this)) s_shared = null;
        }
    }
}
