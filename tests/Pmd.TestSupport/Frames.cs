using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestSupport;

/// <summary>
/// Test frames whose every byte is predictable from a sequence number, so a receiver can check
/// each byte that comes back. Layout: Ethernet (ethertype 0x88B5, local experimental), the 4-byte
/// sequence, the 2-byte frame length, then pattern bytes (seq + offset).
/// </summary>
public static class Frames
{
    public const ushort EtherType = 0x88B5;
    public const int MinLength = 20;

    public static byte PatternByte(uint seq, int offset) => (byte)(seq * 7 + offset);

    /// <summary>Builds a frame of <paramref name="length"/> bytes, chained over as many mbufs as it needs.</summary>
    public static Mbuf Build(Mempool pool, uint seq, int length, MacAddress source, MacAddress destination)
    {
        var head = pool.Alloc();
        if (head.IsNull) throw new InvalidOperationException("test pool exhausted");
        var tail = head;
        int written = 0;
        while (written < length)
        {
            var seg = written == 0 ? head : pool.Alloc();
            if (seg.IsNull) { head.Free(); throw new InvalidOperationException("test pool exhausted"); }
            int n = Math.Min(seg.Tailroom, length - written);
            var span = seg.Append(n);
            for (int i = 0; i < n; i++) span[i] = ByteAt(seq, length, written + i, source, destination);
            if (written > 0) head.Chain(seg);
            written += n;
        }
        return head;
    }

    /// <summary>The same frame as <see cref="Build"/>, as bytes (what a device model puts on the wire).</summary>
    public static byte[] BuildBytes(uint seq, int length, MacAddress source, MacAddress destination)
    {
        var bytes = new byte[length];
        for (int i = 0; i < length; i++) bytes[i] = ByteAt(seq, length, i, source, destination);
        return bytes;
    }

    private static byte ByteAt(uint seq, int length, int offset, MacAddress src, MacAddress dst)
    {
        Span<byte> header = stackalloc byte[MinLength];
        dst.CopyTo(header);
        src.CopyTo(header[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(header[12..], EtherType);
        BinaryPrimitives.WriteUInt32BigEndian(header[14..], seq);
        BinaryPrimitives.WriteUInt16BigEndian(header[18..], (ushort)length);
        return offset < MinLength ? header[offset] : PatternByte(seq, offset);
    }

    /// <summary>Checks every byte of a received frame after the MAC addresses; returns its sequence, or throws saying what differs.</summary>
    public static uint Verify(Mbuf m)
    {
        var bytes = new byte[m.PacketLength];
        if (m.CopyTo(bytes) != bytes.Length) throw new InvalidDataException("chain shorter than its packet length");
        if (bytes.Length < MinLength) throw new InvalidDataException($"frame of {bytes.Length} bytes is too short");
        if (BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(12)) != EtherType) throw new InvalidDataException("not a test frame");
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(14));
        int length = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(18));
        if (length != bytes.Length) throw new InvalidDataException($"seq {seq}: {bytes.Length} bytes arrived, {length} were sent");
        for (int i = MinLength; i < bytes.Length; i++)
            if (bytes[i] != PatternByte(seq, i)) throw new InvalidDataException($"seq {seq}: byte {i} is 0x{bytes[i]:x2}, expected 0x{PatternByte(seq, i):x2}");
        return seq;
    }

    public static MacAddress Source(Mbuf m)
    {
        Span<byte> b = stackalloc byte[12];
        m.CopyTo(b);
        return new MacAddress(b[6..]);
    }
}
