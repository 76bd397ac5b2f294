using System.Globalization;
using System.Text;
using Pmd.Devargs;
using Pmd.Interop;

namespace Pmd.Vfio;

/// <summary>
/// PCI discovery and driver binding through sysfs (/sys/bus/pci). Rooted at <see cref="Root"/> so
/// that tests can point it at a fake tree. Nothing here binds implicitly: only
/// <see cref="BindToVfio"/> changes which driver owns a device.
/// </summary>
public static class PciSysfs
{
    public const string VfioPciDriver = "vfio-pci";

    /// <summary>The name vfio gives the fake IOMMU groups it creates in noiommu mode.</summary>
    internal const string NoIommuGroupName = "vfio-noiommu";

    internal static string Root { get; set; } = SysfsPciIds.DefaultRoot;

    /// <summary>Writes one sysfs attribute. A seam for tests, which record the writes and play the kernel.</summary>
    internal static Action<string, string> AttributeWriter { get; set; } = WriteAttribute;

    internal static string DeviceDirectory(PciAddress address) => SysfsPciIds.DeviceDirectory(Root, address);

    /// <summary>Every PCI device under devices/, in address order.</summary>
    public static IReadOnlyList<PciDeviceInfo> List()
    {
        string devices = Path.Combine(Root, "devices");
        if (!Directory.Exists(devices)) return [];
        var found = new List<PciDeviceInfo>();
        foreach (var entry in Directory.EnumerateFileSystemEntries(devices).Order(StringComparer.Ordinal))
        {
            if (PciAddress.TryParse(Path.GetFileName(entry), out var address) && Find(address) is { } info)
                found.Add(info);
        }
        return found;
    }

    /// <summary>The device at <paramref name="address"/>, or null when sysfs has no such device (or it just went away).</summary>
    public static PciDeviceInfo? Find(PciAddress address)
    {
        try
        {
            if (SysfsPciIds.Read(Root, address) is not { } ids) return null;
            string dir = DeviceDirectory(address);
            uint classCode = SysfsPciIds.ReadHex(Path.Combine(dir, "class"));
            string? driver = LinkName(Path.Combine(dir, "driver"));
            int? group = int.TryParse(LinkName(Path.Combine(dir, "iommu_group")), NumberStyles.None, CultureInfo.InvariantCulture, out int g) ? g : null;
            bool noIommu = group is not null && ReadText(Path.Combine(dir, "iommu_group", "name")) == NoIommuGroupName;
            return new PciDeviceInfo(address, ids.Vendor, ids.Device, classCode, driver, group, noIommu);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            // A hot-unplug between the directory check and the reads: the device is gone.
            return null;
        }
        catch (InvalidDataException e)
        {
            // Every sysfs failure PciSysfs reports is a VfioException, so callers catch one type.
            throw new VfioException(e.Message);
        }
    }

    /// <summary>The other devices in <paramref name="address"/>'s IOMMU group (the kernel lists them by address).</summary>
    internal static IReadOnlyList<PciAddress> GroupPeers(PciAddress address)
    {
        string devices = Path.Combine(DeviceDirectory(address), "iommu_group", "devices");
        if (!Directory.Exists(devices)) return [];
        // Fixed-width hex names, so ordinal order is address order.
        return Directory.EnumerateFileSystemEntries(devices)
            .Select(Path.GetFileName)
            .Order(StringComparer.Ordinal)
            .Select(name => PciAddress.TryParse(name, out var a) ? a : (PciAddress?)null)
            .OfType<PciAddress>()
            .Where(a => a != address)
            .ToArray();
    }

    /// <summary>
    /// Hands the device to vfio-pci: unbinds it from its current driver, sets driver_override so
    /// that only vfio-pci may take it, and asks the kernel to probe it. Explicit only: callers
    /// decide that a device may be taken from the kernel. Does not load vfio-pci.
    /// </summary>
    public static void BindToVfio(PciAddress address)
    {
        var info = Find(address) ?? throw VfioErrors.NoSuchDevice(address);
        if (info.Driver == VfioPciDriver) return;
        if (!Directory.Exists(Path.Combine(Root, "drivers", VfioPciDriver)))
            throw VfioErrors.VfioPciNotLoaded(address);

        string dir = DeviceDirectory(address);
        if (info.Driver is not null)
            AttributeWriter(Path.Combine(dir, "driver", "unbind"), address.ToString());
        AttributeWriter(Path.Combine(dir, "driver_override"), VfioPciDriver);
        AttributeWriter(Path.Combine(Root, "drivers_probe"), address.ToString());

        var after = Find(address) ?? throw VfioErrors.NoSuchDevice(address);
        if (after.Driver != VfioPciDriver) throw VfioErrors.BindFailed(after);
    }

    private static string? ReadText(string path) => File.Exists(path) ? File.ReadAllText(path).Trim() : null;

    /// <summary>The last component of a symlink's target ("../../bus/pci/drivers/e1000e" → "e1000e"), or null if there is no link.</summary>
    private static string? LinkName(string path)
    {
        string? target = new FileInfo(path).LinkTarget;
        return target is null ? null : Path.GetFileName(target.TrimEnd('/'));
    }

    /// <summary>One write(2) of the whole value: sysfs attributes take their value in a single write.</summary>
    private static unsafe void WriteAttribute(string path, string value)
    {
        const int O_WRONLY = 1;
        int raw = Libc.Open(path, O_WRONLY | Libc.O_CLOEXEC);
        if (raw < 0) throw VfioErrors.SysfsWriteFailed(path, value, Libc.LastErrno);
        using var fd = new SafeFdHandle(raw);
        byte[] bytes = Encoding.ASCII.GetBytes(value);
        fixed (byte* p = bytes)
        {
            if (Libc.Write(fd.Fd, p, (nuint)bytes.Length) != bytes.Length)
                throw VfioErrors.SysfsWriteFailed(path, value, Libc.LastErrno);
        }
    }
}
