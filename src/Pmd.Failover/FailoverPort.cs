using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Failover;

/// <summary>
/// One port to the application over a standby port (virtio with STANDBY) and, when there is one,
/// the primary that has the same MAC (a passed-through VF). It owns both through the owner API, so
/// applications see only this port. TX goes to the primary while it is attached, started and up;
/// RX polls the primary, then the standby. When the primary goes down, is removed, or the
/// hypervisor asks for it, TX moves to the standby first; the primary is released once no burst
/// can still be using it. A new port with the MAC is paired again without the application's help.
/// </summary>
public sealed class FailoverPort : EthPort
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(5);
    private readonly EthPort _standby;
    private readonly PortRegistry _registry;
    private readonly ulong _owner;
    private readonly ILogger _log = PmdLogging.CreateLogger("Pmd.Failover");
    private readonly List<IDisposable> _subscriptions = [];
    private readonly Lock _controlLock = new();
    private QuiescentGuard _rxGuard = new(1);
    private QuiescentGuard _txGuard = new(1);
    // Datapath views of the primary: read once per burst.
    private EthPort? _rxPrimary;
    private EthPort? _txPrimary;
    private EthPort? _primary;
    private FailoverState _state = FailoverState.StandbyOnly;
    private FailoverCounters _counters;
    private PortStats _retiredStats;

    /// <summary>Creates the failover port over <paramref name="standby"/>, which it claims.</summary>
    public FailoverPort(string name, EthPort standby, PortRegistry registry) : base(name)
    {
        _standby = standby;
        _registry = registry;
        _owner = registry.NewOwner(name);
        if (!registry.TrySetOwner(standby.PortId, _owner))
            throw new InvalidOperationException($"{name}: standby port {standby.PortId} is owned by someone else");
        _subscriptions.Add(registry.Subscribe(PortEventType.New, OnNewPort));
        _subscriptions.Add(registry.Subscribe(PortEventType.LinkStateChange, e => OnPrimaryTrouble(e, "link down")));
        _subscriptions.Add(registry.Subscribe(PortEventType.Removal, e => OnPrimaryTrouble(e, "removal")));
        _subscriptions.Add(registry.Subscribe(PortEventType.DeviceRequest, e => OnPrimaryTrouble(e, "device request")));
        _subscriptions.Add(registry.Subscribe(PortEventType.LinkStateChange, OnStandbyLink, standby.PortId));
        // Existing ports are considered on the control thread, like NEW events.
        registry.Control.Post(ScanForPrimary);
    }

    public EthPort Standby => _standby;

    /// <summary>The paired primary, or null.</summary>
    public EthPort? Primary => _primary;

    public FailoverState FailoverState => _state;

    public override MacAddress MacAddress => _standby.MacAddress;

    public override LinkStatus Link => _txPrimary?.Link is { Up: true } l ? l : _standby.Link;

    public override PortInfo Info
    {
        get
        {
            var standby = _standby.Info;
            var primary = _primary;
            return standby with
            {
                DriverName = "net_failover",
                Details =
                [
                    new("failover state", _state.ToString()),
                    new("standby", $"port {_standby.PortId} ({_standby.Name})"),
                    new("primary", primary is null ? "none" : $"port {primary.PortId} ({primary.Name})"),
                    new("tx on", _txPrimary is { } p ? $"primary port {p.PortId}" : $"standby port {_standby.PortId}"),
                ],
            };
        }
    }

    public override int RxBurst(int queue, Span<Mbuf> mbufs)
    {
        int n = 0;
        var guard = _rxGuard;
        if ((uint)queue >= (uint)guard.Queues) return 0;
        guard.Enter(queue);
        var primary = Volatile.Read(ref _rxPrimary);
        if (primary is not null) n = primary.RxBurst(queue, mbufs);
        guard.Exit(queue);
        if (n < mbufs.Length) n += _standby.RxBurst(queue, mbufs[n..]);
        ushort port = PortId;
        for (int i = 0; i < n; i++) mbufs[i].Port = port;
        return n;
    }

    public override int TxBurst(int queue, Span<Mbuf> mbufs)
    {
        var guard = _txGuard;
        if ((uint)queue >= (uint)guard.Queues) return 0;
        guard.Enter(queue);
        var primary = Volatile.Read(ref _txPrimary);
        if (primary is not null)
        {
            int n = primary.TxBurst(queue, mbufs);
            guard.Exit(queue);
            return n;
        }
        guard.Exit(queue);
        return _standby.TxBurst(queue, mbufs);
    }

    /// <summary>Cleans up on whichever port TX uses now; inside the TX guard, so a release waits for it as for a burst.</summary>
    public override int TxDoneCleanup(int queue)
    {
        var guard = _txGuard;
        if ((uint)queue >= (uint)guard.Queues) return 0;
        guard.Enter(queue);
        var target = Volatile.Read(ref _txPrimary) ?? _standby;
        int held = target.TxDoneCleanup(queue);
        guard.Exit(queue);
        return held;
    }

    protected override void OnConfigure(PortConfig config)
    {
        _standby.Configure(config.Clone());
        _rxGuard = new QuiescentGuard(config.RxQueues);
        _txGuard = new QuiescentGuard(config.TxQueues);
    }

    protected override void OnStart()
    {
        _standby.Start();
        _registry.Control.Post(() =>
        {
            if (_primary is { } p) ActivatePrimary(p);
            else ScanForPrimary();
        });
    }

    protected override void OnStop()
    {
        _registry.Control.Invoke(() =>
        {
            if (_primary is { } p) Unpublish(p, "port stopped");
            _primary?.Stop();
        });
        _standby.Stop();
    }

    protected override void OnClose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        _registry.Control.Invoke(() =>
        {
            if (_primary is { } p) Release(p, "failover port closed", Stopwatch.StartNew());
        });
        _registry.UnsetOwner(_standby.PortId, _owner);
    }

    protected override void OnSetPromiscuous(bool enabled)
    {
        _standby.SetPromiscuous(enabled);
        _primary?.SetPromiscuous(enabled);
    }

    protected override void OnSetAllMulticast(bool enabled)
    {
        _standby.SetAllMulticast(enabled);
        _primary?.SetAllMulticast(enabled);
    }

    public override PortStats GetStats() =>
        _standby.GetStats() + (_primary?.GetStats() ?? default) + _retiredStats;

    public override void ResetStats()
    {
        _standby.ResetStats();
        _primary?.ResetStats();
        _retiredStats = default;
    }

    public override IReadOnlyList<Xstat> GetXstats() =>
    [
        new("failover_state", (ulong)_state),
        new("failover_switches_to_primary", _counters.SwitchesToPrimary),
        new("failover_switches_to_standby", _counters.SwitchesToStandby),
        new("failover_primary_tx_lost", _counters.PrimaryTxLost),
        new("failover_primary_rx_abandoned", _counters.PrimaryRxAbandoned),
        new("failover_last_fallback_ms", _counters.LastFallbackMs),
        .. _standby.GetXstats().Select(x => x with { Name = "standby_" + x.Name }),
        .. (_primary?.GetXstats() ?? []).Select(x => x with { Name = "primary_" + x.Name }),
    ];

    // ---- Control thread: pairing ----

    private void ScanForPrimary()
    {
        foreach (var port in _registry.Ports)
        {
            if (_primary is not null) return;
            TryPair(port);
        }
    }

    private void OnNewPort(PortEvent e)
    {
        if (_primary is null && _registry.TryGet(e.PortId, out var port)) TryPair(port);
    }

    private void TryPair(EthPort candidate)
    {
        lock (_controlLock)
        {
            if (_primary is not null || State is PortState.Closed) return;
            if (candidate == this || candidate == _standby || candidate.MacAddress != _standby.MacAddress) return;
            if (!_registry.TrySetOwner(candidate.PortId, _owner))
            {
                _log.LogInformation("{Name}: port {Port} has our MAC but another owner; not pairing", Name, candidate.PortId);
                return;
            }
            _primary = candidate;
            _log.LogInformation("{Name}: paired primary port {Port} ({Primary}) with MAC {Mac}", Name, candidate.PortId, candidate.Name, candidate.MacAddress);
            if (IsStarted) ActivatePrimary(candidate);
        }
    }

    private void ActivatePrimary(EthPort primary)
    {
        lock (_controlLock)
        {
            if (_primary != primary || _txPrimary == primary) return;
            Transition(FailoverState.Attaching);
            try
            {
                primary.Configure(Config!.Clone());
                primary.Start();
            }
            catch (Exception e)
            {
                _log.LogWarning("{Name}: primary port {Port} failed to start ({Error}); staying on the standby", Name, primary.PortId, e.Message);
                _registry.UnsetOwner(primary.PortId, _owner);
                _primary = null;
                Transition(FailoverState.StandbyOnly);
                return;
            }
            Volatile.Write(ref _rxPrimary, primary);
            if (primary.Link.Up) Volatile.Write(ref _txPrimary, primary);
            _counters.SwitchesToPrimary++;
            Transition(FailoverState.PrimaryActive);
            RaiseEvent(PortEventType.Failover, $"primary port {primary.PortId}");
        }
    }

    private void OnStandbyLink(PortEvent e) => RaiseEvent(PortEventType.LinkStateChange, e.Detail);

    // ---- Control thread: fallback ----

    private void OnPrimaryTrouble(PortEvent e, string why)
    {
        var primary = _primary;
        if (primary is null || e.PortId != primary.PortId) return;
        if (e.Type == PortEventType.LinkStateChange)
        {
            // Our own stop of the primary (the failover port stopping) is no reason to let it go.
            if (!primary.IsStarted) return;
            if (primary.Link.Up)
            {
                // Up again while still paired: TX returns to the primary.
                if (_state == FailoverState.PrimaryActive) Volatile.Write(ref _txPrimary, primary);
                return;
            }
        }
        var clock = Stopwatch.StartNew();
        _log.LogWarning("{Name}: primary port {Port}: {Why}; falling back to the standby", Name, primary.PortId, why);
        Release(primary, why, clock);
    }

    private void Unpublish(EthPort primary, string why)
    {
        Transition(FailoverState.Detaching);
        // TX first: nothing new goes to the primary from here on.
        Volatile.Write(ref _txPrimary, null);
        WaitQuiescent(_txGuard, "TX");
        _counters.SwitchesToStandby++;
        RaiseEvent(PortEventType.Failover, $"standby ({why})");
    }

    private void Release(EthPort primary, string why, Stopwatch clock)
    {
        lock (_controlLock)
        {
            if (_primary != primary) return;
            if (_state != FailoverState.Detaching) Unpublish(primary, why);
            // Let the primary finish what it accepted, while RX keeps polling it for late frames.
            int pending = DrainTx(primary);
            Volatile.Write(ref _rxPrimary, null);
            WaitQuiescent(_rxGuard, "RX");
            _counters.PrimaryTxLost += (ulong)Math.Max(0, pending);
            _counters.PrimaryRxAbandoned += CountAbandonedRx(primary);
            _retiredStats += primary.GetStats();
            try
            {
                primary.Stop();
                primary.Close();
            }
            catch (Exception e)
            {
                _log.LogWarning("{Name}: closing primary port {Port} failed: {Error}", Name, primary.PortId, e.Message);
            }
            _registry.UnsetOwner(primary.PortId, _owner);
            if (_registry.TryGet(primary.PortId, out var same) && same == primary) _registry.Detach(primary.PortId);
            _primary = null;
            _counters.LastFallbackMs = (ulong)clock.ElapsedMilliseconds;
            Transition(FailoverState.StandbyOnly);
            _log.LogInformation("{Name}: primary port {Port} released after {Ms} ms ({Lost} TX packets lost)", Name, primary.PortId, clock.ElapsedMilliseconds, pending);
        }
    }

    /// <summary>
    /// Waits for the primary's TX queues to complete; returns what is still outstanding. A device
    /// that keeps completing gets more time (up to <see cref="DrainLimit"/>); one that stops for
    /// <see cref="DrainTimeout"/>, or loses its link, is given up on.
    /// </summary>
    private int DrainTx(EthPort primary)
    {
        int queues = Config?.TxQueues ?? 0;
        var total = Stopwatch.StartNew();
        var stalled = Stopwatch.StartNew();
        int last = int.MaxValue;
        while (true)
        {
            int pending = 0;
            for (int q = 0; q < queues; q++) pending += Math.Max(0, primary.TxDoneCleanup(q));
            if (pending < last)
            {
                last = pending;
                stalled.Restart();
            }
            if (pending == 0 || stalled.Elapsed > DrainTimeout || total.Elapsed > DrainLimit || !primary.Link.Up) return pending;
            Thread.Sleep(1);
        }
    }

    private static ulong CountAbandonedRx(EthPort primary)
    {
        // Frames still on the primary's RX ring: nobody polls it any more, so count them here.
        ulong n = 0;
        Span<Mbuf> burst = stackalloc Mbuf[32];
        int queues = primary.Config?.RxQueues ?? 0;
        for (int q = 0; q < queues; q++)
        {
            int got;
            while ((got = primary.RxBurst(q, burst)) > 0)
            {
                n += (ulong)got;
                Mbuf.Free(burst[..got]);
            }
        }
        return n;
    }

    private void WaitQuiescent(QuiescentGuard guard, string direction)
    {
        while (!guard.WaitForQuiescence(TimeSpan.FromSeconds(5)))
            _log.LogWarning("{Name}: a datapath thread has been inside a {Direction} burst for 5 s; still waiting to release the primary", Name, direction);
    }

    private void Transition(FailoverState next)
    {
        if (_state == next) return;
        _log.LogInformation("{Name}: {From} -> {To}", Name, _state, next);
        _state = next;
    }
}
