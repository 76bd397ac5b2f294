namespace Pmd.Failover;

/// <summary>What the failover layer itself counts (shown as xstats).</summary>
internal struct FailoverCounters
{
    public ulong SwitchesToPrimary;
    public ulong SwitchesToStandby;
    /// <summary>Packets the primary had accepted but never completed before it was released (surprise removal).</summary>
    public ulong PrimaryTxLost;
    /// <summary>Received frames left in the primary's RX ring when it was stopped.</summary>
    public ulong PrimaryRxAbandoned;
    /// <summary>Milliseconds from the last removal or request event until TX was on the standby and no burst used the primary.</summary>
    public ulong LastFallbackMs;
    /// <summary>The last release's timeline, in microseconds from the event: TX off the primary, its TX drained, RX off it, it stopped, it closed (for VFIO: the device fd and the group let go of).</summary>
    public ReleaseTimeline LastRelease;
    /// <summary>The hypervisor's requests to announce the MAC (VIRTIO_NET_S_ANNOUNCE on the standby).</summary>
    public ulong AnnounceRequests;
}

/// <summary>When each step of a release ended, in microseconds after the event that asked for it.</summary>
internal struct ReleaseTimeline
{
    public ulong TxOff, Drained, RxOff, Stopped, Closed;
}
