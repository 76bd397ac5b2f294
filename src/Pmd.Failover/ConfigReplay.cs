using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>
/// Gives a new primary the failover port's configuration before it starts, as DPDK's failsafe
/// replays its settings on a sub-device: queue layout and descriptors (the port's PortConfig),
/// MTU, promiscuous and all-multicast modes, and the offloads the primary has. Only what differs is set, so a primary that lacks a
/// feature the port does not use is not asked for it. (The port API has no MAC filter list yet,
/// so there is none to replay.)
/// </summary>
internal static class ConfigReplay
{
    public static void Apply(EthPort port, EthPort primary)
    {
        var config = port.Config ?? throw new InvalidOperationException($"{port.Name}: not configured");
        // Offloads the primary lacks are left out of its configuration: the failover port does
        // them in software while TX and RX use it (SoftwareOffloads).
        var own = config.Clone();
        var info = primary.Info;
        own.TxOffloads &= info.TxOffloadCapabilities;
        own.RxOffloads &= info.RxOffloadCapabilities;
        primary.Configure(own);
        if (primary.Mtu != port.Mtu) primary.SetMtu(port.Mtu);
        if (primary.Promiscuous != port.Promiscuous) primary.SetPromiscuous(port.Promiscuous);
        if (primary.AllMulticast != port.AllMulticast) primary.SetAllMulticast(port.AllMulticast);
    }
}
