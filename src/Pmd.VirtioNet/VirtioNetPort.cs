using Microsoft.Extensions.Logging;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Rings;
using Pmd.VirtioNet.Transport;
using static Pmd.VirtioNet.Net.VirtioFeatures;

namespace Pmd.VirtioNet;

/// <summary>
/// A virtio-net port over any <see cref="VirtioTransport"/>. Queue pair i is RX virtqueue 2i and
/// TX virtqueue 2i+1. The rings, the header handling and the feature choice are the same whether
/// the device is a vhost-user backend or a virtio-net-pci function.
/// </summary>
public sealed unsafe class VirtioNetPort : EthPort
{
    /// <summary>What this driver knows how to use.</summary>
    public const ulong SupportedFeatures =
        (1UL << Version1) | (1UL << Mac) | (1UL << Status) | (1UL << MrgRxBuf) | (1UL << CtrlVq) | (1UL << CtrlRx)
        | (1UL << Mq) | (1UL << VirtioFeatures.Mtu) | (1UL << Csum) | (1UL << GuestCsum) | (1UL << RingPacked) | (1UL << InOrder)
        | (1UL << EventIdx) | (1UL << IndirectDesc) | (1UL << AnyLayout) | (1UL << Standby) | (1UL << GuestAnnounce)
        | (1UL << HostTso4) | (1UL << HostTso6) | (1UL << GuestTso4) | (1UL << GuestTso6);

    /// <summary>The offload features, set on the device only when the port's configuration asks for what they do (as DPDK's virtio).</summary>
    private const ulong TsoFeatures = (1UL << HostTso4) | (1UL << HostTso6), LroFeatures = (1UL << GuestTso4) | (1UL << GuestTso6);

    private readonly VirtioTransport _transport;
    private readonly VirtioNetOptions _options;
    private readonly ILogger _log;
    private const int ControlQueueSize = 64;
    private ControlQueue? _controlQueue;
    private QueueHealth? _health;
    private ulong _announceRequests;
    private VirtioRxQueue[] _rx = [];
    private VirtioTxQueue[] _tx = [];
    private DmaArena? _arena;
    // The rings in the arena are set up on the device (StopQueues must take them back).
    private bool _ringsSetUp;
    private ulong _negotiated;
    // What SetUpQueues set on the device: the negotiated features less the offloads the configuration does not use.
    private ulong _active;
    private MacAddress _mac;
    private int _pairs;
    private int _maxPairs;
    private volatile bool _linkUp;
    private PortStats _statsBase;
    // Queue setup and teardown happen on the app's thread (start, stop) and on the control thread
    // (a backend lost and back): one at a time. The datapath never takes it.
    private readonly Lock _queuesLock = new();
    private DatapathGuard _guard = new(0, 0);
    // Started as far as the queues are concerned (EthPort's state changes outside this lock).
    private bool _running;
    // The backend went away while running; the transport is reconnecting.
    private bool _awaitingReconnect;
    private ulong _reconnects;
    private ulong _stallResets;

    internal VirtioNetPort(string name, VirtioTransport transport, VirtioNetOptions? options = null) : base(name)
    {
        _transport = transport;
        _options = options ?? new VirtioNetOptions();
        _log = (_options.LoggerFactory ?? PmdLogging.Factory).CreateLogger("Pmd.VirtioNet");
        _transport.EventRaised += OnTransportEvent;
        _transport.Connect();
        Negotiate();
    }

    internal VirtioTransport Transport => _transport;

    /// <summary>The features both sides agreed on.</summary>
    public ulong NegotiatedFeatures => _negotiated;

    /// <summary>VIRTIO_NET_F_STANDBY was negotiated: this port is the standby of a failover pair.</summary>
    public bool IsStandby => Has(_negotiated, Standby);

    public bool UsesPackedRing => Has(_negotiated, RingPacked);

    public override bool IsFailoverStandby => IsStandby;

    public override int TxDoneCleanup(int queue)
    {
        var guard = _guard;
        if ((uint)queue >= (uint)guard.TxQueues) return 0;
        guard.EnterTx(queue);
        var tx = _tx;
        int inFlight = 0;
        if ((uint)queue < (uint)tx.Length)
        {
            tx[queue].Cleanup();
            inFlight = tx[queue].InFlight;
        }
        guard.ExitTx(queue);
        return inFlight;
    }

    public override MacAddress MacAddress => _mac;

    public override LinkStatus Link => _linkUp && IsStarted && _transport.IsConnected ? new LinkStatus(true, 10000) : LinkStatus.Down;

    public override PortInfo Info => new()
    {
        DriverName = "net_virtio",
        MaxRxQueues = _maxPairs,
        MaxTxQueues = _maxPairs,
        MaxRxDescriptors = _transport.MaxQueueSize,
        MaxTxDescriptors = _transport.MaxQueueSize,
        MaxMtu = Has(_negotiated, MrgRxBuf) ? 9000 : 1500,
        RxOffloadCapabilities = (Has(_negotiated, GuestCsum) ? RxOffloads.Checksum : 0) | (Has(_negotiated, MrgRxBuf) ? RxOffloads.Scatter : 0)
            | ((_negotiated & LroFeatures) == LroFeatures ? RxOffloads.TcpLro : 0),
        // The IPv4 header checksum has no virtio feature: the driver computes it (20 to 60 bytes).
        TxOffloadCapabilities = (Has(_negotiated, Csum) ? TxOffloads.Checksum : 0) | TxOffloads.MultiSegment | TxOffloads.Ipv4Checksum
            | ((_negotiated & TsoFeatures) == TsoFeatures ? TxOffloads.TcpTso : 0),
        Details =
        [
            new("transport", _transport.Description),
            new("features", Describe(_running ? _active : _negotiated)),
            new("ring", UsesPackedRing ? "packed" : "split"),
            new("standby", IsStandby ? "yes" : "no"),
        ],
    };

    // The bursts mark themselves in the guard around their one read of the queue array, so that
    // the control thread can take the queues away under them (see TearDownQueues).
    protected override int OnRxBurst(int queue, Span<Mbuf> mbufs)
    {
        var guard = _guard;
        if ((uint)queue >= (uint)guard.RxQueues) return 0;
        guard.EnterRx(queue);
        var rx = _rx;
        int n = (uint)queue < (uint)rx.Length ? rx[queue].Burst(mbufs) : 0;
        guard.ExitRx(queue);
        return n;
    }

    protected override int OnTxBurst(int queue, Span<Mbuf> mbufs)
    {
        var guard = _guard;
        if ((uint)queue >= (uint)guard.TxQueues) return 0;
        guard.EnterTx(queue);
        var tx = _tx;
        int n = (uint)queue < (uint)tx.Length ? tx[queue].Burst(mbufs) : 0;
        guard.ExitTx(queue);
        return n;
    }

    /// <summary>Chooses features from what the device offers, what we support and the options.</summary>
    private void Negotiate()
    {
        ulong wanted = SupportedFeatures;
        if (!_options.PackedRing) wanted &= ~Bit(RingPacked);
        if (!_options.InOrder) wanted &= ~Bit(InOrder);
        if (!_options.MergeableRxBuffers) wanted &= ~Bit(MrgRxBuf);
        if (!_options.EventIndex) wanted &= ~Bit(EventIdx);
        if (!_options.IndirectDescriptors) wanted &= ~Bit(IndirectDesc);
        if (!_options.Checksum) wanted &= ~(Bit(Csum) | Bit(GuestCsum));
        if (!_options.Tso) wanted &= ~(TsoFeatures | LroFeatures);
        ulong offered = _transport.DeviceFeatures;
        if (!Has(offered, Version1))
            throw new NotSupportedException($"{Name}: the device does not offer VIRTIO_F_VERSION_1; legacy devices are not supported");
        _negotiated = offered & (wanted | _transport.TransportFeatures);
        if (!Has(_negotiated, CtrlVq)) _negotiated &= ~(Bit(CtrlRx) | Bit(Mq));
        // HOST_TSO needs CSUM and GUEST_TSO needs GUEST_CSUM (VIRTIO 5.1.3.1); coalesced frames
        // of up to 64 KiB are taken only across mergeable buffers, never into 64 KiB ones.
        if (!Has(_negotiated, Csum)) _negotiated &= ~TsoFeatures;
        if (!Has(_negotiated, GuestCsum) || !Has(_negotiated, MrgRxBuf)) _negotiated &= ~LroFeatures;
        // Announcing is taken on only for a failover standby, whose owner answers the requests
        // (AnnounceRequest) on the path TX takes; a port nobody answers for keeps QEMU's own RARPs.
        // It needs a real control queue to ack on: a vhost-user backend has no hypervisor to ask.
        if (!Has(_negotiated, Standby) || !Has(_negotiated, CtrlVq) || _transport.EmulatesControlQueue) _negotiated &= ~Bit(GuestAnnounce);
        var config = _transport.ReadConfig();
        _mac = Has(_negotiated, Mac) && config.Mac is { } mac ? new MacAddress(mac) : _mac;
        if (_mac.IsZero) _mac = new MacAddress([0x02, 0, 0, 0, 0, 1]);
        _maxPairs = Has(_negotiated, Mq) && config.MaxQueuePairs is > 0 ? config.MaxQueuePairs.Value : 1;
        VirtioNetLog.Negotiated(_log, Name, Describe(_negotiated));
    }

    protected override void OnConfigure(PortConfig config)
    {
        int pairs = Math.Max(config.RxQueues, config.TxQueues);
        if (pairs > 1 && !Has(_negotiated, Mq))
            throw new NotSupportedException($"{Name}: {pairs} queue pairs need VIRTIO_NET_F_MQ, which was not negotiated");
        int size = RingSize(config);
        if (!int.IsPow2(size) || size > _transport.MaxQueueSize)
            throw new ArgumentOutOfRangeException(nameof(config), $"{Name}: ring size {size} must be a power of two up to {_transport.MaxQueueSize}");
        if (_options.Vectorized == true && !VectorPath.IsSupported)
            throw new NotSupportedException($"{Name}: vectorized=1 needs AVX, which this CPU lacks ({VectorPath.Describe()})");
        // Only ever grown: a burst still holding an older guard then sees no queues at all.
        if (_guard.RxQueues < config.RxQueues || _guard.TxQueues < config.TxQueues)
            _guard = new DatapathGuard(Math.Max(_guard.RxQueues, config.RxQueues), Math.Max(_guard.TxQueues, config.TxQueues));
    }

    private int RingSize(PortConfig config) =>
        Math.Max(config.RxDescriptors, config.TxDescriptors) is > 0 and var n ? n : _options.QueueSize;

    protected override void OnStart()
    {
        lock (_queuesLock)
        {
            if (!_transport.IsConnected)
            {
                // Also ends a background reconnect that a stop interrupted.
                _transport.Connect();
                Negotiate();
            }
            SetUpQueues();
            _running = true;
            _awaitingReconnect = false;
        }
        SetLink(true);
    }

    /// <summary>Features, rings, queues, DRIVER_OK; then publishes the queues to the datapath. All or nothing.</summary>
    private void SetUpQueues()
    {
        var config = Config!;
        _active = ActiveFeatures(config);
        _transport.SetFeatures(_active);
        _pairs = Math.Max(config.RxQueues, config.TxQueues);
        int size = RingSize(config);
        bool packed = UsesPackedRing;
        bool vectorized = _options.Vectorized ?? VectorPath.IsSupported;
        var features = new RingFeatures(Has(_negotiated, EventIdx), Has(_negotiated, InOrder), Has(_negotiated, IndirectDesc), vectorized);
        VirtioNetLog.RingPath(_log, Name, packed ? "packed" : "split", vectorized ? "vectorized" : "scalar",
            UsesSlottedRx(features) ? "in ring order (id = slot)" : "from a free list", VectorPath.Describe());
        nuint indirectBytes = features.IndirectDescriptors ? (nuint)config.TxQueues * (nuint)(IndirectTables.BytesFor(size) + 4096) : 0;
        nuint controlBytes = NeedsControlQueue ? RingBytes.For(1, ControlQueueSize, packed) + 8192 : 0;
        nuint arenaBytes = RingBytes.For(2 * _pairs, size, packed) + indirectBytes + controlBytes;
        // Kept from the last start on this connection when it is large enough (see DmaArena).
        if (_arena is { } kept && kept.Capacity >= arenaBytes)
        {
            kept.Reset();
        }
        else
        {
            _arena?.Dispose();
            _arena = new DmaArena($"{Name}-rings", arenaBytes, _transport.IovaMode);
        }
        _ringsSetUp = true;
        var rx = new VirtioRxQueue[config.RxQueues];
        var tx = new VirtioTxQueue[config.TxQueues];
        try
        {
            for (int pair = 0; pair < _pairs; pair++)
            {
                var rxRing = CreateRing(2 * pair, size, packed, features, out var rxMemory);
                var txRing = CreateRing(2 * pair + 1, size, packed, features, out var txMemory);
                if (pair < rx.Length) rx[pair] = CreateRxQueue(rxMemory, size, packed, features, 2 * pair, config.RxPool!);
                if (pair < tx.Length) tx[pair] = CreateTxQueue(txMemory, size, packed, features, 2 * pair + 1);
                _transport.SetupQueue(rxRing);
                _transport.SetupQueue(txRing);
            }
            if (NeedsControlQueue) _controlQueue = CreateControlQueue(packed, features);
            _transport.EnableQueue(0, true);
            _transport.EnableQueue(1, true);
            _transport.DriverOk();
            if (Has(_negotiated, Mq)) SendControl(ControlCommands.ClassMq, ControlCommands.MqVqPairsSet, [(byte)_pairs, (byte)(_pairs >> 8)]);
            foreach (var q in rx) q.Refill();
        }
        catch
        {
            _transport.StopQueues(2 * _pairs);
            foreach (var q in rx) q?.Drain();
            foreach (var q in tx) q?.Drain();
            _arena!.Dispose();
            _arena = null;
            _ringsSetUp = false;
            throw;
        }
        _rx = rx;
        _tx = tx;
        _health = new QueueHealth(Name, rx, tx, Registry?.Control, _log, ResetAfterLastingStall);
    }

    /// <summary>
    /// The negotiated features less the offloads <paramref name="config"/> does not ask for: a
    /// device with GUEST_CSUM may hand over frames whose checksum was never computed, and one
    /// with GUEST_TSO frames of 64 KiB, which an app that did not ask cannot expect.
    /// </summary>
    private ulong ActiveFeatures(PortConfig config)
    {
        ulong features = _negotiated;
        if ((config.RxOffloads & (RxOffloads.Checksum | RxOffloads.TcpLro)) == 0) features &= ~Bit(GuestCsum);
        if ((config.RxOffloads & RxOffloads.TcpLro) == 0) features &= ~LroFeatures;
        if ((config.TxOffloads & TxOffloads.TcpTso) == 0) features &= ~TsoFeatures;
        return features;
    }

    /// <summary>A device that serves its own control virtqueue (virtio-pci) needs one set up like the data rings.</summary>
    private bool NeedsControlQueue => Has(_negotiated, CtrlVq) && !_transport.EmulatesControlQueue;

    private ControlQueue CreateControlQueue(bool packed, RingFeatures features)
    {
        // The control queue follows the last possible data queue (VIRTIO 5.1.2).
        int index = Has(_negotiated, Mq) ? 2 * _maxPairs : 2;
        int size = Math.Min(ControlQueueSize, _transport.MaxQueueSize);
        var setup = CreateRing(index, size, packed, features, out var memory);
        IVirtqueue ring = packed
            ? new PackedRing((byte*)memory, size, features with { IndirectDescriptors = false })
            : new SplitRing((byte*)memory, size, features with { IndirectDescriptors = false });
        byte* buffer = _arena!.Take(4096);
        _transport.SetupQueue(setup);
        return new ControlQueue(ring, _transport, index, buffer, _arena.IovaOf(buffer));
    }

    private QueueSetup CreateRing(int index, int size, bool packed, RingFeatures features, out nint memory)
    {
        int bytes = packed ? PackedRingLayout.For(size).TotalBytes : SplitRingLayout.For(size).TotalBytes;
        byte* p = _arena!.Take(bytes);
        memory = (nint)p;
        if (packed)
        {
            var layout = PackedRingLayout.For(size);
            return new QueueSetup(index, size, true, _arena.IovaOf(p + layout.DescriptorOffset), _arena.IovaOf(p + layout.DriverEventOffset), _arena.IovaOf(p + layout.DeviceEventOffset));
        }
        var split = SplitRingLayout.For(size);
        return new QueueSetup(index, size, false, _arena.IovaOf(p + split.DescriptorOffset), _arena.IovaOf(p + split.AvailOffset), _arena.IovaOf(p + split.UsedOffset));
    }

    private VirtioRxQueue CreateRxQueue(nint memory, int size, bool packed, RingFeatures features, int index, Mempool pool)
    {
        bool mergeable = Has(_active, MrgRxBuf), csum = Has(_active, GuestCsum), lro = (_active & LroFeatures) != 0;
        if (UsesSlottedRx(features))
        {
            return packed
                ? new VirtioRxQueue<PackedRxRing>(new PackedRxRing((byte*)memory, size, features), pool, _transport, index, PortId, mergeable, csum, lro)
                : new VirtioRxQueue<SplitRxRing>(new SplitRxRing((byte*)memory, size, features), pool, _transport, index, PortId, mergeable, csum, lro);
        }
        if (packed)
            return new VirtioRxQueue<PackedRing>(new PackedRing((byte*)memory, size, features), pool, _transport, index, PortId, mergeable, csum, lro);
        return new VirtioRxQueue<SplitRing>(new SplitRing((byte*)memory, size, features), pool, _transport, index, PortId, mergeable, csum, lro);
    }

    /// <summary>
    /// RX buffers go out in ring order with ids equal to their slots (<see cref="SplitRxRing"/>,
    /// <see cref="PackedRxRing"/>) when the device uses them in order: it promised so (IN_ORDER), or
    /// the user said to assume it (vectorized=1), as DPDK's vector RX assumes it. Devices do so for
    /// RX in practice; one that does not has its out-of-order frames counted as corrupt and dropped.
    /// </summary>
    private bool UsesSlottedRx(RingFeatures features) => features.InOrder || _options.Vectorized == true;

    private VirtioTxQueue CreateTxQueue(nint memory, int size, bool packed, RingFeatures features, int index)
    {
        var offloads = new VirtioTxOffloads(Has(_active, Csum), Has(_active, HostTso4), Has(_active, HostTso6));
        var tables = default(IndirectTables);
        if (features.IndirectDescriptors)
        {
            byte* t = _arena!.Take(IndirectTables.BytesFor(size));
            tables = new IndirectTables(t, _arena.IovaOf(t));
        }
        bool indirect = !tables.IsEmpty;
        return packed
            ? new VirtioTxQueue<PackedRing>(new PackedRing((byte*)memory, size, features, tables), _transport, index, offloads, indirect)
            : new VirtioTxQueue<SplitRing>(new SplitRing((byte*)memory, size, features, tables), _transport, index, offloads, indirect);
    }

    protected override void OnStop()
    {
        lock (_queuesLock)
        {
            _running = false;
            _awaitingReconnect = false;
            TearDownQueues();
        }
        SetLink(false);
    }

    /// <summary>
    /// Takes the queues away from the datapath, waits until no burst still uses them, stops the
    /// device and returns every mbuf on the rings to its pool. Whatever the device answers, the
    /// drain happens: a backend that errs while stopping must not keep our buffers.
    /// </summary>
    private void TearDownQueues(bool deviceGone = false)
    {
        var rx = _rx;
        var tx = _tx;
        _health?.Dispose();
        _health = null;
        _rx = [];
        _tx = [];
        _guard.WaitForQuiescence(() => VirtioNetLog.SlowQuiescence(_log, Name));
        _statsBase = AddQueueStats(_statsBase, rx, tx);
        try
        {
            // A device that is gone (or replaced by a new connection) has nothing to stop; the
            // transport only lets go of the kick fds.
            if (_ringsSetUp) _transport.StopQueues(deviceGone ? 0 : 2 * _pairs);
        }
        finally
        {
            // Frames the device completed that the app never took are dropped here: missed, as
            // DPDK's imissed (a failover port counts them as left on the primary it released).
            foreach (var q in rx) _statsBase.RxMissed += (ulong)q.Drain();
            foreach (var q in tx) q.Drain();
            _controlQueue = null;
            _ringsSetUp = false;
            // A backend that is gone took its mapping with it: the next one gets a new table.
            if (deviceGone)
            {
                _arena?.Dispose();
                _arena = null;
            }
        }
    }

    /// <summary>
    /// The backend went away under a running port (control thread). The rings stay published
    /// until a backend is back: the dead backend no longer touches them, so the datapath may
    /// still take the frames it completed before it died, while TX just fills a ring nobody reads.
    /// </summary>
    private void OnBackendLost()
    {
        if (!_transport.CanReconnect) return;
        lock (_queuesLock)
        {
            if (!_running || _awaitingReconnect || _transport.IsConnected) return;
            _awaitingReconnect = true;
            VirtioNetLog.BackendLost(_log, Name, _rx.Length + _tx.Length);
            _transport.Reconnect();
        }
    }

    /// <summary>
    /// A backend is there again (control thread). The old rings are taken back first, not resumed:
    /// a backend that died may have consumed descriptors it never marked used, so the only state
    /// both sides can agree on is a fresh ring (split: base 0 on an empty ring; packed: position
    /// 0, wrap counter 1). Every lent mbuf goes back to its pool (none lost) and nothing the old
    /// rings held can surface later (none delivered twice); frames in flight at the crash are
    /// dropped, as on a wire. Then the same features as before or nothing, new rings, link up.
    /// </summary>
    private void OnBackendBack()
    {
        bool up = false;
        lock (_queuesLock)
        {
            if (!_running)
            {
                // Stopped meanwhile: keep the connection for the next start, with fresh features.
                try { Negotiate(); }
                catch (NotSupportedException e) { VirtioNetLog.RenegotiateFailed(_log, Name, e.Message); }
                return;
            }
            if (!_awaitingReconnect) return;
            TearDownQueues(deviceGone: true);
            ulong offered = _transport.DeviceFeatures;
            if ((offered & _negotiated) != _negotiated)
            {
                // The app configured the port for these features; fewer would change what it gets.
                VirtioNetLog.ReconnectFeaturesLost(_log, Name, Describe(_negotiated & ~offered));
                _transport.Reconnect();
                return;
            }
            try
            {
                SetUpQueues();
                _awaitingReconnect = false;
                _reconnects++;
                up = true;
                VirtioNetLog.BackendBack(_log, Name, _reconnects);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or NotSupportedException)
            {
                VirtioNetLog.ReconnectSetupFailed(_log, Name, e.Message);
                _transport.Reconnect();
            }
        }
        if (up) SetLink(true);
    }

    /// <summary>
    /// A queue stayed stalled: what the device wrote cannot be, and waiting has not mended it, so
    /// its own view of the ring is off (a used index moved on by a lie, say). Both sides are given
    /// fresh rings, as on a stop and start but with no action by the app: every lent mbuf goes back
    /// to its pool first, and the link stays up. Control thread, from <see cref="QueueHealth"/>.
    /// </summary>
    private void ResetAfterLastingStall()
    {
        lock (_queuesLock)
        {
            if (!_running || _awaitingReconnect || !_transport.IsConnected) return;
            TearDownQueues();
            try
            {
                SetUpQueues();
                _stallResets++;
                VirtioNetLog.StallReset(_log, Name, _stallResets);
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or NotSupportedException)
            {
                VirtioNetLog.StallResetFailed(_log, Name, e.Message);
            }
        }
        if (_rx.Length == 0) SetLink(false);
    }

    protected override void OnClose()
    {
        _transport.EventRaised -= OnTransportEvent;
        _transport.Dispose();
        _arena?.Dispose();
        _arena = null;
    }

    protected override void OnSetPromiscuous(bool enabled) =>
        SendRxMode(ControlCommands.RxPromisc, enabled);

    protected override void OnSetAllMulticast(bool enabled) =>
        SendRxMode(ControlCommands.RxAllMulti, enabled);

    protected override void OnSetMtu(int mtu) => _transport.SetMtu(mtu);

    private void SendRxMode(byte command, bool enabled)
    {
        if (!Has(_negotiated, CtrlRx)) throw new NotSupportedException($"{Name}: the device has no VIRTIO_NET_F_CTRL_RX");
        SendControl(ControlCommands.ClassRx, command, [enabled ? (byte)1 : (byte)0]);
    }

    /// <summary>Runs a control-queue command; a NAK is an error naming the command.</summary>
    internal void SendControl(byte commandClass, byte command, ReadOnlySpan<byte> data)
    {
        byte ack;
        if (_transport.EmulatesControlQueue) ack = _transport.ExecuteControl(commandClass, command, data);
        else if (_controlQueue is { } cq) ack = cq.Execute(commandClass, command, data, TimeSpan.FromSeconds(2));
        else throw new InvalidOperationException($"{Name}: control commands need a started port with VIRTIO_NET_F_CTRL_VQ");
        if (ack != ControlCommands.AckOk)
            throw new InvalidOperationException($"{Name}: the device refused control command class {commandClass} command {command}");
    }

    private void OnTransportEvent(TransportEvent e)
    {
        switch (e)
        {
            case TransportEvent.Disconnected:
                // Posted from a stop that dropped a bad connection: a start since then has a new one.
                if (_transport.IsConnected) break;
                SetLink(false);
                OnBackendLost();
                break;
            case TransportEvent.Reconnected:
                OnBackendBack();
                break;
            case TransportEvent.ConfigChanged:
                var status = _transport.ReadConfig().Status;
                SetLink(status is null || (status & VirtioNetConfig.LinkUp) != 0);
                if (status is { } s && (s & VirtioNetConfig.Announce) != 0) OnAnnounceRequested();
                break;
            case TransportEvent.DeviceRequest:
                RaiseEvent(PortEventType.DeviceRequest);
                break;
        }
    }

    /// <summary>
    /// The device asks for an announcement (VIRTIO 5.1.6.5.4): the owner sends it from the event's
    /// callbacks, and the ack, queued on the control thread behind them, then clears the status
    /// bit, which lets QEMU go on to its next announce round.
    /// </summary>
    private void OnAnnounceRequested()
    {
        if (!Has(_negotiated, GuestAnnounce)) return;
        _announceRequests++;
        RaiseEvent(PortEventType.AnnounceRequest);
        if (Registry is { } registry) registry.Control.Post(AckAnnounce);
        else AckAnnounce();
    }

    private void AckAnnounce()
    {
        if (_controlQueue is null) return;   // stopped meanwhile: the device resets the status with the queues
        try { SendControl(ControlCommands.ClassAnnounce, ControlCommands.AnnounceAck, []); }
        catch (Exception e) when (e is InvalidOperationException or InvalidDataException or TimeoutException)
        {
            VirtioNetLog.AnnounceAckFailed(_log, Name, e.Message);
        }
    }

    private void SetLink(bool up)
    {
        // Queues exist from the end of OnStart to the start of OnStop: that is when a link can be up.
        // Under the queues' lock, so that a stop and a reconnect cannot report their changes out of order.
        lock (_queuesLock)
        {
            up = up && _rx.Length + _tx.Length > 0 && _transport.IsConnected;
            if (_linkUp == up) return;
            _linkUp = up;
            RaiseEvent(PortEventType.LinkStateChange, up ? "up" : "down");
        }
    }

    public override PortStats GetStats() => AddQueueStats(_statsBase, _rx, _tx);

    private static PortStats AddQueueStats(PortStats s, VirtioRxQueue[] rx, VirtioTxQueue[] tx)
    {
        foreach (var q in rx)
        {
            s.RxPackets += q.Stats.Packets;
            s.RxBytes += q.Stats.Bytes;
            s.RxErrors += q.Stats.Errors;
            s.RxNoMbuf += q.Stats.NoMbuf;
        }
        foreach (var q in tx)
        {
            s.TxPackets += q.Stats.Packets;
            s.TxBytes += q.Stats.Bytes;
            s.TxErrors += q.Stats.Errors + q.Stats.Dropped;
        }
        return s;
    }

    /// <summary>The queues' own counters (those of rings a reconnect replaced are only in the port's totals).</summary>
    internal override void AddQueueStats(QueueStats stats)
    {
        // One read of each array: a reconnect may swap them on the control thread meanwhile.
        var rx = _rx;
        var tx = _tx;
        for (int i = 0; i < Math.Min(rx.Length, QueueStats.Count); i++)
        {
            var s = rx[i].Stats;
            stats.RxPackets[i] += s.Packets;
            stats.RxBytes[i] += s.Bytes;
            stats.RxErrors[i] += s.Errors;
        }
        for (int i = 0; i < Math.Min(tx.Length, QueueStats.Count); i++)
        {
            var s = tx[i].Stats;
            stats.TxPackets[i] += s.Packets;
            stats.TxBytes[i] += s.Bytes;
        }
    }

    public override void ResetStats()
    {
        _statsBase = default;
        var rx = _rx;
        var tx = _tx;
        foreach (var q in rx) q.Stats = default;
        foreach (var q in tx) q.Stats = default;
    }

    public override IReadOnlyList<Xstat> GetXstats()
    {
        // One read of each array: a reconnect may swap them on the control thread meanwhile.
        var rxq = _rx;
        var txq = _tx;
        var list = new List<Xstat>();
        for (int i = 0; i < rxq.Length; i++)
        {
            var s = rxq[i].Stats;
            list.Add(new($"rx_q{i}_packets", s.Packets));
            list.Add(new($"rx_q{i}_bytes", s.Bytes));
            list.Add(new($"rx_q{i}_errors", s.Errors));
            list.Add(new($"rx_q{i}_nombuf", s.NoMbuf));
            list.Add(new($"rx_q{i}_corrupt_used", rxq[i].CorruptEntries));
            list.Add(new($"rx_q{i}_stalls", rxq[i].Stalls));
            list.Add(new($"rx_q{i}_kicks", s.Kicks));
        }
        for (int i = 0; i < txq.Length; i++)
        {
            var s = txq[i].Stats;
            list.Add(new($"tx_q{i}_packets", s.Packets));
            list.Add(new($"tx_q{i}_bytes", s.Bytes));
            list.Add(new($"tx_q{i}_dropped", s.Dropped));
            list.Add(new($"tx_q{i}_errors", s.Errors));
            list.Add(new($"tx_q{i}_corrupt_used", txq[i].CorruptEntries));
            list.Add(new($"tx_q{i}_stalls", txq[i].Stalls));
            list.Add(new($"tx_q{i}_kicks", s.Kicks));
        }
        list.Add(new("announce_requests", _announceRequests));
        list.Add(new("reconnects", _reconnects));
        list.Add(new("stall_resets", _stallResets));
        return list;
    }
}
