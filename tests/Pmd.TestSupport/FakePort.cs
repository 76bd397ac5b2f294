using System.Collections.Concurrent;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestSupport;

/// <summary>
/// A deterministic in-process port for unit tests of the layers above drivers: RX hands out what
/// a test injected, TX keeps what it was given. Tests control link, failures and timing.
/// </summary>
public sealed class FakePort(string name, MacAddress mac, int maxQueues = 4) : EthPort(name)
{
    private readonly ConcurrentQueue<Mbuf>[] _rx = Enumerable.Range(0, maxQueues).Select(_ => new ConcurrentQueue<Mbuf>()).ToArray();
    private readonly ConcurrentQueue<Mbuf>[] _tx = Enumerable.Range(0, maxQueues).Select(_ => new ConcurrentQueue<Mbuf>()).ToArray();
    private LinkStatus _link = new(true, 10000);
    private PortStats _stats;

    public int TxCapacityPerBurst { get; set; } = int.MaxValue;

    /// <summary>Called inside every burst, so tests can stall a datapath thread mid-burst.</summary>
    public Action? InBurst { get; set; }

    public int StartCount { get; private set; }

    public int StopCount { get; private set; }

    public bool Closed { get; private set; }

    public override PortInfo Info => new() { DriverName = "net_fake", MaxRxQueues = maxQueues, MaxTxQueues = maxQueues, MaxMtu = 9000 };

    public override MacAddress MacAddress => mac;

    public override LinkStatus Link => _link;

    public void SetLink(bool up)
    {
        _link = up ? new LinkStatus(true, 10000) : LinkStatus.Down;
        RaiseEvent(PortEventType.LinkStateChange, up ? "up" : "down");
    }

    public void Raise(PortEventType type) => RaiseEvent(type);

    public void Inject(int queue, Mbuf m) => _rx[queue].Enqueue(m);

    /// <summary>Takes what was transmitted on <paramref name="queue"/>.</summary>
    public List<Mbuf> DrainTx(int queue)
    {
        var list = new List<Mbuf>();
        while (_tx[queue].TryDequeue(out var m)) list.Add(m);
        return list;
    }

    public override int RxBurst(int queue, Span<Mbuf> mbufs)
    {
        InBurst?.Invoke();
        int n = 0;
        while (n < mbufs.Length && _rx[queue].TryDequeue(out var m)) mbufs[n++] = m;
        _stats.RxPackets += (ulong)n;
        return n;
    }

    public override int TxBurst(int queue, Span<Mbuf> mbufs)
    {
        InBurst?.Invoke();
        int n = Math.Min(mbufs.Length, TxCapacityPerBurst);
        for (int i = 0; i < n; i++) _tx[queue].Enqueue(mbufs[i]);
        _stats.TxPackets += (ulong)n;
        return n;
    }

    public override PortStats GetStats() => _stats;

    public override void ResetStats() => _stats = default;

    protected override void OnConfigure(PortConfig config) { }

    protected override void OnStart() => StartCount++;

    protected override void OnStop() => StopCount++;

    protected override void OnClose() => Closed = true;
}
