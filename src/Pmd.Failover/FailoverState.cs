namespace Pmd.Failover;

/// <summary>
/// Where a failover port stands with its primary (one state per primary, as failsafe keeps one
/// per sub-device). The datapath's views follow from it: TX uses the primary only in
/// <see cref="PrimaryActive"/>; RX polls it in <see cref="PrimaryActive"/>, <see cref="PrimaryLinkDown"/>
/// and <see cref="Releasing"/>.
/// </summary>
public enum FailoverState
{
    /// <summary>No primary: all traffic on the standby.</summary>
    StandbyOnly,
    /// <summary>A primary is claimed but not running, because the failover port is stopped.</summary>
    Paired,
    /// <summary>The primary gets the port's configuration and is being started.</summary>
    Attaching,
    /// <summary>TX goes to the primary; RX polls the primary, then the standby.</summary>
    PrimaryActive,
    /// <summary>The primary's link is down: TX is on the standby, the primary stays paired and started, and comes back when its link does.</summary>
    PrimaryLinkDown,
    /// <summary>The primary was removed or the hypervisor asked for it: TX is on the standby, and the primary finishes what it accepted while RX still polls it.</summary>
    Releasing,
    /// <summary>No burst uses the primary any more: it is being stopped, closed (for VFIO: the device fd) and detached.</summary>
    Closing,
}
