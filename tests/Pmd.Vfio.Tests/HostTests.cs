using Pmd.Devargs;
using Pmd.Memory;

namespace Pmd.Vfio.Tests;

/// <summary>What this host (no VFIO) can say about the real paths and the pure parts.</summary>
[Collection(VfioGlobals.Name)]
public sealed class HostTests
{

    [Fact]
    public void Open_on_a_host_without_VFIO_says_VFIO_is_not_available()
    {
        Assert.SkipWhen(Path.Exists("/dev/vfio/vfio"), "this host has VFIO");
        var e = Assert.Throws<VfioException>(() => VfioPciDevice.Open(PciAddress.Parse("0000:00:04.0")));
        Assert.Equal("VFIO is not available: modprobe vfio-pci (/dev/vfio/vfio does not exist)", e.Message);
        Assert.StartsWith("VFIO is not available", Assert.Throws<VfioException>(() => VfioContainer.Shared).Message);
    }

    [Fact]
    public void Region_info_reads_its_flags()
    {
        var bar = new VfioRegionInfo(0, 0x4000, 0, 0b111);
        var config = new VfioRegionInfo(7, 256, 0x70000000000, 0b011);
        Assert.True(bar.CanMmap && bar.CanRead && bar.CanWrite);
        Assert.False(config.CanMmap);
        Assert.True(config.CanRead && config.CanWrite);
    }

    [Fact]
    public void A_region_with_iova_equal_to_va_is_mapped_as_one_range()
    {
        using var region = HugeRegion.Allocate("vfio-iova-test", 64 * 1024, IovaMode.VirtualAddress, allowHuge: false);
        var dma = DmaRegistry.Shared.Snapshot().Single(r => r.Owner == region);

        var ranges = VfioContainer.IovaRanges(dma);

        Assert.Equal([((ulong)region.Address, (ulong)region.Address, (ulong)region.Length)], ranges);
    }

    [Fact]
    public void A_region_with_physical_iovas_is_mapped_as_contiguous_runs()
    {
        HugeRegion region;
        try { region = HugeRegion.Allocate("vfio-pa-test", 64 * 1024, IovaMode.PhysicalAddress, allowHuge: false); }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException or InvalidOperationException)
        {
            Assert.Skip($"physical addresses are not readable here: {e.Message}");
            return;
        }
        using (region)
        {
            var dma = DmaRegistry.Shared.Snapshot().Single(r => r.Owner == region);
            var ranges = VfioContainer.IovaRanges(dma);

            Assert.Equal((ulong)region.Length, ranges.Aggregate(0UL, (sum, r) => sum + r.Size));
            foreach (var (va, iova, size) in ranges)
            {
                Assert.Equal(region.IovaOf((nint)va), iova);
                Assert.True(region.IsIovaContiguous((nint)va, (nuint)size));
            }
        }
    }
}
