namespace Pmd.Interop;

/// <summary>The few PCI configuration-space registers we touch (linux/pci_regs.h).</summary>
internal static class PciRegs
{
    internal const int PCI_VENDOR_ID = 0x00;
    internal const int PCI_DEVICE_ID = 0x02;
    internal const int PCI_COMMAND = 0x04;

    /// <summary>The device answers memory-space accesses (its MMIO BARs).</summary>
    internal const ushort PCI_COMMAND_MEMORY = 0x2;

    /// <summary>The device may issue DMA: without it, virtqueue and descriptor reads never happen.</summary>
    internal const ushort PCI_COMMAND_MASTER = 0x4;
}
