namespace Pmd.Vm.Tests;

/// <summary>The device under test that run-vm.sh gives the guest (PMD_VM_NIC); either one is net0 on netdev n0.</summary>
public enum GuestNic
{
    /// <summary>virtio-net-pci, modern only (1af4:1041), split or packed rings.</summary>
    Virtio,

    /// <summary>QEMU's Intel 82574L (8086:10d3), Pmd's net_e1000e.</summary>
    E1000e,

    /// <summary>
    /// Virtio-net failover: virtio-net-pci net0 with failover=on (the standby, the device a guest
    /// script finds) and a hidden e1000e primary0 paired to it, plugged in by QEMU once STANDBY is acked.
    /// </summary>
    Failover,
}

public static class GuestNics
{
    /// <summary>The PMD_VM_NIC value run-vm.sh takes.</summary>
    public static string RunVmName(this GuestNic nic) => nic switch
    {
        GuestNic.Virtio => "virtio",
        GuestNic.E1000e => "e1000e",
        GuestNic.Failover => "failover",
        _ => throw new ArgumentOutOfRangeException(nameof(nic), nic, "no such guest NIC"),
    };

    /// <summary>Vendor and device id as sysfs spells them (0x1af4, 0x1041): guest scripts find the device by them.</summary>
    public static (string Vendor, string Device) PciId(this GuestNic nic) => nic switch
    {
        GuestNic.Virtio or GuestNic.Failover => ("0x1af4", "0x1041"),
        GuestNic.E1000e => ("0x8086", "0x10d3"),
        _ => throw new ArgumentOutOfRangeException(nameof(nic), nic, "no such guest NIC"),
    };
}
