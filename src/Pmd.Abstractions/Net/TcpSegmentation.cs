using System.Buffers.Binary;
using Pmd.Memory;

namespace Pmd.Net;

/// <summary>
/// TSO in software, as DPDK's rte_gso_segment: cuts a TCP frame flagged
/// <see cref="OffloadFlags.TxTcpSegmentation"/> into frames of at most
/// <see cref="Mbuf.TsoSegmentSize"/> payload bytes each, with the headers repeated and fixed up
/// (IP lengths and IPv4 id and checksum, TCP sequence numbers, FIN and PSH only on the last, CWR
/// only on the first) and the TCP checksum computed. What a port does when the device behind it
/// cannot segment.
/// </summary>
public static class TcpSegmentation
{
    private const byte TcpFin = 0x01, TcpPsh = 0x08, TcpCwr = 0x80;

    /// <summary>The segments <paramref name="m"/> becomes; 0 when it is not a valid TSO request.</summary>
    public static int SegmentsFor(Mbuf m)
    {
        if (!TxHeaders.TryRead(m, out var h) || h.L4Length == 0 || m.TsoSegmentSize == 0) return 0;
        int payload = m.PacketLength - h.HeaderLength;
        return payload <= 0 ? 1 : (payload + m.TsoSegmentSize - 1) / m.TsoSegmentSize;
    }

    /// <summary>
    /// Writes the segments of <paramref name="m"/> into <paramref name="segments"/>, each a
    /// one-mbuf frame from <paramref name="pool"/> with its checksums done, and returns how many.
    /// Returns -1, with nothing allocated and <paramref name="m"/> untouched, when the request is
    /// not valid, when the segments would not fit the span or their mbufs, or when the pool runs
    /// dry. The caller still owns <paramref name="m"/> either way.
    /// </summary>
    public static int Segment(Mbuf m, Mempool pool, Span<Mbuf> segments)
    {
        int count = SegmentsFor(m);
        if (count == 0 || count > segments.Length || !TxHeaders.TryRead(m, out var h)) return -1;
        int mss = m.TsoSegmentSize, headerLength = h.HeaderLength;
        int payload = m.PacketLength - headerLength;
        if (headerLength + Math.Min(mss, Math.Max(payload, 0)) > pool.DataRoom) return -1;
        var made = segments[..count];
        if (pool.Alloc(made) < count)
        {
            foreach (var s in made) if (!s.IsNull) s.Free();
            made.Clear();
            return -1;
        }
        var headers = m.Data[..headerLength];
        uint sequence = BinaryPrimitives.ReadUInt32BigEndian(headers[(h.L4Offset + 4)..]);
        ushort ipId = h.IsIpv4 ? BinaryPrimitives.ReadUInt16BigEndian(headers[(h.L3Offset + 4)..]) : (ushort)0;
        byte tcpFlags = headers[h.L4Offset + 13];
        var flags = m.Flags & ~(OffloadFlags.TxOffloadMask);
        for (int i = 0; i < count; i++)
        {
            int offset = i * mss, length = Math.Min(mss, Math.Max(payload - offset, 0));
            var s = made[i];
            var bytes = s.Append(headerLength + length);
            headers.CopyTo(bytes);
            CopyPayload(m, headerLength + offset, bytes[headerLength..]);
            var ip = bytes[h.L3Offset..h.L4Offset];
            var tcp = bytes[h.L4Offset..];
            if (h.IsIpv4)
            {
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(h.L3Length + h.L4Length + length));
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(ipId + i));
                Checksums.WriteIpv4Header(ip);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(h.L4Length + length));
            }
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], sequence + (uint)offset);
            byte f = tcpFlags;
            if (i != count - 1) f &= unchecked((byte)~(TcpFin | TcpPsh));
            if (i != 0) f &= unchecked((byte)~TcpCwr);
            tcp[13] = f;
            tcp[Checksums.TcpChecksumOffset] = 0;
            tcp[Checksums.TcpChecksumOffset + 1] = 0;
            ushort sum = Checksums.Add(Checksums.PseudoHeader(ip, Checksums.ProtocolTcp, h.L4Length + length), Checksums.Sum(tcp));
            BinaryPrimitives.WriteUInt16BigEndian(tcp[Checksums.TcpChecksumOffset..], (ushort)~sum);
            s.Port = m.Port;
            s.Flags = flags;
            s.L2Length = m.L2Length;
            s.L3Length = m.L3Length;
        }
        return count;
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes of the packet from <paramref name="offset"/>, across segments.</summary>
    private static void CopyPayload(Mbuf m, int offset, Span<byte> destination)
    {
        int copied = 0;
        for (var seg = m; !seg.IsNull && copied < destination.Length; seg = seg.Next)
        {
            var data = seg.Data;
            if (offset >= data.Length)
            {
                offset -= data.Length;
                continue;
            }
            int n = Math.Min(data.Length - offset, destination.Length - copied);
            data.Slice(offset, n).CopyTo(destination[copied..]);
            copied += n;
            offset = 0;
        }
    }
}
