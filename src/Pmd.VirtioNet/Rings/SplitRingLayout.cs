using Pmd.Memory;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// Where the three parts of a split ring sit in one block of memory (VIRTIO 1.x, 2.7): the
/// descriptor table (16-byte aligned), the driver's avail ring, and the device's used ring, which
/// starts on its own cache line so that the two sides do not share one.
/// </summary>
internal readonly record struct SplitRingLayout(int Size, int DescriptorOffset, int AvailOffset, int UsedOffset, int TotalBytes)
{
    public const int MaxSize = 32768;

    public static SplitRingLayout For(int size)
    {
        if (size < 1 || size > MaxSize || !int.IsPow2(size))
            throw new ArgumentOutOfRangeException(nameof(size), $"a split ring size must be a power of two up to {MaxSize}");
        int desc = 0;
        int avail = desc + 16 * size;
        int availBytes = 2 + 2 + 2 * size + 2;          // flags, idx, ring[size], used_event
        int used = Alignment.AlignUp(avail + availBytes, 64);
        int usedBytes = 2 + 2 + 8 * size + 2;           // flags, idx, ring[size], avail_event
        return new SplitRingLayout(size, desc, avail, used, Alignment.AlignUp(used + usedBytes, 64));
    }
}
