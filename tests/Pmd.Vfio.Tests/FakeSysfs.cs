using Pmd.Devargs;

namespace Pmd.Vfio.Tests;

/// <summary>
/// The tests that repoint PciSysfs.Root and /dev/vfio share process-wide state, so they run one
/// at a time.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class VfioGlobals
{
    public const string Name = "vfio globals";
}

/// <summary>
/// A sysfs tree in a temp directory, shaped like the kernel's: bus/pci/{devices,drivers,drivers_probe},
/// kernel/iommu_groups/N/devices, with driver and iommu_group as relative symlinks. Attribute
/// writes go through the real writer, are recorded, and drivers_probe plays the kernel: a device
/// whose driver_override is vfio-pci gets bound to vfio-pci if vfio-pci is loaded and the device
/// has an IOMMU group. Also a fake /dev/vfio.
/// </summary>
public sealed class FakeSysfs : IDisposable
{
    private readonly string _savedRoot = PciSysfs.Root;
    private readonly string _savedDevVfio = VfioContainer.DeviceDirectory;
    private readonly Action<string, string> _savedWriter = PciSysfs.AttributeWriter;

    public FakeSysfs()
    {
        Top = Directory.CreateTempSubdirectory("pmd-sysfs").FullName;
        Root = Path.Combine(Top, "bus", "pci");
        DevVfio = Path.Combine(Top, "dev", "vfio");
        Directory.CreateDirectory(Path.Combine(Root, "devices"));
        Directory.CreateDirectory(Path.Combine(Root, "drivers"));
        Directory.CreateDirectory(DevVfio);
        File.WriteAllText(Path.Combine(Root, "drivers_probe"), "");
        PciSysfs.Root = Root;
        VfioContainer.DeviceDirectory = DevVfio;
        PciSysfs.AttributeWriter = (path, value) =>
        {
            Writes.Add((Path.GetRelativePath(Root, path), value));
            _savedWriter(path, value);
            PlayKernel(path, value);
        };
    }

    public string Top { get; }

    public string Root { get; }

    public string DevVfio { get; }

    /// <summary>Every attribute write, as (path relative to <see cref="Root"/>, value).</summary>
    public List<(string Path, string Value)> Writes { get; } = [];

    public void AddDriver(string name)
    {
        string dir = Path.Combine(Root, "drivers", name);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "bind"), "");
        File.WriteAllText(Path.Combine(dir, "unbind"), "");
    }

    public void AddDevice(string address, ushort vendor = 0x8086, ushort device = 0x10d3, uint classCode = 0x020000,
        string? driver = null, int? group = null, bool noIommu = false)
    {
        string dir = Path.Combine(Root, "devices", address);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "vendor"), $"0x{vendor:x4}\n");
        File.WriteAllText(Path.Combine(dir, "device"), $"0x{device:x4}\n");
        File.WriteAllText(Path.Combine(dir, "class"), $"0x{classCode:x6}\n");
        File.WriteAllText(Path.Combine(dir, "driver_override"), "(null)\n");
        if (driver is not null) Bind(address, driver);
        if (group is int g)
        {
            string groupDir = Path.Combine(Top, "kernel", "iommu_groups", g.ToString());
            Directory.CreateDirectory(Path.Combine(groupDir, "devices"));
            if (noIommu) File.WriteAllText(Path.Combine(groupDir, "name"), "vfio-noiommu\n");
            File.CreateSymbolicLink(Path.Combine(groupDir, "devices", address), $"../../../../bus/pci/devices/{address}");
            File.CreateSymbolicLink(Path.Combine(dir, "iommu_group"), $"../../../../kernel/iommu_groups/{g}");
        }
    }

    /// <summary>Points devices/ADDR/driver at drivers/NAME, as the kernel does on bind.</summary>
    public void Bind(string address, string driver)
    {
        AddDriver(driver);
        string link = Path.Combine(Root, "devices", address, "driver");
        if (new FileInfo(link).LinkTarget is not null) File.Delete(link);
        File.CreateSymbolicLink(link, $"../../drivers/{driver}");
    }

    public string ReadAttribute(string relativePath) => File.ReadAllText(Path.Combine(Root, relativePath));

    private void PlayKernel(string path, string value)
    {
        string relative = Path.GetRelativePath(Root, path);
        if (relative.EndsWith("/driver/unbind", StringComparison.Ordinal))
        {
            File.Delete(Path.Combine(Root, "devices", value, "driver"));
        }
        else if (relative == "drivers_probe")
        {
            string dir = Path.Combine(Root, "devices", value);
            bool overridden = File.ReadAllText(Path.Combine(dir, "driver_override")).Trim() == PciSysfs.VfioPciDriver;
            bool loaded = Directory.Exists(Path.Combine(Root, "drivers", PciSysfs.VfioPciDriver));
            bool hasGroup = new FileInfo(Path.Combine(dir, "iommu_group")).LinkTarget is not null;
            if (overridden && loaded && hasGroup) Bind(value, PciSysfs.VfioPciDriver);
        }
    }

    public static PciAddress Pci(string text) => PciAddress.Parse(text);

    public void Dispose()
    {
        PciSysfs.Root = _savedRoot;
        VfioContainer.DeviceDirectory = _savedDevVfio;
        PciSysfs.AttributeWriter = _savedWriter;
        Directory.Delete(Top, recursive: true);
    }
}
