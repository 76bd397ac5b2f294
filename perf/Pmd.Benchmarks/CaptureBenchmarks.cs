using BenchmarkDotNet.Attributes;
using Pmd.Capture;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Benchmarks;

/// <summary>
/// What an active packet capture costs per packet (per operation is per packet: an RX burst and a
/// TX burst of 32 a call) on ports whose driver does nothing:
/// <list type="bullet">
/// <item><c>NoCapture</c>: the bursts on a port without a capture (one load and one branch each).</item>
/// <item><c>Copied</c>: with a tap on the port whose rings the benchmark empties after each call, as
/// a writer that keeps up would: every packet is copied (the datapath's whole cost of a capture).</item>
/// <item><c>RingFull</c>: with a tap whose rings are never emptied: every packet is a counted drop.</item>
/// <item><c>WithWriter</c>: a real <see cref="PacketCapture"/> writing pcapng to /dev/null; at these
/// rates its writer cannot keep up, so most packets are drops (the share is printed at the end).</item>
/// </list>
/// </summary>
[MemoryDiagnoser]
public class CaptureBenchmarks
{
    private const int Burst = 32;
    private readonly Mbuf[] _burst = new Mbuf[Burst];
    private PortRegistry _registry = null!;
    private Mempool _pool = null!;
    private ReplayPort _bare = null!;
    private ReplayPort _copied = null!;
    private ReplayPort _full = null!;
    private ReplayPort _written = null!;
    private CaptureRing[] _copiedRings = null!;
    private PacketCapture _capture = null!;

    [Params(64, 1514)]
    public int FrameLength { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _pool = Mempool.Create("bench-capture", 1024);
        var frames = new Mbuf[Burst];
        for (int i = 0; i < Burst; i++)
        {
            frames[i] = _pool.Alloc();
            frames[i].Append(FrameLength).Fill((byte)i);
        }
        _registry = new PortRegistry();
        _bare = new ReplayPort("bare", frames);
        _copied = new ReplayPort("copied", frames);
        _full = new ReplayPort("full", frames);
        _written = new ReplayPort("written", frames);
        foreach (var port in new[] { _bare, _copied, _full, _written })
        {
            _registry.Add(port);
            port.Configure(new PortConfig { RxPool = _pool });
            port.Start();
        }
        _copiedRings = Tap(_copied);
        Tap(_full);
        _capture = PacketCapture.Start(_registry, "/dev/null", new CaptureOptions { Ports = [_written.PortId] });
    }

    /// <summary>A tap of both directions on queue 0, without a writer: the benchmark plays the consumer.</summary>
    private static CaptureRing[] Tap(EthPort port)
    {
        var gate = new CaptureGate();
        var rx = new CaptureRing(new CaptureOptions().RingSize, CaptureOptions.MaxSnapLength, gate, port.PortId, 0, CaptureDirection.Rx);
        var tx = new CaptureRing(new CaptureOptions().RingSize, CaptureOptions.MaxSnapLength, gate, port.PortId, 0, CaptureDirection.Tx);
        if (!port.TryAttachTap(new PortTap(port, 0, [rx], [tx]))) throw new InvalidOperationException("the port is tapped already");
        return [rx, tx];
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _capture.Stop();
        var s = _capture.GetPortStats().Single();
        Console.WriteLine($"// WithWriter, {FrameLength}-byte frames: {s.Seen} seen, {s.Captured} written, {s.Dropped} dropped ({100.0 * s.Dropped / Math.Max(1, s.Seen):F1}%)");
        Console.WriteLine($"// Copied, {FrameLength}-byte frames: {_copiedRings.Sum(r => r.Seen)} seen, {_copiedRings.Sum(r => r.Dropped)} dropped");
        _registry.Dispose();
        _pool.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = 2 * Burst)]
    public int NoCapture() => _bare.RxBurst(0, _burst) + _bare.TxBurst(0, _burst);

    [Benchmark(OperationsPerInvoke = 2 * Burst)]
    public int Copied()
    {
        int n = _copied.RxBurst(0, _burst) + _copied.TxBurst(0, _burst);
        foreach (var ring in _copiedRings) ring.Release(ring.ReadHead());
        return n;
    }

    [Benchmark(OperationsPerInvoke = 2 * Burst)]
    public int RingFull() => _full.RxBurst(0, _burst) + _full.TxBurst(0, _burst);

    [Benchmark(OperationsPerInvoke = 2 * Burst)]
    public int WithWriter() => _written.RxBurst(0, _burst) + _written.TxBurst(0, _burst);

    /// <summary>RX hands out the same frames every burst; TX takes every packet and keeps none (the frames stay the benchmark's).</summary>
    private sealed class ReplayPort(string name, Mbuf[] frames) : EthPort(name)
    {
        public override PortInfo Info => new() { DriverName = "net_replay", MaxRxQueues = 1, MaxTxQueues = 1 };
        private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:be:ec:02");
        public override MacAddress MacAddress => Mac;
        public override LinkStatus Link => new(true, 10000);
        public override PortStats GetStats() => default;
        protected override int OnRxBurst(int queue, Span<Mbuf> mbufs)
        {
            int n = Math.Min(mbufs.Length, frames.Length);
            frames.AsSpan(0, n).CopyTo(mbufs);
            return n;
        }
        protected override int OnTxBurst(int queue, Span<Mbuf> mbufs) => mbufs.Length;
        protected override void OnConfigure(PortConfig config) { }
        protected override void OnStart() { }
        protected override void OnStop() { }
        protected override void OnClose() { }
    }
}
