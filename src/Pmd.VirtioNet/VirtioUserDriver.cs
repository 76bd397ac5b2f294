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
        VirtioDevArgs.Path, VirtioDevArgs.Server, VirtioDevArgs.Queues, VirtioDevArgs.QueueSize, VirtioDevArgs.Mac,
        VirtioDevArgs.PackedRing, VirtioDevArgs.InOrder, VirtioDevArgs.MergeableRxBuffers, VirtioDevArgs.Checksum, VirtioDevArgs.Tso, VirtioDevArgs.Vectorized, VirtioDevArgs.Standby,
    ];

    public override EthPort Probe(DevArgs args, PortRegistry registry)
    {
        var transport = new VhostUserTransport(new VhostUserOptions
        {
            Path = args.GetText(VirtioDevArgs.Path) ?? throw new DevArgsException($"{args.Name}: 'path=' is required ({VirtioDevArgs.Path.Help})"),
            Server = args.GetBool(VirtioDevArgs.Server),
            QueuePairs = (int)args.GetInt(VirtioDevArgs.Queues),
            Mac = args.GetText(VirtioDevArgs.Mac) is { } mac ? MacAddress.Parse(mac).ToArray() : null,
            Standby = args.GetBool(VirtioDevArgs.Standby),
        }, registry.LoggerFactory);
        transport.AttachControl(registry.Control);
        try
        {
            return new VirtioNetPort(args.Name, transport, new VirtioNetOptions
            {
                QueueSize = (int)args.GetInt(VirtioDevArgs.QueueSize),
                PackedRing = args.GetBool(VirtioDevArgs.PackedRing),
                InOrder = args.GetBool(VirtioDevArgs.InOrder),
                MergeableRxBuffers = args.GetBool(VirtioDevArgs.MergeableRxBuffers),
                Checksum = args.GetBool(VirtioDevArgs.Checksum),
                Tso = args.GetBool(VirtioDevArgs.Tso),
                Vectorized = VirtioDevArgs.GetVectorized(args),
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
