using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.VirtioNet.Transport.VhostUser;

namespace Pmd.VirtioNet;

/// <summary>net_virtio_user: a virtio-net port on a vhost-user socket, with DPDK's devargs.</summary>
public sealed class VirtioUserDriver : PmdDriver
{
    public static VirtioUserDriver Instance { get; } = new();

    /// <summary>Registers net_virtio_user with <paramref name="drivers"/> (the default registry when null).</summary>
    public static void Register(DriverRegistry? drivers = null) => (drivers ?? DriverRegistry.Default).Register(Instance);

    public override string Name => "net_virtio_user";

    public override IReadOnlyList<DevArgKey> Keys { get; } =
    [
        new("path", DevArgKind.Path, "the vhost-user socket"),
        new("server", DevArgKind.Bool, "1: listen on path and let the backend connect"),
        new("queues", DevArgKind.Integer, "queue pairs the device offers", 1, 16),
        new("queue_size", DevArgKind.PowerOfTwo, "descriptors per ring", 2, 32768),
        new("mac", DevArgKind.Mac, "the port's MAC address"),
        new("packed_vq", DevArgKind.Bool, "1: use packed rings"),
        new("in_order", DevArgKind.Bool, "0: do not negotiate IN_ORDER"),
        new("mrg_rxbuf", DevArgKind.Bool, "0: do not negotiate mergeable RX buffers"),
        new("standby", DevArgKind.Bool, "1: offer VIRTIO_NET_F_STANDBY, as QEMU's failover=on"),
    ];

    public override EthPort Probe(DevArgs args, PortRegistry registry)
    {
        string path = args.Get("path") ?? throw new DevArgsException($"{args.Name}: 'path=' is required (the vhost-user socket)");
        var transport = new VhostUserTransport(new VhostUserOptions
        {
            Path = path,
            Server = args.Get("server") == "1",
            QueuePairs = int.Parse(args.Get("queues") ?? "1"),
            Mac = args.Get("mac") is { } mac ? MacAddress.Parse(mac).ToArray() : null,
            Standby = args.Get("standby") == "1",
        }, registry.LoggerFactory);
        transport.AttachControl(registry.Control);
        try
        {
            return new VirtioNetPort(args.Name, transport, new VirtioNetOptions
            {
                QueueSize = int.Parse(args.Get("queue_size") ?? "256"),
                PackedRing = args.Get("packed_vq") == "1",
                InOrder = args.Get("in_order") != "0",
                MergeableRxBuffers = args.Get("mrg_rxbuf") != "0",
                LoggerFactory = registry.LoggerFactory,
            });
        }
        catch
        {
            transport.Dispose();
            throw;
        }
    }
}
