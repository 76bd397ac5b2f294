using Microsoft.Extensions.Logging;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Failover;

/// <summary>
/// One port to the application over a standby port (virtio with STANDBY) and, when there is one,
/// the primary that has the same MAC (a passed-through VF). It owns both through the owner API, so
/// applications see only this port. TX goes to the primary while it is active (attached, started,
/// link up); RX polls the primary, then the standby. As Linux's net_failover does, a primary whose
/// link goes down stays paired and gets TX back when its link returns; only a removal or the
/// hypervisor's unplug request releases it. A new port with the MAC is paired again without the
/// application's help, with the port's configuration replayed onto it.
/// This file is the port's surface and datapath; pairing and release have files of their own.
/// </summary>
public sealed partial class FailoverPort : EthPort
{
    private readonly EthPort _standby;
    private readonly PortRegistry _registry;
    private readonly ulong _owner;
    private readonly ILogger _log;
    private readonly List<IDisposable> _subscriptions = [];
    private readonly Lock _controlLock = new();
    private readonly FailoverStateMachine _machine;
    private QuiescentGuard _rxGuard = new(1);
    private QuiescentGuard _txGuard = new(1);
    // Datapath views of the primary, derived from the state (PublishViews) and read once per burst.
    private EthPort? _rxPrimary;
    private EthPort? _txPrimary;
    private EthPort? _primary;
    private readonly MacAnnouncement _announcement;
    private FailoverCounters _counters;
    private SoftwareOffloads? _software;
    // What the primary lacks of the configured offloads, done in software; written before the views that use it.
    private TxOffloads _primaryTxGap;
    private RxOffloads _primaryRxGap;
    private PortStats _retiredStats;

    /// <summary>Creates the failover port over <paramref name="standby"/>, which it claims.</summary>
    public FailoverPort(string name, EthPort standby, PortRegistry registry) : base(name)
    {
        FailoverTelemetry.Register();
        _standby = standby;
        _registry = registry;
        _log = registry.LoggerFactory.CreateLogger("Pmd.Failover");
        _machine = new FailoverStateMachine(name, _log);
        _announcement = new MacAnnouncement(standby.MacAddress, SendOnTxPath);
        _owner = registry.NewOwner(name);
        if (!registry.TrySetOwner(standby.PortId, _owner))
            throw new InvalidOperationException($"{name}: standby port {standby.PortId} is owned by someone else");
        _subscriptions.Add(registry.Subscribe(PortEventType.New, OnNewPort));
        _subscriptions.Add(registry.Subscribe(PortEventType.LinkStateChange, OnPrimaryLink));
        _subscriptions.Add(registry.Subscribe(PortEventType.Removal, e => OnPrimaryGone(e, "removal")));
        _subscriptions.Add(registry.Subscribe(PortEventType.DeviceRequest, e => OnPrimaryGone(e, "device request")));
        _subscriptions.Add(registry.Subscribe(PortEventType.LinkStateChange, OnStandbyLink, standby.PortId));
        _subscriptions.Add(registry.Subscribe(PortEventType.AnnounceRequest, OnAnnounceRequest, standby.PortId));
        // Existing ports are considered on the control thread, like NEW events.
        registry.Control.Post(ScanForPrimary);
    }

    public EthPort Standby => _standby;

    /// <summary>The paired primary, or null.</summary>
    public EthPort? Primary => _primary;

    public FailoverState FailoverState => _machine.State;

    public override MacAddress MacAddress => _standby.MacAddress;

    public override LinkStatus Link => _txPrimary?.Link is { Up: true } l ? l : _standby.Link;

    public override PortInfo Info
    {
        get
        {
            var standby = _standby.Info;
            var primary = Primary;
            var primaryInfo = primary?.Info;
            // As Linux's net_failover: what both devices do. An offload configured before a primary
            // that lacks it came is done in software on that primary (SoftwareOffloads).
            return standby with
            {
                DriverName = "net_failover",
                RxOffloadCapabilities = standby.RxOffloadCapabilities & (primaryInfo?.RxOffloadCapabilities ?? standby.RxOffloadCapabilities),
                TxOffloadCapabilities = standby.TxOffloadCapabilities & (primaryInfo?.TxOffloadCapabilities ?? standby.TxOffloadCapabilities),
                Details =
                [
                    new("failover state", _machine.State.ToString()),
                    new("standby", $"port {_standby.PortId} ({_standby.Name})"),
                    new("primary", primary is null ? "none" : $"port {primary.PortId} ({primary.Name})"),
                    new("tx on", _txPrimary is { } p ? $"primary port {p.PortId}" : $"standby port {_standby.PortId}"),
                    new("software offloads", primary is null ? "none" : $"TX {_primaryTxGap}, RX {_primaryRxGap}"),
                ],
            };
        }
    }

    protected override int OnRxBurst(int queue, Span<Mbuf> mbufs)
    {
        int n = 0;
        var guard = _rxGuard;
        if ((uint)queue >= (uint)guard.Queues) return 0;
        guard.Enter(queue);
        var primary = Volatile.Read(ref _rxPrimary);
        if (primary is not null)
        {
            n = primary.RxBurst(queue, mbufs);
            if (_primaryRxGap != RxOffloads.None && n > 0) SoftwareOffloads.VerifyRx(mbufs[..n]);
        }
        guard.Exit(queue);
        if (n < mbufs.Length) n += _standby.RxBurst(queue, mbufs[n..]);
        ushort port = PortId;
        for (int i = 0; i < n; i++) mbufs[i].Port = port;
        return n;
    }

    protected override int OnTxBurst(int queue, Span<Mbuf> mbufs)
    {
        var guard = _txGuard;
        if ((uint)queue >= (uint)guard.Queues) return 0;
        guard.Enter(queue);
        var primary = Volatile.Read(ref _txPrimary);
        int n = primary is not null && _primaryTxGap != TxOffloads.None
            ? _software!.TxBurst(primary, queue, mbufs, _primaryTxGap)
            : (primary ?? _standby).TxBurst(queue, mbufs);
        guard.Exit(queue);
        return n;
    }

    /// <summary>After a switch of TX: the MAC is announced on the new path (control thread).</summary>
    private void AnnounceSwitch()
    {
        if (Config?.RxPool is { } pool) _announcement.Request(pool);
    }

    /// <summary>
    /// Frames after the hypervisor's request, <see cref="MacAnnouncement.Interval"/> apart: 1.5 s,
    /// longer than QEMU's own announce rounds (50 ms, then 100 ms steps, 5 rounds). On the
    /// destination QEMU sends RARPs from the primary it has just plugged in, on a timer of its own,
    /// after the guest's announcements; a bridge that last heard one sends to a device the guest
    /// does not drive yet, so ours must outlast QEMU's (measured: 0.4 s of traffic lost otherwise).
    /// </summary>
    internal const int FramesPerAnnounceRequest = 30;

    /// <summary>The hypervisor asks for an announcement (after a migration): on the path TX takes, for a while. The standby acks it after this handler.</summary>
    private void OnAnnounceRequest(PortEvent e)
    {
        _counters.AnnounceRequests++;
        if (Config?.RxPool is { } pool) _announcement.Request(pool, FramesPerAnnounceRequest);
    }

    /// <summary>One frame of our own (control thread or the announcement's timer) on TX queue 0 of the path TX takes now, between the datapath's bursts.</summary>
    private bool SendOnTxPath(Mbuf frame)
    {
        var guard = _txGuard;
        if (!IsStarted || guard.Queues == 0) return false;
        guard.Enter(0);
        try
        {
            var target = Volatile.Read(ref _txPrimary) ?? _standby;
            Span<Mbuf> one = [frame];
            return target.IsStarted && target.TxBurst(0, one) == 1;
        }
        finally
        {
            guard.Exit(0);
        }
    }

    /// <summary>Time between the announcements after a switch (tests shorten or lengthen it).</summary>
    internal TimeSpan AnnouncementInterval
    {
        get => _announcement.Interval;
        set => _announcement.Interval = value;
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

    /// <summary>
    /// Sets the datapath's views from the state. When a view is taken away, waits until no burst
    /// that may have read it is still running, so the caller may then stop or close the primary.
    /// </summary>
    private void PublishViews()
    {
        var state = _machine.State;
        var primary = _primary;
        var tx = FailoverStateMachine.TxOnPrimary(state) ? primary : null;
        var rx = FailoverStateMachine.RxPollsPrimary(state) ? primary : null;
        bool txTaken = _txPrimary is not null && tx is null, rxTaken = _rxPrimary is not null && rx is null;
        if (primary is not null && Config is { } config && (tx is not null || rx is not null))
        {
            _primaryTxGap = SoftwareOffloads.TxGap(config, primary);
            _primaryRxGap = SoftwareOffloads.RxGap(config, primary);
            Thread.MemoryBarrier();
        }
        Volatile.Write(ref _txPrimary, tx);
        Volatile.Write(ref _rxPrimary, rx);
        if (txTaken) WaitQuiescent(_txGuard, "TX");
        if (rxTaken) WaitQuiescent(_rxGuard, "RX");
    }

    private void WaitQuiescent(QuiescentGuard guard, string direction)
    {
        while (!guard.WaitForQuiescence(TimeSpan.FromSeconds(5))) FailoverLog.StillInBurst(_log, Name, direction);
    }

    protected override void OnConfigure(PortConfig config)
    {
        _standby.Configure(config.Clone());
        _rxGuard = new QuiescentGuard(config.RxQueues);
        _txGuard = new QuiescentGuard(config.TxQueues);
        _software = new SoftwareOffloads(config.TxQueues, config.RxPool!);
    }

    protected override void OnStart()
    {
        _standby.Start();
        _registry.Control.Post(() =>
        {
            if (_primary is { } p && _machine.State == FailoverState.Paired) Activate(p);
            else ScanForPrimary();
        });
    }

    protected override void OnStop()
    {
        _registry.Control.Invoke(StopPrimary);
        _standby.Stop();
    }

    protected override void OnClose()
    {
        foreach (var s in _subscriptions) s.Dispose();
        _registry.Control.Invoke(() =>
        {
            if (_primary is { } p) Release(p, "failover port closed");
            _announcement.Dispose();
        });
        _registry.UnsetOwner(_standby.PortId, _owner);
    }

    protected override void OnSetPromiscuous(bool enabled)
    {
        _standby.SetPromiscuous(enabled);
        if (Primary is { } p) p.SetPromiscuous(enabled);
    }

    protected override void OnSetAllMulticast(bool enabled)
    {
        _standby.SetAllMulticast(enabled);
        if (Primary is { } p) p.SetAllMulticast(enabled);
    }

    protected override void OnSetMtu(int mtu)
    {
        _standby.SetMtu(mtu);
        if (Primary is { } p) p.SetMtu(mtu);
    }

    public override PortStats GetStats() =>
        _standby.GetStats() + (Primary?.GetStats() ?? default) + _retiredStats;

    /// <summary>Both paths' queues, summed queue by queue (a released primary's are only in the totals).</summary>
    internal override void AddQueueStats(QueueStats stats)
    {
        _standby.AddQueueStats(stats);
        Primary?.AddQueueStats(stats);
    }

    public override void ResetStats()
    {
        _standby.ResetStats();
        Primary?.ResetStats();
        _retiredStats = default;
    }

    public override IReadOnlyList<Xstat> GetXstats()
    {
        var software = _software?.Totals() ?? default;
        return
    [
        new("failover_state", (ulong)_machine.State),
        new("failover_switches_to_primary", _counters.SwitchesToPrimary),
        new("failover_switches_to_standby", _counters.SwitchesToStandby),
        new("failover_primary_tx_lost", _counters.PrimaryTxLost),
        new("failover_primary_rx_abandoned", _counters.PrimaryRxAbandoned),
        new("failover_last_fallback_ms", _counters.LastFallbackMs),
        new("failover_announcements_sent", _announcement.Sent),
        new("failover_announce_requests", _counters.AnnounceRequests),
        new("failover_sw_checksums", software.Checksummed),
        new("failover_sw_tso_frames", software.Segmented),
        new("failover_sw_tso_segments", software.Segments),
        new("failover_sw_dropped", software.Dropped),
        new("failover_last_release_tx_off_us", _counters.LastRelease.TxOff),
        new("failover_last_release_drained_us", _counters.LastRelease.Drained),
        new("failover_last_release_rx_off_us", _counters.LastRelease.RxOff),
        new("failover_last_release_stopped_us", _counters.LastRelease.Stopped),
        new("failover_last_release_closed_us", _counters.LastRelease.Closed),
        .. _standby.GetXstats().Select(x => x with { Name = "standby_" + x.Name }),
        .. (Primary?.GetXstats() ?? []).Select(x => x with { Name = "primary_" + x.Name }),
    ];
    }

    private void OnStandbyLink(PortEvent e) => RaiseEvent(PortEventType.LinkStateChange, e.Detail);
}
