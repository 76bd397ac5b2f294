using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestPmd.Lcores;
using Pmd.TestPmd.Options;
using Pmd.Threading;

namespace Pmd.TestPmd.Forwarding;

/// <summary>What one start..stop run forwarded: the streams with their counters, and NIC counters at start.</summary>
internal sealed class ForwardRun(IReadOnlyList<EthPort> ports, IReadOnlyList<ForwardStream> streams, Dictionary<ushort, PortStats> statsAtStart)
{
    public IReadOnlyList<EthPort> Ports { get; } = ports;
    public IReadOnlyList<ForwardStream> Streams { get; } = streams;
    public Dictionary<ushort, PortStats> StatsAtStart { get; } = statsAtStart;
    public Stopwatch Clock { get; } = Stopwatch.StartNew();
    public TimeSpan Elapsed { get; set; }
    public ForwardMode Mode { get; init; }
}

/// <summary>
/// Starts and stops packet forwarding as testpmd's "start"/"stop" do: builds the streams over the
/// started ports, optionally sends a first burst (tx_first), runs one pinned thread per forwarding
/// lcore, and on stop joins them and lets the TX rings drain before counters are read.
/// </summary>
internal sealed class Forwarder(PortRegistry registry, Mempool pool, AppOptions options, IReadOnlyList<int> forwardingLcores)
{
    /// <summary>"csum set" and "tso set", per TX port id.</summary>
    public Dictionary<ushort, TxOffloadSettings> TxOffloads { get; } = [];

    public TxOffloadSettings TxOffloadsFor(ushort port)
    {
        if (!TxOffloads.TryGetValue(port, out var s)) TxOffloads[port] = s = TxOffloadSettings.From(options.TxOffloads);
        return s;
    }

    private List<LcoreThread> _lcores = [];

    public ForwardMode Mode { get; set; } = options.Mode;

    public ForwardRun? Current { get; private set; }

    public bool IsRunning => Current is not null;

    /// <summary>The ports forwarding uses: unowned and started, by id.</summary>
    public List<EthPort> ForwardingPorts()
    {
        var ports = new List<EthPort>();
        foreach (var p in registry.Ports)
            if (p.IsStarted) ports.Add(p);
        ports.Sort((a, b) => a.PortId.CompareTo(b.PortId));
        return ports;
    }

    public ForwardRun Start(bool txFirst, TextWriter output)
    {
        if (Current is not null) throw new InvalidOperationException("Packet forwarding already started");
        var ports = ForwardingPorts();
        if (ports.Count == 0) throw new InvalidOperationException("no started port to forward on (attach one with --vdev or 'port attach')");

        if (Mode == ForwardMode.FlowGen && options.TxSegments is not null)
            throw new InvalidOperationException("flowgen sends one-segment frames: give --txpkts one length");
        var engine = ForwardEngine.For(Mode);
        var streams = StreamLayout.Build(ports, options.RxQueues, options.TxQueues, options.EthPeers, pool, options.TxPacketLength, withTemplates: true,
            offloads: TxOffloadsFor, txSegments: options.TxSegments, udpChecksum: Mode == ForwardMode.Csum);
        var cores = forwardingLcores.Take(options.ForwardingCores).ToList();
        var layout = StreamLayout.Spread(streams, cores);

        output.WriteLine($"{Mode.Name()} packet forwarding - ports={ports.Count} - cores={layout.Count} - streams={streams.Count}");
        foreach (var (lcore, mine) in layout)
        {
            output.WriteLine($"Logical Core {lcore} forwards packets on {mine.Length} streams:");
            foreach (var s in mine) output.WriteLine($"  {s}");
        }

        var atStart = new Dictionary<ushort, PortStats>();
        foreach (var p in ports) atStart[p.PortId] = p.GetStats();

        if (txFirst)
        {
            // One burst of txonly frames per stream before the engine takes over, so that two
            // forwarders facing each other have something to forward.
            var burst = new Mbuf[options.Burst];
            foreach (var s in streams) TxOnlyEngine.SendTemplateBurst(s, burst);
        }

        var threads = new List<LcoreThread>(layout.Count);
        foreach (var (lcore, mine) in layout) threads.Add(new LcoreThread(lcore, engine, mine, options.Burst, pool, options.RecordCoreCycles));
        var run = new ForwardRun(ports, streams, atStart) { Mode = Mode };
        foreach (var t in threads)
        {
            if (!t.Start())
            {
                foreach (var other in threads) other.RequestStop();
                foreach (var other in threads) if (other != t) other.Join();
                throw new InvalidOperationException($"cannot pin lcore {t.Lcore} to its CPU: {CpuAffinity.Describe(t.PinError)}");
            }
        }
        _lcores = threads;
        Current = run;
        return run;
    }

    /// <summary>Stops the lcores and returns the finished run; null when nothing was running.</summary>
    public ForwardRun? Stop()
    {
        var run = Current;
        if (run is null) return null;
        foreach (var t in _lcores) t.RequestStop();
        foreach (var t in _lcores) t.Join();
        run.Elapsed = run.Clock.Elapsed;
        var failure = _lcores.Select(t => t.Failure).FirstOrDefault(f => f is not null);
        _lcores = [];
        Current = null;
        DrainTx(run.Ports);
        if (failure is not null) throw new InvalidOperationException($"an lcore stopped on an error: {failure.Message}", failure);
        return run;
    }

    /// <summary>
    /// Gives the peer time to take what is still on our TX rings, so that its counters and ours
    /// agree once we stop: asks each port how much its device still holds (EthPort.TxDoneCleanup)
    /// until nothing is left or a second has passed. A driver that cannot tell gets one cleanup.
    /// </summary>
    private void DrainTx(IReadOnlyList<EthPort> ports)
    {
        var clock = Stopwatch.StartNew();
        while (clock.ElapsedMilliseconds < 1000)
        {
            int pending = 0;
            foreach (var p in ports)
            {
                if (!p.IsStarted) continue;
                for (int q = 0; q < options.TxQueues; q++)
                {
                    int held = p.TxDoneCleanup(q);
                    if (held < 0) p.TxBurst(q, []);
                    else pending += held;
                }
            }
            if (pending == 0) break;
            Thread.Sleep(1);
        }
        pool.FlushThreadCache();
    }
}
