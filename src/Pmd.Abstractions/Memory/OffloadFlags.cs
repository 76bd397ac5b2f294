namespace Pmd.Memory;

/// <summary>Per-packet offload flags, with the bit positions of DPDK's RTE_MBUF_F_*.</summary>
/// <remarks>
/// On TX the app sets what it wants done (a TxL4 value, TxTcpSegmentation, TxIpChecksum), the
/// IP version (TxIpv4 or TxIpv6) and the header lengths (<see cref="Mbuf.L2Length"/>,
/// <see cref="Mbuf.L3Length"/>, and <see cref="Mbuf.L4Length"/> and
/// <see cref="Mbuf.TsoSegmentSize"/> for TSO). Unlike DPDK, no pseudo-header checksum is
/// needed in the L4 header: the driver (or the software fallback) writes what its device
/// expects there, whatever the app left. On RX the driver reports what the device checked.
/// </remarks>
[Flags]
public enum OffloadFlags : ulong
{
    None = 0,
    RxRssHash = 1UL << 1,
    RxL4ChecksumBad = 1UL << 3,
    RxIpChecksumBad = 1UL << 4,
    RxL4ChecksumGood = 1UL << 8,
    RxIpChecksumGood = 1UL << 7,
    /// <summary>The L4 checksum was not computed; the host vouches for the data (virtio's NEEDS_CSUM).</summary>
    RxL4ChecksumNone = RxL4ChecksumBad | RxL4ChecksumGood,
    /// <summary>The two bits that carry the L4 verdict: neither (unknown), good, bad or none.</summary>
    RxL4ChecksumMask = RxL4ChecksumBad | RxL4ChecksumGood,
    /// <summary>The two bits that carry the IP header verdict.</summary>
    RxIpChecksumMask = RxIpChecksumBad | RxIpChecksumGood,
    /// <summary>A TCP frame the device coalesced (virtio's GUEST_TSO); <see cref="Mbuf.TsoSegmentSize"/> is its segments' payload size.</summary>
    RxLro = 1UL << 16,
    /// <summary>TCP segmentation: the frame is cut into <see cref="Mbuf.TsoSegmentSize"/>-byte payloads (implies the TCP checksum).</summary>
    TxTcpSegmentation = 1UL << 50,
    TxTcpChecksum = 1UL << 52,
    TxUdpChecksum = 3UL << 52,
    TxL4Mask = 3UL << 52,
    /// <summary>The IPv4 header checksum.</summary>
    TxIpChecksum = 1UL << 54,
    TxIpv4 = 1UL << 55,
    TxIpv6 = 1UL << 56,
    /// <summary>Every flag that asks for work on TX.</summary>
    TxOffloadMask = TxTcpSegmentation | TxL4Mask | TxIpChecksum,
}
