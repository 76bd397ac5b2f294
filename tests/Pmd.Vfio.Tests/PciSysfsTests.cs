using static Pmd.Vfio.Tests.FakeSysfs;

namespace Pmd.Vfio.Tests;

/// <summary>Discovery and binding against a fake sysfs tree.</summary>
[Collection(VfioGlobals.Name)]
public sealed class PciSysfsTests : IDisposable
{
    private readonly FakeSysfs _sysfs = new();

    public void Dispose() => _sysfs.Dispose();

    [Fact]
    public void List_reads_ids_class_driver_and_iommu_group()
    {
        _sysfs.AddDevice("0000:00:05.0", vendor: 0x1af4, device: 0x1041, classCode: 0x020000, driver: "virtio-pci", group: 6);
        _sysfs.AddDevice("0000:00:04.0", vendor: 0x8086, device: 0x10d3, classCode: 0x020000, driver: "e1000e", group: 5);

        var devices = PciSysfs.List();

        Assert.Equal(
        [
            new PciDeviceInfo(Pci("0000:00:04.0"), 0x8086, 0x10d3, 0x020000, "e1000e", 5, false),
            new PciDeviceInfo(Pci("0000:00:05.0"), 0x1af4, 0x1041, 0x020000, "virtio-pci", 6, false),
        ], devices);
    }

    [Fact]
    public void An_unbound_device_without_a_group_has_neither()
    {
        _sysfs.AddDevice("0000:00:04.0");
        var info = PciSysfs.Find(Pci("0000:00:04.0"));
        Assert.NotNull(info);
        Assert.Null(info.Driver);
        Assert.Null(info.IommuGroup);
        Assert.False(info.NoIommuGroup);
    }

    [Fact]
    public void A_noiommu_group_is_recognised_by_its_name()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "vfio-pci", group: 0, noIommu: true);
        var info = PciSysfs.Find(Pci("0000:00:04.0"))!;
        Assert.Equal(0, info.IommuGroup);
        Assert.True(info.NoIommuGroup);
    }

    [Fact]
    public void Find_returns_null_for_a_device_that_does_not_exist()
    {
        Assert.Null(PciSysfs.Find(Pci("0000:00:09.0")));
        Assert.Empty(PciSysfs.List());
    }

    [Fact]
    public void BindToVfio_unbinds_then_sets_driver_override_then_probes()
    {
        _sysfs.AddDriver("vfio-pci");
        _sysfs.AddDevice("0000:00:04.0", driver: "e1000e", group: 5);

        PciSysfs.BindToVfio(Pci("0000:00:04.0"));

        Assert.Equal(
        [
            ("devices/0000:00:04.0/driver/unbind", "0000:00:04.0"),
            ("devices/0000:00:04.0/driver_override", "vfio-pci"),
            ("drivers_probe", "0000:00:04.0"),
        ], _sysfs.Writes);
        // The writes landed in the files (unbind through the driver symlink, into drivers/e1000e).
        Assert.Equal("0000:00:04.0", _sysfs.ReadAttribute("drivers/e1000e/unbind"));
        Assert.Equal("vfio-pci", _sysfs.ReadAttribute("devices/0000:00:04.0/driver_override"));
        Assert.Equal("0000:00:04.0", _sysfs.ReadAttribute("drivers_probe"));
        Assert.Equal("vfio-pci", PciSysfs.Find(Pci("0000:00:04.0"))!.Driver);
    }

    [Fact]
    public void BindToVfio_of_an_unbound_device_does_not_unbind()
    {
        _sysfs.AddDriver("vfio-pci");
        _sysfs.AddDevice("0000:00:04.0", group: 5);

        PciSysfs.BindToVfio(Pci("0000:00:04.0"));

        Assert.Equal(
        [
            ("devices/0000:00:04.0/driver_override", "vfio-pci"),
            ("drivers_probe", "0000:00:04.0"),
        ], _sysfs.Writes);
    }

    [Fact]
    public void BindToVfio_leaves_a_device_already_on_vfio_pci_alone()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "vfio-pci", group: 5);
        PciSysfs.BindToVfio(Pci("0000:00:04.0"));
        Assert.Empty(_sysfs.Writes);
    }

    [Fact]
    public void BindToVfio_without_vfio_pci_loaded_says_modprobe_and_touches_nothing()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "e1000e", group: 5);

        var e = Assert.Throws<VfioException>(() => PciSysfs.BindToVfio(Pci("0000:00:04.0")));

        Assert.Equal($"cannot bind 0000:00:04.0 to vfio-pci: the vfio-pci driver is not loaded (no {_sysfs.Root}/drivers/vfio-pci): modprobe vfio-pci", e.Message);
        Assert.Empty(_sysfs.Writes);
        Assert.Equal("e1000e", PciSysfs.Find(Pci("0000:00:04.0"))!.Driver);
    }

    [Fact]
    public void BindToVfio_of_a_missing_device_names_it()
    {
        _sysfs.AddDriver("vfio-pci");
        var e = Assert.Throws<VfioException>(() => PciSysfs.BindToVfio(Pci("0000:00:09.0")));
        Assert.Equal($"PCI device 0000:00:09.0 does not exist (no {_sysfs.Root}/devices/0000:00:09.0)", e.Message);
    }

    [Fact]
    public void BindToVfio_reports_when_vfio_pci_refuses_a_device_without_an_IOMMU_group()
    {
        _sysfs.AddDriver("vfio-pci");
        _sysfs.AddDevice("0000:00:04.0", driver: "e1000e");

        var e = Assert.Throws<VfioException>(() => PciSysfs.BindToVfio(Pci("0000:00:04.0")));

        Assert.Equal("vfio-pci did not take 0000:00:04.0: 0000:00:04.0 has no IOMMU group: enable the IOMMU (intel_iommu=on) or load vfio with enable_unsafe_noiommu_mode=1", e.Message);
    }

    [Fact]
    public void A_failed_sysfs_write_names_the_file_and_the_errno()
    {
        _sysfs.AddDriver("vfio-pci");
        _sysfs.AddDevice("0000:00:04.0", group: 5);
        File.Delete(Path.Combine(_sysfs.Root, "drivers_probe"));

        var e = Assert.Throws<VfioException>(() => PciSysfs.BindToVfio(Pci("0000:00:04.0")));

        Assert.Equal($"writing '0000:00:04.0' to {_sysfs.Root}/drivers_probe failed: No such file or directory (errno 2)", e.Message);
    }
}
