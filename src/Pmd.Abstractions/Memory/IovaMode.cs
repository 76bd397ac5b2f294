namespace Pmd.Memory;

/// <summary>What a device sees as the address of our memory (DPDK's --iova-mode).</summary>
public enum IovaMode
{
    /// <summary>IOVA equals the virtual address: vhost-user, and VFIO with an IOMMU.</summary>
    VirtualAddress,
    /// <summary>IOVA is the physical address from /proc/self/pagemap: VFIO noiommu. Pages are locked.</summary>
    PhysicalAddress,
}
