using Pmd.Devargs;
using Pmd.Interop;
using Pmd.Memory;

namespace Pmd.Vfio;

/// <summary>
/// A PCI device bound to vfio-pci, opened through its IOMMU group: BARs mapped into this process,
/// config space through the device fd, and interrupts as eventfds. Disposing closes the device fd,
/// which is what lets the hypervisor finish a hot-unplug.
/// </summary>
public sealed unsafe class VfioPciDevice : IDisposable, IPciConfigSpace
{
    private const int BarCount = 6;

    private readonly VfioContainer _container;
    private readonly VfioGroup _group;
    private readonly SafeFdHandle _fd;
    private readonly VfioInterop.DeviceInfo _info;
    private readonly VfioRegionInfo _config;
    private readonly SafeMappingHandle?[] _bars = new SafeMappingHandle?[BarCount];
    private readonly VfioIrqs _irqs;
    private bool _disposed;

    private VfioPciDevice(PciAddress address, VfioContainer container, VfioGroup group, SafeFdHandle fd)
    {
        Address = address;
        _container = container;
        _group = group;
        _fd = fd;
        var info = new VfioInterop.DeviceInfo { ArgSize = (uint)sizeof(VfioInterop.DeviceInfo) };
        if (Libc.Ioctl(fd.Fd, VfioInterop.VFIO_DEVICE_GET_INFO, &info) < 0)
            throw VfioErrors.IoctlFailed("VFIO_DEVICE_GET_INFO", address.ToString(), Libc.LastErrno);
        if ((info.Flags & VfioInterop.DeviceFlags.Pci) == 0)
            throw new VfioException($"{address} is not a vfio-pci device (VFIO_DEVICE_GET_INFO flags 0x{(uint)info.Flags:x})");
        _info = info;
        _config = GetRegionInfo(VfioInterop.VFIO_PCI_CONFIG_REGION_INDEX);
        _irqs = new VfioIrqs(fd, address);
        VendorId = ReadConfig16(PciRegs.PCI_VENDOR_ID);
        DeviceId = ReadConfig16(PciRegs.PCI_DEVICE_ID);
        MsixVectorCount = (int)_irqs.Count(VfioInterop.VFIO_PCI_MSIX_IRQ_INDEX);
        SupportsRequestIrq = _irqs.Count(VfioInterop.VFIO_PCI_REQ_IRQ_INDEX) >= 1;
    }

    /// <summary>
    /// Opens the device at <paramref name="address"/>, which must already be bound to vfio-pci
    /// (see <see cref="PciSysfs.BindToVfio"/>), in <paramref name="container"/> (default: the
    /// process-wide one).
    /// </summary>
    public static VfioPciDevice Open(PciAddress address, VfioContainer? container = null)
    {
        // Checked first: without VFIO nothing else can be fixed from here.
        if (!Path.Exists(VfioContainer.ContainerPath)) throw VfioErrors.Unavailable(VfioContainer.ContainerPath);
        var sysfs = PciSysfs.Find(address) ?? throw VfioErrors.NoSuchDevice(address);
        if (sysfs.Driver != PciSysfs.VfioPciDriver) throw VfioErrors.NotBoundToVfio(address, sysfs.Driver);
        if (sysfs.IommuGroup is not int groupNumber) throw VfioErrors.NoIommuGroup(address);

        container ??= VfioContainer.Shared;
        var group = container.AcquireGroup(groupNumber, sysfs.NoIommuGroup, address);
        SafeFdHandle? fd = null;
        try
        {
            fd = group.OpenDevice(address);
            return new VfioPciDevice(address, container, group, fd);
        }
        catch
        {
            fd?.Dispose();
            container.ReleaseGroup(group);
            throw;
        }
    }

    public PciAddress Address { get; }

    /// <summary>Whether the device fd is closed (after which a hot-unplug can complete).</summary>
    public bool IsDisposed => _disposed;

    public ushort VendorId { get; }

    public ushort DeviceId { get; }

    /// <summary>What this device must be given as addresses of our memory (physical in noiommu mode).</summary>
    public IovaMode IovaMode => _container.IovaMode;

    public int MsixVectorCount { get; }

    /// <summary>Whether the device has a request interrupt, through which the hypervisor asks for it back before an unplug.</summary>
    public bool SupportsRequestIrq { get; }

    public VfioRegionInfo GetRegionInfo(int index)
    {
        var info = new VfioInterop.RegionInfo { ArgSize = (uint)sizeof(VfioInterop.RegionInfo), Index = (uint)index };
        if (Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_DEVICE_GET_REGION_INFO, &info) < 0)
            throw VfioErrors.IoctlFailed("VFIO_DEVICE_GET_REGION_INFO", $"region {index} of {Address}", Libc.LastErrno);
        return new VfioRegionInfo(index, info.Size, info.Offset, (uint)info.Flags);
    }

    public ulong BarLength(int bar)
    {
        CheckBar(bar);
        return GetRegionInfo(bar).Size;
    }

    /// <summary>
    /// The registers of BAR <paramref name="bar"/>, mapped into this process once (later calls
    /// return the same mapping) and unmapped on Dispose.
    /// </summary>
    public MmioWindow MapBar(int bar)
    {
        CheckBar(bar);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_bars[bar] is not { } mapped)
        {
            var region = GetRegionInfo(bar);
            if (region.Size == 0) throw new VfioException($"{Address} has no BAR {bar}");
            if (region.Size > uint.MaxValue) throw new VfioException($"BAR {bar} of {Address} is {region.Size} bytes; MMIO windows over 4 GiB are not supported");
            if (!region.CanMmap)
                throw new VfioException($"BAR {bar} of {Address} cannot be mmapped (vfio-pci does not offer VFIO_REGION_INFO_FLAG_MMAP for it; an I/O-port BAR?)");
            nint address = Libc.MMap(0, (nuint)region.Size, Libc.Prot.Read | Libc.Prot.Write, Libc.MapFlags.Shared, _fd.Fd, (long)region.Offset);
            if (address == Libc.MapFailed)
                throw new VfioException($"mmap of BAR {bar} of {Address} ({region.Size} bytes) failed: {Libc.Describe(Libc.LastErrno)}");
            mapped = _bars[bar] = new SafeMappingHandle(address, (nuint)region.Size);
        }
        return new MmioWindow((byte*)mapped.Address, (uint)mapped.Length);
    }

    public byte ReadConfig8(int offset)
    {
        byte value;
        ConfigIo(offset, &value, sizeof(byte), write: false);
        return value;
    }

    public ushort ReadConfig16(int offset)
    {
        ushort value;
        ConfigIo(offset, &value, sizeof(ushort), write: false);
        return value;
    }

    public uint ReadConfig32(int offset)
    {
        uint value;
        ConfigIo(offset, &value, sizeof(uint), write: false);
        return value;
    }

    public void WriteConfig16(int offset, ushort value) => ConfigIo(offset, &value, sizeof(ushort), write: true);

    public void WriteConfig32(int offset, uint value) => ConfigIo(offset, &value, sizeof(uint), write: true);

    /// <summary>Lets the device answer MMIO and issue DMA: without bus mastering it never reads a virtqueue.</summary>
    public void EnableBusMaster()
    {
        ushort command = ReadConfig16(PciRegs.PCI_COMMAND);
        const ushort wanted = PciRegs.PCI_COMMAND_MEMORY | PciRegs.PCI_COMMAND_MASTER;
        if ((command & wanted) != wanted) WriteConfig16(PciRegs.PCI_COMMAND, (ushort)(command | wanted));
    }

    /// <summary>Vector i signals <paramref name="eventFds"/>[i]. Replaces an earlier MSI-X setup.</summary>
    public void EnableMsix(ReadOnlySpan<int> eventFds)
    {
        if (eventFds.IsEmpty) throw new ArgumentException("MSI-X needs at least one eventfd", nameof(eventFds));
        if (eventFds.Length > MsixVectorCount)
            throw new VfioException($"{Address} has {MsixVectorCount} MSI-X vectors; {eventFds.Length} were asked for");
        // vfio-pci cannot resize an enabled MSI-X block, so start from nothing.
        _irqs.Disable(VfioInterop.VFIO_PCI_MSIX_IRQ_INDEX);
        _irqs.SetEventFds(VfioInterop.VFIO_PCI_MSIX_IRQ_INDEX, eventFds, "MSI-X");
    }

    public void DisableMsix() => _irqs.Disable(VfioInterop.VFIO_PCI_MSIX_IRQ_INDEX);

    /// <summary>Legacy INTx: the line masks itself on each interrupt; call <see cref="UnmaskIntx"/> after handling it.</summary>
    public void EnableIntx(int eventFd)
    {
        if (_irqs.Count(VfioInterop.VFIO_PCI_INTX_IRQ_INDEX) == 0)
            throw new VfioException($"{Address} has no INTx interrupt");
        _irqs.SetEventFds(VfioInterop.VFIO_PCI_INTX_IRQ_INDEX, [eventFd], "INTx");
    }

    public void UnmaskIntx() => _irqs.Unmask(VfioInterop.VFIO_PCI_INTX_IRQ_INDEX);

    /// <summary>The hypervisor's request to give the device back (an unplug) signals <paramref name="eventFd"/>.</summary>
    public void EnableRequestIrq(int eventFd)
    {
        if (!SupportsRequestIrq)
            throw new VfioException($"{Address} has no device-request interrupt (VFIO_PCI_REQ_IRQ_INDEX is empty)");
        _irqs.SetEventFds(VfioInterop.VFIO_PCI_REQ_IRQ_INDEX, [eventFd], "the request interrupt");
    }

    /// <summary>Turns off MSI-X, INTx and the request interrupt, whichever were enabled.</summary>
    public void DisableIrqs()
    {
        _irqs.Disable(VfioInterop.VFIO_PCI_MSIX_IRQ_INDEX);
        _irqs.Disable(VfioInterop.VFIO_PCI_INTX_IRQ_INDEX);
        _irqs.Disable(VfioInterop.VFIO_PCI_REQ_IRQ_INDEX);
    }

    /// <summary>VFIO_DEVICE_RESET when the device can be reset (FLR, PM or bus reset); nothing otherwise.</summary>
    public void Reset()
    {
        if ((_info.Flags & VfioInterop.DeviceFlags.Reset) == 0) return;
        if (Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_DEVICE_RESET, 0) < 0)
            throw VfioErrors.IoctlFailed("VFIO_DEVICE_RESET", Address.ToString(), Libc.LastErrno);
    }

    private static void CheckBar(int bar)
    {
        if ((uint)bar >= BarCount) throw new ArgumentOutOfRangeException(nameof(bar), bar, "a PCI BAR index is 0 to 5");
    }

    private void ConfigIo(int offset, void* value, int size, bool write)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (offset < 0 || (ulong)offset + (ulong)size > _config.Size)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"config space of {Address} is {_config.Size} bytes");
        long position = (long)_config.Offset + offset;
        nint done = write
            ? Libc.PWrite(_fd.Fd, value, (nuint)size, position)
            : Libc.PRead(_fd.Fd, value, (nuint)size, position);
        if (done != size)
            throw new VfioException($"{(write ? "writing" : "reading")} {size} bytes at config offset 0x{offset:x} of {Address} failed: {(done < 0 ? Libc.Describe(Libc.LastErrno) : $"{done} bytes transferred")}");
    }

    /// <summary>
    /// Unmaps the BARs (a mapping holds the device open), closes the device fd, which completes a
    /// pending unplug, then lets go of the group. Interrupts are not turned off one by one first:
    /// vfio-pci disables every interrupt index of a device whose last fd closes, and each
    /// SET_IRQS would only delay the close a hypervisor is waiting for.
    /// </summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        foreach (var bar in _bars) bar?.Dispose();
        _fd.Dispose();
        _container.ReleaseGroup(_group);
    }
}
