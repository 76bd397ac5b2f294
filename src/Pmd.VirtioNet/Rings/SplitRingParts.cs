using System.Runtime.CompilerServices;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// Where a split ring's fields sit in shared memory (<see cref="SplitRingLayout"/>), and the
/// notification logic on them that every split-ring driver needs: whether the device wants a
/// kick, and keeping its interrupts away while the driver polls.
/// </summary>
internal readonly unsafe struct SplitRingParts
{
    private const ushort AvailNoInterrupt = 1;
    private const ushort UsedNoNotify = 1;

    public readonly SplitDescriptor* Descriptors;
    public readonly ushort* AvailFlags;
    public readonly ushort* AvailIdx;
    public readonly ushort* AvailRing;
    public readonly ushort* UsedEvent;
    public readonly ushort* UsedFlags;
    public readonly ushort* UsedIdx;
    public readonly SplitUsedElement* UsedRing;
    public readonly ushort* AvailEvent;

    public SplitRingParts(byte* memory, int size)
    {
        var layout = SplitRingLayout.For(size);
        Descriptors = (SplitDescriptor*)(memory + layout.DescriptorOffset);
        byte* avail = memory + layout.AvailOffset;
        AvailFlags = (ushort*)avail;
        AvailIdx = (ushort*)(avail + 2);
        AvailRing = (ushort*)(avail + 4);
        UsedEvent = (ushort*)(avail + 4 + 2 * size);
        byte* used = memory + layout.UsedOffset;
        UsedFlags = (ushort*)used;
        UsedIdx = (ushort*)(used + 2);
        UsedRing = (SplitUsedElement*)(used + 4);
        AvailEvent = (ushort*)(used + 4 + 8 * size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void PublishAvail(ushort availIdx) => Volatile.Write(ref *AvailIdx, availIdx);

    /// <summary>After the avail idx moved from <paramref name="old"/> to <paramref name="next"/> and was published: whether the device asked for a kick.</summary>
    public bool NeedsNotify(bool eventIndex, ushort next, ushort old)
    {
        // Our idx store must be visible before we read whether the device wants a kick, or both
        // sides can miss each other (VIRTIO 2.7.7.2 / 2.7.10).
        Interlocked.MemoryBarrier();
        if (eventIndex) return EventIndex.NeedEvent(Volatile.Read(ref *AvailEvent), next, old);
        return (Volatile.Read(ref *UsedFlags) & UsedNoNotify) == 0;
    }

    /// <summary>
    /// Tells the device not to interrupt. Without EVENT_IDX the flag does it; with it the device
    /// looks at used_event instead, which <see cref="KeepInterruptsAway"/> keeps half a ring-index
    /// space ahead of <paramref name="lastUsed"/>.
    /// </summary>
    public void SuppressInterrupts(bool eventIndex, ushort lastUsed)
    {
        Volatile.Write(ref *AvailFlags, AvailNoInterrupt);
        if (eventIndex) Volatile.Write(ref *UsedEvent, (ushort)(lastUsed + 0x8000));
    }

    /// <summary>With EVENT_IDX, on an empty poll: moves used_event on once the driver has come an eighth of the index space since <paramref name="movedAt"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void KeepInterruptsAway(ushort lastUsed, ref ushort movedAt)
    {
        if ((ushort)(lastUsed - movedAt) < 0x2000) return;
        movedAt = lastUsed;
        Volatile.Write(ref *UsedEvent, (ushort)(lastUsed + 0x8000));
    }
}
