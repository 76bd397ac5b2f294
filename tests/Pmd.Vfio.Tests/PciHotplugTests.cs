using System.Text;
using Pmd.Devargs;
using Pmd.Hotplug;

namespace Pmd.Vfio.Tests;

/// <summary>The hotplug policy: which uevents make Pmd take a device, and which a removal.</summary>
public sealed class PciHotplugTests
{
    private static readonly HashSet<PciId> E1000eOnly = [new(0x8086, 0x10d3)];

    private static Uevent Event(string action, string id = "8086:10D3", string slot = "0000:01:00.0", string? driver = null)
    {
        string path = $"/devices/pci0000:00/0000:00:02.0/{slot}";
        string text = $"{action}@{path}\0ACTION={action}\0DEVPATH={path}\0SUBSYSTEM=pci\0" + (driver is null ? "" : $"DRIVER={driver}\0") +
                      $"PCI_CLASS=20000\0PCI_ID={id}\0PCI_SUBSYS_ID=8086:0000\0PCI_SLOT_NAME={slot}\0SEQNUM=1\0";
        Assert.True(Uevent.TryParse(Encoding.ASCII.GetBytes(text), out var e));
        return e!;
    }

    [Fact]
    public void An_allowed_device_that_appears_is_taken_also_when_a_kernel_driver_bound_it_first()
    {
        Assert.Equal(new HotplugAction(HotplugActionKind.Take, PciAddress.Parse("0000:01:00.0")), PciHotplug.Decide(Event("add"), E1000eOnly));
        Assert.Equal(HotplugActionKind.Take, PciHotplug.Decide(Event("bind", driver: "e1000e"), E1000eOnly).Kind);
    }

    [Fact]
    public void Devices_off_the_allow_list_and_our_own_vfio_binding_are_left_alone()
    {
        Assert.Equal(HotplugActionKind.None, PciHotplug.Decide(Event("add", id: "1AF4:1041"), E1000eOnly).Kind);
        Assert.Equal(HotplugActionKind.None, PciHotplug.Decide(Event("bind", driver: "vfio-pci"), E1000eOnly).Kind);
        Assert.Equal(HotplugActionKind.None, PciHotplug.Decide(Event("change"), E1000eOnly).Kind);
        Assert.Equal(HotplugActionKind.None, PciHotplug.Decide(Event("add", id: "zz:10d3"), E1000eOnly).Kind);
        Assert.Equal(HotplugActionKind.None, PciHotplug.Decide(Event("add", slot: "nonsense"), E1000eOnly).Kind);
    }

    [Fact]
    public void A_removal_is_a_removal_whatever_the_id()
    {
        Assert.Equal(HotplugActionKind.Remove, PciHotplug.Decide(Event("remove", id: "1AF4:1041"), E1000eOnly).Kind);
    }

    [Fact]
    public void Ids_parse_as_lspci_prints_them_and_bad_ones_say_so()
    {
        Assert.Equal(new PciId(0x8086, 0x10d3), PciHotplug.ParseId("8086:10d3"));
        Assert.Equal(new PciId(0x8086, 0x10d3), PciHotplug.ParseId("8086:10D3"));
        var e = Assert.Throws<FormatException>(() => PciHotplug.ParseId("8086-10d3"));
        Assert.Contains("not a PCI vendor:device id", e.Message);
    }
}
