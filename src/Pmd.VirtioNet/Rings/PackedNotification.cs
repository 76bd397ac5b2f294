namespace Pmd.VirtioNet.Rings;

internal static unsafe class PackedNotification
{
    /// <summary>
    /// After <paramref name="added"/> entries were made available up to <paramref name="availPos"/>
    /// in lap <paramref name="availWrap"/>: whether the device's event-suppression area asks for a
    /// notification (VIRTIO 2.8.10, 2.8.21). Our flag stores must be visible before it is read.
    /// </summary>
    public static bool Needed(PackedEventSuppression* deviceEvent, bool eventIndex, int size, ushort availPos, bool availWrap, ushort added)
    {
        Interlocked.MemoryBarrier();
        ushort flags = deviceEvent->LoadFlags();
        if (flags != PackedEventSuppression.Descriptor || !eventIndex) return flags != PackedEventSuppression.Disable;
        ushort offWrap = deviceEvent->LoadOffsetWrap();
        int eventOffset = offWrap & 0x7FFF;
        bool eventWrap = (offWrap & 0x8000) != 0;
        // Compare in one linear index space: positions of the current lap, earlier lap below zero.
        if (eventWrap != availWrap) eventOffset -= size;
        int next = availPos, old = next - added;
        return (ushort)(next - eventOffset - 1) < (ushort)(next - old);
    }
}
