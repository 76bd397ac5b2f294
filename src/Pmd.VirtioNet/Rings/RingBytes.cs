namespace Pmd.VirtioNet.Rings;

/// <summary>How much of a <see cref="Pmd.Memory.DmaArena"/> a port's virtqueues take.</summary>
internal static class RingBytes
{
    /// <summary>Bytes for <paramref name="queues"/> rings of <paramref name="size"/> entries, with slack for alignment.</summary>
    public static nuint For(int queues, int size, bool packed)
    {
        int ring = packed ? PackedRingLayout.For(size).TotalBytes : SplitRingLayout.For(size).TotalBytes;
        return (nuint)queues * (nuint)(ring + 4096) + 4096;
    }
}
