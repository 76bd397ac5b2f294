using System.Buffers.Binary;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vm.Tests;

/// <summary>
/// Frames of many flows for RSS: TCP and UDP over IPv4 and IPv6 with varied addresses and ports, and
/// non-IP frames (the ARP ethertype), each carrying its index after its headers (then pattern
/// bytes), so one that comes back is known whatever the order. Each frame's queue on the e1000e
/// is computed here as QEMU does (<see cref="E1000eRssModel"/>) with the driver's key and table.
/// </summary>
public static class RssFlowFrames
{
    public const ushort Arp = 0x0806;

    /// <summary>MRQC's hash types as the driver enables them: TCP/IPv4, IPv4, TCP/IPv6, IPv6 with extensions, IPv6.</summary>
    public const uint Mrqc = E1000eRssModel.MrqcTcpIpv4 | E1000eRssModel.MrqcIpv4 | E1000eRssModel.MrqcTcpIpv6 | E1000eRssModel.MrqcIpv6Extensions | E1000eRssModel.MrqcIpv6;

    /// <summary>The redirection table as the driver writes it for two queues: entries alternate 0, 1 (bit 7 of odd entries set).</summary>
    public static readonly uint[] Reta = [.. Enumerable.Repeat(0x8000_8000u, 32)];

    public enum Kind { Tcp, Udp, Tcp6, Udp6, NonIp }

    /// <summary>In ten frames: five TCP and two UDP over IPv4, one TCP and one UDP over IPv6, one non-IP.</summary>
    public static Kind KindOf(int index) => (index % 10) switch { < 4 or 8 => Kind.Tcp, < 6 => Kind.Udp, 6 => Kind.Tcp6, 7 => Kind.Udp6, _ => Kind.NonIp };

    private static bool IsTcp(Kind kind) => kind is Kind.Tcp or Kind.Tcp6;

    private static int IpLength(Kind kind) => kind switch { Kind.Tcp or Kind.Udp => 20, Kind.Tcp6 or Kind.Udp6 => 40, _ => 0 };

    /// <summary>Frame <paramref name="index"/>: 64..~560 bytes, from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public static byte[] Build(int index, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        var kind = KindOf(index);
        int l4 = kind == Kind.NonIp ? 0 : IsTcp(kind) ? 20 : 8;
        int ipLength = IpLength(kind);
        int header = 14 + ipLength + l4;
        int payload = 4 + 46 + index * 53 % 500;
        var f = new byte[header + payload];
        destination.CopyTo(f);
        source.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), kind switch { Kind.NonIp => Arp, Kind.Tcp or Kind.Udp => 0x0800, _ => 0x86DD });
        if (kind != Kind.NonIp)
        {
            var ip = f.AsSpan(14);
            byte protocol = IsTcp(kind) ? (byte)6 : (byte)17;
            // Addresses and ports spread by multiplicative steps: no two neighbours share a flow.
            uint h = (uint)index * 2654435761u;
            if (ipLength == 20)
            {
                ip[0] = 0x45;
                BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(f.Length - 14));
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)index);
                ip[8] = 64;
                ip[9] = protocol;
                ip[12] = 10; ip[13] = (byte)(h >> 24); ip[14] = (byte)(h >> 16); ip[15] = (byte)(1 + index % 250);
                ip[16] = 172; ip[17] = (byte)(16 + index % 16); ip[18] = (byte)(h >> 8); ip[19] = (byte)(1 + (h >> 3) % 254);
                BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..20]));
            }
            else
            {
                ip[0] = 0x60;
                BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)(f.Length - 14 - 40));
                ip[6] = protocol;
                ip[7] = 64;
                ip[8] = 0xfd; BinaryPrimitives.WriteUInt32BigEndian(ip[20..], h); BinaryPrimitives.WriteUInt16BigEndian(ip[10..], (ushort)index);
                ip[24] = 0xfd; ip[25] = 1; BinaryPrimitives.WriteUInt32BigEndian(ip[36..], h ^ 0x5A5A_0000 ^ (uint)index);
            }
            var l4h = ip[ipLength..];
            BinaryPrimitives.WriteUInt16BigEndian(l4h, (ushort)(1024 + (h >> 7) % 60000));
            BinaryPrimitives.WriteUInt16BigEndian(l4h[2..], (ushort)(index * 7 % 65536));
            if (IsTcp(kind))
            {
                BinaryPrimitives.WriteUInt32BigEndian(l4h[4..], (uint)index * 1000);
                l4h[12] = 0x50;
                l4h[13] = TcpFrames.FlagAck | TcpFrames.FlagPsh;
                BinaryPrimitives.WriteUInt16BigEndian(l4h[14..], 0xFFFF);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(l4h[4..], (ushort)(f.Length - 14 - ipLength));
            }
        }
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(header), index);
        for (int i = header + 4; i < f.Length; i++) f[i] = (byte)(index * 31 + i);
        if (kind != Kind.NonIp) BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(L4ChecksumOffset(f)!.Value), L4Checksum(f));
        return f;
    }

    /// <summary>Where the IPv4 header checksum is, or null for a frame that is not IPv4.</summary>
    public static int? IpChecksumOffset(ReadOnlySpan<byte> frame) =>
        frame.Length >= 34 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x0800 ? 14 + 10 : null;

    /// <summary>Where the TCP or UDP checksum is, or null for a frame that has none.</summary>
    public static int? L4ChecksumOffset(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14) return null;
        var (ipLength, protocol) = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) switch
        {
            0x0800 when frame.Length >= 34 => (20, frame[23]),
            0x86DD when frame.Length >= 54 => (40, frame[20]),
            _ => (0, (byte)0),
        };
        int at = 14 + ipLength + (protocol == 6 ? 16 : 6);
        return protocol is 6 or 17 && frame.Length >= at + 2 ? at : null;
    }

    /// <summary>The correct TCP or UDP checksum of <paramref name="frame"/> (its own field taken as zero; a UDP result of 0 is sent as 0xFFFF).</summary>
    public static ushort L4Checksum(ReadOnlySpan<byte> frame)
    {
        bool ipv4 = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x0800;
        int l4 = 14 + (ipv4 ? 20 : 40), length = frame.Length - l4;
        byte protocol = ipv4 ? frame[23] : frame[20];
        int pseudo = ipv4 ? 12 : 40;
        var buffer = new byte[pseudo + length];
        if (ipv4)
        {
            frame.Slice(14 + 12, 8).CopyTo(buffer);
            buffer[9] = protocol;
            BinaryPrimitives.WriteUInt16BigEndian(buffer.AsSpan(10), (ushort)length);
        }
        else
        {
            frame.Slice(14 + 8, 32).CopyTo(buffer);
            BinaryPrimitives.WriteUInt32BigEndian(buffer.AsSpan(32), (uint)length);
            buffer[39] = protocol;
        }
        frame[l4..].CopyTo(buffer.AsSpan(pseudo));
        int field = pseudo + (protocol == 6 ? 16 : 6);
        buffer[field] = buffer[field + 1] = 0;
        ushort sum = InternetChecksum.Compute(buffer);
        return protocol == 17 && sum == 0 ? (ushort)0xFFFF : sum;
    }

    /// <summary>The index a frame of <see cref="Build"/> carries, or null for a frame that is not one (a probe).</summary>
    public static int? IndexOf(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 14) return null;
        ushort type = BinaryPrimitives.ReadUInt16BigEndian(frame[12..]);
        int at = type switch
        {
            Arp => 14,
            0x0800 when frame.Length > 23 => 14 + 20 + (frame[23] == 6 ? 20 : 8),
            0x86DD when frame.Length > 20 => 14 + 40 + (frame[20] == 6 ? 20 : 8),
            _ => -1,
        };
        return at >= 0 && frame.Length >= at + 4 ? BinaryPrimitives.ReadInt32BigEndian(frame[at..]) : null;
    }

    /// <summary>The receive queue QEMU's e1000e puts <paramref name="frame"/> on under the driver's RSS setup.</summary>
    public static int QueueOf(ReadOnlySpan<byte> frame)
    {
        var (type, hash) = E1000eRssModel.Of(frame, Mrqc, Toeplitz.DefaultKey);
        return type == 0 ? 0 : E1000eRssModel.QueueOf(hash, Reta);
    }
}
