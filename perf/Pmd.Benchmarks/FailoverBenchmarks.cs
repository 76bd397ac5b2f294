using BenchmarkDotNet.Attributes;
using Pmd.Ethdev;
using Pmd.Failover;
using Pmd.Memory;

namespace Pmd.Benchmarks;

/// <summary>
/// The failover layer's own cost per burst of 32: a TX and an RX burst through a FailoverPort with
/// its primary active, against the same bursts on the bare primary. The ports underneath do
/// nothing, so the difference is the steering, the quiescence epochs and the standby poll.
/// </summary>
[MemoryDiagnoser]
public class FailoverBenchmarks
{
    private readonly Mbuf[] _burst = new Mbuf[32];
    private PortRegistry _registry = null!;
    private Mempool _pool = null!;
    private SinkPort _primary = null!;
    private FailoverPort _failover = null!;

    [GlobalSetup]
    public void Setup()
    {
        var mac = MacAddress.Parse("52:54:00:be:ec:01");
        _pool = Mempool.Create("bench-failover", 1024);
        _registry = new PortRegistry();
        var standby = new SinkPort("standby", mac, standby: true);
        _registry.Add(standby);
        _failover = new FailoverPort("net_failover0", standby, _registry);
        _registry.Add(_failover);
        _failover.Configure(new PortConfig { RxPool = _pool });
        _failover.Start();
        _primary = new SinkPort("primary", mac);
        _registry.Add(_primary);
        for (int i = 0; i < 3; i++) _registry.Control.Invoke(() => { });
        if (_failover.FailoverState != FailoverState.PrimaryActive) throw new InvalidOperationException("the primary did not become active");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _registry.Dispose();
        _pool.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int BarePrimary() => _primary.TxBurst(0, _burst) + _primary.RxBurst(0, _burst);

    [Benchmark]
    public int ThroughFailover() => _failover.TxBurst(0, _burst) + _failover.RxBurst(0, _burst);
}
