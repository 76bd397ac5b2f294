using Microsoft.Extensions.Logging;
using Pmd.Devargs;
using Pmd.Threading;

namespace Pmd.Ethdev;

/// <summary>
/// Hands out port ids and keeps DPDK's owner and event APIs. An owned port is hidden from
/// <see cref="Ports"/> so that applications leave it alone (a failover port owns its primary).
/// Events are queued from any thread and delivered in order on the <see cref="Control"/> thread.
/// </summary>
public sealed class PortRegistry : IDisposable
{
    public const ushort InvalidPortId = ushort.MaxValue;
    public const int MaxPorts = 256;
    public const ulong NoOwner = 0;

    private readonly Lock _lock = new();
    private readonly EthPort?[] _ports = new EthPort?[MaxPorts];
    private readonly PortOwner[] _owners = new PortOwner[MaxPorts];
    private readonly Dictionary<ulong, string> _ownerNames = [];
    private readonly List<Subscription> _subscriptions = [];
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ILogger _log;
    private ulong _nextOwner = 1;

    /// <param name="drivers">The drivers <see cref="Attach(string)"/> resolves; <see cref="DriverRegistry.Default"/> if null.</param>
    /// <param name="loggerFactory">
    /// Where the registry and the ports its drivers make log; null means <see cref="PmdLogging.Factory"/>
    /// (read each time a logger is made, so setting it later still counts).
    /// </param>
    public PortRegistry(DriverRegistry? drivers = null, ILoggerFactory? loggerFactory = null)
    {
        Drivers = drivers ?? DriverRegistry.Default;
        _loggerFactory = loggerFactory;
        _log = LoggerFactory.CreateLogger("Pmd.PortRegistry");
        Control = new ControlThread(loggerFactory: loggerFactory);
    }

    public DriverRegistry Drivers { get; }

    /// <summary>
    /// The factory the registry logs through, and that drivers make their ports' loggers from:
    /// the one given to the constructor, else <see cref="PmdLogging.Factory"/>.
    /// </summary>
    public ILoggerFactory LoggerFactory => _loggerFactory ?? PmdLogging.Factory;

    /// <summary>The thread that runs event callbacks and device interrupts.</summary>
    public ControlThread Control { get; }

    /// <summary>Ports that no owner has claimed: what an application should iterate.</summary>
    public IReadOnlyList<EthPort> Ports
    {
        get
        {
            lock (_lock)
                return [.. _ports.Where((p, i) => p is not null && _owners[i].Id == NoOwner).Select(p => p!)];
        }
    }

    /// <summary>Every attached port, owned or not (for tools like "show port summary").</summary>
    public IReadOnlyList<EthPort> AllPorts
    {
        get
        {
            lock (_lock) return [.. _ports.Where(p => p is not null).Select(p => p!)];
        }
    }

    /// <summary>Creates a port from a devargs string through its driver, and attaches it.</summary>
    public EthPort Attach(string devargs) => Attach(DevArgs.Parse(devargs));

    public EthPort Attach(DevArgs args)
    {
        var driver = Drivers.Resolve(args);
        var port = driver.Probe(args, this);
        try
        {
            Add(port);
        }
        catch
        {
            port.Close();
            throw;
        }
        return port;
    }

    /// <summary>Gives <paramref name="port"/> the lowest free id and announces it with a New event.</summary>
    public ushort Add(EthPort port)
    {
        ushort id;
        lock (_lock)
        {
            if (_ports.Any(p => p is not null && p.Name == port.Name))
                throw new InvalidOperationException($"a port named {port.Name} is already attached");
            int free = Array.IndexOf(_ports, null);
            if (free < 0) throw new InvalidOperationException($"all {MaxPorts} port ids are in use");
            id = (ushort)free;
            _ports[id] = port;
            _owners[id] = default;
            port.PortId = id;
            port.Registry = this;
        }
        AbstractionsLog.PortAttached(_log, id, port.Name);
        Raise(id, PortEventType.New, port.Name);
        return id;
    }

    /// <summary>Closes the port, frees its id and announces a Destroy event.</summary>
    public void Detach(ushort portId)
    {
        var port = Get(portId);
        port.Close();
        lock (_lock)
        {
            if (_ports[portId] != port) return;
            _ports[portId] = null;
            _owners[portId] = default;
        }
        AbstractionsLog.PortDetached(_log, portId, port.Name);
        Raise(portId, PortEventType.Destroy, port.Name);
    }

    public EthPort Get(ushort portId) =>
        TryGet(portId, out var port) ? port : throw new ArgumentException($"port {portId} does not exist", nameof(portId));

    public bool TryGet(ushort portId, out EthPort port)
    {
        lock (_lock) port = portId < MaxPorts ? _ports[portId]! : null!;
        return port is not null;
    }

    public EthPort? FindByName(string name)
    {
        lock (_lock) return _ports.FirstOrDefault(p => p?.Name == name);
    }

    // ---- Owner API (rte_eth_dev_owner_*) ----

    /// <summary>A new owner id, never 0 (<see cref="NoOwner"/>).</summary>
    public ulong NewOwner(string name)
    {
        lock (_lock)
        {
            ulong id = _nextOwner++;
            _ownerNames[id] = name;
            return id;
        }
    }

    /// <summary>Claims the port for <paramref name="owner"/>; false if another owner holds it or it is gone.</summary>
    public bool TrySetOwner(ushort portId, ulong owner)
    {
        lock (_lock)
        {
            if (!_ownerNames.ContainsKey(owner)) throw new ArgumentException($"owner id {owner} was never issued", nameof(owner));
            if (portId >= MaxPorts || _ports[portId] is null) return false;
            ulong current = _owners[portId].Id;
            if (current != NoOwner && current != owner) return false;
            _owners[portId] = new PortOwner(owner);
            return true;
        }
    }

    public void SetOwner(ushort portId, ulong owner)
    {
        if (!TrySetOwner(portId, owner))
        {
            var holder = GetOwner(portId);
            throw new InvalidOperationException(holder is { } h
                ? $"port {portId} is owned by {h.Name} (owner {h.Id})"
                : $"port {portId} does not exist");
        }
    }

    /// <summary>Releases the port if <paramref name="owner"/> holds it; false otherwise.</summary>
    public bool UnsetOwner(ushort portId, ulong owner)
    {
        lock (_lock)
        {
            if (portId >= MaxPorts || _owners[portId].Id != owner) return false;
            _owners[portId] = default;
            return true;
        }
    }

    /// <summary>The owner of the port, or null when it has none.</summary>
    public (ulong Id, string Name)? GetOwner(ushort portId)
    {
        lock (_lock)
        {
            if (portId >= MaxPorts) return null;
            ulong id = _owners[portId].Id;
            return id == NoOwner ? null : (id, _ownerNames[id]);
        }
    }

    // ---- Events (rte_eth_dev_callback_*) ----

    /// <summary>
    /// Calls <paramref name="callback"/> on the control thread for each <paramref name="type"/> event,
    /// of one port or of all (<see cref="InvalidPortId"/>). Dispose the result to unsubscribe.
    /// </summary>
    public IDisposable Subscribe(PortEventType type, Action<PortEvent> callback, ushort portId = InvalidPortId)
    {
        var sub = new Subscription(this, type, portId, callback);
        lock (_lock) _subscriptions.Add(sub);
        return sub;
    }

    /// <summary>Queues an event for delivery on the control thread; callable from any thread.</summary>
    public void Raise(ushort portId, PortEventType type, string? detail = null)
    {
        var ev = new PortEvent(portId, type, detail);
        Control.Post(() => Dispatch(ev));
    }

    private void Dispatch(PortEvent ev)
    {
        Subscription[] targets;
        lock (_lock) targets = [.. _subscriptions.Where(s => s.Type == ev.Type && (s.PortId == InvalidPortId || s.PortId == ev.PortId))];
        foreach (var s in targets)
        {
            try { s.Callback(ev); }
            catch (Exception e) { AbstractionsLog.EventCallbackFailed(_log, e, ev); }
        }
    }

    public void Dispose()
    {
        foreach (var port in AllPorts)
        {
            try { port.Close(); }
            catch (Exception e) { AbstractionsLog.PortCloseFailed(_log, e, port); }
        }
        Control.Dispose();
    }

    private readonly record struct PortOwner(ulong Id);

    private sealed class Subscription(PortRegistry registry, PortEventType type, ushort portId, Action<PortEvent> callback) : IDisposable
    {
        public PortEventType Type { get; } = type;
        public ushort PortId { get; } = portId;
        public Action<PortEvent> Callback { get; } = callback;

        public void Dispose()
        {
            lock (registry._lock) registry._subscriptions.Remove(this);
        }
    }
}
