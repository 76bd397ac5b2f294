using Pmd.Interop;

namespace Pmd.Vfio;

/// <summary>
/// One region of a VFIO device (a BAR, the ROM, config space): its size, where it starts in the
/// device fd, and what may be done with it.
/// </summary>
public sealed record VfioRegionInfo(int Index, ulong Size, ulong Offset, uint Flags)
{
    public bool CanMmap => (Flags & (uint)VfioInterop.RegionFlags.Mmap) != 0;

    public bool CanRead => (Flags & (uint)VfioInterop.RegionFlags.Read) != 0;

    public bool CanWrite => (Flags & (uint)VfioInterop.RegionFlags.Write) != 0;
}
