using Pmd.Interop;
using static Pmd.TestSupport.NativeLayout;
using V = Pmd.Interop.VfioInterop;

namespace Pmd.Vfio.Tests;

/// <summary>The VFIO structs, ioctl numbers and constants we hand to the kernel, against linux/vfio.h as gcc sees it.</summary>
public sealed class LayoutTests
{
    [Fact]
    public void Vfio_structs_match_the_kernel_header()
    {
        var c = Probe(["linux/vfio.h"], new Dictionary<string, string>
        {
            ["group_status"] = "sizeof(struct vfio_group_status)",
            ["group_status.flags"] = "offsetof(struct vfio_group_status, flags)",
            ["device_info"] = "sizeof(struct vfio_device_info)",
            ["device_info.flags"] = "offsetof(struct vfio_device_info, flags)",
            ["device_info.num_regions"] = "offsetof(struct vfio_device_info, num_regions)",
            ["device_info.num_irqs"] = "offsetof(struct vfio_device_info, num_irqs)",
            ["device_info.cap_offset"] = "offsetof(struct vfio_device_info, cap_offset)",
            ["region_info"] = "sizeof(struct vfio_region_info)",
            ["region_info.flags"] = "offsetof(struct vfio_region_info, flags)",
            ["region_info.index"] = "offsetof(struct vfio_region_info, index)",
            ["region_info.cap_offset"] = "offsetof(struct vfio_region_info, cap_offset)",
            ["region_info.size"] = "offsetof(struct vfio_region_info, size)",
            ["region_info.offset"] = "offsetof(struct vfio_region_info, offset)",
            ["irq_info"] = "sizeof(struct vfio_irq_info)",
            ["irq_info.flags"] = "offsetof(struct vfio_irq_info, flags)",
            ["irq_info.index"] = "offsetof(struct vfio_irq_info, index)",
            ["irq_info.count"] = "offsetof(struct vfio_irq_info, count)",
            ["irq_set"] = "sizeof(struct vfio_irq_set)",
            ["irq_set.flags"] = "offsetof(struct vfio_irq_set, flags)",
            ["irq_set.index"] = "offsetof(struct vfio_irq_set, index)",
            ["irq_set.start"] = "offsetof(struct vfio_irq_set, start)",
            ["irq_set.count"] = "offsetof(struct vfio_irq_set, count)",
            ["irq_set.data"] = "offsetof(struct vfio_irq_set, data)",
            ["dma_map"] = "sizeof(struct vfio_iommu_type1_dma_map)",
            ["dma_map.flags"] = "offsetof(struct vfio_iommu_type1_dma_map, flags)",
            ["dma_map.vaddr"] = "offsetof(struct vfio_iommu_type1_dma_map, vaddr)",
            ["dma_map.iova"] = "offsetof(struct vfio_iommu_type1_dma_map, iova)",
            ["dma_map.size"] = "offsetof(struct vfio_iommu_type1_dma_map, size)",
            ["dma_unmap"] = "sizeof(struct vfio_iommu_type1_dma_unmap)",
            ["dma_unmap.flags"] = "offsetof(struct vfio_iommu_type1_dma_unmap, flags)",
            ["dma_unmap.iova"] = "offsetof(struct vfio_iommu_type1_dma_unmap, iova)",
            ["dma_unmap.size"] = "offsetof(struct vfio_iommu_type1_dma_unmap, size)",
        });

        Assert.Equal(c["group_status"], SizeOf<V.GroupStatus>());
        Assert.Equal(c["group_status.flags"], OffsetOf<V.GroupStatus>(nameof(V.GroupStatus.Flags)));

        Assert.Equal(c["device_info"], SizeOf<V.DeviceInfo>());
        Assert.Equal(c["device_info.flags"], OffsetOf<V.DeviceInfo>(nameof(V.DeviceInfo.Flags)));
        Assert.Equal(c["device_info.num_regions"], OffsetOf<V.DeviceInfo>(nameof(V.DeviceInfo.NumRegions)));
        Assert.Equal(c["device_info.num_irqs"], OffsetOf<V.DeviceInfo>(nameof(V.DeviceInfo.NumIrqs)));
        Assert.Equal(c["device_info.cap_offset"], OffsetOf<V.DeviceInfo>(nameof(V.DeviceInfo.CapOffset)));

        Assert.Equal(c["region_info"], SizeOf<V.RegionInfo>());
        Assert.Equal(c["region_info.flags"], OffsetOf<V.RegionInfo>(nameof(V.RegionInfo.Flags)));
        Assert.Equal(c["region_info.index"], OffsetOf<V.RegionInfo>(nameof(V.RegionInfo.Index)));
        Assert.Equal(c["region_info.cap_offset"], OffsetOf<V.RegionInfo>(nameof(V.RegionInfo.CapOffset)));
        Assert.Equal(c["region_info.size"], OffsetOf<V.RegionInfo>(nameof(V.RegionInfo.Size)));
        Assert.Equal(c["region_info.offset"], OffsetOf<V.RegionInfo>(nameof(V.RegionInfo.Offset)));

        Assert.Equal(c["irq_info"], SizeOf<V.IrqInfo>());
        Assert.Equal(c["irq_info.flags"], OffsetOf<V.IrqInfo>(nameof(V.IrqInfo.Flags)));
        Assert.Equal(c["irq_info.index"], OffsetOf<V.IrqInfo>(nameof(V.IrqInfo.Index)));
        Assert.Equal(c["irq_info.count"], OffsetOf<V.IrqInfo>(nameof(V.IrqInfo.Count)));

        // The eventfds go right after the header, so the header size must be where data[] starts.
        Assert.Equal(c["irq_set"], SizeOf<V.IrqSet>());
        Assert.Equal(c["irq_set.data"], SizeOf<V.IrqSet>());
        Assert.Equal(c["irq_set.flags"], OffsetOf<V.IrqSet>(nameof(V.IrqSet.Flags)));
        Assert.Equal(c["irq_set.index"], OffsetOf<V.IrqSet>(nameof(V.IrqSet.Index)));
        Assert.Equal(c["irq_set.start"], OffsetOf<V.IrqSet>(nameof(V.IrqSet.Start)));
        Assert.Equal(c["irq_set.count"], OffsetOf<V.IrqSet>(nameof(V.IrqSet.Count)));

        Assert.Equal(c["dma_map"], SizeOf<V.DmaMap>());
        Assert.Equal(c["dma_map.flags"], OffsetOf<V.DmaMap>(nameof(V.DmaMap.Flags)));
        Assert.Equal(c["dma_map.vaddr"], OffsetOf<V.DmaMap>(nameof(V.DmaMap.VirtualAddress)));
        Assert.Equal(c["dma_map.iova"], OffsetOf<V.DmaMap>(nameof(V.DmaMap.Iova)));
        Assert.Equal(c["dma_map.size"], OffsetOf<V.DmaMap>(nameof(V.DmaMap.Size)));

        Assert.Equal(c["dma_unmap"], SizeOf<V.DmaUnmap>());
        Assert.Equal(c["dma_unmap.flags"], OffsetOf<V.DmaUnmap>(nameof(V.DmaUnmap.Flags)));
        Assert.Equal(c["dma_unmap.iova"], OffsetOf<V.DmaUnmap>(nameof(V.DmaUnmap.Iova)));
        Assert.Equal(c["dma_unmap.size"], OffsetOf<V.DmaUnmap>(nameof(V.DmaUnmap.Size)));
    }

    [Fact]
    public void Vfio_ioctl_numbers_match_the_kernel_header()
    {
        var c = Probe(["linux/vfio.h"], new Dictionary<string, string>
        {
            ["VFIO_GET_API_VERSION"] = "VFIO_GET_API_VERSION",
            ["VFIO_CHECK_EXTENSION"] = "VFIO_CHECK_EXTENSION",
            ["VFIO_SET_IOMMU"] = "VFIO_SET_IOMMU",
            ["VFIO_GROUP_GET_STATUS"] = "VFIO_GROUP_GET_STATUS",
            ["VFIO_GROUP_SET_CONTAINER"] = "VFIO_GROUP_SET_CONTAINER",
            ["VFIO_GROUP_UNSET_CONTAINER"] = "VFIO_GROUP_UNSET_CONTAINER",
            ["VFIO_GROUP_GET_DEVICE_FD"] = "VFIO_GROUP_GET_DEVICE_FD",
            ["VFIO_DEVICE_GET_INFO"] = "VFIO_DEVICE_GET_INFO",
            ["VFIO_DEVICE_GET_REGION_INFO"] = "VFIO_DEVICE_GET_REGION_INFO",
            ["VFIO_DEVICE_GET_IRQ_INFO"] = "VFIO_DEVICE_GET_IRQ_INFO",
            ["VFIO_DEVICE_SET_IRQS"] = "VFIO_DEVICE_SET_IRQS",
            ["VFIO_DEVICE_RESET"] = "VFIO_DEVICE_RESET",
            ["VFIO_IOMMU_MAP_DMA"] = "VFIO_IOMMU_MAP_DMA",
            ["VFIO_IOMMU_UNMAP_DMA"] = "VFIO_IOMMU_UNMAP_DMA",
        });
        Assert.Equal((long)V.VFIO_GET_API_VERSION, c["VFIO_GET_API_VERSION"]);
        Assert.Equal((long)V.VFIO_CHECK_EXTENSION, c["VFIO_CHECK_EXTENSION"]);
        Assert.Equal((long)V.VFIO_SET_IOMMU, c["VFIO_SET_IOMMU"]);
        Assert.Equal((long)V.VFIO_GROUP_GET_STATUS, c["VFIO_GROUP_GET_STATUS"]);
        Assert.Equal((long)V.VFIO_GROUP_SET_CONTAINER, c["VFIO_GROUP_SET_CONTAINER"]);
        Assert.Equal((long)V.VFIO_GROUP_UNSET_CONTAINER, c["VFIO_GROUP_UNSET_CONTAINER"]);
        Assert.Equal((long)V.VFIO_GROUP_GET_DEVICE_FD, c["VFIO_GROUP_GET_DEVICE_FD"]);
        Assert.Equal((long)V.VFIO_DEVICE_GET_INFO, c["VFIO_DEVICE_GET_INFO"]);
        Assert.Equal((long)V.VFIO_DEVICE_GET_REGION_INFO, c["VFIO_DEVICE_GET_REGION_INFO"]);
        Assert.Equal((long)V.VFIO_DEVICE_GET_IRQ_INFO, c["VFIO_DEVICE_GET_IRQ_INFO"]);
        Assert.Equal((long)V.VFIO_DEVICE_SET_IRQS, c["VFIO_DEVICE_SET_IRQS"]);
        Assert.Equal((long)V.VFIO_DEVICE_RESET, c["VFIO_DEVICE_RESET"]);
        Assert.Equal((long)V.VFIO_IOMMU_MAP_DMA, c["VFIO_IOMMU_MAP_DMA"]);
        Assert.Equal((long)V.VFIO_IOMMU_UNMAP_DMA, c["VFIO_IOMMU_UNMAP_DMA"]);
    }

    [Fact]
    public void Vfio_constants_and_flags_match_the_kernel_header()
    {
        var c = Probe(["linux/vfio.h"], new Dictionary<string, string>
        {
            ["VFIO_API_VERSION"] = "VFIO_API_VERSION",
            ["VFIO_TYPE1v2_IOMMU"] = "VFIO_TYPE1v2_IOMMU",
            ["VFIO_NOIOMMU_IOMMU"] = "VFIO_NOIOMMU_IOMMU",
            ["VFIO_GROUP_FLAGS_VIABLE"] = "VFIO_GROUP_FLAGS_VIABLE",
            ["VFIO_GROUP_FLAGS_CONTAINER_SET"] = "VFIO_GROUP_FLAGS_CONTAINER_SET",
            ["VFIO_DEVICE_FLAGS_RESET"] = "VFIO_DEVICE_FLAGS_RESET",
            ["VFIO_DEVICE_FLAGS_PCI"] = "VFIO_DEVICE_FLAGS_PCI",
            ["VFIO_REGION_INFO_FLAG_READ"] = "VFIO_REGION_INFO_FLAG_READ",
            ["VFIO_REGION_INFO_FLAG_WRITE"] = "VFIO_REGION_INFO_FLAG_WRITE",
            ["VFIO_REGION_INFO_FLAG_MMAP"] = "VFIO_REGION_INFO_FLAG_MMAP",
            ["VFIO_REGION_INFO_FLAG_CAPS"] = "VFIO_REGION_INFO_FLAG_CAPS",
            ["VFIO_IRQ_INFO_EVENTFD"] = "VFIO_IRQ_INFO_EVENTFD",
            ["VFIO_IRQ_INFO_MASKABLE"] = "VFIO_IRQ_INFO_MASKABLE",
            ["VFIO_IRQ_INFO_AUTOMASKED"] = "VFIO_IRQ_INFO_AUTOMASKED",
            ["VFIO_IRQ_INFO_NORESIZE"] = "VFIO_IRQ_INFO_NORESIZE",
            ["VFIO_IRQ_SET_DATA_NONE"] = "VFIO_IRQ_SET_DATA_NONE",
            ["VFIO_IRQ_SET_DATA_BOOL"] = "VFIO_IRQ_SET_DATA_BOOL",
            ["VFIO_IRQ_SET_DATA_EVENTFD"] = "VFIO_IRQ_SET_DATA_EVENTFD",
            ["VFIO_IRQ_SET_ACTION_MASK"] = "VFIO_IRQ_SET_ACTION_MASK",
            ["VFIO_IRQ_SET_ACTION_UNMASK"] = "VFIO_IRQ_SET_ACTION_UNMASK",
            ["VFIO_IRQ_SET_ACTION_TRIGGER"] = "VFIO_IRQ_SET_ACTION_TRIGGER",
            ["VFIO_DMA_MAP_FLAG_READ"] = "VFIO_DMA_MAP_FLAG_READ",
            ["VFIO_DMA_MAP_FLAG_WRITE"] = "VFIO_DMA_MAP_FLAG_WRITE",
            ["VFIO_PCI_BAR0_REGION_INDEX"] = "VFIO_PCI_BAR0_REGION_INDEX",
            ["VFIO_PCI_BAR5_REGION_INDEX"] = "VFIO_PCI_BAR5_REGION_INDEX",
            ["VFIO_PCI_CONFIG_REGION_INDEX"] = "VFIO_PCI_CONFIG_REGION_INDEX",
            ["VFIO_PCI_INTX_IRQ_INDEX"] = "VFIO_PCI_INTX_IRQ_INDEX",
            ["VFIO_PCI_MSI_IRQ_INDEX"] = "VFIO_PCI_MSI_IRQ_INDEX",
            ["VFIO_PCI_MSIX_IRQ_INDEX"] = "VFIO_PCI_MSIX_IRQ_INDEX",
            ["VFIO_PCI_ERR_IRQ_INDEX"] = "VFIO_PCI_ERR_IRQ_INDEX",
            ["VFIO_PCI_REQ_IRQ_INDEX"] = "VFIO_PCI_REQ_IRQ_INDEX",
        });
        Assert.Equal(V.VFIO_API_VERSION, c["VFIO_API_VERSION"]);
        Assert.Equal(V.VFIO_TYPE1v2_IOMMU, c["VFIO_TYPE1v2_IOMMU"]);
        Assert.Equal(V.VFIO_NOIOMMU_IOMMU, c["VFIO_NOIOMMU_IOMMU"]);
        Assert.Equal((long)V.GroupFlags.Viable, c["VFIO_GROUP_FLAGS_VIABLE"]);
        Assert.Equal((long)V.GroupFlags.ContainerSet, c["VFIO_GROUP_FLAGS_CONTAINER_SET"]);
        Assert.Equal((long)V.DeviceFlags.Reset, c["VFIO_DEVICE_FLAGS_RESET"]);
        Assert.Equal((long)V.DeviceFlags.Pci, c["VFIO_DEVICE_FLAGS_PCI"]);
        Assert.Equal((long)V.RegionFlags.Read, c["VFIO_REGION_INFO_FLAG_READ"]);
        Assert.Equal((long)V.RegionFlags.Write, c["VFIO_REGION_INFO_FLAG_WRITE"]);
        Assert.Equal((long)V.RegionFlags.Mmap, c["VFIO_REGION_INFO_FLAG_MMAP"]);
        Assert.Equal((long)V.RegionFlags.Caps, c["VFIO_REGION_INFO_FLAG_CAPS"]);
        Assert.Equal((long)V.IrqInfoFlags.EventFd, c["VFIO_IRQ_INFO_EVENTFD"]);
        Assert.Equal((long)V.IrqInfoFlags.Maskable, c["VFIO_IRQ_INFO_MASKABLE"]);
        Assert.Equal((long)V.IrqInfoFlags.AutoMasked, c["VFIO_IRQ_INFO_AUTOMASKED"]);
        Assert.Equal((long)V.IrqInfoFlags.NoResize, c["VFIO_IRQ_INFO_NORESIZE"]);
        Assert.Equal((long)V.IrqSetFlags.DataNone, c["VFIO_IRQ_SET_DATA_NONE"]);
        Assert.Equal((long)V.IrqSetFlags.DataBool, c["VFIO_IRQ_SET_DATA_BOOL"]);
        Assert.Equal((long)V.IrqSetFlags.DataEventFd, c["VFIO_IRQ_SET_DATA_EVENTFD"]);
        Assert.Equal((long)V.IrqSetFlags.ActionMask, c["VFIO_IRQ_SET_ACTION_MASK"]);
        Assert.Equal((long)V.IrqSetFlags.ActionUnmask, c["VFIO_IRQ_SET_ACTION_UNMASK"]);
        Assert.Equal((long)V.IrqSetFlags.ActionTrigger, c["VFIO_IRQ_SET_ACTION_TRIGGER"]);
        Assert.Equal((long)V.DmaMapFlags.Read, c["VFIO_DMA_MAP_FLAG_READ"]);
        Assert.Equal((long)V.DmaMapFlags.Write, c["VFIO_DMA_MAP_FLAG_WRITE"]);
        Assert.Equal(V.VFIO_PCI_BAR0_REGION_INDEX, c["VFIO_PCI_BAR0_REGION_INDEX"]);
        Assert.Equal(V.VFIO_PCI_BAR5_REGION_INDEX, c["VFIO_PCI_BAR5_REGION_INDEX"]);
        Assert.Equal(V.VFIO_PCI_CONFIG_REGION_INDEX, c["VFIO_PCI_CONFIG_REGION_INDEX"]);
        Assert.Equal(V.VFIO_PCI_INTX_IRQ_INDEX, c["VFIO_PCI_INTX_IRQ_INDEX"]);
        Assert.Equal(V.VFIO_PCI_MSI_IRQ_INDEX, c["VFIO_PCI_MSI_IRQ_INDEX"]);
        Assert.Equal(V.VFIO_PCI_MSIX_IRQ_INDEX, c["VFIO_PCI_MSIX_IRQ_INDEX"]);
        Assert.Equal(V.VFIO_PCI_ERR_IRQ_INDEX, c["VFIO_PCI_ERR_IRQ_INDEX"]);
        Assert.Equal(V.VFIO_PCI_REQ_IRQ_INDEX, c["VFIO_PCI_REQ_IRQ_INDEX"]);
    }

    [Fact]
    public void Pci_config_registers_match_the_kernel_header()
    {
        var c = Probe(["linux/pci_regs.h"], new Dictionary<string, string>
        {
            ["PCI_VENDOR_ID"] = "PCI_VENDOR_ID",
            ["PCI_DEVICE_ID"] = "PCI_DEVICE_ID",
            ["PCI_COMMAND"] = "PCI_COMMAND",
            ["PCI_COMMAND_MEMORY"] = "PCI_COMMAND_MEMORY",
            ["PCI_COMMAND_MASTER"] = "PCI_COMMAND_MASTER",
        });
        Assert.Equal(PciRegs.PCI_VENDOR_ID, c["PCI_VENDOR_ID"]);
        Assert.Equal(PciRegs.PCI_DEVICE_ID, c["PCI_DEVICE_ID"]);
        Assert.Equal(PciRegs.PCI_COMMAND, c["PCI_COMMAND"]);
        Assert.Equal(PciRegs.PCI_COMMAND_MEMORY, c["PCI_COMMAND_MEMORY"]);
        Assert.Equal(PciRegs.PCI_COMMAND_MASTER, c["PCI_COMMAND_MASTER"]);
    }
}
