using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using Pmd.Memory;
using Pmd.Net;
using static Pmd.Vfio.Nics.E1000e.E1000eTxDescriptor;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>What an offloaded packet asks of the device: its context, and its data descriptors' command (TSE) and options (POPTS); no options: nothing to do.</summary>
internal readonly record struct E1000eTxRequest(E1000eTxContext Context, byte Command, byte Options);

/// <summary>
/// Turns a packet's TX offload flags into a context descriptor and data descriptor options, after
/// <see cref="TxHeaders"/> has checked the lengths against the packet: no offset reaches the device
/// that does not lie in the packet's first segment. The driver, not the app, writes the pseudo-header
/// sum the device adds its L4 sum to, as Intel's drivers do: with the L4 length for a checksum, with
/// a zero length for TSO (the device adds each segment's own). (QEMU's e1000e without a vnet-header
/// backend recomputes the checksum from scratch and ignores the field; with one, the backend gets
/// the field as a virtio NEEDS_CSUM frame's, which wants the sum with the length.)
/// </summary>
internal static class E1000eTxOffload
{
    /// <summary>A context's offsets are bytes (IPCSS, IPCSO, TUCSS, TUCSO), and so is HDRLEN.</summary>
    private const int MaxOffset = byte.MaxValue;

    /// <summary>
    /// The request for <paramref name="m"/>; false when it cannot be honored (bad lengths, offsets
    /// beyond what a context holds, TSO over IPv6, a segment larger than <paramref name="maxFrame"/>,
    /// an IP datagram over 64 KiB, or an L4 protocol other than TCP and UDP).
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static bool TryPrepare(Mbuf m, int maxFrame, out E1000eTxRequest request)
    {
        request = default;
        if (!TxHeaders.TryRead(m, out var h) || h.L4Offset + Checksums.TcpChecksumOffset > MaxOffset) return false;
        var flags = m.Flags;
        var frame = m.Data;
        // The pseudo-header sum reads the addresses the version nibble says are there: an IPv4 flag
        // on an IPv6 header would have it read past what TxHeaders checked.
        if (frame[h.L3Offset] >> 4 != (h.IsIpv4 ? 4 : 6)) return false;
        bool ipChecksum = h.IsIpv4 && (flags & OffloadFlags.TxIpChecksum) != 0;
        if ((flags & OffloadFlags.TxTcpSegmentation) != 0)
        {
            // QEMU 7.2's e1000e cuts a TSO frame for a backend without vnet headers by IPv4
            // fragmentation, which mangles an IPv6 one: TSO is IPv4 only.
            int mss = m.TsoSegmentSize;
            if (!h.IsIpv4 || mss <= 0 || h.HeaderLength > MaxOffset || h.HeaderLength + mss > maxFrame || m.PacketLength - h.L3Offset > ushort.MaxValue) return false;
            int payload = m.PacketLength - h.HeaderLength;
            // Every IPv4 segment gets a new total length, so its header checksum is always the device's.
            if (payload <= mss) return Checksum(frame, h, m.PacketLength, udp: false, ipChecksum: true, out request);
            WritePseudoHeader(frame, h, Checksums.ProtocolTcp, Checksums.TcpChecksumOffset, l4Length: 0);
            ClearIpChecksum(frame, h);
            var context = E1000eTxContext.Create(h.L3Offset, h.L3Offset + 10, h.L4Offset - 1, h.L4Offset, h.L4Offset + Checksums.TcpChecksumOffset,
                ContextTcp | ContextIpv4 | CommandTcpSegmentation, payload, h.HeaderLength, mss);
            request = new E1000eTxRequest(context, CommandTcpSegmentation, OptionIpChecksum | OptionL4Checksum);
            return true;
        }
        var l4 = flags & OffloadFlags.TxL4Mask;
        if (l4 == OffloadFlags.TxTcpChecksum) return Checksum(frame, h, m.PacketLength, udp: false, ipChecksum, out request);
        if (l4 == OffloadFlags.TxUdpChecksum) return Checksum(frame, h, m.PacketLength, udp: true, ipChecksum, out request);
        if (l4 != 0) return false;
        // The IPv4 header checksum alone (over IPv6 nothing is asked: no options, a plain descriptor).
        if (!ipChecksum) return true;
        ClearIpChecksum(frame, h);
        request = new E1000eTxRequest(IpContext(h, 0, 0, ContextIpv4), 0, OptionIpChecksum);
        return true;
    }

    private static bool Checksum(Span<byte> frame, TxHeaders h, int packetLength, bool udp, bool ipChecksum, out E1000eTxRequest request)
    {
        int fieldOffset = udp ? Checksums.UdpChecksumOffset : Checksums.TcpChecksumOffset;
        WritePseudoHeader(frame, h, udp ? Checksums.ProtocolUdp : Checksums.ProtocolTcp, fieldOffset, packetLength - h.L4Offset);
        if (ipChecksum) ClearIpChecksum(frame, h);
        byte command = (byte)((udp ? 0 : ContextTcp) | (h.IsIpv4 ? ContextIpv4 : 0));
        request = new E1000eTxRequest(IpContext(h, h.L4Offset, h.L4Offset + fieldOffset, command), 0, (byte)(OptionL4Checksum | (ipChecksum ? OptionIpChecksum : 0)));
        return true;
    }

    /// <summary>A context without TSO; IPv6 has no header checksum, so no IPCSO or IPCSE.</summary>
    private static E1000eTxContext IpContext(TxHeaders h, int l4Start, int l4Field, byte command) => h.IsIpv4
        ? E1000eTxContext.Create(h.L3Offset, h.L3Offset + 10, h.L4Offset - 1, l4Start, l4Field, command)
        : E1000eTxContext.Create(h.L3Offset, 0, 0, l4Start, l4Field, command);

    /// <summary>The device sums the IPv4 header from IPCSS to IPCSE, its checksum field included: that must be 0.</summary>
    private static void ClearIpChecksum(Span<byte> frame, TxHeaders h) => frame.Slice(h.L3Offset + 10, 2).Clear();

    private static void WritePseudoHeader(Span<byte> frame, TxHeaders h, byte protocol, int fieldOffset, int l4Length) =>
        BinaryPrimitives.WriteUInt16BigEndian(frame[(h.L4Offset + fieldOffset)..], Checksums.PseudoHeader(frame[h.L3Offset..], protocol, l4Length));
}
