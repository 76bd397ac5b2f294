using Microsoft.Extensions.Logging;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.Threading;
using static Pmd.Vfio.Nics.E1000e.E1000eRegisters;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// An Intel 82574 (QEMU's e1000e) through VFIO: one or two RX queues of extended descriptors (two
/// spread by RSS) and one or two TX queues in a DMA arena, link changes through an MSI-X vector,
/// the hypervisor's unplug request as a device-request event, and the hardware counters as xstats. Closing the port closes the VFIO
/// device fd, which is what lets a hot-unplug finish.
/// </summary>
internal sealed unsafe class E1000ePort : EthPort
{
    private const int DefaultRingSize = 256, MinRingSize = 32, MaxRingSize = 4096, RingAlignment = 8;
    private const int EthernetOverhead = 14 + 4; // header and one VLAN tag; the CRC is stripped

    private readonly VfioPciDevice _device;
    private readonly E1000eController _mac;
    private readonly PciInterrupts _interrupts;
    private readonly E1000eHardwareStats _hardwareStats = new();
    private readonly Lock _hardware = new();   // MMIO from the control thread, stats readers and stop/close
    private readonly ILogger _log;
    private readonly MacAddress _address;
    private readonly bool _macFromEeprom;
    private readonly bool _linkInterrupt;
    private readonly bool _requestInterrupt;
    private E1000eRxQueue[] _rx = [];
    private E1000eTxQueue[] _tx = [];
    private DmaArena? _arena;
    private DmaArena? _stoppedArena;   // freed after the device is closed or reset: unmapping DMA is slow, and a release must not wait for it
    private PortStats _stoppedStats;
    private bool _linkUp;
    private bool _closed;

    /// <param name="loggerFactory">Where the port logs; <see cref="PmdLogging.Factory"/> if null.</param>
    public E1000ePort(string name, VfioPciDevice device, ControlThread control, ILoggerFactory? loggerFactory = null) : base(name)
    {
        _log = (loggerFactory ?? PmdLogging.Factory).CreateLogger("Pmd.Vfio.E1000e");
        _device = device;
        device.EnableBusMaster();
        _mac = new E1000eController(device.MapBar(0), device.Address.ToString());
        _interrupts = new PciInterrupts(device, control);
        try
        {
            _mac.Reset();
            _address = _mac.ReadMacAddress(out _macFromEeprom);
            _linkInterrupt = _interrupts.WireMsix(OnLinkInterrupt);
            _requestInterrupt = _interrupts.WireDeviceRequest(OnDeviceRequest);
        }
        catch
        {
            _interrupts.Dispose();
            throw;
        }
        if (!_linkInterrupt) VfioLog.E1000eNoLinkInterrupt(_log, Device);
        VfioLog.E1000eProbed(_log, Device, _address, _macFromEeprom ? "the EEPROM" : "RAL0/RAH0", _mac.ReadLink(), _linkInterrupt, _requestInterrupt);
    }

    private string Device => _device.Address.ToString();

    public override MacAddress MacAddress => _address;

    public override LinkStatus Link
    {
        get
        {
            lock (_hardware) return _closed || _rx.Length == 0 ? LinkStatus.Down : _mac.ReadLink();
        }
    }

    public override PortInfo Info => new()
    {
        DriverName = "net_e1000e",
        MaxRxQueues = MaxQueues,
        MaxTxQueues = MaxQueues,
        MaxRxDescriptors = MaxRingSize,
        MaxTxDescriptors = MaxRingSize,
        MinMtu = 68,
        MaxMtu = E1000eController.MaxFrame - EthernetOverhead,
        RxOffloadCapabilities = RxOffloads.Scatter | RxOffloads.Ipv4Checksum | RxOffloads.Checksum,
        // TSO over IPv4 only: see E1000eTxOffload.
        TxOffloadCapabilities = TxOffloads.MultiSegment | TxOffloads.Ipv4Checksum | TxOffloads.Checksum | TxOffloads.TcpTso,
        Details =
        [
            new("device", $"{_device.Address} ({_device.VendorId:x4}:{_device.DeviceId:x4}, Intel 82574) via VFIO"),
            new("descriptors", "extended RX; legacy TX, extended data and context descriptors for offloads"),
            new("queues", "up to 2 RX + 2 TX; 2 RX queues are spread by RSS (Toeplitz, 128-entry table, TCP/IPv4, IPv4, TCP/IPv6, IPv6; UDP by addresses)"),
            new("mac source", _macFromEeprom ? "EEPROM" : "RAL0/RAH0"),
            new("link interrupt", _linkInterrupt ? "MSI-X vector 0 (other causes)" : "none"),
            new("request interrupt", _requestInterrupt ? "yes" : "no"),
        ],
    };

    protected override int OnRxBurst(int queue, Span<Mbuf> mbufs)
    {
        var rx = _rx;
        return (uint)queue < (uint)rx.Length ? rx[queue].Burst(mbufs) : 0;
    }

    protected override int OnTxBurst(int queue, Span<Mbuf> mbufs)
    {
        var tx = _tx;
        return (uint)queue < (uint)tx.Length ? tx[queue].Burst(mbufs) : 0;
    }

    public override int TxDoneCleanup(int queue)
    {
        var tx = _tx;
        if ((uint)queue >= (uint)tx.Length) return 0;
        tx[queue].Cleanup();
        return tx[queue].InFlight;
    }

    protected override void OnConfigure(PortConfig config)
    {
        CheckRingSize(config.RxDescriptors, "RX");
        CheckRingSize(config.TxDescriptors, "TX");
        E1000eRxBufferSize.For(config.RxPool!.DataRoom);
    }

    private void CheckRingSize(int descriptors, string what)
    {
        if (descriptors == 0) return;
        if (descriptors < MinRingSize || descriptors > MaxRingSize || descriptors % RingAlignment != 0)
            throw new ArgumentOutOfRangeException(nameof(descriptors), $"{Name}: {what} ring of {descriptors} descriptors; the e1000e takes a multiple of {RingAlignment} from {MinRingSize} to {MaxRingSize}");
    }

    private static int RingSize(int asked) => asked == 0 ? DefaultRingSize : asked;

    protected override void OnStart()
    {
        var config = Config!;
        var pool = config.RxPool!;
        int rxSize = RingSize(config.RxDescriptors), txSize = RingSize(config.TxDescriptors);
        var (bufferSize, bufferBits) = E1000eRxBufferSize.For(pool.DataRoom);
        lock (_hardware)
        {
            ObjectDisposedException.ThrowIf(_closed, this);
            // A reset clears the counters: keep what they hold.
            _hardwareStats.Accumulate(_mac.Registers);
            _mac.Reset();
            _stoppedArena?.Dispose();
            _stoppedArena = null;
            _mac.WriteMacAddress(_address);
            _mac.ClearMulticastTable();
            _mac.SetLinkUp();
            var layout = new E1000eQueueSet.Layout(config.RxQueues, config.TxQueues, rxSize, txSize, bufferSize, bufferBits, Mtu + EthernetOverhead, PortId, RxChecksums(config.RxOffloads));
            var arena = new DmaArena($"{Name}-rings", E1000eQueueSet.ArenaBytes(layout), _device.IovaMode);
            try
            {
                var queues = E1000eQueueSet.Start(_mac, arena, pool, layout, IsJumbo(Mtu), Promiscuous, AllMulticast);
                // Held before anything else can throw: the catch below gives their mbufs back.
                _rx = queues.Rx;
                _tx = queues.Tx;
                if (_linkInterrupt) _mac.EnableLinkInterrupt(vector: 0);
            }
            catch
            {
                _mac.Reset();
                foreach (var q in _rx) q.Drain();
                _rx = [];
                _tx = [];
                arena.Dispose();
                throw;
            }
            _arena = arena;
        }
        UpdateLink();
    }

    /// <summary>The RXCSUM bits for the RX offloads asked for: the device checks only those.</summary>
    private static uint RxChecksums(RxOffloads offloads) =>
        ((offloads & RxOffloads.Ipv4Checksum) != 0 ? RxcsumBits.IpOffload : 0) | ((offloads & RxOffloads.Checksum) != 0 ? RxcsumBits.L4Offload : 0);

    private static bool IsJumbo(int mtu) => mtu + EthernetOverhead > E1000eController.StandardMaxFrame;

    protected override void OnStop()
    {
        lock (_hardware)
        {
            var rx = _rx;
            var tx = _tx;
            _stoppedStats = SoftwareStats();
            _rx = [];
            _tx = [];
            if (!_closed)
            {
                // Once mastering is off the device neither reads nor writes our memory: every mbuf can
                // go back. No reset here (its waits are tens of ms, and a release must be quick); start resets.
                _mac.Quiesce();
                _hardwareStats.Accumulate(_mac.Registers);
            }
            foreach (var q in rx) q.Drain();
            foreach (var q in tx) q.Drain();
            _stoppedArena = _arena;
            _arena = null;
        }
        UpdateLink();
    }

    protected override void OnClose()
    {
        lock (_hardware) _closed = true;
        // Closing the device fd is what lets the hypervisor complete an unplug: first, before the
        // slow parts (the kernel turns the interrupts off itself; the rings' DMA mapping goes after).
        _device.Dispose();
        _interrupts.Dispose();
        _stoppedArena?.Dispose();
        _stoppedArena = null;
    }

    protected override void OnSetPromiscuous(bool enabled) => UpdateRxModes(Mtu, enabled, AllMulticast);

    protected override void OnSetAllMulticast(bool enabled) => UpdateRxModes(Mtu, Promiscuous, enabled);

    protected override void OnSetMtu(int mtu)
    {
        UpdateRxModes(mtu, Promiscuous, AllMulticast);
        foreach (var q in _rx) q.MaxFrame = mtu + EthernetOverhead;
    }

    private void UpdateRxModes(int mtu, bool promiscuous, bool allMulticast)
    {
        lock (_hardware)
        {
            if (!_closed && _rx.Length > 0) _mac.UpdateRxModes(IsJumbo(mtu), promiscuous, allMulticast);
        }
    }

    /// <summary>MSI-X vector 0, on the control thread: the "other" causes, of which link status change is the one enabled.</summary>
    private void OnLinkInterrupt()
    {
        lock (_hardware)
        {
            if (_closed) return;
            _mac.TakeInterruptCauses();
            if (_rx.Length > 0) _mac.EnableLinkInterrupt(vector: 0);
        }
        UpdateLink();
    }

    /// <summary>
    /// The event only: whoever releases the device is waiting behind this handler, and a process's
    /// first log line costs hundreds of ms of JIT under emulation (the event is printed by who handles it).
    /// </summary>
    private void OnDeviceRequest() => RaiseEvent(PortEventType.DeviceRequest);

    /// <summary>Raises a link event when the link differs from what was last reported; a stopped port is down.</summary>
    private void UpdateLink()
    {
        LinkStatus link;
        lock (_hardware)
        {
            link = _closed || _rx.Length == 0 ? LinkStatus.Down : _mac.ReadLink();
            if (link.Up == _linkUp) return;
            _linkUp = link.Up;
        }
        VfioLog.E1000eLinkChanged(_log, Device, link);
        RaiseEvent(PortEventType.LinkStateChange, link.Up ? "up" : "down");
    }

    private PortStats SoftwareStats()
    {
        var s = _stoppedStats;
        foreach (var q in _rx)
        {
            s.RxPackets += q.Stats.Packets;
            s.RxBytes += q.Stats.Bytes;
            s.RxErrors += q.Stats.Errors + q.Stats.BadLength;
            s.RxNoMbuf += q.Stats.NoMbuf;
        }
        foreach (var q in _tx)
        {
            s.TxPackets += q.Stats.Packets;
            s.TxBytes += q.Stats.Bytes;
            s.TxErrors += q.Stats.Errors;
        }
        return s;
    }

    private void ReadHardwareStats()
    {
        if (!_closed) _hardwareStats.Accumulate(_mac.Registers);
    }

    /// <summary>Packets and bytes as the driver handed them over; missed and MAC-rejected frames from the hardware counters.</summary>
    public override PortStats GetStats()
    {
        lock (_hardware)
        {
            ReadHardwareStats();
            var s = SoftwareStats();
            s.RxMissed += _hardwareStats.Missed;
            s.RxErrors += _hardwareStats.Errors;
            return s;
        }
    }

    internal override void AddQueueStats(QueueStats stats)
    {
        lock (_hardware)
        {
            for (int i = 0; i < Math.Min(_rx.Length, QueueStats.Count); i++)
            {
                var s = _rx[i].Stats;
                stats.RxPackets[i] += s.Packets;
                stats.RxBytes[i] += s.Bytes;
                stats.RxErrors[i] += s.Errors + s.BadLength;
            }
            for (int i = 0; i < Math.Min(_tx.Length, QueueStats.Count); i++)
            {
                var s = _tx[i].Stats;
                stats.TxPackets[i] += s.Packets;
                stats.TxBytes[i] += s.Bytes;
            }
        }
    }

    public override void ResetStats()
    {
        lock (_hardware)
        {
            ReadHardwareStats();
            _hardwareStats.Clear();
            _stoppedStats = default;
            foreach (var q in _rx) q.Stats = default;
            foreach (var q in _tx) q.Stats = default;
        }
    }

    public override IReadOnlyList<Xstat> GetXstats()
    {
        var list = new List<Xstat>();
        lock (_hardware)
        {
            ReadHardwareStats();
            for (int i = 0; i < _rx.Length; i++)
            {
                var s = _rx[i].Stats;
                list.Add(new($"rx_q{i}_packets", s.Packets));
                list.Add(new($"rx_q{i}_bytes", s.Bytes));
                list.Add(new($"rx_q{i}_errors", s.Errors));
                list.Add(new($"rx_q{i}_bad_length", s.BadLength));
                list.Add(new($"rx_q{i}_unlent_done", s.UnlentDone));
                list.Add(new($"rx_q{i}_nombuf", s.NoMbuf));
                list.Add(new($"rx_q{i}_tail_writes", s.TailWrites));
            }
            for (int i = 0; i < _tx.Length; i++)
            {
                var s = _tx[i].Stats;
                list.Add(new($"tx_q{i}_packets", s.Packets));
                list.Add(new($"tx_q{i}_bytes", s.Bytes));
                list.Add(new($"tx_q{i}_errors", s.Errors));
                list.Add(new($"tx_q{i}_tail_writes", s.TailWrites));
                list.Add(new($"tx_q{i}_sw_tso", s.SoftwareTso));
            }
            _hardwareStats.AddTo(list);
        }
        return list;
    }
}
