namespace Pmd.VirtioNet.Net;

/// <summary>
/// The fields of struct virtio_net_config that the driver reads (VIRTIO 5.1.4), each valid only
/// when its feature was negotiated.
/// </summary>
public readonly record struct VirtioNetConfig(byte[]? Mac, ushort? Status, ushort? MaxQueuePairs, ushort? Mtu)
{
    public const ushort LinkUp = 1;
    public const ushort Announce = 2;

    /// <summary>Byte offsets in the config space.</summary>
    public const int MacOffset = 0, StatusOffset = 6, MaxQueuePairsOffset = 8, MtuOffset = 10;
}
