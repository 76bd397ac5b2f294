using Pmd.Ethdev;

namespace Pmd.TestPmd.Options;

/// <summary>DPDK's RTE_ETH_TX_OFFLOAD_* bits, for --tx-offloads: the ones Pmd has, the rest refused by name.</summary>
internal static class TxOffloadBits
{
    private static readonly (ulong Bit, TxOffloads Offload)[] s_bits =
    [
        (0x2, TxOffloads.Ipv4Checksum), (0x4, TxOffloads.UdpChecksum), (0x8, TxOffloads.TcpChecksum),
        (0x20, TxOffloads.TcpTso), (0x8000, TxOffloads.MultiSegment),
    ];

    public static TxOffloads ToOffloads(ulong mask)
    {
        var offloads = TxOffloads.None;
        foreach (var (bit, offload) in s_bits)
        {
            if ((mask & bit) == 0) continue;
            offloads |= offload;
            mask &= ~bit;
        }
        if (mask != 0) throw new UsageException($"--tx-offloads: bits 0x{mask:x} are offloads Pmd does not have (it has IPV4_CKSUM 0x2, UDP_CKSUM 0x4, TCP_CKSUM 0x8, TCP_TSO 0x20, MULTI_SEGS 0x8000)");
        return offloads;
    }
}
