using Pmd.Interop;
using static Pmd.Vfio.Tests.FakeSysfs;

namespace Pmd.Vfio.Tests;

/// <summary>
/// Every way Open can fail before a real VFIO device is involved, against a fake sysfs and a fake
/// /dev/vfio (a regular file named vfio), with the exact messages users will read.
/// </summary>
[Collection(VfioGlobals.Name)]
public sealed class OpenErrorTests : IDisposable
{
    private readonly FakeSysfs _sysfs = new();

    public OpenErrorTests() => File.WriteAllText(Path.Combine(_sysfs.DevVfio, "vfio"), "");

    public void Dispose() => _sysfs.Dispose();

    [Fact]
    public void Without_dev_vfio_vfio_it_says_VFIO_is_not_available()
    {
        File.Delete(Path.Combine(_sysfs.DevVfio, "vfio"));
        _sysfs.AddDevice("0000:00:04.0", driver: "vfio-pci", group: 5);

        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(Pci("0000:00:04.0")));

        Assert.Equal($"VFIO is not available: modprobe vfio-pci ({_sysfs.DevVfio}/vfio does not exist)", e.Message);
    }

    [Fact]
    public void A_device_that_does_not_exist_is_named()
    {
        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(Pci("0000:00:04.0")));
        Assert.Equal($"PCI device 0000:00:04.0 does not exist (no {_sysfs.Root}/devices/0000:00:04.0)", e.Message);
    }

    [Fact]
    public void A_device_bound_to_another_driver_says_how_to_bind_it()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "e1000e", group: 5);

        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(Pci("0000:00:04.0")));

        string dir = $"{_sysfs.Root}/devices/0000:00:04.0";
        Assert.Equal(
            $"0000:00:04.0 is bound to e1000e, not vfio-pci: bind it with `testpmd … -a 0000:00:04.0` (which binds explicitly) " +
            $"or echo vfio-pci > {dir}/driver_override, then echo 0000:00:04.0 > {dir}/driver/unbind and echo 0000:00:04.0 > {_sysfs.Root}/drivers_probe",
            e.Message);
    }

    [Fact]
    public void An_unbound_device_says_how_to_bind_it()
    {
        _sysfs.AddDevice("0000:00:04.0", group: 5);

        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(Pci("0000:00:04.0")));

        Assert.Equal(
            $"0000:00:04.0 is not bound to any driver, not vfio-pci: bind it with `testpmd … -a 0000:00:04.0` (which binds explicitly) " +
            $"or echo vfio-pci > {_sysfs.Root}/devices/0000:00:04.0/driver_override, then echo 0000:00:04.0 > {_sysfs.Root}/drivers_probe",
            e.Message);
    }

    [Fact]
    public void A_device_without_an_IOMMU_group_says_how_to_get_one()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "vfio-pci");

        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(Pci("0000:00:04.0")));

        Assert.Equal("0000:00:04.0 has no IOMMU group: enable the IOMMU (intel_iommu=on) or load vfio with enable_unsafe_noiommu_mode=1", e.Message);
    }

    [Fact]
    public void A_container_node_that_is_not_VFIO_fails_on_the_API_version()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "vfio-pci", group: 5);

        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(Pci("0000:00:04.0")));

        Assert.Equal($"VFIO_GET_API_VERSION on {_sysfs.DevVfio}/vfio failed: Inappropriate ioctl for device (errno 25)", e.Message);
    }

    [Fact]
    public void A_missing_group_node_is_named_with_its_device()
    {
        var e = Assert.Throws<VfioException>(() => VfioGroup.Open(5, noIommu: false, Pci("0000:00:04.0")));
        Assert.Equal($"{_sysfs.DevVfio}/5 does not exist, although 0000:00:04.0 is in IOMMU group 5: is 0000:00:04.0 bound to vfio-pci, and is /dev/vfio visible here?", e.Message);
    }

    [Fact]
    public void A_noiommu_group_is_opened_under_its_noiommu_name()
    {
        var e = Assert.Throws<VfioException>(() => VfioGroup.Open(0, noIommu: true, Pci("0000:00:04.0")));
        Assert.StartsWith($"{_sysfs.DevVfio}/noiommu-0 does not exist", e.Message);
    }

    [Fact]
    public void A_group_node_that_is_not_VFIO_fails_on_the_status()
    {
        File.WriteAllText(Path.Combine(_sysfs.DevVfio, "5"), "");
        var e = Assert.Throws<VfioException>(() => VfioGroup.Open(5, noIommu: false, Pci("0000:00:04.0")));
        Assert.Equal($"VFIO_GROUP_GET_STATUS on {_sysfs.DevVfio}/5 (IOMMU group 5 of 0000:00:04.0) failed: Inappropriate ioctl for device (errno 25)", e.Message);
    }

    [Fact]
    public void No_permission_on_the_group_node_says_who_may_open_it()
    {
        // Tests run as root, which no file mode stops; the errno is what the kernel would report.
        var e = VfioErrors.GroupOpenFailed(Pci("0000:00:04.0"), 5, "/dev/vfio/5", errno: 13);
        Assert.Equal("no permission to open /dev/vfio/5 (IOMMU group 5 of 0000:00:04.0): run as root, or give this user access to /dev/vfio/5 (chown, or a udev rule)", e.Message);
    }

    [Fact]
    public void A_busy_group_says_someone_else_holds_it()
    {
        var e = VfioErrors.GroupOpenFailed(Pci("0000:00:04.0"), 5, "/dev/vfio/5", errno: 16);
        Assert.Equal("/dev/vfio/5 is busy: another process (QEMU, DPDK, another Pmd) holds IOMMU group 5 of 0000:00:04.0", e.Message);
    }

    [Fact]
    public void A_group_that_is_not_viable_names_the_devices_bound_to_host_drivers()
    {
        _sysfs.AddDevice("0000:00:04.0", driver: "vfio-pci", group: 5);
        _sysfs.AddDevice("0000:00:04.1", driver: "e1000e", group: 5);
        _sysfs.AddDevice("0000:00:04.2", driver: "snd_hda_intel", group: 5);
        _sysfs.AddDevice("0000:00:04.3", driver: "vfio-pci", group: 5);
        _sysfs.AddDevice("0000:00:04.4", driver: "pci-stub", group: 5);
        _sysfs.AddDevice("0000:00:04.5", group: 5);
        _sysfs.AddDevice("0000:00:05.0", driver: "e1000e", group: 6);

        var blockers = VfioGroup.HostBoundPeers(Pci("0000:00:04.0"));
        var e = VfioErrors.GroupNotViable(Pci("0000:00:04.0"), 5, blockers);

        Assert.Equal([(Pci("0000:00:04.1"), "e1000e"), (Pci("0000:00:04.2"), "snd_hda_intel")], blockers);
        Assert.Equal("IOMMU group 5 of 0000:00:04.0 is not viable: other devices in the group are bound to host drivers: " +
            "0000:00:04.1 (e1000e), 0000:00:04.2 (snd_hda_intel); bind them to vfio-pci as well, or unbind them", e.Message);
    }
}
