using System.Buffers.Binary;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vfio.Tests;

/// <summary>
/// What an 82574 does with a frame its descriptors ask offloads for, as the datasheet (7.2.10.2,
/// 7.3) describes it, from the context's offsets alone: the IPv4 header checksum over IPCSS..IPCSE,
/// the L4 checksum from TUCSS to the end over whatever the driver left in the field (the pseudo-header
/// sum), and TSO: the payload after HDRLEN cut into MSS-byte pieces, each with the headers repeated,
/// the IP length and ID, the TCP sequence number and flags fixed, and the segment's L4 length added
/// to the pseudo-header sum (which the driver wrote without one). Written for the tests, not from a driver.
/// </summary>
internal static class E1000eOffloadModel
{
    public static List<byte[]> Apply(E1000eDeviceModel.TxFrame f)
    {
        const byte Ixsm = 1, Txsm = 2, Tse = 1 << 2, Ipv4 = 1 << 1;
        if (!f.Extended || f.Options == 0) return [f.Bytes];
        var c = f.Context ?? throw new InvalidDataException("an offloaded frame before any context descriptor");
        int ipcss = c[0], ipcso = c[1], ipcse = BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(2)), tucss = c[4], tucso = c[5];
        int tucse = BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(6));
        int paylen = (int)(BinaryPrimitives.ReadUInt32LittleEndian(c.AsSpan(8)) & 0xF_FFFF);
        byte tucmd = c[11];
        int hdrlen = c[13], mss = BinaryPrimitives.ReadUInt16LittleEndian(c.AsSpan(14));
        if (tucse != 0) throw new InvalidDataException("the driver sums L4 to the end of the frame (TUCSE 0)");
        bool ixsm = (f.Options & Ixsm) != 0, txsm = (f.Options & Txsm) != 0;
        if ((f.Command & Tse) == 0 || (tucmd & Tse) == 0)
        {
            var frame = (byte[])f.Bytes.Clone();
            if (ixsm) Insert(frame, ipcso, Sum(frame.AsSpan(ipcss, ipcse - ipcss + 1)));
            if (txsm) Insert(frame, tucso, Sum(frame.AsSpan(tucss)), udp: (tucmd & 1) == 0);
            return [frame];
        }
        if (paylen != f.Bytes.Length - hdrlen) throw new InvalidDataException($"PAYLEN {paylen}, but the frame has {f.Bytes.Length - hdrlen} bytes after its {hdrlen} of headers");
        var segments = new List<byte[]>();
        ushort pseudo = BinaryPrimitives.ReadUInt16BigEndian(f.Bytes.AsSpan(tucso));
        for (int offset = 0, i = 0; offset < paylen; offset += mss, i++)
        {
            int piece = Math.Min(mss, paylen - offset);
            bool last = offset + piece == paylen;
            var s = new byte[hdrlen + piece];
            f.Bytes.AsSpan(0, hdrlen).CopyTo(s);
            f.Bytes.AsSpan(hdrlen + offset, piece).CopyTo(s.AsSpan(hdrlen));
            if ((tucmd & Ipv4) != 0)
            {
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(ipcss + 2), (ushort)(s.Length - ipcss));
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(ipcss + 4), (ushort)(BinaryPrimitives.ReadUInt16BigEndian(s.AsSpan(ipcss + 4)) + i));
            }
            else
            {
                BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(ipcss + 4), (ushort)(s.Length - ipcss - 40));
            }
            BinaryPrimitives.WriteUInt32BigEndian(s.AsSpan(tucss + 4), BinaryPrimitives.ReadUInt32BigEndian(s.AsSpan(tucss + 4)) + (uint)offset);
            if (!last) s[tucss + 13] &= unchecked((byte)~(0x01 | 0x08));   // FIN and PSH only on the last
            if (ixsm)
            {
                s[ipcso] = 0;
                s[ipcso + 1] = 0;
                Insert(s, ipcso, Sum(s.AsSpan(ipcss, ipcse - ipcss + 1)));
            }
            BinaryPrimitives.WriteUInt16BigEndian(s.AsSpan(tucso), pseudo);
            Insert(s, tucso, Add(Sum(s.AsSpan(tucss)), (ushort)(s.Length - tucss)));
            segments.Add(s);
        }
        return segments;
    }

    private static ushort Sum(ReadOnlySpan<byte> data) => (ushort)~InternetChecksum.Compute(data);

    private static ushort Add(ushort a, ushort b)
    {
        int s = a + b;
        return (ushort)((s & 0xFFFF) + (s >> 16));
    }

    private static void Insert(byte[] frame, int field, ushort sum, bool udp = false)
    {
        ushort checksum = (ushort)~sum;
        if (udp && checksum == 0) checksum = 0xFFFF;
        BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(field), checksum);
    }
}
