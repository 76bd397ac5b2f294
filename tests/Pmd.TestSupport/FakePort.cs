using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestSupport;

/// <summary>
/// A deterministic in-process port for unit tests of the layers above drivers: RX hands out what
/// a test injected, TX keeps what it was given, in fixed rings that allocate nothing. Tests
/// control link, events, and timing (a hook runs inside every burst).
/// </summary>
public sealed class FakePort(string name, MacAddress mac, int maxQueues = 4, int ringSize = 4096) : EthPort(name)
{
    private readonly FakeRing[] _rx = Enumerable.Range(0, maxQueues).Select(_ => new FakeRing(ringSize)).ToArray();
    private readonly FakeRing[] _tx = Enumerable.Range(0, maxQueues).Select(_ => new FakeRing(ringSize)).ToArray();
    private LinkStatus _link = new(true, 10000);
    private PortStats _stats;

    public bool Standby { get; set; }

    public override bool IsFailoverStandby => Standby;

    /// <summary>Called inside every burst, so tests can stall a datapath thread mid-burst.</summary>
    public Action? InBurst { get; set; }

    public int StartCount { get; private set; }

    public int StopCount { get; private set; }

    public bool Closed { get; private set; }

    /// <summary>Set by a test to make TxDoneCleanup report packets still held by the "device".</summary>
    public int PendingTx { get; set; }

    public override PortInfo Info => new() { DriverName = "net_fake", MaxRxQueues = maxQueues, MaxTxQueues = maxQueues, MaxMtu = 9000 };

    public override MacAddress MacAddress => mac;

    public override LinkStatus Link => _link;

    public void SetLink(bool up)
    {
        _link = up ? new LinkStatus(true, 10000) : LinkStatus.Down;
        RaiseEvent(PortEventType.LinkStateChange, up ? "up" : "down");
    }

    public void Raise(PortEventType type) => RaiseEvent(type);

    public void Inject(int queue, Mbuf m) => _rx[queue].Push(m);

    public int TxCount(int queue) => _tx[queue].Count;

    /// <summary>Takes what was transmitted on <paramref name="queue"/>.</summary>
    public List<Mbuf> DrainTx(int queue)
    {
        var list = new List<Mbuf>();
        while (_tx[queue].TryPop(out var m)) list.Add(m);
        return list;
    }

    /// <summary>Frees what was transmitted, without allocating.</summary>
    public int FreeTx(int queue)
    {
        int n = 0;
        while (_tx[queue].TryPop(out var m)) { m.Free(); n++; }
        return n;
    }

    protected override int OnRxBurst(int queue, Span<Mbuf> mbufs)
    {
        InBurst?.Invoke();
        int n = 0;
        while (n < mbufs.Length && _rx[queue].TryPop(out var m)) mbufs[n++] = m;
        _stats.RxPackets += (ulong)n;
        return n;
    }

    protected override int OnTxBurst(int queue, Span<Mbuf> mbufs)
    {
        InBurst?.Invoke();
        int n = 0;
        while (n < mbufs.Length && _tx[queue].Push(mbufs[n])) n++;
        _stats.TxPackets += (ulong)n;
        return n;
    }

    public override int TxDoneCleanup(int queue) => PendingTx;

    public override PortStats GetStats() => _stats;

    public override void ResetStats() => _stats = default;

    protected override void OnConfigure(PortConfig config) { }

    protected override void OnStart() => StartCount++;

    protected override void OnStop() => StopCount++;

    protected override void OnClose() => Closed = true;

    /// <summary>A bounded FIFO under a lock: test-side plumbing, not a datapath structure.</summary>
    private sealed class FakeRing(int capacity)
    {
        private readonly Mbuf[] _items = new Mbuf[capacity];
        private readonly Lock _lock = new();
        private int _head, _count;

        public int Count { get { lock (_lock) return _count; } }

        public bool Push(Mbuf m)
        {
            lock (_lock)
            {
                if (_count == _items.Length) return false;
                _items[(_head + _count++) % _items.Length] = m;
                return true;
            }
        }

        public bool TryPop(out Mbuf m)
        {
            lock (_lock)
            {
                if (_count == 0) { m = default; return false; }
                m = _items[_head];
                _head = (_head + 1) % _items.Length;
                _count--;
                return true;
            }
        }
    }
}
