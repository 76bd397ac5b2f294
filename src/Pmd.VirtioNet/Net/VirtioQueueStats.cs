namespace Pmd.VirtioNet.Net;

/// <summary>Counters of one RX or TX queue, written only by the thread polling it.</summary>
internal struct VirtioQueueStats
{
    public ulong Packets;
    public ulong Bytes;
    /// <summary>Frames dropped for a malformed header, length or buffer count.</summary>
    public ulong Errors;
    /// <summary>RX: refills that found the mempool empty.</summary>
    public ulong NoMbuf;
    /// <summary>TX: packets dropped because they could not be put on the ring (no headroom, too many segments).</summary>
    public ulong Dropped;
    /// <summary>Times the device was kicked.</summary>
    public ulong Kicks;
}
