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
    /// <summary>Microseconds the last release took, from the event to the primary's close (for VFIO: the device fd closed).</summary>
    public ulong LastReleaseMicroseconds;
    /// <summary>Of that: microseconds spent letting the primary finish its TX, and closing it.</summary>
    public ulong LastDrainMicroseconds;
    public ulong LastCloseMicroseconds;
}
