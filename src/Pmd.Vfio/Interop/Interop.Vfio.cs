using System.Runtime.InteropServices;

namespace Pmd.Interop;

/// <summary>
/// The VFIO user API (linux/vfio.h): ioctl requests on the container, group and device fds, and
/// the argument structs. Every struct starts with argsz, which the caller sets to the size it
/// passes so that the kernel can grow the structs without breaking old callers.
/// </summary>
internal static class VfioInterop
{
    /// <summary>The only API version there has ever been; anything else is a kernel we do not know.</summary>
    internal const int VFIO_API_VERSION = 0;

    // Extensions, as asked with VFIO_CHECK_EXTENSION and set with VFIO_SET_IOMMU.
    internal const int VFIO_TYPE1v2_IOMMU = 3;
    internal const int VFIO_NOIOMMU_IOMMU = 8;

    // VFIO's ioctls carry no size or direction bits: _IO(';', 100 + n).
    private const int IoctlType = ';';
    private const int IoctlBase = 100;
    internal const nuint VFIO_GET_API_VERSION = (IoctlType << 8) | (IoctlBase + 0);
    internal const nuint VFIO_CHECK_EXTENSION = (IoctlType << 8) | (IoctlBase + 1);
    internal const nuint VFIO_SET_IOMMU = (IoctlType << 8) | (IoctlBase + 2);
    internal const nuint VFIO_GROUP_GET_STATUS = (IoctlType << 8) | (IoctlBase + 3);
    internal const nuint VFIO_GROUP_SET_CONTAINER = (IoctlType << 8) | (IoctlBase + 4);
    internal const nuint VFIO_GROUP_UNSET_CONTAINER = (IoctlType << 8) | (IoctlBase + 5);
    internal const nuint VFIO_GROUP_GET_DEVICE_FD = (IoctlType << 8) | (IoctlBase + 6);
    internal const nuint VFIO_DEVICE_GET_INFO = (IoctlType << 8) | (IoctlBase + 7);
    internal const nuint VFIO_DEVICE_GET_REGION_INFO = (IoctlType << 8) | (IoctlBase + 8);
    internal const nuint VFIO_DEVICE_GET_IRQ_INFO = (IoctlType << 8) | (IoctlBase + 9);
    internal const nuint VFIO_DEVICE_SET_IRQS = (IoctlType << 8) | (IoctlBase + 10);
    internal const nuint VFIO_DEVICE_RESET = (IoctlType << 8) | (IoctlBase + 11);
    internal const nuint VFIO_IOMMU_MAP_DMA = (IoctlType << 8) | (IoctlBase + 13);
    internal const nuint VFIO_IOMMU_UNMAP_DMA = (IoctlType << 8) | (IoctlBase + 14);

    // vfio-pci's fixed region indexes: the six BARs, the ROM, then config space.
    internal const int VFIO_PCI_BAR0_REGION_INDEX = 0;
    internal const int VFIO_PCI_BAR5_REGION_INDEX = 5;
    internal const int VFIO_PCI_CONFIG_REGION_INDEX = 7;

    // vfio-pci's fixed interrupt indexes.
    internal const int VFIO_PCI_INTX_IRQ_INDEX = 0;
    internal const int VFIO_PCI_MSI_IRQ_INDEX = 1;
    internal const int VFIO_PCI_MSIX_IRQ_INDEX = 2;
    internal const int VFIO_PCI_ERR_IRQ_INDEX = 3;
    internal const int VFIO_PCI_REQ_IRQ_INDEX = 4;

    [Flags]
    internal enum GroupFlags : uint
    {
        Viable = 1 << 0,
        ContainerSet = 1 << 1,
    }

    [Flags]
    internal enum DeviceFlags : uint
    {
        Reset = 1 << 0,
        Pci = 1 << 1,
    }

    [Flags]
    internal enum RegionFlags : uint
    {
        Read = 1 << 0,
        Write = 1 << 1,
        Mmap = 1 << 2,
        Caps = 1 << 3,
    }

    [Flags]
    internal enum IrqInfoFlags : uint
    {
        EventFd = 1 << 0,
        Maskable = 1 << 1,
        AutoMasked = 1 << 2,
        NoResize = 1 << 3,
    }

    [Flags]
    internal enum IrqSetFlags : uint
    {
        DataNone = 1 << 0,
        DataBool = 1 << 1,
        DataEventFd = 1 << 2,
        ActionMask = 1 << 3,
        ActionUnmask = 1 << 4,
        ActionTrigger = 1 << 5,
    }

    [Flags]
    internal enum DmaMapFlags : uint
    {
        Read = 1 << 0,
        Write = 1 << 1,
    }

    /// <summary>struct vfio_group_status.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct GroupStatus
    {
        public uint ArgSize;
        public GroupFlags Flags;
    }

    /// <summary>struct vfio_device_info.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct DeviceInfo
    {
        public uint ArgSize;
        public DeviceFlags Flags;
        public uint NumRegions;
        public uint NumIrqs;
        public uint CapOffset;
    }

    /// <summary>struct vfio_region_info: Offset is where the region starts in the device fd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct RegionInfo
    {
        public uint ArgSize;
        public RegionFlags Flags;
        public uint Index;
        public uint CapOffset;
        public ulong Size;
        public ulong Offset;
    }

    /// <summary>struct vfio_irq_info.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IrqInfo
    {
        public uint ArgSize;
        public IrqInfoFlags Flags;
        public uint Index;
        public uint Count;
    }

    /// <summary>struct vfio_irq_set without its flexible data[]: the eventfds (s32 each) follow it.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct IrqSet
    {
        public uint ArgSize;
        public IrqSetFlags Flags;
        public uint Index;
        public uint Start;
        public uint Count;
    }

    /// <summary>struct vfio_iommu_type1_dma_map.</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct DmaMap
    {
        public uint ArgSize;
        public DmaMapFlags Flags;
        public ulong VirtualAddress;
        public ulong Iova;
        public ulong Size;
    }

    /// <summary>struct vfio_iommu_type1_dma_unmap without its flexible data[] (only used for dirty bitmaps).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct DmaUnmap
    {
        public uint ArgSize;
        public uint Flags;
        public ulong Iova;
        public ulong Size;
    }
}
