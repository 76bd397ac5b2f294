namespace Pmd.VirtioNet.Transport;

/// <summary>
/// Device status bits (VIRTIO 2.1): written to the common config by virtio-pci, sent with
/// SET_STATUS by vhost-user.
/// </summary>
internal static class DeviceStatus
{
    public const byte Acknowledge = 1;
    public const byte Driver = 2;
    public const byte DriverOk = 4;
    public const byte FeaturesOk = 8;
    public const byte NeedsReset = 64;
    public const byte Failed = 128;
}
