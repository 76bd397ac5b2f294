using Pmd.Interop;

namespace Pmd.Memory;

/// <summary>
/// Virtual-to-physical translation through /proc/self/pagemap, for noiommu VFIO where devices
/// DMA to physical addresses. Needs CAP_SYS_ADMIN (the kernel reports a zero frame otherwise)
/// and pages that are present and locked.
/// </summary>
internal static unsafe class PhysicalAddresses
{
    private const ulong PresentBit = 1UL << 63;
    private const ulong FrameMask = (1UL << 55) - 1;

    /// <summary>The physical address of <paramref name="va"/>; throws if the page is absent or the frame hidden.</summary>
    public static ulong Translate(int pagemapFd, nint va)
    {
        long page = PageSizes.SmallPage;
        ulong entry;
        long offset = (long)((ulong)va / (ulong)page) * sizeof(ulong);
        if (Libc.PRead(pagemapFd, &entry, sizeof(ulong), offset) != sizeof(ulong))
            throw Libc.Error("pread /proc/self/pagemap");
        if ((entry & PresentBit) == 0)
            throw new InvalidOperationException($"page at 0x{va:x} is not present; lock it before asking for its physical address");
        ulong frame = entry & FrameMask;
        if (frame == 0)
            throw new UnauthorizedAccessException("/proc/self/pagemap hides frame numbers; physical addresses need CAP_SYS_ADMIN");
        return frame * (ulong)page + ((ulong)va % (ulong)page);
    }
}
