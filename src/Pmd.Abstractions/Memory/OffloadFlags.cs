namespace Pmd.Memory;

/// <summary>Per-packet offload flags (a subset of DPDK's RTE_MBUF_F_*).</summary>
[Flags]
public enum OffloadFlags : ulong
{
    None = 0,
    RxRssHash = 1UL << 1,
    RxL4ChecksumBad = 1UL << 3,
    RxIpChecksumBad = 1UL << 4,
    RxL4ChecksumGood = 1UL << 8,
    RxIpChecksumGood = 1UL << 7,
    /// <summary>The L4 checksum was not computed; the host vouches for the data (virtio's DATA_VALID / NEEDS_CSUM).</summary>
    RxL4ChecksumNone = RxL4ChecksumBad | RxL4ChecksumGood,
    TxTcpChecksum = 1UL << 52,
    TxUdpChecksum = 3UL << 52,
    TxL4Mask = 3UL << 52,
    TxIpv4 = 1UL << 55,
}
