using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.Vfio.Nics.E1000e;

namespace Pmd.Vfio.Tests;

/// <summary>The e1000e's registration, PCI matching and the choices it makes from a pool.</summary>
public sealed class E1000eDriverTests
{
    [Fact]
    public void The_e1000e_folder_registers_itself_and_takes_the_82574L_by_pci_id()
    {
        Assert.Contains(PciNicDrivers.All, d => d.Name == "net_e1000e");
        var drivers = new DriverRegistry { PciIdReader = _ => (0x8086, 0x10d3) };
        PciNicDrivers.RegisterAll(drivers);
        Assert.Equal("net_e1000e", drivers.Resolve(DevArgs.Parse("0000:01:00.0")).Name);
        drivers.PciIdReader = _ => (0x8086, 0x100e);   // the older e1000 (82540EM): not ours
        var e = Assert.Throws<DevArgsException>(() => drivers.Resolve(DevArgs.Parse("0000:01:00.0")));
        Assert.Equal("0000:01:00.0: no driver for PCI device 8086:100e", e.Message);
    }

    [Fact]
    public void An_unknown_devarg_for_the_e1000e_names_the_key()
    {
        var drivers = new DriverRegistry { PciIdReader = _ => (0x8086, 0x10d3) };
        PciNicDrivers.RegisterAll(drivers);
        var e = Assert.Throws<DevArgsException>(() => drivers.Resolve(DevArgs.Parse("0000:01:00.0,queues=2")));
        Assert.Contains("unknown key 'queues' for net_e1000e", e.Message);
    }

    [Theory]
    [InlineData(2048, 2048, 0x0000_0000u)]
    [InlineData(2047, 1024, 0x0001_0000u)]
    [InlineData(9216, 8192, 0x0202_0000u)]
    [InlineData(16384, 16384, 0x0201_0000u)]
    [InlineData(4096, 4096, 0x0203_0000u)]
    [InlineData(300, 256, 0x0003_0000u)]
    public void The_receive_buffer_size_is_the_largest_rctl_can_name_within_the_data_room(int dataRoom, int size, uint bits)
    {
        Assert.Equal((size, bits), E1000eRxBufferSize.For(dataRoom));
    }

    [Fact]
    public void A_data_room_smaller_than_any_buffer_size_is_a_clear_error()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => E1000eRxBufferSize.For(200));
        Assert.Contains("at least 256 bytes", e.Message);
    }
}
