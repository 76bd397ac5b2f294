using Pmd.Capture;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestPmd.Forwarding;
using Pmd.TestPmd.Interactive;
using Pmd.TestPmd.Lcores;
using Pmd.TestPmd.Options;
using Pmd.TestPmd.Ports;
using Pmd.TestPmd.Stats;
using Pmd.Threading;

namespace Pmd.TestPmd.App;

/// <summary>
/// Everything a testpmd run holds — the pool, the registry and its ports, the forwarder and the
/// statistics state — and the operations both the batch run and the command loop perform on it.
/// Used from the main thread only (events print from the control thread through the synchronized writer).
/// </summary>
internal sealed class Session : IDisposable
{
    private readonly EventPrinter _events;
    private readonly Pmd.Failover.FailoverAutoAttach _failover;
    private readonly Pmd.Vfio.PciHotplug? _hotplug;
    private readonly IDisposable _metrics;
    private readonly Pmd.Telemetry.PmdTelemetry? _telemetry;
    private readonly Lock _shutdownLock = new();
    private bool _disposed;
    private bool _captureReported;

    /// <param name="telemetryPrefix">The file prefix of the telemetry socket; null for none (--no-telemetry).</param>
    public Session(AppOptions options, bool noHugePages, LcoreLayout lcores, TextWriter output, string? telemetryPrefix = null)
    {
        Options = options;
        Out = output;
        Pool = Mempool.Create("testpmd_mbuf_pool", options.TotalMbufs, allowHugePages: !noHugePages);
        try
        {
            Registry = new PortRegistry();
            // As DPDK keeps its control threads off the datapath cores: events are handled on the main
            // lcore's CPU, never in the time slices of a polling lcore (a release waits for them).
            Registry.Control.Invoke(() => CpuAffinity.PinCurrentThread(lcores.Main));
            _events = new EventPrinter(Registry, output);
            // The "Pmd" meter (dotnet-counters monitor --counters Pmd): read only when a listener asks.
            _metrics = Pmd.Metrics.PmdMetrics.Publish(Registry);
            // As the kernel does for STANDBY: a failover port appears over every standby port.
            _failover = Pmd.Failover.FailoverAutoAttach.Enable(Registry);
            // Only with the user's allow list does Pmd take a device that appears (QEMU's failover primary).
            _hotplug = options.HotplugAllow.Count > 0 ? new Pmd.Vfio.PciHotplug(Registry, options.HotplugAllow) : null;
            Forwarder = new Forwarder(Registry, Pool, options, lcores.Forwarding);
            Json = options.StatsJsonPath is { } path ? new StatsJsonWriter(path) : null;
            // As DPDK's EAL: on unless --no-telemetry, and a socket that cannot be made ends the run.
            // Its threads are made here, on the main lcore, and inherit its CPU, off the forwarding ones.
            if (telemetryPrefix is not null)
            {
                try
                {
                    _telemetry = Pmd.Telemetry.PmdTelemetry.Start(Registry, telemetryPrefix);
                }
                catch (PmdIOException e)
                {
                    throw new PmdIOException($"{e.Message} (--no-telemetry runs without it)", e.Errno);
                }
            }
        }
        catch
        {
            Json?.Dispose();
            Registry?.Dispose();
            Pool.Dispose();
            throw;
        }
    }

    public AppOptions Options { get; }
    public TextWriter Out { get; }
    public Mempool Pool { get; }
    public PortRegistry Registry { get; }
    public Forwarder Forwarder { get; }
    public NicStatsPrinter Nic { get; } = new();
    public StatsJsonWriter? Json { get; }

    /// <summary>The running capture, or the last one (for "show capture"); null before the first.</summary>
    public PacketCapture? Capture { get; private set; }

    public EthPort AttachPort(string devargs) => PortSetup.AttachAndStart(Registry, _failover, devargs, Options, Pool, Out);

    /// <summary>Starts a capture ("capture start", --capture); one at a time.</summary>
    public PacketCapture StartCapture(string path, CaptureOptions options)
    {
        if (Capture is { IsRunning: true } running)
            throw new InvalidOperationException($"a capture to {running.Path} is running (capture stop first)");
        Capture = PacketCapture.Start(Registry, path, options);
        _captureReported = false;
        CaptureCommand.PrintStarted(Capture, Out);
        return Capture;
    }

    /// <summary>Ends the capture ("capture stop") and prints what it wrote; false when there was none.</summary>
    public bool StopCapture()
    {
        if (Capture is not { } capture) return false;
        _captureReported = true;
        capture.Stop();
        CaptureCommand.PrintStopped(capture, Out);
        return true;
    }

    public void StartForwarding(bool txFirst)
    {
        var run = Forwarder.Start(txFirst, Out);
        // The first periodic display then shows rates since the start rather than zeros.
        foreach (var port in run.Ports) Nic.Sample(port.PortId, run.StatsAtStart[port.PortId]);
    }

    /// <summary>testpmd's "stop": joins the lcores, prints the forward statistics and writes the final JSON line.</summary>
    public ForwardTotals? StopForwarding()
    {
        if (!Forwarder.IsRunning)
        {
            Out.WriteLine("Packet forwarding not started");
            return null;
        }
        Out.WriteLine("Telling cores to stop...");
        Out.WriteLine("Waiting for lcores to finish...");
        var run = Forwarder.Stop()!;
        var totals = ForwardStatsPrinter.Print(run, Out);
        WriteJson(run, final: true);
        Out.WriteLine("Done.");
        return totals;
    }

    /// <summary>The periodic display of a non-interactive run: every forwarding port's NIC block, and a JSON line.</summary>
    public void ShowPeriodicStats()
    {
        var run = Forwarder.Current;
        if (run is null) return;
        Out.WriteLine();
        Out.WriteLine("Port statistics ====================================");
        var samples = new List<PortJsonSample>(run.Ports.Count);
        foreach (var port in run.Ports)
        {
            var rates = Nic.Print(port, Out);
            samples.Add(new PortJsonSample(port.PortId, SinceStart(run, port), rates));
        }
        Json?.WriteLine(DateTimeOffset.UtcNow, run.Clock.Elapsed.TotalSeconds, final: false, samples);
    }

    private void WriteJson(ForwardRun run, bool final)
    {
        if (Json is null) return;
        var samples = new List<PortJsonSample>(run.Ports.Count);
        double seconds = Math.Max(run.Elapsed.TotalSeconds, 1e-9);
        foreach (var port in run.Ports)
        {
            // The final line's rates are the run's averages.
            var total = SinceStart(run, port);
            var rates = new PortRates((ulong)(total.RxPackets / seconds), (ulong)(total.TxPackets / seconds),
                (ulong)(total.RxBytes * 8 / seconds), (ulong)(total.TxBytes * 8 / seconds));
            samples.Add(new PortJsonSample(port.PortId, total, rates));
        }
        Json.WriteLine(DateTimeOffset.UtcNow, run.Elapsed.TotalSeconds, final, samples);
    }

    private static PortStats SinceStart(ForwardRun run, EthPort port, PortStats? now = null) =>
        PortCounters.Since(now ?? port.GetStats(), run.StatsAtStart.TryGetValue(port.PortId, out var s) ? s : default);

    /// <summary>Clears a port's counters; the running forward statistics start over from zero for it too.</summary>
    public void ClearStats(EthPort port)
    {
        port.ResetStats();
        Nic.Forget(port.PortId);
        if (Forwarder.Current is { } run) run.StatsAtStart[port.PortId] = default;
    }

    /// <summary>Stops forwarding (printing its statistics) and stops and closes every port, once.</summary>
    public void Shutdown() => Shutdown(report: true);

    private void Shutdown(bool report)
    {
        lock (_shutdownLock)
        {
            if (_disposed) return;
            if (!report)
            {
                // Unwinding from an error: release everything quietly, the error line says it all.
                _disposed = true;
                if (Forwarder.IsRunning) { try { Forwarder.Stop(); } catch (InvalidOperationException) { } }
                _telemetry?.Dispose();
                Capture?.Dispose();
                _hotplug?.Dispose();
                _failover.Dispose();
                _events.Dispose();
                _metrics.Dispose();
                Registry.Dispose();
                Pool.Dispose();
                Json?.Dispose();
                return;
            }
            if (Forwarder.IsRunning) StopForwarding();
            // Also a capture that ended at its count: its summary is printed once.
            if (Capture is not null && !_captureReported)
            {
                try { StopCapture(); }
                catch (IOException e) { Out.WriteLine($"Capture failed: {e.Message}"); }
            }
            foreach (var port in Registry.AllPorts)
            {
                Out.WriteLine($"Stopping port {port.PortId}...");
                try { port.Stop(); }
                catch (Exception e) { Out.WriteLine($"Port {port.PortId}: stop failed: {e.Message}"); }
            }
            Out.WriteLine("Closing ports...");
            _disposed = true;
            _telemetry?.Dispose();
            _hotplug?.Dispose();
            _failover.Dispose();
            _events.Dispose();
            _metrics.Dispose();
            Registry.Dispose();
            Pool.Dispose();
            Json?.Dispose();
            Out.WriteLine("Bye...");
        }
    }

    public void Dispose() => Shutdown(report: false);
}
