using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>
/// Creates a failover port over every standby port that appears, as the kernel's net_failover
/// does for a virtio-net device with STANDBY: no configuration from the guest's admin. The new
/// failover port is named net_failover_&lt;standby name&gt; and announced with a New event.
/// </summary>
public sealed class FailoverAutoAttach : IDisposable
{
    private readonly PortRegistry _registry;
    private readonly IDisposable _subscription;
    private readonly ILogger _log;
    // Standby port id -> the failover port made over it (control thread only).
    private readonly Dictionary<ushort, FailoverPort> _made = [];

    private FailoverAutoAttach(PortRegistry registry)
    {
        FailoverTelemetry.Register();
        _registry = registry;
        _log = registry.LoggerFactory.CreateLogger("Pmd.Failover");
        _subscription = registry.Subscribe(PortEventType.New, e => { if (registry.TryGet(e.PortId, out var p)) Consider(p); });
        registry.Control.Post(() => { foreach (var p in registry.Ports) Consider(p); });
    }

    /// <summary>Starts watching <paramref name="registry"/>; dispose to stop creating new failover ports.</summary>
    public static FailoverAutoAttach Enable(PortRegistry registry) => new(registry);

    /// <summary>
    /// The port an application should forward on for <paramref name="attached"/>, a port it has just
    /// attached: the failover port over it when it is a standby (made now, if its New event has not
    /// been handled yet), else the port itself. Runs on the control thread and waits for it.
    /// </summary>
    public EthPort ForwardingPortFor(EthPort attached)
    {
        EthPort result = attached;
        _registry.Control.Invoke(() =>
        {
            Consider(attached);
            if (_made.TryGetValue(attached.PortId, out var failover) && failover.Standby == attached) result = failover;
        });
        return result;
    }

    private void Consider(EthPort port)
    {
        if (!port.IsFailoverStandby || _registry.GetOwner(port.PortId) is not null) return;
        try
        {
            var failover = new FailoverPort($"net_failover_{port.Name}", port, _registry);
            _registry.Add(failover);
            _made[port.PortId] = failover;
            FailoverLog.AutoAttached(_log, failover.Name, port.PortId);
        }
        catch (Exception e)
        {
            FailoverLog.AutoAttachFailed(_log, e, port.PortId);
        }
    }

    public void Dispose() => _subscription.Dispose();
}
