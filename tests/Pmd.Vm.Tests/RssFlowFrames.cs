using System.Buffers.Binary;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vm.Tests;

/// <summary>
/// Frames of many flows for RSS: TCP and UDP over IPv4 with varied addresses and ports, and
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

    public enum Kind { Tcp, Udp, NonIp }

    /// <summary>Six in ten frames TCP, three UDP, one non-IP.</summary>
    public static Kind KindOf(int index) => (index % 10) switch { < 6 => Kind.Tcp, < 9 => Kind.Udp, _ => Kind.NonIp };

    /// <summary>Frame <paramref name="index"/>: 64..~560 bytes, from <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public static byte[] Build(int index, ReadOnlySpan<byte> source, ReadOnlySpan<byte> destination)
    {
        var kind = KindOf(index);
        int l4 = kind switch { Kind.Tcp => 20, Kind.Udp => 8, _ => 0 };
        int header = 14 + (kind == Kind.NonIp ? 0 : 20) + l4;
        int payload = 4 + 46 + index * 53 % 500;
        var f = new byte[header + payload];
        destination.CopyTo(f);
        source.CopyTo(f.AsSpan(6));
        BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(12), kind == Kind.NonIp ? Arp : (ushort)0x0800);
        if (kind != Kind.NonIp)
        {
            var ip = f.AsSpan(14);
            ip[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], (ushort)(f.Length - 14));
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], (ushort)index);
            ip[8] = 64;
            ip[9] = kind == Kind.Tcp ? (byte)6 : (byte)17;
            // Addresses and ports spread by multiplicative steps: no two neighbours share a flow.
            uint h = (uint)index * 2654435761u;
            ip[12] = 10; ip[13] = (byte)(h >> 24); ip[14] = (byte)(h >> 16); ip[15] = (byte)(1 + index % 250);
            ip[16] = 172; ip[17] = (byte)(16 + index % 16); ip[18] = (byte)(h >> 8); ip[19] = (byte)(1 + (h >> 3) % 254);
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], InternetChecksum.Compute(ip[..20]));
            var l4h = ip[20..];
            BinaryPrimitives.WriteUInt16BigEndian(l4h, (ushort)(1024 + (h >> 7) % 60000));
            BinaryPrimitives.WriteUInt16BigEndian(l4h[2..], (ushort)(index * 7 % 65536));
            if (kind == Kind.Tcp)
            {
                BinaryPrimitives.WriteUInt32BigEndian(l4h[4..], (uint)index * 1000);
                l4h[12] = 0x50;
                l4h[13] = TcpFrames.FlagAck | TcpFrames.FlagPsh;
                BinaryPrimitives.WriteUInt16BigEndian(l4h[14..], 0xFFFF);
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(l4h[4..], (ushort)(f.Length - 34));   // no UDP checksum (allowed over IPv4)
            }
        }
        BinaryPrimitives.WriteInt32BigEndian(f.AsSpan(header), index);
        for (int i = header + 4; i < f.Length; i++) f[i] = (byte)(index * 31 + i);
        if (kind == Kind.Tcp) BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(14 + 20 + 16), TcpFrames.TcpChecksum(f, ipv6: false));
        return f;
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
