using Pmd.Memory;

namespace Pmd.Net;

/// <summary>
/// Where the headers of a packet to send are, from the lengths and flags the app set: checked
/// against the packet (all headers in the first segment, an IP version flag), so a driver that
/// writes into them, or tells a device where they are, never points outside the frame.
/// </summary>
internal readonly record struct TxHeaders(int L3Offset, int L3Length, int L4Offset, int L4Length, bool IsIpv4)
{
    /// <summary>Everything up to the payload: what each TSO segment repeats.</summary>
    public int HeaderLength => L4Offset + L4Length;

    /// <summary>
    /// The headers of <paramref name="m"/>, when the flags name the IP version the header has and the lengths
    /// (L2 at least 14, IPv4 20 to 60, IPv6 40, and with TSO a TCP header of 20 to 60) fit the first segment.
    /// </summary>
    public static bool TryRead(Mbuf m, out TxHeaders headers)
    {
        headers = default;
        var flags = m.Flags;
        bool ipv4 = (flags & OffloadFlags.TxIpv4) != 0, ipv6 = (flags & OffloadFlags.TxIpv6) != 0;
        if (ipv4 == ipv6) return false;
        int l2 = m.L2Length, l3 = m.L3Length;
        if (l2 < 14 || (ipv4 ? l3 < 20 || l3 > 60 : l3 < 40)) return false;
        int l4 = (flags & OffloadFlags.TxTcpSegmentation) != 0 ? m.L4Length : 0;
        if ((flags & OffloadFlags.TxTcpSegmentation) != 0 && (l4 < 20 || l4 > 60)) return false;
        // The L4 checksum field must be in the first segment too: 8 bytes cover UDP's, 18 TCP's.
        int needed = l2 + l3 + Math.Max(l4, (flags & OffloadFlags.TxL4Mask) == OffloadFlags.TxUdpChecksum ? 8 : (flags & OffloadFlags.TxL4Mask) != 0 ? 18 : 0);
        if (needed > m.DataLength || needed > m.PacketLength) return false;
        // The header must be what the flag says: the pseudo-header sum reads the addresses where
        // the version puts them, and IPv6's lie past an IPv4 header's checked length.
        if (m.Data[l2] >> 4 != (ipv4 ? 4 : 6)) return false;
        headers = new TxHeaders(l2, l3, l2 + l3, l4, ipv4);
        return true;
    }
}
