using System.Buffers.Binary;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// Puts IPv4 fragments of one datagram (keyed by IP ID) back together into the frame they were cut
/// from: what QEMU before 8.0 sends for a TSO frame to a backend without vnet headers, as it cuts
/// by IPv4 fragmentation (hw/net/net_tx_pkt.c, net_tx_pkt_do_sw_fragmentation).
/// </summary>
public sealed class TcpReassembly
{
    private readonly Dictionary<ushort, List<(int Offset, byte[] Data, bool More, byte[] Header)>> _pending = [];

    /// <summary>True when <paramref name="frame"/> is an IPv4 fragment (MF set or a non-zero offset).</summary>
    public static bool IsFragment(ReadOnlySpan<byte> frame) =>
        frame.Length >= 34 && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == 0x0800
        && (BinaryPrimitives.ReadUInt16BigEndian(frame[20..]) & 0x3FFF) != 0;

    public static ushort IpId(ReadOnlySpan<byte> frame) => BinaryPrimitives.ReadUInt16BigEndian(frame[18..]);

    /// <summary>Takes a fragment (its IPv4 header checksum checked); returns the whole frame once every piece is in, else null.</summary>
    public byte[]? Add(byte[] frame)
    {
        var ip = frame.AsSpan(TcpFrames.EthernetLength);
        int headerLength = (ip[0] & 0xF) * 4, total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (InternetChecksum.Compute(ip[..headerLength]) != 0) throw new InvalidDataException("a fragment with a bad IPv4 header checksum");
        ushort field = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
        ushort id = IpId(frame);
        if (!_pending.TryGetValue(id, out var pieces)) _pending[id] = pieces = [];
        pieces.Add(((field & 0x1FFF) * 8, ip[headerLength..total].ToArray(), (field & 0x2000) != 0, frame[..(TcpFrames.EthernetLength + headerLength)]));
        pieces.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        int covered = 0;
        foreach (var p in pieces)
        {
            if (p.Offset != covered) return null;
            covered += p.Data.Length;
        }
        if (pieces[^1].More) return null;
        _pending.Remove(id);
        var whole = new byte[pieces[0].Header.Length + covered];
        pieces[0].Header.CopyTo(whole, 0);
        foreach (var p in pieces) p.Data.CopyTo(whole, pieces[0].Header.Length + p.Offset);
        var wip = whole.AsSpan(TcpFrames.EthernetLength);
        BinaryPrimitives.WriteUInt16BigEndian(wip[2..], (ushort)(whole.Length - TcpFrames.EthernetLength));
        BinaryPrimitives.WriteUInt16BigEndian(wip[6..], (ushort)(field & 0x4000));   // DF as it was; no MF, offset 0
        wip[10] = 0;
        wip[11] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(wip[10..], InternetChecksum.Compute(wip[..((wip[0] & 0xF) * 4)]));
        return whole;
    }

    public int Pending => _pending.Count;
}
