using System.Buffers.Binary;

namespace Pmd.TestSupport.E1000e;

/// <summary>
/// The 82574's RSS hash of a frame as QEMU's e1000e computes it (hw/net/e1000e_core.c): TCP over
/// IPv4 hashes addresses and ports (type 1) when MRQC bit 16 is set, other IPv4 (UDP among it: the
/// 82574 has no UDP type) the addresses (type 2, bit 17); TCP over IPv6 (type 3, bit 18), other
/// IPv6 (type 4 with bit 19, else type 5 with bit 20), without extension headers here. Anything
/// else, or a type MRQC leaves off, is type 0: no hash, queue 0. Source before destination, as
/// the specification orders them.
/// </summary>
public static class E1000eRssModel
{
    public const uint MrqcTcpIpv4 = 1u << 16, MrqcIpv4 = 1u << 17, MrqcTcpIpv6 = 1u << 18, MrqcIpv6Extensions = 1u << 19, MrqcIpv6 = 1u << 20;

    /// <summary>The RSS type and hash of <paramref name="frame"/> under <paramref name="mrqc"/> and <paramref name="key"/>.</summary>
    public static (uint Type, uint Hash) Of(ReadOnlySpan<byte> frame, uint mrqc, ReadOnlySpan<byte> key)
    {
        if (frame.Length < 14) return (0, 0);
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        var ip = frame[14..];
        Span<byte> input = stackalloc byte[36];
        if (etherType == 0x0800 && ip.Length >= 20 && ip[0] >> 4 == 4)
        {
            int headerLength = (ip[0] & 0xF) * 4;
            bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0;
            ip.Slice(12, 8).CopyTo(input);
            if (ip[9] == 6 && !fragment && ip.Length >= headerLength + 4 && (mrqc & MrqcTcpIpv4) != 0)
            {
                ip.Slice(headerLength, 4).CopyTo(input[8..]);
                return (1, Toeplitz.Hash(key, input[..12]));
            }
            return (mrqc & MrqcIpv4) != 0 ? (2u, Toeplitz.Hash(key, input[..8])) : (0u, 0u);
        }
        if (etherType == 0x86DD && ip.Length >= 40 && ip[0] >> 4 == 6)
        {
            ip.Slice(8, 32).CopyTo(input);
            if (ip[6] == 6 && ip.Length >= 44 && (mrqc & MrqcTcpIpv6) != 0)
            {
                ip.Slice(40, 4).CopyTo(input[32..]);
                return (3, Toeplitz.Hash(key, input));
            }
            if ((mrqc & MrqcIpv6Extensions) != 0) return (4, Toeplitz.Hash(key, input[..32]));
            if ((mrqc & MrqcIpv6) != 0) return (5, Toeplitz.Hash(key, input[..32]));
        }
        return (0, 0);
    }

    /// <summary>The queue of a hash: the redirection table's byte hash &amp; 0x7F, bit 7 (the table as the device's little-endian dwords).</summary>
    public static int QueueOf(uint hash, ReadOnlySpan<uint> reta)
    {
        int entry = (int)(hash & 0x7F);
        return (byte)(reta[entry / 4] >> (8 * (entry % 4))) >> 7;
    }
}
