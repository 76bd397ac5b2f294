using Pmd.Memory;

namespace Pmd.Ethdev;

/// <summary>How a port is configured before start: queues, descriptors, the RX pool and offloads.</summary>
public sealed class PortConfig
{
    /// <summary>RX queues. Default 1.</summary>
    public int RxQueues { get; set; } = 1;

    /// <summary>TX queues. Default 1.</summary>
    public int TxQueues { get; set; } = 1;

    /// <summary>Descriptors per RX queue; 0 lets the driver choose (its default ring size).</summary>
    public int RxDescriptors { get; set; }

    /// <summary>Descriptors per TX queue; 0 lets the driver choose.</summary>
    public int TxDescriptors { get; set; }

    /// <summary>Where received packets are stored. Required.</summary>
    public Mempool? RxPool { get; set; }

    public RxOffloads RxOffloads { get; set; }

    public TxOffloads TxOffloads { get; set; }

    /// <summary>Copies this configuration, for a port that must mirror another's queue layout.</summary>
    public PortConfig Clone() => (PortConfig)MemberwiseClone();
}

/// <summary>Receive offloads, as DPDK's RTE_ETH_RX_OFFLOAD_* (fewer of them).</summary>
[Flags]
public enum RxOffloads
{
    None = 0,
    /// <summary>Frames larger than one buffer arrive as mbuf chains.</summary>
    Scatter = 2,
    /// <summary>The IPv4 header checksum's verdict in <see cref="Memory.OffloadFlags.RxIpChecksumMask"/>.</summary>
    Ipv4Checksum = 4,
    /// <summary>The TCP checksum's verdict in <see cref="Memory.OffloadFlags.RxL4ChecksumMask"/>.</summary>
    TcpChecksum = 8,
    /// <summary>The UDP checksum's verdict.</summary>
    UdpChecksum = 16,
    /// <summary>Large receive: TCP frames coalesced by the device, up to 64 KiB, as chains.</summary>
    TcpLro = 32,
    /// <summary>TCP and UDP checksums.</summary>
    Checksum = TcpChecksum | UdpChecksum,
}

/// <summary>Transmit offloads, as DPDK's RTE_ETH_TX_OFFLOAD_* (fewer of them).</summary>
[Flags]
public enum TxOffloads
{
    None = 0,
    /// <summary>Packets of more than one segment.</summary>
    MultiSegment = 2,
    /// <summary>The IPv4 header checksum (<see cref="Memory.OffloadFlags.TxIpChecksum"/>).</summary>
    Ipv4Checksum = 4,
    /// <summary>The TCP checksum (<see cref="Memory.OffloadFlags.TxTcpChecksum"/>).</summary>
    TcpChecksum = 8,
    /// <summary>The UDP checksum (<see cref="Memory.OffloadFlags.TxUdpChecksum"/>).</summary>
    UdpChecksum = 16,
    /// <summary>TCP segmentation over IPv4 and IPv6 (<see cref="Memory.OffloadFlags.TxTcpSegmentation"/>).</summary>
    TcpTso = 32,
    /// <summary>TCP and UDP checksums.</summary>
    Checksum = TcpChecksum | UdpChecksum,
}
