using System.Diagnostics;
using System.Numerics;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Capture;

/// <summary>What a capture counted for one port.</summary>
/// <param name="PortId">The port.</param>
/// <param name="Name">Its name, the file's if_name.</param>
/// <param name="Seen">Packets the capture saw in its captured queues and directions.</param>
/// <param name="Captured">Packets written to the file.</param>
/// <param name="Dropped">Packets a full ring could not take (the file's isb_ifdrop).</param>
public readonly record struct CapturePortStats(ushort PortId, string Name, long Seen, long Captured, long Dropped);

/// <summary>
/// A packet capture to a pcapng file, as dpdk-dumpcap makes: the chosen ports' queues, RX and
/// TX. The bursts copy each packet's first bytes (up to the snap length), its length and one
/// timestamp per burst into a preallocated ring per queue and direction, without allocating,
/// locking or blocking; a packet the full ring cannot take is counted as dropped. A writer thread
/// of its own turns the rings into pcapng: a Section Header Block, an Interface Description Block
/// per port (if_name the port's name, Ethernet, nanosecond timestamps), an Enhanced Packet Block
/// per packet (epb_flags inbound or outbound, epb_queue), in timestamp order across the rings, and
/// at the end an Interface Statistics Block per port with the drops (isb_ifdrop).
/// </summary>
/// <remarks>
/// A port has at most one capture at a time. A port with no capture pays one load and one branch
/// per burst. The queues are those the port is configured with when the capture starts.
/// </remarks>
public sealed class PacketCapture : IDisposable
{
    private const int FlushIntervalMs = 100;
    private const int ReleaseEvery = 256;

    private readonly ILogger _log;
    private readonly FileStream _file;
    private readonly PcapngWriter _writer;
    private readonly PortTap[] _taps;
    private readonly CaptureRing[] _rings;
    private readonly int[] _ringInterface;
    private readonly long[] _delivered;
    private readonly CaptureGate _gate;
    private readonly CaptureClock _clock;
    private readonly ulong _startNs;
    private readonly long _holdBack;
    private readonly Thread _thread;
    private volatile bool _stopRequested;
    private volatile bool _finished;
    private volatile bool _limitReached;
    private long _captured;
    private Exception? _failure;
    private bool _failureReported;

    private PacketCapture(string path, CaptureOptions options, PortTap[] taps, CaptureGate gate, FileStream file, PcapngWriter writer, ILogger log)
    {
        Path = path;
        _gate = gate;
        Options = options;
        _taps = taps;
        _file = file;
        _writer = writer;
        _log = log;
        _rings = [.. taps.SelectMany(t => t.Rings)];
        _ringInterface = [.. taps.SelectMany(t => t.Rings.Select(_ => t.InterfaceId))];
        _delivered = new long[taps.Length];
        PortIds = [.. taps.Select(t => t.Port.PortId)];
        _clock = CaptureClock.Calibrate();
        _startNs = _clock.Now();
        // The writer leaves the newest records for a moment, in case an older one is on its way
        // from a burst on another thread that has just taken its timestamp.
        _holdBack = _clock.Ticks(200);
        _thread = new Thread(Run) { IsBackground = true, Name = "pmd-capture" };
    }

    /// <summary>The pcapng file.</summary>
    public string Path { get; }

    public CaptureOptions Options { get; }

    /// <summary>The captured ports, in the order of their interfaces in the file.</summary>
    public IReadOnlyList<ushort> PortIds { get; }

    /// <summary>Packets written to the file so far.</summary>
    public long Captured => Volatile.Read(ref _captured);

    /// <summary>Packets a full ring could not take.</summary>
    public long Dropped
    {
        get
        {
            long dropped = 0;
            foreach (var ring in _rings) dropped += ring.Dropped;
            return dropped;
        }
    }

    /// <summary>False once the capture has ended: stopped, at its <see cref="CaptureOptions.PacketLimit"/>, or failed to write.</summary>
    public bool IsRunning => !_finished;

    /// <summary>
    /// Starts capturing <paramref name="options"/>' ports into <paramref name="path"/> (created
    /// or truncated). Throws when a port does not exist or is already being captured, when the
    /// options are out of range, and when the file cannot be created.
    /// </summary>
    public static PacketCapture Start(PortRegistry registry, string path, CaptureOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentException.ThrowIfNullOrEmpty(path);
        options ??= new CaptureOptions();
        if (options.SnapLength < 1 || options.SnapLength > CaptureOptions.MaxSnapLength)
            throw new ArgumentOutOfRangeException(nameof(options), $"snap length {options.SnapLength}: from 1 to {CaptureOptions.MaxSnapLength}");
        if (options.PacketLimit < 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"packet limit {options.PacketLimit}: 0 (none) or more");
        if (options.RingSize < CaptureOptions.MinRingSize || options.RingSize > 1 << 30)
            throw new ArgumentOutOfRangeException(nameof(options), $"ring size {options.RingSize}: from {CaptureOptions.MinRingSize} bytes to 1 GiB");
        if ((options.Direction & CaptureDirection.Both) == 0 || (options.Direction & ~CaptureDirection.Both) != 0)
            throw new ArgumentOutOfRangeException(nameof(options), $"direction {options.Direction}: Rx, Tx or Both");

        var ports = ResolvePorts(registry, options);
        var gate = new CaptureGate();
        var taps = new PortTap[ports.Count];
        int ringSize = (int)BitOperations.RoundUpToPowerOf2((uint)options.RingSize);
        for (int i = 0; i < ports.Count; i++) taps[i] = MakeTap(ports[i], i, options, ringSize, gate);

        var log = registry.LoggerFactory.CreateLogger("Pmd.Capture");
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 1 << 20);
        PacketCapture capture;
        try
        {
            var writer = new PcapngWriter(file);
            writer.WriteSectionHeader(CpuModel(), RuntimeInformation.OSDescription, $"Pmd {typeof(PacketCapture).Assembly.GetName().Version?.ToString(3)} ({AppDomain.CurrentDomain.FriendlyName})");
            foreach (var tap in taps)
            {
                var port = tap.Port;
                var link = port.Link;
                writer.WriteInterfaceDescription(options.SnapLength, port.Name, $"Pmd port {port.PortId} ({port.Info.DriverName})",
                    port.MacAddress, link.Up && link.SpeedMbps > 0 ? link.SpeedMbps * 1_000_000UL : null);
            }
            writer.Flush();
            capture = new PacketCapture(path, options, taps, gate, file, writer, log);
        }
        catch
        {
            file.Dispose();
            throw;
        }
        for (int i = 0; i < taps.Length; i++)
        {
            if (taps[i].Port.TryAttachTap(taps[i])) continue;
            for (int j = 0; j < i; j++) taps[j].Port.DetachTap(taps[j]);
            file.Dispose();
            File.Delete(path);
            throw new InvalidOperationException($"port {taps[i].Port.PortId} is already being captured");
        }
        capture._thread.Start();
        AbstractionsLog.CaptureStarted(log, path, string.Join(",", capture.PortIds), options.Direction, options.SnapLength);
        return capture;
    }

    /// <summary>Per port: what the capture saw, wrote and dropped.</summary>
    public IReadOnlyList<CapturePortStats> GetPortStats()
    {
        var stats = new CapturePortStats[_taps.Length];
        for (int i = 0; i < _taps.Length; i++)
        {
            long seen = 0, dropped = 0;
            foreach (var ring in _taps[i].Rings)
            {
                seen += ring.Seen;
                dropped += ring.Dropped;
            }
            stats[i] = new CapturePortStats(_taps[i].Port.PortId, _taps[i].Port.Name, seen, Volatile.Read(ref _delivered[i]), dropped);
        }
        return stats;
    }

    /// <summary>Waits until the capture ends by itself (its packet limit, or a failure); true if it has.</summary>
    public bool WaitForCompletion(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>
    /// Takes the capture off its ports, writes what the rings still hold and the statistics, and
    /// closes the file. Throws a <see cref="PmdIOException"/> (once) if writing the file failed.
    /// </summary>
    public void Stop()
    {
        _stopRequested = true;
        _thread.Join();
        if (_failure is { } failure && !_failureReported)
        {
            _failureReported = true;
            throw new PmdIOException($"capture to {Path}: writing failed: {failure.Message}");
        }
    }

    /// <summary>Stops the capture; a write failure was logged and is not thrown here.</summary>
    public void Dispose()
    {
        _stopRequested = true;
        _thread.Join();
    }

    private static List<EthPort> ResolvePorts(PortRegistry registry, CaptureOptions options)
    {
        List<EthPort> ports;
        if (options.Ports is { } ids)
        {
            ports = [];
            foreach (ushort id in ids.Distinct())
                ports.Add(registry.TryGet(id, out var port) ? port : throw new ArgumentException($"port {id} does not exist", nameof(options)));
        }
        else
        {
            ports = [.. registry.Ports.OrderBy(p => p.PortId)];
        }
        if (ports.Count == 0) throw new InvalidOperationException("no port to capture");
        return ports;
    }

    private static PortTap MakeTap(EthPort port, int interfaceId, CaptureOptions options, int ringSize, CaptureGate gate)
    {
        int rxQueues = port.Config?.RxQueues ?? 1, txQueues = port.Config?.TxQueues ?? 1;
        var rx = new CaptureRing?[rxQueues];
        var tx = new CaptureRing?[txQueues];
        IEnumerable<int> queues = options.Queues ?? Enumerable.Range(0, Math.Max(rxQueues, txQueues));
        foreach (int q in queues.Distinct())
        {
            bool any = false;
            if (options.Direction.HasFlag(CaptureDirection.Rx) && q >= 0 && q < rxQueues)
            {
                rx[q] = new CaptureRing(ringSize, options.SnapLength, gate, port.PortId, q, CaptureDirection.Rx);
                any = true;
            }
            if (options.Direction.HasFlag(CaptureDirection.Tx) && q >= 0 && q < txQueues)
            {
                tx[q] = new CaptureRing(ringSize, options.SnapLength, gate, port.PortId, q, CaptureDirection.Tx);
                any = true;
            }
            if (!any)
                throw new ArgumentOutOfRangeException(nameof(options), $"port {port.PortId}: no queue {q} ({rxQueues} RX, {txQueues} TX)");
        }
        return new PortTap(port, interfaceId, rx, tx);
    }

    private static string? CpuModel()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':', StringComparison.Ordinal) is int colon and >= 0)
                    return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return null;
    }

    // ---- The writer thread ----

    private void Run()
    {
        var positions = new long[_rings.Length];
        var heads = new long[_rings.Length];
        try
        {
            long lastFlush = Stopwatch.GetTimestamp();
            bool dirty = false;
            while (!_stopRequested)
            {
                int written = Drain(positions, heads, final: false);
                if (_limitReached) break;
                if (written > 0)
                {
                    dirty = true;
                    continue;
                }
                if (dirty && Stopwatch.GetElapsedTime(lastFlush).TotalMilliseconds >= FlushIntervalMs)
                {
                    _writer.Flush();
                    dirty = false;
                    lastFlush = Stopwatch.GetTimestamp();
                }
                Thread.Sleep(1);
            }
            if (_limitReached) AbstractionsLog.CaptureLimitReached(_log, Path, Options.PacketLimit);
            Close();
            if (!_limitReached) Drain(positions, heads, final: true);
            WriteStatistics();
            _writer.Flush();
            _file.Dispose();
            AbstractionsLog.CaptureStopped(_log, Path, Captured, Dropped);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            _failure = e;
            AbstractionsLog.CaptureWriteFailed(_log, e, Path);
            Close();
            try { _file.Dispose(); }
            catch (IOException) { }
        }
        finally
        {
            _finished = true;
        }
    }

    /// <summary>Takes the taps off their ports and waits until no burst is still copying.</summary>
    private void Close()
    {
        foreach (var tap in _taps) tap.Port.DetachTap(tap);
        _gate.Close(_rings);
    }

    /// <summary>
    /// Writes the records the rings have published, oldest first across the rings, up to the
    /// newest that no burst still in flight can precede; with <paramref name="final"/> (no burst
    /// is left) all of them. Returns how many it wrote.
    /// </summary>
    private int Drain(long[] positions, long[] heads, bool final)
    {
        long bound = final ? long.MaxValue : Bound();
        for (int r = 0; r < _rings.Length; r++) heads[r] = _rings[r].ReadHead();
        long limit = Options.PacketLimit;
        int written = 0;
        while (true)
        {
            int best = -1;
            long oldest = long.MaxValue;
            for (int r = 0; r < _rings.Length; r++)
            {
                if (positions[r] >= heads[r]) continue;
                long ts = _rings[r].Peek(ref positions[r]).Timestamp;
                if (ts < oldest)
                {
                    oldest = ts;
                    best = r;
                }
            }
            if (best < 0 || oldest > bound) break;
            var ring = _rings[best];
            var entry = ring.Peek(ref positions[best]);
            int iface = _ringInterface[best];
            _writer.WritePacket(iface, _clock.ToUnixNanoseconds(entry.Timestamp), entry.Data, entry.OriginalLength, ring.Direction, ring.Queue);
            positions[best] += entry.Size;
            Volatile.Write(ref _delivered[iface], _delivered[iface] + 1);
            Volatile.Write(ref _captured, _captured + 1);
            if (++written % ReleaseEvery == 0) ring.Release(positions[best]);
            if (limit > 0 && _captured >= limit)
            {
                _limitReached = true;
                break;
            }
        }
        for (int r = 0; r < _rings.Length; r++) _rings[r].Release(positions[r]);
        return written;
    }

    /// <summary>The newest timestamp that may be written now: a moment ago, or a burst's still copying if older.</summary>
    private long Bound()
    {
        long bound = Timing.CycleCounter.Read() - _holdBack;
        foreach (var ring in _rings)
        {
            long busy = ring.BusySince;
            if (busy != 0 && busy < bound) bound = busy;
        }
        return bound;
    }

    private void WriteStatistics()
    {
        ulong end = _clock.Now();
        var stats = GetPortStats();
        for (int i = 0; i < stats.Count; i++)
            _writer.WriteInterfaceStatistics(i, end, _startNs, end, (ulong)stats[i].Seen, (ulong)stats[i].Dropped, (ulong)stats[i].Captured);
    }
}
