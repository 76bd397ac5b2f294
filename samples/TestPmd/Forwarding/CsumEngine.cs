using System.Buffers.Binary;
using Pmd.Memory;
using Pmd.Net;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// csum: as DPDK testpmd's csum engine. Each received IPv4 or IPv6 frame with a TCP or UDP header
/// has its checksums done as "csum set" says for the TX port: in hardware (the offload flags and
/// header lengths set, the device computes) or in software here; a TCP frame longer than the
/// "tso set" segment size goes out with TSO. Bad checksums that the RX port reported are counted
/// (Bad-ipcsum, Bad-l4csum). Like DPDK's, it rewrites the MACs as the mac engine does.
/// </summary>
internal sealed class CsumEngine : ForwardEngine
{
    private const ushort EtherTypeIpv4 = 0x0800, EtherTypeIpv6 = 0x86DD, EtherTypeVlan = 0x8100;

    public override ForwardMode Mode => ForwardMode.Csum;

    public override void ForwardBurst(ForwardStream stream, Span<Mbuf> burst)
    {
        int n = Receive(stream, burst);
        if (n == 0) return;
        var settings = stream.TxOffload;
        for (int i = 0; i < n; i++)
        {
            var m = burst[i];
            var flags = m.Flags;
            if ((flags & OffloadFlags.RxIpChecksumMask) == OffloadFlags.RxIpChecksumBad) stream.RxBadIpChecksum++;
            if ((flags & OffloadFlags.RxL4ChecksumMask) == OffloadFlags.RxL4ChecksumBad) stream.RxBadL4Checksum++;
            var frame = m.Data;
            if (frame.Length >= 12)
            {
                stream.TxPeerMac.CopyTo(frame);
                stream.TxSourceMac.CopyTo(frame[6..]);
            }
            m.Flags = OffloadFlags.None;
            if (settings is not null) Prepare(m, settings);
        }
        Transmit(stream, burst[..n]);
    }

    /// <summary>Sets the lengths and flags of <paramref name="m"/> and computes what is left to software.</summary>
    private static void Prepare(Mbuf m, TxOffloadSettings settings)
    {
        var data = m.Data;
        if (data.Length < 14) return;
        int l2 = 14;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(data[12..]);
        if (type == EtherTypeVlan && data.Length >= 18)
        {
            type = BinaryPrimitives.ReadUInt16BigEndian(data[16..]);
            l2 = 18;
        }
        int l3;
        byte protocol;
        bool ipv4;
        if (type == EtherTypeIpv4 && data.Length >= l2 + 20)
        {
            l3 = (data[l2] & 0xF) * 4;
            protocol = data[l2 + 9];
            ipv4 = true;
        }
        else if (type == EtherTypeIpv6 && data.Length >= l2 + 40)
        {
            l3 = 40;
            protocol = data[l2 + 6];
            ipv4 = false;
        }
        else
        {
            return;
        }
        int l4 = 0;
        var l4Flag = OffloadFlags.None;
        bool l4Hardware = false;
        if (protocol == Checksums.ProtocolTcp && data.Length >= l2 + l3 + 20)
        {
            l4 = (data[l2 + l3 + 12] >> 4) * 4;
            l4Flag = OffloadFlags.TxTcpChecksum;
            l4Hardware = settings.TcpHardware;
        }
        else if (protocol == Checksums.ProtocolUdp && data.Length >= l2 + l3 + 8)
        {
            l4Flag = OffloadFlags.TxUdpChecksum;
            l4Hardware = settings.UdpHardware;
        }
        m.L2Length = l2;
        m.L3Length = l3;
        m.L4Length = l4;
        bool tso = settings.TsoSegmentSize > 0 && l4 > 0 && m.PacketLength > l2 + l3 + l4 + settings.TsoSegmentSize;
        bool ipHardware = ipv4 && (settings.IpHardware || tso);
        l4Hardware |= tso;
        var version = ipv4 ? OffloadFlags.TxIpv4 : OffloadFlags.TxIpv6;
        // Software first: its flags, computed and cleared by CompleteTx; then the hardware's.
        var software = (ipv4 && !ipHardware ? OffloadFlags.TxIpChecksum : 0) | (l4Hardware ? 0 : l4Flag);
        if (software != 0)
        {
            m.Flags = version | software;
            if (!Checksums.CompleteTx(m))
            {
                m.Flags = OffloadFlags.None;
                return;
            }
        }
        if (tso) m.TsoSegmentSize = settings.TsoSegmentSize;
        m.Flags = version | (ipHardware ? OffloadFlags.TxIpChecksum : 0)
            | (tso ? OffloadFlags.TxTcpSegmentation : l4Hardware ? l4Flag : 0);
    }
}
