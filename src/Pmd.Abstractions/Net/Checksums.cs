using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pmd.Memory;

namespace Pmd.Net;

/// <summary>
/// The Internet checksum (RFC 1071) of headers and of packets across segments, the pseudo-header
/// sums devices expect in an offloaded L4 checksum field, and the software versions of the
/// checksum offloads (what a port does when its device will not), as DPDK's rte_ip.h helpers.
/// Sums are 16-bit ones'-complement values in network byte order, not yet inverted.
/// </summary>
public static class Checksums
{
    public const byte ProtocolTcp = 6, ProtocolUdp = 17;

    /// <summary>Where the checksum sits in a TCP header.</summary>
    public const int TcpChecksumOffset = 16;

    /// <summary>Where the checksum sits in a UDP header.</summary>
    public const int UdpChecksumOffset = 6;

    /// <summary>The ones'-complement sum of <paramref name="data"/> as big-endian 16-bit words (an odd last byte is padded with zero).</summary>
    public static ushort Sum(ReadOnlySpan<byte> data) => BinaryPrimitives.ReverseEndianness(Fold(SumLittleEndian(data)));

    /// <summary>Adds two ones'-complement sums.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Add(ushort a, ushort b)
    {
        uint s = (uint)a + b;
        return (ushort)((s & 0xFFFF) + (s >> 16));
    }

    /// <summary>The checksum of an IPv4 header (its checksum field taken as zero): what goes in the field.</summary>
    public static ushort Ipv4Header(ReadOnlySpan<byte> header)
    {
        ushort sum = Add(Sum(header[..10]), Sum(header[12..]));
        return (ushort)~sum;
    }

    /// <summary>Puts the right checksum into the IPv4 header <paramref name="header"/> (whatever its field held).</summary>
    internal static void WriteIpv4Header(Span<byte> header) =>
        BinaryPrimitives.WriteUInt16BigEndian(header[10..], Ipv4Header(header));

    /// <summary>
    /// The pseudo-header sum of an L4 header that follows <paramref name="l3"/> (IPv4 or IPv6, as
    /// its version nibble says): addresses, protocol and <paramref name="l4Length"/>. TSO on Intel
    /// devices wants it with a length of 0; the devices add each segment's.
    /// </summary>
    public static ushort PseudoHeader(ReadOnlySpan<byte> l3, byte protocol, int l4Length)
    {
        ushort addresses = (l3[0] >> 4) == 6 ? Sum(l3.Slice(8, 32)) : Sum(l3.Slice(12, 8));
        uint rest = protocol + (uint)l4Length;
        return Add(addresses, (ushort)((rest & 0xFFFF) + (rest >> 16)));
    }

    /// <summary>The sum of the packet's bytes from <paramref name="offset"/> to its end, across segments.</summary>
    public static ushort Sum(Mbuf m, int offset)
    {
        ushort total = 0;
        int position = 0; // bytes summed so far: a segment that starts at an odd one is summed byte-swapped
        for (var seg = m; !seg.IsNull; seg = seg.Next)
        {
            var data = seg.Data;
            if (offset >= data.Length)
            {
                offset -= data.Length;
                continue;
            }
            data = data[offset..];
            offset = 0;
            ushort part = Sum(data);
            if ((position & 1) != 0) part = BinaryPrimitives.ReverseEndianness(part);
            total = Add(total, part);
            position += data.Length;
        }
        return total;
    }

    /// <summary>
    /// Does in software what the TX flags of <paramref name="m"/> ask of a checksum offload (the
    /// IPv4 header checksum, the TCP or UDP checksum) and clears those flags. False, with nothing
    /// changed, when the header lengths do not fit the packet. Not TSO: see <see cref="TcpSegmentation"/>.
    /// </summary>
    public static bool CompleteTx(Mbuf m)
    {
        var flags = m.Flags;
        if (!TxHeaders.TryRead(m, out var headers)) return false;
        var first = m.Data;
        if ((flags & OffloadFlags.TxIpChecksum) != 0 && headers.IsIpv4)
        {
            WriteIpv4Header(first.Slice(headers.L3Offset, headers.L3Length));
        }
        var l4 = flags & OffloadFlags.TxL4Mask;
        if (l4 is OffloadFlags.TxTcpChecksum or OffloadFlags.TxUdpChecksum)
        {
            bool udp = l4 == OffloadFlags.TxUdpChecksum;
            int field = headers.L4Offset + (udp ? UdpChecksumOffset : TcpChecksumOffset);
            if (field + 2 > first.Length) return false;
            int l4Length = m.PacketLength - headers.L4Offset;
            first[field] = 0;
            first[field + 1] = 0;
            ushort sum = Add(PseudoHeader(first[headers.L3Offset..], udp ? ProtocolUdp : ProtocolTcp, l4Length), Sum(m, headers.L4Offset));
            ushort checksum = (ushort)~sum;
            if (udp && checksum == 0) checksum = 0xFFFF;
            BinaryPrimitives.WriteUInt16BigEndian(first[field..], checksum);
        }
        m.Flags = flags & ~(OffloadFlags.TxIpChecksum | OffloadFlags.TxL4Mask);
        return true;
    }

    /// <summary>
    /// Checks in software the IPv4 header and TCP or UDP checksums of a received frame (Ethernet,
    /// one optional VLAN tag, IPv4 or IPv6 without extension headers) and sets the RX verdicts,
    /// as a device with checksum offload would; other frames are left unknown.
    /// </summary>
    public static void VerifyRx(Mbuf m)
    {
        var flags = m.Flags & ~(OffloadFlags.RxIpChecksumMask | OffloadFlags.RxL4ChecksumMask);
        if (RxHeaders.TryRead(m, out var h))
        {
            var first = m.Data;
            if (h.IsIpv4)
                flags |= Ipv4Header(first.Slice(h.L3Offset, h.L3Length)) == BinaryPrimitives.ReadUInt16BigEndian(first[(h.L3Offset + 10)..])
                    ? OffloadFlags.RxIpChecksumGood : OffloadFlags.RxIpChecksumBad;
            if (h.Protocol is ProtocolTcp or ProtocolUdp && h.L4End <= m.PacketLength)
            {
                bool zeroUdp = h.Protocol == ProtocolUdp && h.IsIpv4 && BinaryPrimitives.ReadUInt16BigEndian(first[(h.L4Offset + UdpChecksumOffset)..]) == 0;
                ushort sum = Add(PseudoHeader(first[h.L3Offset..], h.Protocol, h.L4End - h.L4Offset), SumRange(m, h.L4Offset, h.L4End));
                flags |= zeroUdp || sum == 0xFFFF ? OffloadFlags.RxL4ChecksumGood : OffloadFlags.RxL4ChecksumBad;
            }
        }
        m.Flags = flags;
    }

    /// <summary>The sum of bytes [<paramref name="start"/>, <paramref name="end"/>) of the packet (an IP packet may be padded past its L4 end).</summary>
    private static ushort SumRange(Mbuf m, int start, int end)
    {
        if (end == m.PacketLength) return Sum(m, start);
        ushort total = 0;
        int position = 0, offset = 0;
        for (var seg = m; !seg.IsNull && offset < end; seg = seg.Next)
        {
            var data = seg.Data;
            int from = Math.Max(start - offset, 0), to = Math.Min(end - offset, data.Length);
            offset += data.Length;
            if (from >= to) continue;
            ushort part = Sum(data[from..to]);
            if ((position & 1) != 0) part = BinaryPrimitives.ReverseEndianness(part);
            total = Add(total, part);
            position += to - from;
        }
        return total;
    }

    /// <summary>
    /// Sums little-endian 16-bit words eight bytes at a time with end-around carry. The result,
    /// folded and byte-swapped, is the big-endian sum (RFC 1071's byte-order independence).
    /// </summary>
    private static ulong SumLittleEndian(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        ulong sum = 0;
        int i = 0, length = data.Length;
        for (; i + 8 <= length; i += 8)
        {
            ulong v = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, i));
            sum += v;
            if (sum < v) sum++;
        }
        if (i + 4 <= length)
        {
            ulong v = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            sum += v;
            if (sum < v) sum++;
            i += 4;
        }
        if (i + 2 <= length)
        {
            ulong v = Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref start, i));
            sum += v;
            if (sum < v) sum++;
            i += 2;
        }
        if (i < length)
        {
            ulong v = Unsafe.Add(ref start, i);
            sum += v;
            if (sum < v) sum++;
        }
        return sum;
    }

    private static ushort Fold(ulong sum)
    {
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF_FFFF) + (sum >> 32);
        sum = (sum & 0xFFFF) + (sum >> 16);
        sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)sum;
    }
}
