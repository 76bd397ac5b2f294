using System.Runtime.InteropServices;

namespace Pmd.VirtioNet.Net;

/// <summary>
/// struct virtio_net_hdr_v1: what precedes every frame on the rings. With VERSION_1 it is always
/// 12 bytes; num_buffers counts the buffers of a mergeable RX frame.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Size)]
internal struct VirtioNetHeader
{
    public const int Size = 12;
    public const byte NeedsCsum = 1;
    public const byte DataValid = 2;
    public const byte GsoNone = 0, GsoTcpV4 = 1, GsoTcpV6 = 4;

    public byte Flags;
    public byte GsoType;
    public ushort HeaderLength;
    public ushort GsoSize;
    public ushort CsumStart;
    public ushort CsumOffset;
    public ushort NumBuffers;
}
