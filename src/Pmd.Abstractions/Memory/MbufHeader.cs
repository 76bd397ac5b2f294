using System.Runtime.InteropServices;

namespace Pmd.Memory;

/// <summary>
/// The metadata of one packet buffer, two cache lines like rte_mbuf. The first line holds what RX
/// and TX touch; the second holds what is rarely used. Unlike rte_mbuf it does not sit in front
/// of its buffer: headers are in the pool's private memory, and <see cref="BufAddr"/> points into
/// the memory devices share.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = Size)]
internal unsafe struct MbufHeader
{
    public const int Size = 128;

    [FieldOffset(0)] public byte* BufAddr;
    [FieldOffset(8)] public ulong BufIova;
    [FieldOffset(16)] public ushort DataOff;
    [FieldOffset(18)] public ushort RefCnt;
    [FieldOffset(20)] public ushort NbSegs;
    [FieldOffset(22)] public ushort Port;
    [FieldOffset(24)] public ulong OlFlags;
    [FieldOffset(32)] public uint PacketType;
    [FieldOffset(36)] public uint PktLen;
    [FieldOffset(40)] public ushort DataLen;
    [FieldOffset(42)] public ushort VlanTci;
    [FieldOffset(44)] public uint RssHash;
    [FieldOffset(48)] public ushort BufLen;
    [FieldOffset(50)] public ushort PoolId;
    [FieldOffset(52)] public ushort Headroom;
    [FieldOffset(56)] public MbufHeader* Next;

    // Second cache line.
    [FieldOffset(64)] public ulong TxOffload;
    [FieldOffset(72)] public ulong UserData;
}
