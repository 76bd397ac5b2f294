using System.Buffers.Binary;
using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.VirtioNet.Transport.VhostUser;
using static Pmd.VirtioNet.Net.VirtioFeatures;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Pmd's virtio-user port against a vhost-user backend that completes the handshake and then lies,
/// in the rings or in the protocol (tests/hostile/hostile_backend.py), for a while, then is honest.
/// After each lie: no frame delivered that the backend did not honestly send (none twice), traffic
/// flows again, every mbuf back in the pool after stop, the backend alive, no call that hangs, and
/// no stack trace in Pmd's log. Every violation of a case is reported together.
/// </summary>
public sealed class HostileBackendTests
{
    private static int s_counter;
    private static readonly MacAddress BackendMac = MacAddress.Parse("02:00:00:00:00:02");
    private static readonly byte[] RxMagic = "HOSTILE!"u8.ToArray();
    private static readonly byte[] TxMagic = "PMDTEST!"u8.ToArray();

    /// <summary>How long one burst call may take before it counts as a hang.</summary>
    private static readonly TimeSpan BurstLimit = TimeSpan.FromMilliseconds(500);

    /// <summary>The ring lies, with the directions and rings each one applies to (as the backend's RING_CASES).</summary>
    private static readonly (string Lie, string Directions, string Rings)[] s_ringLies =
    [
        ("honest", "rx tx", "split packed"),
        ("used_idx_jump_1000", "rx tx", "split"),
        ("used_idx_jump_65000", "rx tx", "split"),
        ("used_idx_jump_stays", "rx tx", "split"),
        ("index_spin", "rx tx", "split"),
        ("bad_wrap", "rx tx", "packed"),
        ("bad_id", "rx tx", "split packed"),
        ("dup_id", "rx tx", "split packed"),
        ("len_too_big", "rx", "split packed"),
        ("len_too_small", "rx", "split packed"),
        ("num_buffers_zero", "rx", "split packed"),
        ("num_buffers_huge", "rx", "split packed"),
        ("not_head", "tx", "split"),
    ];

    public static TheoryData<string, string, int, string> RingLies
    {
        get
        {
            var data = new TheoryData<string, string, int, string>();
            foreach (var (lie, dirs, rings) in s_ringLies)
                foreach (var ring in rings.Split(' '))
                    foreach (int inOrder in new[] { 0, 1 })
                        foreach (var dir in dirs.Split(' '))
                            data.Add(lie, ring, inOrder, dir);
            return data;
        }
    }

    public static TheoryData<string, int> RingsAndOrder
    {
        get
        {
            var data = new TheoryData<string, int>();
            foreach (var ring in new[] { "split", "packed" })
                foreach (int inOrder in new[] { 0, 1 })
                    data.Add(ring, inOrder);
            return data;
        }
    }

    public static TheoryData<string, string, int> GetVringBaseLies
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (var lie in new[] { "getbase_wrong_code", "getbase_short", "getbase_no_reply_flag" })
                foreach (var ring in new[] { "split", "packed" })
                    foreach (int inOrder in new[] { 0, 1 })
                        data.Add(lie, ring, inOrder);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(RingLies))]
    public void A_backend_lying_in_the_rings_delivers_no_phantom_and_traffic_recovers(string lie, string ring, int inOrder, string direction)
    {
        var problems = RunRingCase(lie, ring, inOrder, direction);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    /// <summary>
    /// The backend overwrites mbuf metadata (next pointer, pool id, segment count) in the shared
    /// memory in front of RX buffers. A separate theory: if it crashes the process, it takes the
    /// test host with it, so it is best run on its own (see the filter in the report).
    /// </summary>
    [Theory]
    [MemberData(nameof(RingsAndOrder))]
    public void Zz_A_backend_rewriting_mbuf_metadata_in_shared_memory_crashes_nothing(string ring, int inOrder)
    {
        var problems = RunRingCase("rewrite_mbuf", ring, inOrder, "rx");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(GetVringBaseLies))]
    public void A_bad_GET_VRING_BASE_reply_on_stop_loses_no_mbuf_and_the_port_starts_again(string lie, string ring, int inOrder)
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        using var h = new Harness(lie, ring, inOrder, "rx", problems);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(30), () =>
        {
            h.StartPort();
            h.ReceiveAtLeast(100, TimeSpan.FromSeconds(5), "before the stop");
            h.StopPort("the stop that gets the bad reply");
            if (!h.Backend.TryWaitFor("event lie-end", TimeSpan.FromSeconds(1))) problems.Add("the backend was never asked for GET_VRING_BASE");
            // The lie is over: the port must come up and carry traffic again.
            if (h.StartPort("the start after the bad reply"))
            {
                h.ReceiveAtLeast(100, TimeSpan.FromSeconds(5), "after the restart");
                h.StopPort("the second stop");
            }
        });
        h.Finish(log, expectLies: true);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(RingsAndOrder))]
    public void A_refused_memory_table_fails_the_start_cleanly_and_the_next_start_works(string ring, int inOrder)
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        using var h = new Harness("ack_refuse", ring, inOrder, "rx", problems);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(30), () =>
        {
            var port = h.Port!;
            try
            {
                port.Start();
                problems.Add("the start succeeded though the backend refused SET_MEM_TABLE");
                h.StopPort("stop after the start that should have failed");
            }
            catch (VhostUserException e)
            {
                if (!e.Message.Contains("SetMemTable", StringComparison.Ordinal)) problems.Add($"the failed start does not say what was refused: {e.Message}");
            }
            h.Pool.FlushThreadCache();
            if (h.Pool.InUse != 0) problems.Add($"{h.Pool.InUse} mbufs in use after the failed start");
            if (port.IsStarted) problems.Add("the port reports started after a failed start");
            // The backend takes the next table: the port must start and carry traffic.
            if (h.StartPort("the start after the refusal"))
            {
                h.ReceiveAtLeast(200, TimeSpan.FromSeconds(5), "after the refusal");
                h.StopPort("stop");
            }
        });
        h.Finish(log, expectLies: true);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void A_GET_VRING_BASE_never_answered_ends_the_stop_after_the_timeout_with_every_mbuf_back()
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        using var h = new Harness("getbase_silent", "split", 1, "rx", problems);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(40), () =>
        {
            h.StartPort();
            h.ReceiveAtLeast(100, TimeSpan.FromSeconds(5), "before the stop");
            // The reply timeout is 10 s: the stop may wait for it, not longer.
            h.StopPort("the stop with no answer", TimeSpan.FromSeconds(11));
            if (h.StartPort("the start after the silence"))
            {
                h.ReceiveAtLeast(100, TimeSpan.FromSeconds(5), "after the restart");
                h.StopPort("the second stop");
            }
        });
        h.Finish(log, expectLies: true);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void A_feature_reply_with_the_wrong_request_code_fails_attach_cleanly_and_the_next_attach_works()
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        using var h = new Harness("features_wrong_code", "split", 1, "rx", problems, attach: false);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(30), () =>
        {
            var sw = Stopwatch.StartNew();
            if (h.TryAttach(out _)) problems.Add("attach succeeded on a GET_FEATURES reply that names another request");
            if (sw.Elapsed > TimeSpan.FromSeconds(2)) problems.Add($"the bad reply took {sw.Elapsed.TotalSeconds:0.0} s to be refused");
            if (h.Port is null && !h.TryAttach(out var again)) problems.Add($"the second attach, to an honest backend, failed: {again}");
            if (h.Port is not null && h.StartPort())
            {
                h.ReceiveAtLeast(200, TimeSpan.FromSeconds(5), "after attach");
                h.StopPort("stop");
            }
        });
        h.Finish(log, expectLies: true);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Fact]
    public void A_reply_dripped_one_byte_at_a_time_fails_attach_within_the_timeout_and_the_next_attach_works()
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        // 20 bytes at 0.6 s each: 12 s for the GET_FEATURES reply, more than the 10 s reply timeout.
        using var h = new Harness("drip", "split", 1, "rx", problems, attach: false, backendArgs: ["--drip-delay", "0.6"]);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(45), () =>
        {
            var sw = Stopwatch.StartNew();
            bool attached = h.TryAttach(out var error);
            var took = sw.Elapsed;
            if (took > TimeSpan.FromSeconds(11))
                problems.Add($"attach took {took.TotalSeconds:0.0} s against a backend dripping its reply (the reply timeout is 10 s); it {(attached ? "succeeded" : $"failed: {error}")}");
            if (!attached && !h.TryAttach(out var again)) problems.Add($"the second attach, to an honest backend, failed: {again}");
            if (h.Port is null) return;
            if (h.StartPort())
            {
                h.ReceiveAtLeast(200, TimeSpan.FromSeconds(5), "after attach");
                h.StopPort("stop");
            }
        });
        h.Finish(log, expectLies: true);
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    [Theory]
    [MemberData(nameof(RingsAndOrder))]
    public void A_backend_offering_every_feature_bit_gets_only_supported_ones_and_no_standby(string ring, int inOrder)
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        using var h = new Harness("all_features", ring, inOrder, "rx", problems);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(30), () =>
        {
            var port = (VirtioNetPort)h.Port!;
            ulong negotiated = port.NegotiatedFeatures;
            if (port.IsFailoverStandby || Has(negotiated, Standby))
                problems.Add("STANDBY (bit 62) was negotiated without standby=1: the port became a failover standby");
            if ((negotiated & ~VirtioNetPort.SupportedFeatures) != 0)
                problems.Add($"negotiated bits Pmd does not support: 0x{negotiated & ~VirtioNetPort.SupportedFeatures:x}");
            if (port.UsesPackedRing != (ring == "packed")) problems.Add($"ring is {(port.UsesPackedRing ? "packed" : "split")}, asked for {ring}");
            if (Has(negotiated, InOrder) != (inOrder == 1)) problems.Add($"IN_ORDER negotiated: {Has(negotiated, InOrder)}, asked in_order={inOrder}");
            if (h.StartPort())
            {
                h.ReceiveAtLeast(200, TimeSpan.FromSeconds(5), "with every bit offered");
                h.StopPort("stop");
            }
        });
        var summary = h.Finish(log, expectLies: false);
        if (summary is not null)
            foreach (ulong acked in summary.AckedFeatures)
                if ((acked & ~(VirtioNetPort.SupportedFeatures | Bit(ProtocolFeatures))) != 0 || Has(acked, Standby))
                    problems.Add($"SET_FEATURES told the backend 0x{acked:x}, with bits Pmd does not support or STANDBY");
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }

    private static List<string> RunRingCase(string lie, string ring, int inOrder, string direction)
    {
        var problems = new List<string>();
        using var log = new CapturedLog();
        string[] args = lie switch
        {
            "index_spin" or "used_idx_jump_1000" or "used_idx_jump_65000" or "bad_wrap" => ["--lie-seconds", "0.4"],
            _ => [],
        };
        // A used index that keeps moving one step at a time over stale entries is, at most
        // instants, a plausible index: no driver can tell those entries from real ones. What it
        // can be held to is that no burst keeps going while the index moves (bounded work per
        // call), no crash, and every mbuf back after stop; not phantoms, recovery or a counter.
        bool judgeData = lie != "index_spin";
        using var h = new Harness(lie, ring, inOrder, direction, problems, backendArgs: args, chainedTx: lie == "not_head", judgeData: judgeData);
        Guarded(problems, h.Backend, TimeSpan.FromSeconds(30), () =>
        {
            if (!h.StartPort()) return;
            // Honest traffic, then the lie, until the backend says it is over.
            if (!h.Run(untilLieEnd: true, TimeSpan.FromSeconds(8)))
            {
                problems.Add($"the backend never finished its lie ({h.Received} received, {h.SentSeqs.Count} sent; events: {h.Backend.Events.Replace('\n', ' ')})");
            }
            else if (!judgeData)
            {
                h.Run(untilLieEnd: false, TimeSpan.FromSeconds(1));
            }
            else
            {
                // Recovery: frames arrive (RX) or keep completing (TX: more than a ring's worth).
                h.Run(untilLieEnd: false, TimeSpan.FromSeconds(5));
                if (direction == "rx" && h.ReceivedAfterLie < 300)
                    problems.Add($"RX did not recover: {h.ReceivedAfterLie} frames in 5 s after the lie stopped ({h.Received} in all)");
                if (direction == "tx" && h.SentAfterLie < 600)
                    problems.Add($"TX did not recover: {h.SentAfterLie} frames accepted in 5 s after the lie stopped ({h.SentSeqs.Count} in all)");
            }
            // A lie must leave a trace: an error counter or a warning. An honest backend, none.
            var counters = h.ErrorCounters();
            ulong noticed = counters.Aggregate(0UL, (sum, c) => sum + c.Value);
            bool warned = log.Lines.Any(l => l.StartsWith("Warning", StringComparison.Ordinal) || l.StartsWith("Error", StringComparison.Ordinal));
            if (lie == "honest" && noticed > 0)
                problems.Add($"an honest backend raised error counters: {string.Join(", ", counters.Where(c => c.Value > 0).Select(c => $"{c.Name}={c.Value}"))}");
            // Split IN_ORDER TX: the device may name only the last chain of a batch, so the ids of
            // the other entries mean nothing and a driver that counts entries is right to ignore
            // them; a wrong id there is harmless, and only the data checks apply.
            bool idsMeaningless = ring == "split" && inOrder == 1 && direction == "tx" && lie is ("bad_id" or "dup_id" or "not_head");
            if (judgeData && !idsMeaningless && lie != "honest" && lie != "rewrite_mbuf" && noticed == 0 && !warned)
                problems.Add("the lie went unnoticed: no *_errors, *_dropped, *_corrupt_used or *_stalls counter rose and nothing was logged at Warning or above");
            h.DrainTx();
            h.StopPort("stop");
        });
        var summary = h.Finish(log, expectLies: lie != "honest");
        if (summary is not null && direction == "tx" && judgeData)
        {
            if (summary.TxAfterLie < 500 && lie != "honest") problems.Add($"the backend got {summary.TxAfterLie} TX frames after its lie stopped");
            if (lie == "honest" && summary.TxReceived < h.SentSeqs.Count - 300)
                problems.Add($"honest backend got {summary.TxReceived} of {h.SentSeqs.Count} frames sent");
        }
        return problems;
    }

    /// <summary>Runs <paramref name="body"/> on its own thread: a call that never returns is a failure, not a hung test run.</summary>
    private static void Guarded(List<string> problems, HostileBackend backend, TimeSpan limit, Action body)
    {
        Exception? thrown = null;
        var thread = new Thread(() =>
        {
            try { body(); }
            catch (Exception e) { thrown = e; }
        })
        { IsBackground = true, Name = "hostile-case" };
        thread.Start();
        if (!thread.Join(limit))
        {
            lock (problems) problems.Add($"HANG: the case did not finish within {limit.TotalSeconds} s");
            backend.Dispose();
            thread.Join(TimeSpan.FromSeconds(5));
        }
        if (thrown is not null) lock (problems) problems.Add($"threw {thrown.GetType().Name}: {thrown.Message}\n{thrown.StackTrace}");
    }

    /// <summary>One case's backend, pool and port, with the checks on what comes out of them.</summary>
    private sealed class Harness : IDisposable
    {
        private readonly List<string> _problems;
        private readonly string _devargs;
        private readonly string _direction;
        private readonly bool _chainedTx;
        private readonly HashSet<uint> _delivered = [];
        private readonly Mbuf[] _burst = new Mbuf[32];
        private int _phantoms;
        private readonly List<string> _phantomExamples = [];
        private int _duplicates;
        private TimeSpan _slowest;
        private string _slowestCall = "";
        private bool _lieOver;
        private uint _txSeq;
        private readonly int _regionsBefore;
        private readonly bool _judgeData;

        public Harness(string lie, string ring, int inOrder, string direction, List<string> problems, bool attach = true,
            string[]? backendArgs = null, bool chainedTx = false, bool judgeData = true)
        {
            _judgeData = judgeData;
            _problems = problems;
            _direction = direction;
            _chainedTx = chainedTx;
            VirtioUserDriver.Register();
            int n = Interlocked.Increment(ref s_counter);
            Socket = $"/tmp/pmd-hostile-{Environment.ProcessId}-{n}.sock";
            Backend = HostileBackend.Start(Socket, lie, direction, backendArgs ?? []);
            Pool = Mempool.Create($"hostile{n}", 4096);
            _regionsBefore = DmaRegistry.Shared.Snapshot().Count;
            Registry = new PortRegistry();
            _devargs = $"net_virtio_user0,path={Socket},packed_vq={(ring == "packed" ? 1 : 0)},in_order={inOrder}";
            if (attach && !TryAttach(out var error)) problems.Add($"attach failed: {error}");
        }

        public string Socket { get; }
        public HostileBackend Backend { get; }
        public Mempool Pool { get; }
        public PortRegistry Registry { get; }
        public EthPort? Port { get; private set; }
        public HashSet<uint> SentSeqs { get; } = [];
        public int Received => _delivered.Count;
        public int ReceivedAfterLie { get; private set; }
        public int SentAfterLie { get; private set; }

        public bool TryAttach(out string? error)
        {
            error = null;
            try
            {
                Port = Registry.Attach(_devargs);
                Port.Configure(new PortConfig { RxPool = Pool });
                return true;
            }
            catch (Exception e) when (e is IOException or InvalidOperationException or NotSupportedException)
            {
                error = $"{e.GetType().Name}: {e.Message}";
                return false;
            }
        }

        public bool StartPort(string what = "start")
        {
            if (Port is null) return false;
            try
            {
                Port.Start();
                return true;
            }
            catch (Exception e)
            {
                _problems.Add($"{what} threw {e.GetType().Name}: {e.Message}");
                return false;
            }
        }

        public void StopPort(string what, TimeSpan? limit = null)
        {
            if (Port is null) return;
            var sw = Stopwatch.StartNew();
            try
            {
                Port.Stop();
            }
            catch (Exception e)
            {
                _problems.Add($"{what}: Port.Stop threw {e.GetType().Name}: {e.Message}");
            }
            if (sw.Elapsed > (limit ?? TimeSpan.FromSeconds(3))) _problems.Add($"{what}: Port.Stop took {sw.Elapsed.TotalSeconds:0.0} s");
            Pool.FlushThreadCache();
            if (Pool.InUse != 0) _problems.Add($"{what}: {Pool.InUse} mbufs still in use after the port stopped (pool of {Pool.Capacity})");
        }

        /// <summary>Polls (RX, and TX when that is the direction) until the lie is over, or for <paramref name="time"/> after it.</summary>
        public bool Run(bool untilLieEnd, TimeSpan time)
        {
            var sw = Stopwatch.StartNew();
            int rxTarget = 300, txTarget = 600;
            while (sw.Elapsed < time)
            {
                PollRx();
                if (_direction == "tx") PollTx();
                if (untilLieEnd)
                {
                    if (Backend.Events.Contains("event lie-end", StringComparison.Ordinal))
                    {
                        _lieOver = true;
                        return true;
                    }
                }
                else if (_direction == "rx" ? ReceivedAfterLie >= rxTarget : SentAfterLie >= txTarget)
                {
                    return true;
                }
                if (Backend.HasExited) return false;
                Thread.Yield();
            }
            return false;
        }

        public void ReceiveAtLeast(int count, TimeSpan time, string when)
        {
            int before = Received;
            var sw = Stopwatch.StartNew();
            while (Received - before < count && sw.Elapsed < time) PollRx();
            if (Received - before < count) _problems.Add($"only {Received - before} frames received in {time.TotalSeconds} s {when}");
        }

        /// <summary>The port's per-queue error counters (read while it runs: a stopped port has no queues).</summary>
        public List<(string Name, ulong Value)> ErrorCounters() =>
            Port is null ? [] : [.. Port.GetXstats()
                .Where(x => x.Name.EndsWith("_errors", StringComparison.Ordinal) || x.Name.EndsWith("_dropped", StringComparison.Ordinal)
                    || x.Name.EndsWith("_corrupt_used", StringComparison.Ordinal) || x.Name.EndsWith("_stalls", StringComparison.Ordinal))
                .Select(x => (x.Name, x.Value))];

        /// <summary>Lets the backend finish what is on the TX ring before the stop.</summary>
        public void DrainTx()
        {
            if (Port is null || _direction != "tx") return;
            var sw = Stopwatch.StartNew();
            while (sw.Elapsed < TimeSpan.FromMilliseconds(300))
            {
                Timed("TxDoneCleanup", () => Port.TxDoneCleanup(0));
                PollRx();
                Thread.Sleep(1);
            }
        }

        private void Timed(string what, Func<int> call)
        {
            long start = Stopwatch.GetTimestamp();
            call();
            var took = Stopwatch.GetElapsedTime(start);
            if (took > _slowest)
            {
                _slowest = took;
                _slowestCall = what;
            }
        }

        private void PollRx()
        {
            if (Port is null) return;
            int n = 0;
            Timed("RxBurst", () => n = Port.RxBurst(0, _burst));
            for (int i = 0; i < n; i++)
            {
                var m = _burst[i];
                if (!TryReadRxFrame(m, out uint seq, out string why))
                {
                    Phantom($"not a frame of the backend's ({why})");
                }
                else if (!_delivered.Add(seq))
                {
                    _duplicates++;
                    Phantom($"seq {seq} delivered twice");
                }
                else if (_lieOver)
                {
                    ReceivedAfterLie++;
                }
                m.Free();
            }
        }

        private void Phantom(string what)
        {
            _phantoms++;
            if (_phantomExamples.Count < 5) _phantomExamples.Add(what);
        }

        private void PollTx()
        {
            if (Port is null) return;
            var port = Port;
            int want = _chainedTx ? 8 : 32;
            int built = 0;
            for (; built < want; built++)
            {
                var m = BuildTxFrame(_txSeq + (uint)built, port.MacAddress);
                if (m.IsNull) break;
                _burst[built] = m;
            }
            int sent = 0;
            Timed("TxBurst", () => sent = port.TxBurst(0, _burst.AsSpan(0, built)));
            for (int i = 0; i < sent; i++) SentSeqs.Add(_txSeq + (uint)i);
            if (_lieOver) SentAfterLie += sent;
            _txSeq += (uint)sent;
            Mbuf.Free(_burst.AsSpan(sent, built - sent));
        }

        /// <summary>The test's TX frame: Ethernet to the backend, TX magic, seq, length, then (seq + offset) bytes; two segments for chains.</summary>
        private Mbuf BuildTxFrame(uint seq, MacAddress source)
        {
            int length = 60 + (int)(seq % 40);
            Span<byte> f = stackalloc byte[length];
            BackendMac.CopyTo(f);
            source.CopyTo(f[6..]);
            BinaryPrimitives.WriteUInt16BigEndian(f[12..], 0x88B5);
            TxMagic.CopyTo(f[14..]);
            BinaryPrimitives.WriteUInt32BigEndian(f[22..], seq);
            BinaryPrimitives.WriteUInt16BigEndian(f[26..], (ushort)length);
            for (int i = 28; i < length; i++) f[i] = (byte)(seq + i);
            var head = Pool.Alloc();
            if (head.IsNull) return head;
            if (!_chainedTx)
            {
                f.CopyTo(head.Append(length));
                return head;
            }
            var tail = Pool.Alloc();
            if (tail.IsNull)
            {
                head.Free();
                return tail;
            }
            f[..30].CopyTo(head.Append(30));
            f[30..].CopyTo(tail.Append(length - 30));
            head.Chain(tail);
            return head;
        }

        private static bool TryReadRxFrame(Mbuf m, out uint seq, out string why)
        {
            seq = 0;
            if (m.SegmentCount != 1) { why = $"{m.SegmentCount} segments, {m.PacketLength} bytes"; return false; }
            var f = m.Data;
            if (f.Length < 28 || f.Length != m.PacketLength) { why = $"{f.Length} bytes"; return false; }
            if (!f[..6].SequenceEqual((ReadOnlySpan<byte>)[0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) || !f[6..12].SequenceEqual(BackendMac.ToArray())
                || BinaryPrimitives.ReadUInt16BigEndian(f[12..]) != 0x88B5 || !f[14..22].SequenceEqual(RxMagic))
            {
                why = $"{f.Length} bytes, no backend header: {Convert.ToHexString(f[..Math.Min(28, f.Length)])}";
                return false;
            }
            seq = BinaryPrimitives.ReadUInt32BigEndian(f[22..]);
            int length = BinaryPrimitives.ReadUInt16BigEndian(f[26..]);
            if (length != f.Length || length != 60 + (int)(seq % 40)) { why = $"seq {seq}: {f.Length} bytes delivered, frame says {length}"; return false; }
            for (int i = 28; i < length; i++)
                if (f[i] != (byte)(seq + i)) { why = $"seq {seq}: byte {i} is 0x{f[i]:x2}"; return false; }
            why = "";
            return true;
        }

        /// <summary>Stops the backend and checks everything the case must leave behind. Null when the backend gave no summary.</summary>
        public HostileSummary? Finish(CapturedLog log, bool expectLies)
        {
            HostileSummary? summary = null;
            if (Backend.HasExited) _problems.Add($"the backend process died:\n{Backend.Events}");
            else
            {
                try { summary = Backend.Stop(); }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException) { _problems.Add(e.Message); }
            }
            if (Backend.Events.Contains("Traceback", StringComparison.Ordinal)) _problems.Add($"the backend itself broke:\n{Backend.Events}");
            if (summary is not null && !_judgeData)
            {
                if (expectLies && summary.Lies == 0) _problems.Add($"TEST ERROR: the backend never told its lie (state {summary.LieState})");
            }
            else if (summary is not null)
            {
                if (expectLies && summary.Lies == 0) _problems.Add($"TEST ERROR: the backend never told its lie (state {summary.LieState})");
                foreach (var e in summary.Errors) _problems.Add($"backend error: {e}");
                var sent = summary.RxSeqs;
                var phantoms = _delivered.Where(s => !sent.Contains(s)).ToList();
                if (phantoms.Count > 0)
                    _problems.Add($"{phantoms.Count} frames delivered that the backend never honestly sent, e.g. seq {string.Join(", ", phantoms.Take(5))}");
                if (_direction == "tx")
                {
                    if (summary.TxBad > 0) _problems.Add($"the backend read {summary.TxBad} TX frames that are not the ones sent");
                    if (summary.TxDuplicates > 0) _problems.Add($"the backend read {summary.TxDuplicates} TX frames twice");
                    var unknown = summary.TxSeqs.Where(s => !SentSeqs.Contains(s)).ToList();
                    if (unknown.Count > 0) _problems.Add($"{unknown.Count} TX frames reached the backend that TxBurst never accepted, e.g. {string.Join(", ", unknown.Take(5))}");
                }
            }
            if (_phantoms > 0 && _judgeData) _problems.Add($"{_phantoms} phantom or duplicate frames delivered ({_duplicates} duplicates): {string.Join("; ", _phantomExamples)}");
            if (_slowest > BurstLimit) _problems.Add($"one {_slowestCall} call took {_slowest.TotalMilliseconds:0} ms (a burst that does not return)");
            if (Port is not null && !Port.IsStarted)
            {
                // The pool stays until the harness goes; a stopped port keeps its ring arena for
                // its next start (see DmaArena), at most that one; a closed port keeps none.
                int kept = DmaRegistry.Shared.Snapshot().Count - _regionsBefore;
                if (kept > 1) _problems.Add($"{kept} DMA regions still registered after the port stopped (its ring arena at most)");
                Port.Close();
                int leaked = DmaRegistry.Shared.Snapshot().Count - _regionsBefore;
                if (leaked > 0) _problems.Add($"{leaked} DMA regions (the rings' arena) still registered after the port closed");
            }
            var traces = log.StackTraces;
            if (traces.Count > 0) _problems.Add($"stack trace in the log: {traces[0]}");
            return summary;
        }

        public void Dispose()
        {
            Registry.Dispose();
            // A stop that failed leaves the port's ring arena registered, and vhost-user shares
            // at most 8 regions: release it here, or every later case would fail at start for
            // this one's fault. (This case has already failed on the leak, in Finish.)
            if (Port is VirtioNetPort port
                && typeof(VirtioNetPort).GetField("_arena", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic) is { } field
                && field.GetValue(port) is IDisposable arena)
            {
                arena.Dispose();
                field.SetValue(port, null);
            }
            Backend.Dispose();
            Pool.FlushThreadCache();
            Pool.Dispose();
        }
    }
}
