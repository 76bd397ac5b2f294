using Pmd.Devargs;

namespace Pmd.VirtioNet;

/// <summary>
/// The devargs keys of the virtio-net drivers, each declared once with its kind, range and default;
/// net_virtio_user and net_virtio (PCI) share the ring keys.
/// </summary>
internal static class VirtioDevArgs
{
    /// <summary>DPDK's virtio-user default.</summary>
    public const int DefaultQueueSize = 256;

    public static readonly DevArgKey QueueSize = new("queue_size", DevArgKind.PowerOfTwo, "descriptors per ring", 2, 32768, $"{DefaultQueueSize}");
    public static readonly DevArgKey InOrder = new("in_order", DevArgKind.Bool, "0: do not negotiate IN_ORDER", Default: "1");
    public static readonly DevArgKey MergeableRxBuffers = new("mrg_rxbuf", DevArgKind.Bool, "0: do not negotiate mergeable RX buffers", Default: "1");
    public static readonly DevArgKey Checksum = new("csum", DevArgKind.Bool, "0: do not negotiate the checksum offloads (CSUM, GUEST_CSUM, and with them TSO)", Default: "1");
    public static readonly DevArgKey Tso = new("tso", DevArgKind.Bool, "0: do not negotiate TSO and large receive (HOST_TSO4/6, GUEST_TSO4/6)", Default: "1");
    public static readonly DevArgKey Vectorized = new("vectorized", DevArgKind.Bool, "1: the rings' vectorized path (needs AVX), 0: the scalar one; absent: vectorized when the CPU has AVX");

    /// <summary>The <see cref="Vectorized"/> key: true or false when given, null (choose from the CPU) when absent.</summary>
    public static bool? GetVectorized(DevArgs args) => args.Has(Vectorized.Name) ? args.GetBool(Vectorized) : null;

    public static readonly DevArgKey Path = new("path", DevArgKind.Path, "the vhost-user socket");
    public static readonly DevArgKey Server = new("server", DevArgKind.Bool, "1: listen on path and let the backend connect", Default: "0");
    public static readonly DevArgKey Queues = new("queues", DevArgKind.Integer, "queue pairs the device offers", 1, 16, "1");
    public static readonly DevArgKey Mac = new("mac", DevArgKind.Mac, "the port's MAC address");
    public static readonly DevArgKey PackedRing = new("packed_vq", DevArgKind.Bool, "1: use packed rings", Default: "0");
    public static readonly DevArgKey Standby = new("standby", DevArgKind.Bool, "1: offer VIRTIO_NET_F_STANDBY, as QEMU's failover=on", Default: "0");
}
