namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>How to reach a vhost-user backend.</summary>
public sealed class VhostUserOptions
{
    /// <summary>The Unix socket path. Required.</summary>
    public required string Path { get; init; }

    /// <summary>Listen on the path and let the backend connect (DPDK's server=1), instead of connecting.</summary>
    public bool Server { get; init; }

    /// <summary>Queue pairs offered to the driver (virtio's max_virtqueue_pairs). Default 1.</summary>
    public int QueuePairs { get; init; } = 1;

    /// <summary>The MAC address the device reports; a random locally administered one when null.</summary>
    public byte[]? Mac { get; init; }

    /// <summary>Offer VIRTIO_NET_F_STANDBY, as QEMU's failover=on does, so a failover port can pair over this one.</summary>
    public bool Standby { get; init; }

    /// <summary>How long to wait for a reply, or for a backend to connect in server mode. Default 10 s.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);
}
