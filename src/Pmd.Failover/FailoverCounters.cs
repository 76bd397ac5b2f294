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
    /// <summary>Milliseconds the last switch to the standby took, from the event to the primary's release.</summary>
    public ulong LastFallbackMs;
}
