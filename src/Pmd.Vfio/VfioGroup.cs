using System.Text;
using Pmd.Devargs;
using Pmd.Interop;

namespace Pmd.Vfio;

/// <summary>
/// One IOMMU group: /dev/vfio/N (or /dev/vfio/noiommu-N). The kernel lets only one open of a
/// group exist, so <see cref="VfioContainer"/> shares each group between the devices in it.
/// </summary>
internal sealed unsafe class VfioGroup : IDisposable
{
    /// <summary>Drivers that do not stop the kernel from handing a group to userspace.</summary>
    private static readonly string[] s_harmlessDrivers = [PciSysfs.VfioPciDriver, "pci-stub"];

    private readonly SafeFdHandle _fd;

    private VfioGroup(int number, bool noIommu, string path, SafeFdHandle fd)
    {
        Number = number;
        NoIommu = noIommu;
        Path = path;
        _fd = fd;
    }

    public int Number { get; }

    public bool NoIommu { get; }

    public string Path { get; }

    public int Fd => _fd.Fd;

    internal static string PathOf(int number, bool noIommu) =>
        System.IO.Path.Combine(VfioContainer.DeviceDirectory, noIommu ? $"noiommu-{number}" : number.ToString(System.Globalization.CultureInfo.InvariantCulture));

    /// <summary>Opens the group that <paramref name="requestedBy"/> is in, and checks that the kernel finds it viable.</summary>
    public static VfioGroup Open(int number, bool noIommu, PciAddress requestedBy)
    {
        string path = PathOf(number, noIommu);
        int raw = Libc.Open(path, Libc.O_RDWR | Libc.O_CLOEXEC);
        if (raw < 0) throw VfioErrors.GroupOpenFailed(requestedBy, number, path, Libc.LastErrno);
        var fd = new SafeFdHandle(raw);
        try
        {
            var status = new VfioInterop.GroupStatus { ArgSize = (uint)sizeof(VfioInterop.GroupStatus) };
            if (Libc.Ioctl(fd.Fd, VfioInterop.VFIO_GROUP_GET_STATUS, &status) < 0)
                throw VfioErrors.IoctlFailed("VFIO_GROUP_GET_STATUS", $"{path} (IOMMU group {number} of {requestedBy})", Libc.LastErrno);
            if ((status.Flags & VfioInterop.GroupFlags.Viable) == 0)
                throw VfioErrors.GroupNotViable(requestedBy, number, HostBoundPeers(requestedBy));
            return new VfioGroup(number, noIommu, path, fd);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    }

    /// <summary>The devices sharing <paramref name="address"/>'s group that keep it from being viable, with their drivers.</summary>
    internal static IReadOnlyList<(PciAddress Address, string Driver)> HostBoundPeers(PciAddress address) =>
        PciSysfs.GroupPeers(address)
            .Select(peer => (Address: peer, Driver: PciSysfs.Find(peer)?.Driver))
            .Where(p => p.Driver is not null && !s_harmlessDrivers.Contains(p.Driver))
            .Select(p => (p.Address, p.Driver!))
            .ToArray();

    public void SetContainer(SafeFdHandle container)
    {
        int containerFd = container.Fd;
        if (Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_GROUP_SET_CONTAINER, &containerFd) < 0)
            throw VfioErrors.IoctlFailed("VFIO_GROUP_SET_CONTAINER", $"{Path} (IOMMU group {Number})", Libc.LastErrno);
    }

    /// <summary>Detaches from the container; the kernel would do it on close too, this just says it in order.</summary>
    public bool TryUnsetContainer(out int errno)
    {
        bool ok = Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_GROUP_UNSET_CONTAINER, 0) == 0;
        errno = ok ? 0 : Libc.LastErrno;
        return ok;
    }

    /// <summary>The device fd for <paramref name="address"/>, named as in the group's devices/ directory.</summary>
    public SafeFdHandle OpenDevice(PciAddress address)
    {
        byte[] name = Encoding.ASCII.GetBytes(address.ToString() + "\0");
        int raw;
        fixed (byte* p = name) raw = Libc.Ioctl(_fd.Fd, VfioInterop.VFIO_GROUP_GET_DEVICE_FD, p);
        if (raw < 0)
            throw VfioErrors.IoctlFailed("VFIO_GROUP_GET_DEVICE_FD", $"{address} in IOMMU group {Number}", Libc.LastErrno);
        return new SafeFdHandle(raw);
    }

    public void Dispose() => _fd.Dispose();
}
