using Microsoft.Extensions.Logging;
using Pmd.Memory;
using Pmd.Threading;
using Pmd.VirtioNet.Net;
using static Pmd.VirtioNet.Net.VirtioFeatures;

namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>
/// virtio-user: the virtio device is a vhost-user backend behind a Unix socket, as with DPDK's
/// net_virtio_user. Like DPDK, the front end emulates what the backend does not do itself: the
/// config space (MAC, link status, queue pairs), and the control queue, whose MQ command becomes
/// SET_VRING_ENABLE. The backend maps our DMA regions from the fds sent in SET_MEM_TABLE.
/// </summary>
internal sealed unsafe class VhostUserTransport : VirtioTransport
{
    /// <summary>Features answered here rather than by the backend.</summary>
    private const ulong LocalFeatures = (1UL << Mac) | (1UL << Status) | (1UL << CtrlVq) | (1UL << CtrlRx);

    /// <summary>
    /// Bits never taken from the backend's offer, because only this side can honour them: STANDBY
    /// (a failover pairing is the front end's choice, QEMU's failover=on), the config space and
    /// control queue we emulate (GUEST_ANNOUNCE, CTRL_GUEST_OFFLOADS, CTRL_VLAN, CTRL_RX_EXTRA,
    /// CTRL_MAC_ADDR, NOTF_COAL, HASH_REPORT, RSS, SPEED_DUPLEX: commands or fields the emulation
    /// does not answer), and the transport bits (PROTOCOL_FEATURES, ACCESS_PLATFORM).
    /// </summary>
    private const ulong FrontEndOnly = LocalFeatures | (1UL << Standby) | (1UL << GuestAnnounce) | (1UL << 2) | (1UL << CtrlVlan)
        | (1UL << 20) | (1UL << CtrlMacAddr) | (1UL << 53) | (1UL << 57) | (1UL << 60) | (1UL << 63)
        | (1UL << ProtocolFeatures) | (1UL << AccessPlatform);

    /// <summary>Client-mode reconnect backoff: quick at first (a restart takes ~1 s), then at most twice a second.</summary>
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(20), MaxRetry = TimeSpan.FromMilliseconds(500);

    private readonly VhostUserOptions _options;
    private readonly byte[] _mac;
    private readonly ILogger _log;
    private readonly Dictionary<int, EventFd> _kicks = [];
    private EventFd?[] _kickByIndex = [];
    private VhostUserListener? _listener;
    private VhostUserChannel? _channel;
    private ControlThread? _control;
    private ulong _backendFeatures;
    private ulong _protocolFeatures;
    private byte _status;
    private bool _memTableSent;
    private volatile bool _connected;
    // Connect, the background reconnect and Dispose each own the channel in turn.
    private readonly Lock _connectLock = new();
    // Bumped by every Connect, Reconnect and Dispose: a reconnect step of an older one does nothing.
    private int _reconnectGeneration;
    private bool _listenerWatched;
    private TimeSpan _retry;
    private long _establishedAt;

    public VhostUserTransport(VhostUserOptions options, ILoggerFactory? loggerFactory = null)
    {
        _log = (loggerFactory ?? PmdLogging.Factory).CreateLogger("Pmd.VirtioNet.VhostUser");
        _options = options;
        _mac = options.Mac ?? RandomLocalMac();
    }

    public override string Description => $"vhost-user {(_options.Server ? "server" : "client")} {_options.Path}";

    public override bool IsConnected => _connected;

    public override int MaxQueueSize => 32768;

    public override bool EmulatesControlQueue => true;

    public override ulong DeviceFeatures
    {
        get
        {
            ulong offered = _backendFeatures & ~FrontEndOnly;
            if (!HasProtocol(VhostUserProtocolFeatures.Mq)) offered &= ~Bit(Mq);
            offered |= LocalFeatures;
            if (_options.Standby) offered |= Bit(Standby);
            return offered;
        }
    }

    public override void Connect()
    {
        lock (_connectLock)
        {
            _reconnectGeneration++;
            UnwatchListener();
            CloseChannel();
            VhostUserChannel channel;
            if (_options.Server)
            {
                _listener ??= new VhostUserListener(_options.Path);
                VirtioNetLog.VhostUserWaiting(_log, _options.Path);
                channel = VhostUserChannel.Accept(_listener, _options.Timeout, _options.Timeout);
            }
            else
            {
                channel = VhostUserChannel.Connect(_options.Path, _options.Timeout);
            }
            Establish(channel);
        }
    }

    /// <summary>The handshake on a fresh connection: owner, features, protocol features. Owns <paramref name="channel"/>.</summary>
    private void Establish(VhostUserChannel channel)
    {
        try
        {
            _memTableSent = false;
            _status = 0;
            channel.Send(VhostUserRequest.SetOwner, ReadOnlySpan<byte>.Empty);
            ulong features = channel.Query(VhostUserRequest.GetFeatures);
            ulong protocol = 0;
            if ((features & Bit(ProtocolFeatures)) != 0)
            {
                protocol = channel.Query(VhostUserRequest.GetProtocolFeatures) & VhostUserProtocolFeatures.Wanted;
                channel.Send(VhostUserRequest.SetProtocolFeatures, protocol);
            }
            _backendFeatures = features;
            _protocolFeatures = protocol;
        }
        catch
        {
            channel.Dispose();
            throw;
        }
        _channel = channel;
        _connected = true;
        _establishedAt = Environment.TickCount64;
        WatchSocket();
        VirtioNetLog.VhostUserConnected(_log, _options.Path, _backendFeatures, _protocolFeatures);
    }

    public override bool CanReconnect => _control is not null;

    public override void Reconnect()
    {
        if (_control is null) return;
        lock (_connectLock)
        {
            // The old connection goes at once: a backend whose socket stays open would think we are still there.
            CloseChannel();
            int generation = ++_reconnectGeneration;
            // A backend that goes (or is refused) right after connecting is retried ever more
            // slowly, not 50 times a second; one that ran for a while is retried at once.
            _retry = Environment.TickCount64 - _establishedAt > 1000 ? FirstRetry : TimeSpan.FromTicks(Math.Min(Math.Max(_retry.Ticks, FirstRetry.Ticks) * 2, MaxRetry.Ticks));
            VirtioNetLog.VhostUserReconnecting(_log, _options.Path, _options.Server ? "waiting for the backend to connect" : "retrying connect");
            if (_options.Server) WatchListener(generation);
            else _control.Schedule(_retry, () => TryConnect(generation));
        }
    }

    /// <summary>Server mode: the listener is readable, a backend is knocking.</summary>
    private void WatchListener(int generation)
    {
        if (_listener is null || _control is null || _listenerWatched) return;
        _control.Watch(_listener.Fd, _ => OnListenerReadable(generation), readable: true);
        _listenerWatched = true;
    }

    private void UnwatchListener()
    {
        if (!_listenerWatched) return;
        _control?.Unwatch(_listener!.Fd);
        _listenerWatched = false;
    }

    private void OnListenerReadable(int generation)
    {
        bool connected = false;
        lock (_connectLock)
        {
            if (generation != _reconnectGeneration || _listener is null) return;
            UnwatchListener();
            try
            {
                Establish(VhostUserChannel.Accept(_listener, TimeSpan.Zero, _options.Timeout));
                connected = true;
            }
            catch (VhostUserException e)
            {
                // A backend that connects and then misbehaves is dropped; the next one may do better.
                VirtioNetLog.VhostUserHandshakeFailed(_log, _options.Path, e.Message);
                WatchListener(generation);
            }
        }
        if (connected) Raise(TransportEvent.Reconnected);
    }

    /// <summary>Client mode: one connect attempt on the control thread, and the next one scheduled if it fails.</summary>
    private void TryConnect(int generation)
    {
        bool connected = false;
        lock (_connectLock)
        {
            if (generation != _reconnectGeneration || _control is null) return;
            try
            {
                Establish(VhostUserChannel.Connect(_options.Path, _options.Timeout));
                connected = true;
            }
            catch (VhostUserException e)
            {
                VirtioNetLog.VhostUserAttemptFailed(_log, _options.Path, (long)_retry.TotalMilliseconds, e.Message);
                _control.Schedule(_retry, () => TryConnect(generation));
                _retry = TimeSpan.FromTicks(Math.Min(_retry.Ticks * 2, MaxRetry.Ticks));
            }
        }
        if (connected) Raise(TransportEvent.Reconnected);
    }

    public override void SetFeatures(ulong features)
    {
        var channel = Channel;
        // Only what the backend offered goes to it; the local features stay here.
        ulong toBackend = features & _backendFeatures & ~FrontEndOnly;
        if ((_backendFeatures & Bit(ProtocolFeatures)) != 0) toBackend |= Bit(ProtocolFeatures);
        channel.Send(VhostUserRequest.SetFeatures, toBackend);
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk);
        _memTableSent = false;
    }

    public override VirtioNetConfig ReadConfig() =>
        new(_mac, _connected ? VirtioNetConfig.LinkUp : (ushort)0, (ushort)_options.QueuePairs, null);

    public override void SetupQueue(QueueSetup queue)
    {
        var channel = Channel;
        if (!_memTableSent) SendMemTable(channel);
        uint index = (uint)queue.Index;
        channel.Send(VhostUserRequest.SetVringNum, new VhostVringState { Index = index, Num = (uint)queue.Size });
        // Packed rings start at position 0 in lap 1: the wrap counter rides in bit 15.
        channel.Send(VhostUserRequest.SetVringBase, new VhostVringState { Index = index, Num = queue.Packed ? 0x8000u : 0 });
        channel.Send(VhostUserRequest.SetVringAddr, new VhostVringAddr
        {
            Index = index,
            DescUserAddr = queue.Descriptors,
            AvailUserAddr = queue.DriverArea,
            UsedUserAddr = queue.DeviceArea,
        });
        // We poll, so the backend gets no call fd and never spends a syscall interrupting us.
        channel.Send(VhostUserRequest.SetVringCall, (ulong)index | VringFdPayload.NoFd);
        var kick = new EventFd();
        if (_kicks.Remove(queue.Index, out var old)) old.Dispose();
        _kicks[queue.Index] = kick;
        if (_kickByIndex.Length <= queue.Index) Array.Resize(ref _kickByIndex, queue.Index + 1);
        _kickByIndex[queue.Index] = kick;
        channel.Send(VhostUserRequest.SetVringKick, (ulong)index, [kick.Fd]);
    }

    public override void EnableQueue(int index, bool enable)
    {
        // Without protocol features the backend enables a ring when it gets its kick fd.
        if ((_backendFeatures & Bit(ProtocolFeatures)) == 0) return;
        var channel = Channel;
        bool ack = HasProtocol(VhostUserProtocolFeatures.ReplyAck);
        channel.Send(VhostUserRequest.SetVringEnable, new VhostVringState { Index = (uint)index, Num = enable ? 1u : 0 }, needReply: ack);
        if (ack) channel.ExpectAck(VhostUserRequest.SetVringEnable);
    }

    public override void DriverOk() =>
        SetStatus(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk);

    public override void StopQueues(int queueCount)
    {
        lock (_connectLock)
        {
            if (_connected && _channel is not null)
            {
                try
                {
                    for (int i = 0; i < queueCount; i++)
                    {
                        // GET_VRING_BASE stops the backend's processing of the ring before we reclaim it.
                        _channel.Send(VhostUserRequest.GetVringBase, new VhostVringState { Index = (uint)i });
                        _channel.Receive<VhostVringState>(VhostUserRequest.GetVringBase);
                    }
                }
                catch (VhostUserException e)
                {
                    // Whatever went wrong, the caller takes its buffers back next: a backend that
                    // answers nonsense is as good as gone, so the connection is dropped and the
                    // next start makes a new one.
                    if (e.Disconnected) VirtioNetLog.VhostUserGoneWhileStopping(_log, e.Message);
                    else VirtioNetLog.VhostUserProtocolErrorWhileStopping(_log, e.Message);
                    MarkDisconnected();
                    CloseChannel();
                }
            }
            _kickByIndex = [];
            foreach (var kick in _kicks.Values) kick.Dispose();
            _kicks.Clear();
        }
    }

    public override void Notify(int index)
    {
        var kicks = _kickByIndex;
        if ((uint)index < (uint)kicks.Length) kicks[index]?.Signal();
    }

    public override byte ExecuteControl(byte commandClass, byte command, ReadOnlySpan<byte> data)
    {
        const byte Ok = 0, Err = 1;
        switch (commandClass)
        {
            case ControlCommands.ClassRx:
            case ControlCommands.ClassMac:
                // The backend forwards every frame it gets; filters are accepted and have nothing to do.
                return Ok;
            case ControlCommands.ClassMq when command == ControlCommands.MqVqPairsSet && data.Length >= 2:
                int pairs = data[0] | (data[1] << 8);
                if (pairs < 1 || pairs > _options.QueuePairs) return Err;
                for (int i = 0; i < _options.QueuePairs; i++)
                {
                    if (!_kicks.ContainsKey(2 * i)) continue;
                    EnableQueue(2 * i, i < pairs);
                    EnableQueue(2 * i + 1, i < pairs);
                }
                return Ok;
            default:
                return Err;
        }
    }

    public override void SetMtu(int mtu)
    {
        if (!HasProtocol(VhostUserProtocolFeatures.NetMtu) || !_connected) return;
        var channel = Channel;
        bool ack = HasProtocol(VhostUserProtocolFeatures.ReplyAck);
        channel.Send(VhostUserRequest.NetSetMtu, (ulong)mtu, needReply: ack);
        if (ack) channel.ExpectAck(VhostUserRequest.NetSetMtu);
    }

    public override void AttachControl(ControlThread control)
    {
        _control = control;
        WatchSocket();
    }

    private VhostUserChannel Channel => _connected && _channel is not null
        ? _channel
        : throw new VhostUserException($"{Description}: not connected to a backend");

    private bool HasProtocol(int bit) => (_protocolFeatures & (1UL << bit)) != 0;

    private void SetStatus(byte status)
    {
        _status = status;
        if (!HasProtocol(VhostUserProtocolFeatures.Status)) return;
        var channel = Channel;
        bool ack = HasProtocol(VhostUserProtocolFeatures.ReplyAck);
        channel.Send(VhostUserRequest.SetStatus, (ulong)_status, needReply: ack);
        if (ack) channel.ExpectAck(VhostUserRequest.SetStatus);
    }

    private void SendMemTable(VhostUserChannel channel)
    {
        var regions = DmaRegistry.Shared.Snapshot();
        if (regions.Count > VhostMemory.MaxRegions)
            throw new VhostUserException(
                $"{Description}: {regions.Count} DMA regions exist, vhost-user shares at most {VhostMemory.MaxRegions}; use fewer, larger mempools",
                disconnected: false);
        if (regions.FirstOrDefault(r => r.Owner.IovaMode != IovaMode.VirtualAddress) is { Owner: { } pa })
            throw new VhostUserException($"{Description}: region {pa.Name} uses physical addresses; vhost-user needs IOVA = VA (--iova-mode=va)", disconnected: false);
        VhostMemory table = default;
        table.RegionCount = (uint)regions.Count;
        var entries = (VhostMemoryRegion*)table.Regions;
        Span<int> fds = stackalloc int[regions.Count];
        for (int i = 0; i < regions.Count; i++)
        {
            var r = regions[i];
            // IOVA is the virtual address here: descriptors carry our own pointers.
            entries[i] = new VhostMemoryRegion
            {
                GuestPhysAddr = (ulong)r.VirtualAddress,
                MemorySize = r.Length,
                UserspaceAddr = (ulong)r.VirtualAddress,
                MmapOffset = (ulong)r.FdOffset,
            };
            fds[i] = r.Fd;
        }
        bool ack = HasProtocol(VhostUserProtocolFeatures.ReplyAck);
        channel.Send(VhostUserRequest.SetMemTable, new ReadOnlySpan<byte>(&table, VhostMemory.SizeFor(regions.Count)), fds, needReply: ack);
        if (ack) channel.ExpectAck(VhostUserRequest.SetMemTable);
        _memTableSent = true;
    }

    private void WatchSocket()
    {
        if (_control is null || _channel is null || !_connected) return;
        var channel = _channel;
        _control.Watch(channel.Fd, events =>
        {
            if (channel != _channel) return;
            if ((events & FdEvents.HangUp) != 0 || channel.PeerClosed()) MarkDisconnected();
        }, readable: false);
    }

    private void MarkDisconnected()
    {
        if (!_connected) return;
        _connected = false;
        if (_channel is not null) _control?.Unwatch(_channel.Fd);
        VirtioNetLog.VhostUserDisconnected(_log, _options.Path);
        if (_control is null || _control.IsCurrent) Raise(TransportEvent.Disconnected);
        else _control.Post(() => Raise(TransportEvent.Disconnected));
    }

    private void CloseChannel()
    {
        if (_channel is null) return;
        _control?.Unwatch(_channel.Fd);
        _channel.Dispose();
        _channel = null;
        _connected = false;
    }

    private static byte[] RandomLocalMac()
    {
        var mac = new byte[6];
        Random.Shared.NextBytes(mac);
        mac[0] = (byte)((mac[0] & 0xFE) | 0x02); // unicast, locally administered
        return mac;
    }

    public override void Dispose()
    {
        StopQueues(0);
        lock (_connectLock)
        {
            _reconnectGeneration++;
            UnwatchListener();
            CloseChannel();
            _listener?.Dispose();
            _listener = null;
        }
    }
}
