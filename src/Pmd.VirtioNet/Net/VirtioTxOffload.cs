using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Pmd.Memory;
using Pmd.Net;

namespace Pmd.VirtioNet.Net;

/// <summary>What the device agreed to do for TX: CSUM, HOST_TSO4, HOST_TSO6.</summary>
internal readonly record struct VirtioTxOffloads(bool Checksum, bool Tso4, bool Tso6);

/// <summary>
/// The virtio-net header of a packet that asks for an offload (VIRTIO 1.2 5.1.6.2), and what the
/// device is not asked for done here: the IPv4 header checksum (virtio has no such offload) and,
/// without CSUM, the L4 checksum. The driver, not the app, puts the pseudo-header sum into the L4
/// checksum field, as the device's checksum then covers it: with the L4 length for a checksum,
/// and for TSO with the whole frame's L4 length, which is what Linux hosts (tap, vhost-net) fix
/// up per segment.
/// </summary>
internal static unsafe class VirtioTxOffload
{
    /// <summary>Fills <paramref name="header"/> for <paramref name="m"/>; false when the request cannot be honored (bad lengths, TSO not negotiated).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool WriteHeader(VirtioNetHeader* header, Mbuf m, VirtioTxOffloads offloads)
    {
        if (!TxHeaders.TryRead(m, out var h)) return false;
        var flags = m.Flags;
        var frame = m.Data;
        if ((flags & OffloadFlags.TxIpChecksum) != 0 && h.IsIpv4)
        {
            Checksums.WriteIpv4Header(frame.Slice(h.L3Offset, h.L3Length));
        }
        *header = default;
        if ((flags & OffloadFlags.TxTcpSegmentation) != 0)
        {
            int payload = m.PacketLength - h.HeaderLength;
            if (!(h.IsIpv4 ? offloads.Tso4 : offloads.Tso6) || m.TsoSegmentSize == 0 || m.PacketLength - h.L3Offset > ushort.MaxValue) return false;
            WriteChecksumRequest(header, frame, h, Checksums.ProtocolTcp, Checksums.TcpChecksumOffset, m.PacketLength - h.L4Offset);
            if (payload > m.TsoSegmentSize)
            {
                header->GsoType = h.IsIpv4 ? VirtioNetHeader.GsoTcpV4 : VirtioNetHeader.GsoTcpV6;
                header->GsoSize = (ushort)m.TsoSegmentSize;
                header->HeaderLength = (ushort)h.HeaderLength;
            }
            return true;
        }
        var l4 = flags & OffloadFlags.TxL4Mask;
        if (l4 is not (OffloadFlags.TxTcpChecksum or OffloadFlags.TxUdpChecksum)) return true;
        if (!offloads.Checksum) return Checksums.CompleteTx(m);
        bool udp = l4 == OffloadFlags.TxUdpChecksum;
        WriteChecksumRequest(header, frame, h, udp ? Checksums.ProtocolUdp : Checksums.ProtocolTcp,
            udp ? Checksums.UdpChecksumOffset : Checksums.TcpChecksumOffset, m.PacketLength - h.L4Offset);
        return true;
    }

    private static void WriteChecksumRequest(VirtioNetHeader* header, Span<byte> frame, TxHeaders h, byte protocol, int fieldOffset, int l4Length)
    {
        header->Flags = VirtioNetHeader.NeedsCsum;
        header->CsumStart = (ushort)h.L4Offset;
        header->CsumOffset = (ushort)fieldOffset;
        BinaryPrimitives.WriteUInt16BigEndian(frame[(h.L4Offset + fieldOffset)..], Checksums.PseudoHeader(frame[h.L3Offset..], protocol, l4Length));
    }
}
