using System.Runtime.InteropServices;

namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>The 12-byte header of every vhost-user message.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostUserHeader
{
    public const int Size = 12;
    public const uint Version = 0x1;
    public const uint ReplyFlag = 0x4;
    public const uint NeedReply = 0x8;

    public VhostUserRequest Request;
    public uint Flags;
    public uint PayloadSize;
}

/// <summary>struct vhost_vring_state: a ring index and a number (size, base, or enable).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostVringState
{
    public uint Index;
    public uint Num;
}

/// <summary>struct vhost_vring_addr: where the ring's parts are, as front-end virtual addresses.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostVringAddr
{
    public uint Index;
    public uint Flags;
    public ulong DescUserAddr;
    public ulong UsedUserAddr;
    public ulong AvailUserAddr;
    public ulong LogGuestAddr;
}

/// <summary>One region of VHOST_USER_SET_MEM_TABLE; its fd travels in SCM_RIGHTS.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct VhostMemoryRegion
{
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
    public ulong MmapOffset;
}

/// <summary>The memory table: a count, padding, then up to <see cref="MaxRegions"/> regions.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct VhostMemory
{
    public const int MaxRegions = 8;
    public uint RegionCount;
    public uint Padding;
    public fixed byte Regions[MaxRegions * 32];

    public static int SizeFor(int regions) => 8 + regions * sizeof(VhostMemoryRegion);
}

/// <summary>The u64 payload of SET_VRING_KICK/CALL: the ring index, and a flag when no fd is sent.</summary>
internal static class VringFdPayload
{
    public const ulong NoFd = 1UL << 8;
}
