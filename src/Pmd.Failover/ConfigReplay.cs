using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>
/// Gives a new primary the failover port's configuration before it starts, as DPDK's failsafe
/// replays its settings on a sub-device: queue layout and descriptors (the port's PortConfig),
/// MTU, promiscuous and all-multicast modes. Only what differs is set, so a primary that lacks a
/// feature the port does not use is not asked for it. (The port API has no MAC filter list yet,
/// so there is none to replay.)
/// </summary>
internal static class ConfigReplay
{
    public static void Apply(EthPort port, EthPort primary)
    {
        var config = port.Config ?? throw new InvalidOperationException($"{port.Name}: not configured");
        primary.Configure(config.Clone());
        if (primary.Mtu != port.Mtu) primary.SetMtu(port.Mtu);
        if (primary.Promiscuous != port.Promiscuous) primary.SetPromiscuous(port.Promiscuous);
        if (primary.AllMulticast != port.AllMulticast) primary.SetAllMulticast(port.AllMulticast);
    }
}
