using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// icmpecho, as in DPDK's testpmd: answers ARP requests and ICMP echo requests for any IPv4
/// address, so a guest running Pmd can be pinged like a host. Replies are built in place (the
/// request's mbuf goes back out); every other frame is dropped. Headers must sit in the first
/// segment; an IPv4 header with options is answered too (the ICMP header follows IHL).
/// </summary>
internal sealed class IcmpEchoEngine : ForwardEngine
{
    private const ushort EtherTypeArp = 0x0806, EtherTypeIpv4 = 0x0800;
    private const int EthernetHeader = 14, ArpPacket = 28, Ipv4MinHeader = 20, IcmpHeader = 8;
    private const byte ProtocolIcmp = 1, IcmpEchoRequest = 8, IcmpEchoReply = 0;

    public override ForwardMode Mode => ForwardMode.IcmpEcho;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = Receive(stream, burst);
        if (n == 0) return;
        int replies = 0;
        for (int i = 0; i < n; i++)
        {
            var m = burst[i];
            if (Answer(m.Data, stream.TxSourceMac)) burst[replies++] = m;
            else
            {
                stream.RxIgnored++;
                m.Free();
            }
        }
        if (replies > 0) Transmit(stream, burst[..replies]);
    }

    /// <summary>Turns a request in <paramref name="frame"/> into its reply from <paramref name="mac"/>; false when it is not one we answer.</summary>
    internal static bool Answer(Span<byte> frame, MacAddress mac)
    {
        if (frame.Length < EthernetHeader) return false;
        ushort etherType = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        bool answered = etherType switch
        {
            EtherTypeArp => AnswerArp(frame[EthernetHeader..], mac),
            EtherTypeIpv4 => AnswerEcho(frame[EthernetHeader..]),
            _ => false,
        };
        if (!answered) return false;
        // Back to whoever asked, from us.
        frame[6..12].CopyTo(frame);
        mac.CopyTo(frame[6..]);
        return true;
    }

    private static bool AnswerArp(Span<byte> arp, MacAddress mac)
    {
        // Ethernet/IPv4 requests only: htype 1, ptype 0x0800, hlen 6, plen 4, op 1.
        if (arp.Length < ArpPacket || BinaryPrimitives.ReadUInt16BigEndian(arp) != 1 || BinaryPrimitives.ReadUInt16BigEndian(arp[2..]) != EtherTypeIpv4
            || arp[4] != 6 || arp[5] != 4 || BinaryPrimitives.ReadUInt16BigEndian(arp[6..]) != 1) return false;
        BinaryPrimitives.WriteUInt16BigEndian(arp[6..], 2);
        uint askedFor = BinaryPrimitives.ReadUInt32BigEndian(arp[24..]);
        // Target := the asker (its MAC and IP); sender := us, with the address it asked for.
        arp[8..18].CopyTo(arp[18..]);
        mac.CopyTo(arp[8..]);
        BinaryPrimitives.WriteUInt32BigEndian(arp[14..], askedFor);
        return true;
    }

    private static bool AnswerEcho(Span<byte> ip)
    {
        if (ip.Length < Ipv4MinHeader || ip[0] >> 4 != 4) return false;
        int headerLength = (ip[0] & 0x0F) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (headerLength < Ipv4MinHeader || totalLength < headerLength + IcmpHeader || totalLength > ip.Length || ip[9] != ProtocolIcmp) return false;
        // Fragments are not answered: the ICMP header is only in the first, and reassembly is not an echo's job.
        if ((BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3FFF) != 0) return false;
        var icmp = ip[headerLength..];
        if (icmp[0] != IcmpEchoRequest || icmp[1] != 0) return false;
        // Swapping the addresses leaves the header checksum as it is (a one's complement sum does not care about order).
        uint source = BinaryPrimitives.ReadUInt32BigEndian(ip[12..]);
        ip[16..20].CopyTo(ip[12..]);
        BinaryPrimitives.WriteUInt32BigEndian(ip[16..], source);
        icmp[0] = IcmpEchoReply;
        // RFC 1624: HC' = ~(~HC + ~m + m'), m the old word (type 8, code 0), m' the new one (type 0, code 0).
        ushort checksum = BinaryPrimitives.ReadUInt16BigEndian(icmp[2..]);
        const ushort oldWord = IcmpEchoRequest << 8, newWord = IcmpEchoReply << 8;
        uint sum = (uint)(ushort)~checksum + (0xFFFFu & ~(uint)oldWord) + newWord;
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~sum);
        return true;
    }
}
