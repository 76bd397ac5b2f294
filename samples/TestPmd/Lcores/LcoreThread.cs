using Pmd.Memory;
using Pmd.TestPmd.Forwarding;
using Pmd.Threading;
using Pmd.Timing;

namespace Pmd.TestPmd.Lcores;

/// <summary>
/// A forwarding lcore: a thread pinned to its CPU that polls its streams with one engine until
/// told to stop. Everything it touches in the loop is set up before the thread starts.
/// </summary>
internal sealed class LcoreThread
{
    private readonly ForwardEngine _engine;
    private readonly ForwardStream[] _streams;
    private readonly Mbuf[] _burst;
    private readonly Mempool _pool;
    private readonly Thread _thread;
    private readonly ManualResetEventSlim _ready = new();
    private readonly bool _recordCycles;
    private volatile bool _stop;

    public LcoreThread(int lcore, ForwardEngine engine, ForwardStream[] streams, int burstSize, Mempool pool, bool recordCycles = false)
    {
        _recordCycles = recordCycles;
        // Calibrate the counter now, not on the lcore's first burst.
        if (recordCycles) GC.KeepAlive(CycleCounter.Frequency);
        Lcore = lcore;
        _engine = engine;
        _streams = streams;
        _burst = new Mbuf[burstSize];
        _pool = pool;
        _thread = new Thread(Run) { Name = $"lcore-{lcore}", IsBackground = true };
    }

    public int Lcore { get; }

    public IReadOnlyList<ForwardStream> Streams => _streams;

    /// <summary>The errno of a failed pin (0 when pinned).</summary>
    public int PinError { get; private set; }

    /// <summary>What ended the loop other than a stop request (a driver bug); reported by the main thread.</summary>
    public Exception? Failure { get; private set; }

    /// <summary>Starts the thread and waits until it is pinned; false when pinning failed (the thread has ended).</summary>
    public bool Start()
    {
        _thread.Start();
        _ready.Wait();
        return PinError == 0;
    }

    public void RequestStop() => _stop = true;

    /// <summary>
    /// The loop with --record-core-cycles, like DPDK testpmd's: bursts that moved packets are
    /// timed, so CPU per packet means something even when the peer, not this lcore, limits the rate.
    /// </summary>
    private void RunTimed(ForwardEngine engine, ForwardStream[] streams, Span<Mbuf> burst)
    {
        while (!_stop)
        {
            for (int i = 0; i < streams.Length; i++)
            {
                var s = streams[i];
                ulong moved = s.RxPackets + s.TxPackets;
                long t0 = CycleCounter.Read();
                engine.ForwardBurst(s, burst);
                if (s.RxPackets + s.TxPackets != moved) s.BusyTicks += CycleCounter.Read() - t0;
            }
        }
    }

    public void Join() => _thread.Join();

    private void Run()
    {
        PinError = CpuAffinity.PinCurrentThread(Lcore);
        _ready.Set();
        if (PinError != 0) return;
        try
        {
            var engine = _engine;
            var streams = _streams;
            var burst = _burst.AsSpan();
            if (_recordCycles) RunTimed(engine, streams, burst);
            else
            {
                while (!_stop)
                {
                    for (int i = 0; i < streams.Length; i++) engine.ForwardBurst(streams[i], burst);
                }
            }
        }
        catch (Exception e)
        {
            // Never let a fault on an lcore take the process down with a stack trace; the main
            // thread reports it in one line when forwarding stops.
            Failure = e;
        }
        finally
        {
            // This thread's mbuf cache would be stranded when it ends: give it back.
            _pool.FlushThreadCache();
        }
    }
}
