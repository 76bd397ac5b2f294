namespace Pmd.Failover;

/// <summary>Where a failover port stands with its primary.</summary>
public enum FailoverState
{
    /// <summary>No primary: all traffic on the standby.</summary>
    StandbyOnly,
    /// <summary>A primary was claimed and is being configured and started.</summary>
    Attaching,
    /// <summary>TX goes to the primary; RX polls the primary, then the standby.</summary>
    PrimaryActive,
    /// <summary>TX is back on the standby; the primary is being drained and released.</summary>
    Detaching,
}
