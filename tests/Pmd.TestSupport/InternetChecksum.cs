using System.Buffers.Binary;

namespace Pmd.TestSupport;

/// <summary>The Internet checksum (RFC 1071), computed from scratch: what a test holds IP and ICMP headers against.</summary>
public static class InternetChecksum
{
    /// <summary>The checksum of <paramref name="data"/>; 0 when a header that carries its own checksum is right.</summary>
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0) sum += (uint)data[^1] << 8;
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return (ushort)~sum;
    }
}
