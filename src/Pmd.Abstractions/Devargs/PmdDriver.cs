using Pmd.Ethdev;

namespace Pmd.Devargs;

/// <summary>A driver that turns devargs into ports, registered by name in a <see cref="DriverRegistry"/>.</summary>
public abstract class PmdDriver
{
    /// <summary>The name devargs use: net_virtio_user, net_failover, or net_virtio for PCI.</summary>
    public abstract string Name { get; }

    /// <summary>The keys this driver accepts.</summary>
    public abstract IReadOnlyList<DevArgKey> Keys { get; }

    /// <summary>For PCI drivers: whether this vendor:device pair is theirs.</summary>
    public virtual bool MatchesPci(ushort vendorId, ushort deviceId) => false;

    /// <summary>Creates the port. Called with keys already checked against <see cref="Keys"/>.</summary>
    public abstract EthPort Probe(DevArgs args, PortRegistry registry);
}
