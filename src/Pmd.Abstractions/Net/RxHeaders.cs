using System.Buffers.Binary;
using Pmd.Memory;

namespace Pmd.Net;

/// <summary>
/// The headers of a received frame, parsed from its bytes (RX has no lengths from an app):
/// Ethernet with at most one VLAN tag, then IPv4 or IPv6 without extension headers, all in the
/// first segment. What does not parse is left to the caller as unknown.
/// </summary>
internal readonly record struct RxHeaders(int L3Offset, int L3Length, int L4Offset, int L4End, byte Protocol, bool IsIpv4)
{
    private const ushort EtherTypeIpv4 = 0x0800, EtherTypeIpv6 = 0x86DD, EtherTypeVlan = 0x8100;

    public static bool TryRead(Mbuf m, out RxHeaders headers)
    {
        headers = default;
        var data = m.Data;
        if (data.Length < 14) return false;
        int l3 = 14;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        if (type == EtherTypeVlan)
        {
            if (data.Length < 18) return false;
            type = BinaryPrimitives.ReadUInt16BigEndian(data[16..]);
            l3 = 18;
        }
        if (type == EtherTypeIpv4)
        {
            if (data.Length < l3 + 20 || data[l3] >> 4 != 4) return false;
            int ihl = (data[l3] & 0xF) * 4;
            int total = BinaryPrimitives.ReadUInt16BigEndian(data[(l3 + 2)..]);
            if (ihl < 20 || data.Length < l3 + ihl + 8 || total < ihl) return false;
            // A fragment other than the first has no L4 header; a first one's checksum covers more than it holds.
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(data[(l3 + 6)..]) & 0x3FFF) != 0;
            headers = new RxHeaders(l3, ihl, l3 + ihl, l3 + total, fragment ? (byte)0 : data[l3 + 9], true);
            return true;
        }
        if (type == EtherTypeIpv6)
        {
            if (data.Length < l3 + 48 || data[l3] >> 4 != 6) return false;
            int payload = BinaryPrimitives.ReadUInt16BigEndian(data[(l3 + 4)..]);
            headers = new RxHeaders(l3, 40, l3 + 40, l3 + 40 + payload, data[l3 + 6], false);
            return true;
        }
        return false;
    }
}
