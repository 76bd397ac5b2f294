using Pmd.Devargs;
using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>net_failover: "net_failover0,standby=PORT" creates a failover port over an attached standby port.</summary>
public sealed class FailoverDriver : PmdDriver
{
    public static FailoverDriver Instance { get; } = new();

    public static void Register(DriverRegistry? drivers = null)
    {
        FailoverTelemetry.Register();
        (drivers ?? DriverRegistry.Default).Register(Instance);
    }

    public override string Name => "net_failover";

    public override IReadOnlyList<DevArgKey> Keys { get; } =
    [
        new("standby", DevArgKind.Integer, "port id of the standby (virtio) port", 0, PortRegistry.MaxPorts - 1),
    ];

    public override EthPort Probe(DevArgs args, PortRegistry registry)
    {
        string id = args.Get("standby") ?? throw new DevArgsException($"{args.Name}: 'standby=' is required (the port id of the virtio standby port)");
        ushort portId = ushort.Parse(id);
        if (!registry.TryGet(portId, out var standby))
            throw new DevArgsException($"{args.Name}: standby port {portId} does not exist");
        if (registry.GetOwner(portId) is { } owner)
            throw new DevArgsException($"{args.Name}: standby port {portId} is owned by {owner.Name}");
        return new FailoverPort(args.Name, standby, registry);
    }
}
