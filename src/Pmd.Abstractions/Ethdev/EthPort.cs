using System.Runtime.CompilerServices;
using Pmd.Capture;
using Pmd.Memory;

namespace Pmd.Ethdev;

/// <summary>
/// The base of every driver's port, like an rte_eth_dev with its dev_ops. The control-path methods
/// (configure, start, stop, close, modes, stats) check the life cycle and call the driver's hooks;
/// the datapath is <see cref="RxBurst"/> and <see cref="TxBurst"/>, which call the driver's
/// <see cref="OnRxBurst"/> and <see cref="OnTxBurst"/> (implemented without allocating, locking or
/// throwing) and, when a packet capture is active on the port, copy what passed.
/// </summary>
public abstract class EthPort : IDisposable
{
    private readonly Lock _controlLock = new();
    private PortTap? _tap;

    protected EthPort(string name) => Name = name;

    /// <summary>The device name from the devargs, e.g. net_virtio_user0.</summary>
    public string Name { get; }

    /// <summary>The id the <see cref="PortRegistry"/> gave this port; <see cref="PortRegistry.InvalidPortId"/> before attach.</summary>
    public ushort PortId { get; internal set; } = PortRegistry.InvalidPortId;

    /// <summary>The registry this port is attached to, which delivers its events.</summary>
    public PortRegistry? Registry { get; internal set; }

    public PortState State { get; private set; } = PortState.Unconfigured;

    public PortConfig? Config { get; private set; }

    public abstract PortInfo Info { get; }

    public abstract MacAddress MacAddress { get; }

    public abstract LinkStatus Link { get; }

    public bool Promiscuous { get; private set; }

    public bool AllMulticast { get; private set; }

    public int Mtu { get; private set; } = 1500;

    public bool IsStarted => State == PortState.Started;

    /// <summary>
    /// Receives up to <paramref name="mbufs"/>.Length packets from <paramref name="queue"/> into the
    /// span and returns how many. The caller owns them. One thread per queue at a time.
    /// </summary>
    /// <remarks>
    /// Like DPDK's rte_eth_rx_burst, an inline wrapper: the driver's <see cref="OnRxBurst"/>, then
    /// the packet capture's copy when one is active on this port (<see cref="Capture.PacketCapture"/>).
    /// Without a capture that is one load and one branch.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int RxBurst(int queue, Span<Mbuf> mbufs)
    {
        int n = OnRxBurst(queue, mbufs);
        var tap = Volatile.Read(ref _tap);
        if (tap is not null && n > 0) tap.Received(queue, mbufs[..n]);
        return n;
    }

    /// <summary>
    /// Queues up to <paramref name="mbufs"/>.Length packets on <paramref name="queue"/> and returns how
    /// many were taken; those now belong to the port. The rest stay the caller's (to retry or free).
    /// </summary>
    /// <remarks>
    /// The driver's <see cref="OnTxBurst"/>. With a capture active on this port, the packets are
    /// copied first (the device may send and free them at once) and those the driver took are kept.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int TxBurst(int queue, Span<Mbuf> mbufs)
    {
        var tap = Volatile.Read(ref _tap);
        return tap is null ? OnTxBurst(queue, mbufs) : TxBurstCaptured(tap, queue, mbufs);
    }

    /// <summary>The driver's receive: <see cref="RxBurst"/>'s contract, without allocating, locking or throwing.</summary>
    protected abstract int OnRxBurst(int queue, Span<Mbuf> mbufs);

    /// <summary>The driver's transmit: <see cref="TxBurst"/>'s contract, without allocating, locking or throwing.</summary>
    protected abstract int OnTxBurst(int queue, Span<Mbuf> mbufs);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int TxBurstCaptured(PortTap tap, int queue, Span<Mbuf> mbufs)
    {
        var ring = tap.TxRing(queue);
        if (ring is null || mbufs.Length == 0 || !ring.Enter()) return OnTxBurst(queue, mbufs);
        int copied = ring.Copy(mbufs);
        int sent = 0;
        try
        {
            sent = OnTxBurst(queue, mbufs);
        }
        finally
        {
            ring.Publish(copied, sent);
            ring.Exit();
        }
        return sent;
    }

    /// <summary>Puts a capture's tap on this port; false when another capture holds it.</summary>
    internal bool TryAttachTap(PortTap tap) => Interlocked.CompareExchange(ref _tap, tap, null) is null;

    /// <summary>Takes <paramref name="tap"/> off this port (bursts that already read it may still be copying).</summary>
    internal void DetachTap(PortTap tap) => Interlocked.CompareExchange(ref _tap, null, tap);

    /// <summary>Whether a capture is active on this port.</summary>
    internal bool IsTapped => Volatile.Read(ref _tap) is not null;

    /// <summary>
    /// Whether this port is the standby half of a failover pair (virtio's STANDBY feature): a
    /// failover port may be created over it.
    /// </summary>
    public virtual bool IsFailoverStandby => false;

    /// <summary>
    /// Frees what the device has finished sending on <paramref name="queue"/> and returns how many
    /// packets it still holds, like rte_eth_tx_done_cleanup; -1 when the driver cannot tell. Call
    /// only while no datapath thread uses the queue.
    /// </summary>
    public virtual int TxDoneCleanup(int queue) => -1;

    public void Configure(PortConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        lock (_controlLock)
        {
            if (State is PortState.Started) throw new InvalidOperationException($"port {PortId}: stop it before configuring");
            if (State is PortState.Closed) throw new ObjectDisposedException(Name);
            if (config.RxPool is null) throw new ArgumentException("an RX mempool is required", nameof(config));
            var info = Info;
            if (config.RxQueues < 1 || config.RxQueues > info.MaxRxQueues)
                throw new ArgumentOutOfRangeException(nameof(config), $"port {PortId}: {config.RxQueues} RX queues asked, {info.MaxRxQueues} at most");
            if (config.TxQueues < 1 || config.TxQueues > info.MaxTxQueues)
                throw new ArgumentOutOfRangeException(nameof(config), $"port {PortId}: {config.TxQueues} TX queues asked, {info.MaxTxQueues} at most");
            if ((config.RxOffloads & ~info.RxOffloadCapabilities) is var rx and not RxOffloads.None)
                throw new NotSupportedException($"port {PortId} ({Name}): RX offloads {rx} asked, the port offers {info.RxOffloadCapabilities}");
            if ((config.TxOffloads & ~info.TxOffloadCapabilities) is var tx and not TxOffloads.None)
                throw new NotSupportedException($"port {PortId} ({Name}): TX offloads {tx} asked, the port offers {info.TxOffloadCapabilities}");
            OnConfigure(config);
            Config = config;
            State = PortState.Configured;
        }
    }

    public void Start()
    {
        lock (_controlLock)
        {
            if (State is PortState.Started) return;
            if (State is PortState.Unconfigured) throw new InvalidOperationException($"port {PortId}: configure it before starting");
            if (State is PortState.Closed) throw new ObjectDisposedException(Name);
            OnStart();
            State = PortState.Started;
        }
    }

    public void Stop()
    {
        lock (_controlLock)
        {
            if (State is not PortState.Started) return;
            State = PortState.Stopped;
            OnStop();
        }
    }

    /// <summary>Stops the port and releases the device. The port cannot be used afterwards.</summary>
    public void Close()
    {
        lock (_controlLock)
        {
            if (State is PortState.Closed) return;
            if (State is PortState.Started)
            {
                State = PortState.Stopped;
                OnStop();
            }
            State = PortState.Closed;
            OnClose();
        }
    }

    public void SetPromiscuous(bool enabled)
    {
        OnSetPromiscuous(enabled);
        Promiscuous = enabled;
    }

    public void SetAllMulticast(bool enabled)
    {
        OnSetAllMulticast(enabled);
        AllMulticast = enabled;
    }

    public void SetMtu(int mtu)
    {
        var info = Info;
        if (mtu < info.MinMtu || mtu > info.MaxMtu)
            throw new ArgumentOutOfRangeException(nameof(mtu), $"port {PortId}: MTU {mtu} outside {info.MinMtu}..{info.MaxMtu}");
        OnSetMtu(mtu);
        Mtu = mtu;
    }

    public abstract PortStats GetStats();

    public virtual void ResetStats() { }

    /// <summary>Named counters beyond <see cref="PortStats"/>, like rte_eth_xstats_get.</summary>
    public virtual IReadOnlyList<Xstat> GetXstats() => [];

    /// <summary>
    /// Adds the counters of each of the first <see cref="QueueStats.Count"/> queues, as a driver
    /// fills rte_eth_stats' q_* arrays; a driver that keeps none leaves them zero. Read off the
    /// datapath (the telemetry thread), like <see cref="GetStats"/>.
    /// </summary>
    internal virtual void AddQueueStats(QueueStats stats) { }

    protected abstract void OnConfigure(PortConfig config);

    protected abstract void OnStart();

    protected abstract void OnStop();

    protected abstract void OnClose();

    protected virtual void OnSetPromiscuous(bool enabled) { }

    protected virtual void OnSetAllMulticast(bool enabled) { }

    protected virtual void OnSetMtu(int mtu) { }

    /// <summary>Delivers an event for this port on the registry's control thread (safe from any thread).</summary>
    protected void RaiseEvent(PortEventType type, string? detail = null) => Registry?.Raise(PortId, type, detail);

    public void Dispose()
    {
        Close();
        GC.SuppressFinalize(this);
    }

    public override string ToString() => $"port {PortId} ({Name})";
}
