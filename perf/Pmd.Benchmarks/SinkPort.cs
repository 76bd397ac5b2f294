using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Benchmarks;

/// <summary>A port that takes every packet and delivers none: what is left to measure is the layers above it.</summary>
internal sealed class SinkPort(string name, MacAddress mac, bool standby = false) : EthPort(name)
{
    public override PortInfo Info => new() { DriverName = "net_sink", MaxRxQueues = 4, MaxTxQueues = 4 };
    public override MacAddress MacAddress => mac;
    public override LinkStatus Link => new(true, 10000);
    public override bool IsFailoverStandby => standby;
    protected override int OnRxBurst(int queue, Span<Mbuf> mbufs) => 0;
    protected override int OnTxBurst(int queue, Span<Mbuf> mbufs) => mbufs.Length;
    public override PortStats GetStats() => default;
    public override int TxDoneCleanup(int queue) => 0;
    protected override void OnConfigure(PortConfig config) { }
    protected override void OnStart() { }
    protected override void OnStop() { }
    protected override void OnClose() { }
}
