using Pmd.Ethdev;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// What the csum engine asks of one TX port, set by "csum set" and "tso set" as in DPDK's
/// testpmd: each checksum in hardware (an offload flag) or in software (computed by the engine),
/// and the TSO segment size (0: off). Changed only while the port is stopped.
/// </summary>
internal sealed class TxOffloadSettings
{
    public bool IpHardware;
    public bool TcpHardware;
    public bool UdpHardware;
    public int TsoSegmentSize;

    /// <summary>The settings --tx-offloads starts a port with, as DPDK's csum engine reads its port's offloads.</summary>
    public static TxOffloadSettings From(TxOffloads offloads) => new()
    {
        IpHardware = (offloads & TxOffloads.Ipv4Checksum) != 0,
        TcpHardware = (offloads & TxOffloads.TcpChecksum) != 0,
        UdpHardware = (offloads & TxOffloads.UdpChecksum) != 0,
    };

    /// <summary>The port offloads these settings need.</summary>
    public TxOffloads Needed =>
        (IpHardware ? TxOffloads.Ipv4Checksum : 0) | (TcpHardware ? TxOffloads.TcpChecksum : 0)
        | (UdpHardware ? TxOffloads.UdpChecksum : 0) | (TsoSegmentSize > 0 ? TxOffloads.TcpTso | TxOffloads.MultiSegment : 0);
}
