using Pmd.Vfio;

namespace Pmd.VirtioNet.Transport.Pci;

/// <summary>
/// struct virtio_pci_common_cfg, mapped from a BAR: feature words, status, and the per-queue
/// registers behind queue_select. Accessed with volatile loads and stores (it is MMIO).
/// </summary>
internal readonly struct VirtioPciCommonConfig(MmioWindow registers)
{
    private const uint DeviceFeatureSelect = 0, DeviceFeature = 4, DriverFeatureSelect = 8, DriverFeature = 12;
    private const uint MsixConfig = 16, NumQueues = 18, DeviceStatusOffset = 20, ConfigGenerationOffset = 21;
    private const uint QueueSelect = 22, QueueSize = 24, QueueMsixVector = 26, QueueEnable = 28, QueueNotifyOff = 30;
    private const uint QueueDesc = 32, QueueDriver = 40, QueueDevice = 48;

    public const ushort NoVector = 0xFFFF;

    public ulong ReadDeviceFeatures()
    {
        Write32(DeviceFeatureSelect, 0);
        ulong low = Read32(DeviceFeature);
        Write32(DeviceFeatureSelect, 1);
        return low | ((ulong)Read32(DeviceFeature) << 32);
    }

    public void WriteDriverFeatures(ulong features)
    {
        Write32(DriverFeatureSelect, 0);
        Write32(DriverFeature, (uint)features);
        Write32(DriverFeatureSelect, 1);
        Write32(DriverFeature, (uint)(features >> 32));
    }

    public byte Status
    {
        get => registers.Read8(DeviceStatusOffset);
        set => registers.Write8(DeviceStatusOffset, value);
    }

    public byte ConfigGeneration => registers.Read8(ConfigGenerationOffset);

    public ushort QueueCount => Read16(NumQueues);

    /// <summary>Sets the MSI-X vector for config changes; the device answers NoVector when it cannot.</summary>
    public ushort SetConfigVector(ushort vector)
    {
        Write16(MsixConfig, vector);
        return Read16(MsixConfig);
    }

    public void Select(int queue) => Write16(QueueSelect, (ushort)queue);

    public ushort SelectedQueueSize { get => Read16(QueueSize); set => Write16(QueueSize, value); }

    public ushort SetSelectedQueueVector(ushort vector)
    {
        Write16(QueueMsixVector, vector);
        return Read16(QueueMsixVector);
    }

    public ushort SelectedNotifyOffset => Read16(QueueNotifyOff);

    public void SetSelectedQueueAddresses(ulong desc, ulong driver, ulong device)
    {
        Write64(QueueDesc, desc);
        Write64(QueueDriver, driver);
        Write64(QueueDevice, device);
    }

    public bool SelectedQueueEnabled { get => Read16(QueueEnable) == 1; set => Write16(QueueEnable, value ? (ushort)1 : (ushort)0); }

    private ushort Read16(uint offset) => registers.Read16(offset);
    private uint Read32(uint offset) => registers.Read32(offset);
    private void Write16(uint offset, ushort value) => registers.Write16(offset, value);
    private void Write32(uint offset, uint value) => registers.Write32(offset, value);

    // 64-bit fields are written as two 32-bit halves, low first (4.1.3.1: the device accepts either).
    private void Write64(uint offset, ulong value)
    {
        Write32(offset, (uint)value);
        Write32(offset + 4, (uint)(value >> 32));
    }
}
