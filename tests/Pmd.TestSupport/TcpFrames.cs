using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestSupport;

/// <summary>
/// TCP frames over IPv4 or IPv6 whose payload byte at stream offset o is <see cref="PayloadByte"/>
/// (o), so that the segments of a frame, wherever they were cut, can each be checked byte for
/// byte, and checksums computed from scratch (<see cref="InternetChecksum"/>) held against them.
/// </summary>
public static class TcpFrames
{
    public const int EthernetLength = 14, Ipv4Length = 20, Ipv6Length = 40, TcpLength = 20;
    public const uint InitialSequence = 0x1000_0000;
    public const byte FlagAck = 0x10, FlagPsh = 0x08;

    public static readonly byte[] Ipv4Source = [10, 0, 0, 1], Ipv4Destination = [10, 0, 0, 2];
    public static readonly byte[] Ipv6Source = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    public static readonly byte[] Ipv6Destination = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

    public static byte PayloadByte(int streamOffset) => (byte)(streamOffset * 13 + (streamOffset >> 8));

    public static int HeaderLength(bool ipv6) => EthernetLength + (ipv6 ? Ipv6Length : Ipv4Length) + TcpLength;

    /// <summary>
    /// The frame as bytes: headers with correct IP checksum and, when <paramref name="tcpChecksum"/>,
    /// a correct TCP checksum (otherwise 0xDEAD, which an offload must overwrite).
    /// </summary>
    public static byte[] Bytes(bool ipv6, int payload, MacAddress source, MacAddress destination, int streamOffset = 0, bool tcpChecksum = false, ushort ipId = 1)
    {
        int header = HeaderLength(ipv6);
        var f = new byte[header + payload];
        destination.CopyTo(f);
        source.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), ipv6 ? (ushort)0x86DD : (ushort)0x0800);
        var ip = f.AsSpan(EthernetLength);
        int l4 = TcpLength + payload;
        if (ipv6)
        {
            ip[0] = 0x60;
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)l4);
            ip[6] = 6;
            ip[7] = 64;
            Ipv6Source.CopyTo(ip[8..]);
            Ipv6Destination.CopyTo(ip[24..]);
        }
        else
        {
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)Math.Min(Ipv4Length + l4, ushort.MaxValue));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], ipId);
            ip[6] = 0x40; // DF
            ip[8] = 64;
            ip[9] = 6;
            Ipv4Source.CopyTo(ip[12..]);
            Ipv4Destination.CopyTo(ip[16..]);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..Ipv4Length]));
        }
        var tcp = f.AsSpan(header - TcpLength);
        BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 5001);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], InitialSequence + (uint)streamOffset);
        BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 1);
        tcp[12] = 5 << 4;
        tcp[13] = FlagAck | FlagPsh;
        BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 65535);
        for (int i = 0; i < payload; i++) f[header + i] = PayloadByte(streamOffset + i);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], tcpChecksum ? TcpChecksum(f, ipv6) : (ushort)0xDEAD);
        return f;
    }

    /// <summary>The frame in mbufs of <paramref name="pool"/> (headers in the first, the rest chained), with the TX lengths set.</summary>
    public static Mbuf Build(Mempool pool, byte[] frame, bool ipv6, OffloadFlags flags = 0, int mss = 0)
    {
        var head = pool.Alloc();
        if (head.IsNull) throw new InvalidOperationException("test pool exhausted");
        int written = 0;
        while (written < frame.Length)
        {
            var seg = written == 0 ? head : pool.Alloc();
            if (seg.IsNull) { head.Free(); throw new InvalidOperationException("test pool exhausted"); }
            int n = Math.Min(seg.Tailroom, frame.Length - written);
            frame.AsSpan(written, n).CopyTo(seg.Append(n));
            if (written > 0) head.Chain(seg);
            written += n;
        }
        head.Flags = flags | (ipv6 ? OffloadFlags.TxIpv6 : OffloadFlags.TxIpv4);
        head.L2Length = EthernetLength;
        head.L3Length = ipv6 ? Ipv6Length : Ipv4Length;
        head.L4Length = TcpLength;
        head.TsoSegmentSize = mss;
        return head;
    }

    /// <summary>The correct TCP checksum of <paramref name="frame"/> (its checksum field taken as zero).</summary>
    public static ushort TcpChecksum(ReadOnlySpan<byte> frame, bool ipv6)
    {
        int l3 = EthernetLength, l4 = l3 + (ipv6 ? Ipv6Length : Ipv4Length);
        int length = frame.Length - l4;
        var buffer = new byte[(ipv6 ? 40 : 12) + length];
        if (ipv6)
        {
            frame.Slice(l3 + 8, 32).CopyTo(buffer);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(32), (uint)length);
            buffer[39] = 6;
        }
        else
        {
            frame.Slice(l3 + 12, 8).CopyTo(buffer);
            buffer[9] = 6;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(10), (ushort)length);
        }
        int pseudo = ipv6 ? 40 : 12;
        frame[l4..].CopyTo(buffer.AsSpan(pseudo));
        buffer[pseudo + 16] = 0;
        buffer[pseudo + 17] = 0;
        return InternetChecksum.Compute(buffer);
    }

    /// <summary>The pseudo-header's ones'-complement sum (not inverted), with the frame's L4 length: what a partial checksum field holds.</summary>
    public static ushort PseudoHeaderSum(ReadOnlySpan<byte> frame, bool ipv6)
    {
        int l3 = EthernetLength, l4 = l3 + (ipv6 ? Ipv6Length : Ipv4Length);
        var buffer = new byte[ipv6 ? 40 : 12];
        if (ipv6)
        {
            frame.Slice(l3 + 8, 32).CopyTo(buffer);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(32), (uint)(frame.Length - l4));
            buffer[39] = 6;
        }
        else
        {
            frame.Slice(l3 + 12, 8).CopyTo(buffer);
            buffer[9] = 6;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(10), (ushort)(frame.Length - l4));
        }
        return (ushort)~InternetChecksum.Compute(buffer);
    }

    /// <summary>What <see cref="Check"/> found in one received segment.</summary>
    public readonly record struct Segment(int StreamOffset, int PayloadLength, byte TcpFlags, ushort IpId);

    /// <summary>
    /// Checks a received TCP frame: the IPv4 header checksum and lengths, the TCP checksum (unless
    /// <paramref name="checksumPartial"/>: then the field must hold the pseudo-header sum a
    /// NEEDS_CSUM frame carries), and every payload byte against its stream offset. Throws saying what is wrong.
    /// </summary>
    public static Segment Check(ReadOnlySpan<byte> f, bool ipv6, bool checksumPartial = false)
    {
        int header = HeaderLength(ipv6);
        if (f.Length < header) throw new InvalidDataException($"a {f.Length}-byte frame is shorter than its headers");
        var ip = f[EthernetLength..];
        int payload;
        ushort id = 0;
        if (ipv6)
        {
            payload = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) - TcpLength;
        }
        else
        {
            if (InternetChecksum.Compute(ip[..Ipv4Length]) != 0) throw new InvalidDataException("bad IPv4 header checksum");
            payload = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]) - Ipv4Length - TcpLength;
            id = BinaryPrimitives.ReadUInt16BigEndian(ip[4..]);
        }
        if (payload < 0 || header + payload > f.Length) throw new InvalidDataException($"IP length says {payload} payload bytes in a {f.Length}-byte frame");
        var frame = f[..(header + payload)];
        var tcp = frame[(header - TcpLength)..];
        ushort field = BinaryPrimitives.ReadUInt16BigEndian(tcp[16..]);
        ushort expected = TcpChecksum(frame, ipv6);
        if (checksumPartial)
        {
            ushort pseudo = PseudoHeaderSum(frame, ipv6);
            if (field != pseudo) throw new InvalidDataException($"a NEEDS_CSUM frame's TCP checksum field holds 0x{field:x4}, not the pseudo-header sum 0x{pseudo:x4}");
        }
        else if (field != expected)
        {
            throw new InvalidDataException($"bad TCP checksum 0x{field:x4}, expected 0x{expected:x4}");
        }
        int offset = (int)(BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]) - InitialSequence);
        for (int i = 0; i < payload; i++)
            if (frame[header + i] != PayloadByte(offset + i))
                throw new InvalidDataException($"payload byte {i} of the segment at stream offset {offset} is 0x{frame[header + i]:x2}, expected 0x{PayloadByte(offset + i):x2}");
        return new Segment(offset, payload, tcp[13], id);
    }
}
