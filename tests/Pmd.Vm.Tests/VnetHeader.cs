using System.Buffers.Binary;

namespace Pmd.Vm.Tests;

/// <summary>
/// Linux's struct virtio_net_hdr (10 bytes, host byte order) as a packet socket with
/// PACKET_VNET_HDR puts it before each frame: how the host kernel hands a checksum left to do
/// (NEEDS_CSUM) or a GSO frame to a tap and on to QEMU's virtio-net, and what it reports back.
/// </summary>
public readonly record struct VnetHeader(byte Flags, byte GsoType, ushort HeaderLength, ushort GsoSize, ushort ChecksumStart, ushort ChecksumOffset)
{
    public const int Size = 10;
    public const byte NeedsChecksum = 1, DataValid = 2;
    public const byte GsoNone = 0, GsoTcpV4 = 1, GsoTcpV6 = 4;

    /// <summary>A TCP frame whose checksum field holds the pseudo-header sum: the device, or the stack, completes it.</summary>
    public static VnetHeader PartialTcpChecksum(int tcpOffset) => new(NeedsChecksum, GsoNone, 0, 0, (ushort)tcpOffset, 16);

    /// <summary>A TCP super-frame to be cut into <paramref name="segmentSize"/>-byte segments.</summary>
    public static VnetHeader TcpSegmentation(bool ipv6, int headerLength, int segmentSize) =>
        new(NeedsChecksum, ipv6 ? GsoTcpV6 : GsoTcpV4, (ushort)headerLength, (ushort)segmentSize, (ushort)(headerLength - 20), 16);

    public void Write(Span<byte> to)
    {
        to[0] = Flags;
        to[1] = GsoType;
        BinaryPrimitives.WriteUInt16LittleEndian(to[2..], HeaderLength);
        BinaryPrimitives.WriteUInt16LittleEndian(to[4..], GsoSize);
        BinaryPrimitives.WriteUInt16LittleEndian(to[6..], ChecksumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(to[8..], ChecksumOffset);
    }

    public static VnetHeader Read(ReadOnlySpan<byte> from) => new(from[0], from[1],
        BinaryPrimitives.ReadUInt16LittleEndian(from[2..]), BinaryPrimitives.ReadUInt16LittleEndian(from[4..]),
        BinaryPrimitives.ReadUInt16LittleEndian(from[6..]), BinaryPrimitives.ReadUInt16LittleEndian(from[8..]));
}
