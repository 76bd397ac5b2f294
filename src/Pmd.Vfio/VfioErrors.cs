using Pmd.Devargs;
using Pmd.Interop;

namespace Pmd.Vfio;

/// <summary>
/// Every VFIO failure a user can fix, worded once: what went wrong with which device, and what to
/// do about it. Tests pin these texts.
/// </summary>
internal static class VfioErrors
{
    public static VfioException Unavailable(string containerPath) =>
        new($"VFIO is not available: modprobe vfio-pci ({containerPath} does not exist)");

    public static VfioException NoSuchDevice(PciAddress address) =>
        new($"PCI device {address} does not exist (no {PciSysfs.DeviceDirectory(address)})");

    public static VfioException NoIommuGroup(PciAddress address) =>
        new($"{address} has no IOMMU group: enable the IOMMU (intel_iommu=on) or load vfio with enable_unsafe_noiommu_mode=1");

    public static VfioException NotBoundToVfio(PciAddress address, string? driver)
    {
        string dir = PciSysfs.DeviceDirectory(address);
        string how = $"bind it with `testpmd … -a {address}` (which binds explicitly) or echo vfio-pci > {dir}/driver_override";
        return driver is null
            ? new($"{address} is not bound to any driver, not vfio-pci: {how}, then echo {address} > {PciSysfs.Root}/drivers_probe")
            : new($"{address} is bound to {driver}, not vfio-pci: {how}, then echo {address} > {dir}/driver/unbind and echo {address} > {PciSysfs.Root}/drivers_probe");
    }

    public static VfioException VfioPciNotLoaded(PciAddress address) =>
        new($"cannot bind {address} to vfio-pci: the vfio-pci driver is not loaded (no {PciSysfs.Root}/drivers/vfio-pci): modprobe vfio-pci");

    public static VfioException BindFailed(PciDeviceInfo after) =>
        after.IommuGroup is null
            ? new($"vfio-pci did not take {after.Address}: {NoIommuGroup(after.Address).Message}")
            : new($"vfio-pci did not take {after.Address} (its driver is now {after.Driver ?? "none"}); the kernel log (dmesg) says why");

    public static VfioException SysfsWriteFailed(string path, string value, int errno) =>
        new($"writing '{value}' to {path} failed: {Libc.Describe(errno)}");

    public static VfioException GroupOpenFailed(PciAddress address, int group, string path, int errno) => errno switch
    {
        Libc.ENOENT => new($"{path} does not exist, although {address} is in IOMMU group {group}: is {address} bound to vfio-pci, and is /dev/vfio visible here?"),
        Libc.EACCES or EPERM => new($"no permission to open {path} (IOMMU group {group} of {address}): run as root, or give this user access to {path} (chown, or a udev rule)"),
        Libc.EBUSY => new($"{path} is busy: another process (QEMU, DPDK, another Pmd) holds IOMMU group {group} of {address}"),
        _ => new($"cannot open {path} (IOMMU group {group} of {address}): {Libc.Describe(errno)}"),
    };

    /// <summary>
    /// The kernel refuses a group unless every device in it is bound to vfio-pci, pci-stub or
    /// nothing, because a device left with a host driver could DMA into our memory.
    /// <paramref name="blockers"/> are the peers that break that, with their drivers.
    /// </summary>
    public static VfioException GroupNotViable(PciAddress address, int group, IEnumerable<(PciAddress Address, string Driver)> blockers)
    {
        var named = blockers.Select(b => $"{b.Address} ({b.Driver})").ToArray();
        string who = named.Length == 0
            ? "some device in the group is bound to a host driver"
            : $"other devices in the group are bound to host drivers: {string.Join(", ", named)}";
        return new($"IOMMU group {group} of {address} is not viable: {who}; bind them to vfio-pci as well, or unbind them");
    }

    public static VfioException IoctlFailed(string ioctl, string what, int errno, string hint = "") =>
        new($"{ioctl} on {what} failed: {Libc.Describe(errno)}{hint}");

    private const int EPERM = 1;
}
