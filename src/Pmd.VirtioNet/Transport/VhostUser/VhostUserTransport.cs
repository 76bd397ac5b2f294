using Microsoft.Extensions.Logging;
using Pmd.Hotplug;
using Pmd.Memory;
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

    private readonly VhostUserOptions _options;
    private readonly byte[] _mac;
    private readonly ILogger _log = PmdLogging.CreateLogger("Pmd.VirtioNet.VhostUser");
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

    public VhostUserTransport(VhostUserOptions options)
    {
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
            ulong offered = _backendFeatures & ~(Bit(ProtocolFeatures) | Bit(AccessPlatform));
            if (!HasProtocol(VhostUserProtocolFeatures.Mq)) offered &= ~Bit(Mq);
            offered |= LocalFeatures;
            if (_options.Standby) offered |= Bit(Standby);
            return offered;
        }
    }

    public override void Connect()
    {
        CloseChannel();
        if (_options.Server)
        {
            _listener ??= new VhostUserListener(_options.Path);
            _log.LogInformation("waiting for a vhost-user backend on {Path}", _options.Path);
            _channel = VhostUserChannel.Accept(_listener, _options.Timeout);
        }
        else
        {
            _channel = VhostUserChannel.Connect(_options.Path, _options.Timeout);
        }
        _memTableSent = false;
        _status = 0;
        _channel.Send(VhostUserRequest.SetOwner, ReadOnlySpan<byte>.Empty);
        _backendFeatures = _channel.Query(VhostUserRequest.GetFeatures);
        _protocolFeatures = 0;
        if ((_backendFeatures & Bit(ProtocolFeatures)) != 0)
        {
            _protocolFeatures = _channel.Query(VhostUserRequest.GetProtocolFeatures) & VhostUserProtocolFeatures.Wanted;
            _channel.Send(VhostUserRequest.SetProtocolFeatures, _protocolFeatures);
        }
        _connected = true;
        WatchSocket();
        _log.LogInformation("connected to {Path}: backend features 0x{Features:x}, protocol features 0x{Protocol:x}",
            _options.Path, _backendFeatures, _protocolFeatures);
    }

    public override void SetFeatures(ulong features)
    {
        var channel = Channel;
        // Only what the backend offered goes to it; the local features stay here.
        ulong toBackend = features & _backendFeatures & ~(LocalFeatures | Bit(Standby));
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
            catch (VhostUserException e) when (e.Disconnected)
            {
                _log.LogWarning("backend went away while stopping: {Message}", e.Message);
                MarkDisconnected();
            }
        }
        _kickByIndex = [];
        foreach (var kick in _kicks.Values) kick.Dispose();
        _kicks.Clear();
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
        _log.LogWarning("vhost-user backend at {Path} disconnected", _options.Path);
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
        CloseChannel();
        _listener?.Dispose();
        _listener = null;
    }
}
