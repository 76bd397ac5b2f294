using System.Buffers.Binary;
using Pmd.Ethdev;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// A UDP/IPv4 frame of a fixed size, like testpmd's txonly frame: 198.18.0.1 → 198.18.0.2
/// (RFC 2544's benchmarking range), UDP port 9 → 9 (discard), a zero payload. The IPv4 header
/// checksum is valid; flowgen rewrites the destination address and patches it incrementally.
/// </summary>
internal sealed class UdpFrameTemplate
{
    public const int EthernetLength = 14;
    public const int Ipv4Length = 20;
    public const int UdpLength = 8;
    public const int HeadersLength = EthernetLength + Ipv4Length + UdpLength;

    /// <summary>Offsets in the frame of the fields flowgen rewrites.</summary>
    public const int IpChecksumOffset = EthernetLength + 10;
    public const int IpDestinationLowOffset = EthernetLength + 18;

    public const uint SourceIp = 0xC612_0001;      // 198.18.0.1
    public const uint DestinationIp = 0xC612_0002; // 198.18.0.2
    public const ushort UdpPort = 9;

    private readonly byte[] _frame;

    /// <param name="udpChecksum">
    /// A real UDP checksum (of a zero payload) instead of 0: for the csum engine, which then has
    /// one to compute (DPDK's skips a UDP checksum of 0, and its tx_first frames carry 0).
    /// </param>
    public UdpFrameTemplate(int length, MacAddress source, MacAddress destination, bool udpChecksum = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, HeadersLength);
        _frame = new byte[length];
        var f = _frame.AsSpan();
        destination.CopyTo(f);
        source.CopyTo(f[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x0800);

        var ip = f.Slice(EthernetLength, Ipv4Length);
        ip[0] = 0x45;                                             // version 4, 5 words
        BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(length - EthernetLength));
        ip[8] = 64;                                               // TTL
        ip[9] = 17;                                               // UDP
        BinaryPrimitives.WriteUInt32BigEndian(ip[12..], SourceIp);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], DestinationIp);
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Ipv4Checksum(ip));

        var udp = f.Slice(EthernetLength + Ipv4Length, UdpLength);
        BinaryPrimitives.WriteUInt16BigEndian(udp, UdpPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[2..], UdpPort);
        BinaryPrimitives.WriteUInt16BigEndian(udp[4..], (ushort)(length - EthernetLength - Ipv4Length));
        // UDP checksum 0: "not computed", valid for IPv4.

        // flowgen: the header's sum with the low half of the destination address left out, so
        // each flow's checksum is one add and a fold away.
        ip[10] = ip[11] = 0;
        ip[18] = ip[19] = 0;
        SumWithoutDestinationLow = OnesComplementSum(ip);
        BinaryPrimitives.WriteUInt16BigEndian(ip[18..], unchecked((ushort)DestinationIp));
        BinaryPrimitives.WriteUInt16BigEndian(ip[10..], Ipv4Checksum(ip));
        if (udpChecksum)
        {
            var l4 = f[(EthernetLength + Ipv4Length)..];
            ushort sum = Pmd.Net.Checksums.Add(Pmd.Net.Checksums.PseudoHeader(ip, Pmd.Net.Checksums.ProtocolUdp, l4.Length), Pmd.Net.Checksums.Sum(l4));
            BinaryPrimitives.WriteUInt16BigEndian(udp[6..], sum == 0xFFFF ? (ushort)0xFFFF : (ushort)~sum);
        }
    }

    public int Length => _frame.Length;

    public ReadOnlySpan<byte> Frame => _frame;

    /// <summary>The IPv4 header's one's-complement sum (folded to 32 bits) without checksum and destination-low words.</summary>
    public uint SumWithoutDestinationLow { get; }

    /// <summary>The IPv4 header checksum when the destination address's low 16 bits are <paramref name="destinationLow"/>.</summary>
    public ushort ChecksumFor(ushort destinationLow)
    {
        uint sum = SumWithoutDestinationLow + destinationLow;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }

    public static ushort Ipv4Checksum(ReadOnlySpan<byte> header)
    {
        uint sum = OnesComplementSum(header);
        return (ushort)~sum;
    }

    private static uint OnesComplementSum(ReadOnlySpan<byte> header)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < header.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(header[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    }
}
