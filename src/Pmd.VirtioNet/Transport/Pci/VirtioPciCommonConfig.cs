namespace Pmd.VirtioNet.Transport.Pci;

/// <summary>
/// struct virtio_pci_common_cfg, mapped from a BAR: feature words, status, and the per-queue
/// registers behind queue_select. Accessed with volatile loads and stores (it is MMIO).
/// </summary>
internal readonly unsafe struct VirtioPciCommonConfig(byte* bar)
{
    private const int DeviceFeatureSelect = 0, DeviceFeature = 4, DriverFeatureSelect = 8, DriverFeature = 12;
    private const int MsixConfig = 16, NumQueues = 18, DeviceStatusOffset = 20, ConfigGenerationOffset = 21;
    private const int QueueSelect = 22, QueueSize = 24, QueueMsixVector = 26, QueueEnable = 28, QueueNotifyOff = 30;
    private const int QueueDesc = 32, QueueDriver = 40, QueueDevice = 48;

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
        get => Volatile.Read(ref bar[DeviceStatusOffset]);
        set => Volatile.Write(ref bar[DeviceStatusOffset], value);
    }

    public byte ConfigGeneration => Volatile.Read(ref bar[ConfigGenerationOffset]);

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

    private ushort Read16(int offset) => Volatile.Read(ref *(ushort*)(bar + offset));
    private uint Read32(int offset) => Volatile.Read(ref *(uint*)(bar + offset));
    private void Write16(int offset, ushort value) => Volatile.Write(ref *(ushort*)(bar + offset), value);
    private void Write32(int offset, uint value) => Volatile.Write(ref *(uint*)(bar + offset), value);

    // 64-bit fields are written as two 32-bit halves, low first (4.1.3.1: the device accepts either).
    private void Write64(int offset, ulong value)
    {
        Write32(offset, (uint)value);
        Write32(offset + 4, (uint)(value >> 32));
    }
}
