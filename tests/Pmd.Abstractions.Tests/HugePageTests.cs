using Pmd.Memory;

namespace Pmd.Abstractions.Tests;

[Collection(nameof(HugePageTests))]
public sealed unsafe class HugePageTests
{
    [Fact]
    public void Regions_use_2MiB_hugepages_when_the_kernel_has_free_ones()
    {
        Assert.True(PageSizes.FreeHugePages >= 4,
            $"this test needs free 2 MiB hugepages (HugePages_Free is {PageSizes.FreeHugePages}); .ci/run reserves them with /proc/sys/vm/nr_hugepages");
        using var region = HugeRegion.Allocate("huge", 3 * 1024 * 1024);
        Assert.True(region.IsHugePages);
        Assert.Equal(PageSizes.HugePage2M, region.PageSize);
        Assert.Equal((nuint)(4 * 1024 * 1024), region.Length);
        // The pages are real: write at both ends.
        region.Pointer[0] = 1;
        region.Pointer[(nint)region.Length - 1] = 2;
        Assert.Contains(DmaRegistry.Shared.Snapshot(), r => r.VirtualAddress == region.Address && r.Fd == region.Fd.Fd);
    }

    [Fact]
    public void Regions_fall_back_to_4KiB_pages_when_no_hugepage_is_left()
    {
        // Asking for more hugepages than are free takes the same path as nr_hugepages=0: the
        // hugetlb mapping cannot be reserved, so the region uses small pages instead.
        nuint tooMuch = (nuint)(PageSizes.FreeHugePages + 8) * PageSizes.HugePage2M;
        using var region = HugeRegion.Allocate("fallback", tooMuch);
        Assert.False(region.IsHugePages);
        Assert.Equal(PageSizes.SmallPage, region.PageSize);
        region.Pointer[(nint)region.Length - 1] = 7;
    }

    [Fact]
    public void Without_hugepages_allowed_a_region_uses_small_pages()
    {
        using var region = HugeRegion.Allocate("nohuge", 10_000, allowHuge: false);
        Assert.False(region.IsHugePages);
        Assert.Equal((nuint)12288, region.Length);
    }

    [Fact]
    public void Physical_address_mode_translates_through_pagemap()
    {
        using var pool = Mempool.Create("pa", 64, cacheSize: 0, iovaMode: IovaMode.PhysicalAddress, allowHugePages: false);
        var m = pool.Alloc();
        Assert.NotEqual((ulong)(nint)m.BufferPointer, m.BufferIova);
        Assert.NotEqual(0UL, m.BufferIova);
        // Same page offset as the virtual address: only the frame differs.
        Assert.Equal((ulong)(nint)m.BufferPointer % (ulong)PageSizes.SmallPage, m.BufferIova % (ulong)PageSizes.SmallPage);
        Assert.True(pool.Region.IsIovaContiguous((nint)m.BufferPointer, (nuint)pool.BufferSize));
        m.Free();
    }

    [Fact]
    public void Virtual_address_mode_uses_the_address_itself()
    {
        using var pool = Mempool.Create("va", 8, cacheSize: 0);
        var m = pool.Alloc();
        Assert.Equal((ulong)(nint)m.BufferPointer, m.BufferIova);
        m.Free();
    }

    [Fact]
    public void The_registry_forgets_a_disposed_region()
    {
        var region = HugeRegion.Allocate("gone", 4096, allowHuge: false);
        Assert.Contains(DmaRegistry.Shared.Snapshot(), r => r.Owner == region);
        region.Dispose();
        Assert.DoesNotContain(DmaRegistry.Shared.Snapshot(), r => r.Owner == region);
    }
}
