using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.Telemetry;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

/// <summary>
/// The telemetry socket in-process, through the raw socket (what DPDK's client sends, and what a
/// client that misbehaves sends) and through DPDK's own dpdk-telemetry.py.
/// </summary>
public sealed class TelemetryTests
{
    [Fact]
    public void The_info_message_list_info_and_help_answer_as_dpdks()
    {
        using var rig = new TelemetryRig();
        using var client = TelemetrySocketClient.Connect(rig.Server.SocketPath);
        Assert.Equal($"/var/run/dpdk/{rig.Prefix}/dpdk_telemetry.v2", rig.Server.SocketPath);
        Assert.StartsWith("Pmd ", client.Info.GetProperty("version").GetString(), StringComparison.Ordinal);
        Assert.Equal(Environment.ProcessId, client.Info.GetProperty("pid").GetInt32());
        Assert.Equal(16384, client.Info.GetProperty("max_output_len").GetInt32());

        var commands = client.Query("/").EnumerateArray().Select(e => e.GetString()!).ToList();
        foreach (var c in new[] { "/", "/info", "/help", "/ethdev/list", "/ethdev/info", "/ethdev/stats", "/ethdev/xstats", "/ethdev/link_status", "/mempool/list", "/mempool/info" })
            Assert.Contains(c, commands);
        Assert.Equal(commands.Order(StringComparer.Ordinal), commands);

        var info = client.Query("/info");
        Assert.Equal(client.Info.GetRawText(), info.GetRawText());

        var help = client.Query("/help,/ethdev/stats");
        Assert.Equal("Returns the common stats for a port. Parameters: int port_id", help.GetProperty("/ethdev/stats").GetString());
        // As DPDK 22.11: "/help" alone is its own help, a string.
        Assert.Equal("Returns help text for a command. Parameters: string command", client.Query("/help").GetString());
        Assert.Equal(JsonValueKind.Null, client.Query("/help,/no/such").ValueKind);
        Assert.Equal(JsonValueKind.Null, client.Query("/no/such").ValueKind);
        Assert.Equal(JsonValueKind.Null, client.Query("info").ValueKind);
    }

    [Fact]
    public void Ethdev_commands_give_the_ports_own_counters_with_dpdks_names()
    {
        using var rig = new TelemetryRig();
        var port = rig.AddPort("net_test0", new PortStats { RxPackets = 10, TxPackets = 20, RxBytes = 640, TxBytes = 1280, RxMissed = 3, RxErrors = 4, TxErrors = 5, RxNoMbuf = 6 });
        port.QueueRx = [7, 3];
        port.Xstats = [new("rx_q0_packets", 7), new("rx_q1_packets", 3), new("tx_q0_stalls", 0)];
        var down = rig.AddPort("net_test1", default);
        down.LinkStatus = LinkStatus.Down;
        var owned = rig.AddPort("net_owned2", new PortStats { RxPackets = 99 });
        rig.Registry.SetOwner(owned.PortId, rig.Registry.NewOwner("someone"));
        port.Configure(new PortConfig { RxQueues = 2, TxQueues = 2, RxPool = rig.Pool });
        port.Start();
        using var client = TelemetrySocketClient.Connect(rig.Server.SocketPath);

        // Owned ports are not listed (RTE_ETH_FOREACH_DEV), but can be asked about by id.
        Assert.Equal([0, 1], client.Query("/ethdev/list").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(99UL, client.Query("/ethdev/stats,2").GetProperty("ipackets").GetUInt64());

        var stats = client.Query("/ethdev/stats,0");
        string[] names = ["ipackets", "opackets", "ibytes", "obytes", "imissed", "ierrors", "oerrors", "rx_nombuf", "q_ipackets", "q_opackets", "q_ibytes", "q_obytes", "q_errors"];
        Assert.Equal(names, stats.EnumerateObject().Select(p => p.Name));
        Assert.Equal([10UL, 20, 640, 1280, 3, 4, 5, 6], names[..8].Select(n => stats.GetProperty(n).GetUInt64()));
        var q = stats.GetProperty("q_ipackets").EnumerateArray().Select(e => e.GetUInt64()).ToList();
        Assert.Equal(16, q.Count);
        Assert.Equal([7UL, 3, 0], q.Take(3));

        var xstats = client.Query("/ethdev/xstats,0");
        Assert.Equal(["rx_q0_packets", "rx_q1_packets", "tx_q0_stalls"], xstats.EnumerateObject().Select(p => p.Name));
        Assert.Equal(7UL, xstats.GetProperty("rx_q0_packets").GetUInt64());
        Assert.Equal(["rx_q0_packets", "rx_q1_packets"], client.Query("/ethdev/xstats,0,hide_zero=true").EnumerateObject().Select(p => p.Name));

        var up = client.Query("/ethdev/link_status,0");
        Assert.Equal("UP", up.GetProperty("status").GetString());
        Assert.Equal(10000, up.GetProperty("speed").GetInt32());
        Assert.Equal("full-duplex", up.GetProperty("duplex").GetString());
        Assert.Equal("""{"status":"DOWN"}""", client.Query("/ethdev/link_status,1").GetRawText());

        var info = client.Query("/ethdev/info,0");
        Assert.Equal("net_test0", info.GetProperty("name").GetString());
        Assert.Equal(0, info.GetProperty("port_id").GetInt32());
        Assert.Equal(2, info.GetProperty("nb_rx_queues").GetInt32());
        Assert.Equal(1500, info.GetProperty("mtu").GetInt32());
        Assert.Equal("52:54:00:00:00:0A", info.GetProperty("mac_addr").GetString());
        Assert.Equal(1, info.GetProperty("dev_started").GetInt32());
        Assert.Equal([1, 1], info.GetProperty("rxq_state").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(rig.Pool.BufferSize, info.GetProperty("rx_mbuf_size_min").GetInt32());
        Assert.Equal("net_test", info.GetProperty("driver_name").GetString());

        // Bad port ids and parameters: DPDK's null, and the connection goes on.
        foreach (string bad in new[] { "/ethdev/stats", "/ethdev/stats,", "/ethdev/stats,7", "/ethdev/stats,x", "/ethdev/stats,-1", "/ethdev/stats,99999", "/ethdev/xstats,256", "/ethdev/info, 0", "/ethdev/link_status,abc" })
            Assert.Equal(JsonValueKind.Null, client.Query(bad).ValueKind);
        Assert.Equal(10UL, client.Query("/ethdev/stats,0").GetProperty("ipackets").GetUInt64());
    }

    [Fact]
    public void Mempool_commands_count_what_is_in_use()
    {
        using var rig = new TelemetryRig();
        using var client = TelemetrySocketClient.Connect(rig.Server.SocketPath);
        Assert.Contains(rig.Pool.Name, client.Query("/mempool/list").EnumerateArray().Select(e => e.GetString()));

        var held = new Mbuf[100];
        Assert.Equal(100, rig.Pool.Alloc(held));
        var info = client.Query($"/mempool/info,{rig.Pool.Name}");
        Assert.Equal(rig.Pool.Name, info.GetProperty("name").GetString());
        Assert.Equal(rig.Pool.Capacity, info.GetProperty("size").GetInt32());
        Assert.Equal(100, info.GetProperty("in_use").GetInt32());
        Assert.Equal(rig.Pool.Capacity - 100, info.GetProperty("available").GetInt32());
        Assert.Equal(info.GetProperty("available").GetInt32(), info.GetProperty("common_pool_count").GetInt32() + info.GetProperty("total_cache_count").GetInt32());
        Mbuf.Free(held);
        Assert.Equal(0, client.Query($"/mempool/info,{rig.Pool.Name}").GetProperty("in_use").GetInt32());
        Assert.Equal(JsonValueKind.Null, client.Query("/mempool/info,no_such_pool").ValueKind);
        Assert.Equal(JsonValueKind.Null, client.Query("/mempool/info").ValueKind);
    }

    [Fact]
    public void Malformed_and_oversized_commands_get_null_and_the_connection_goes_on()
    {
        using var rig = new TelemetryRig();
        rig.AddPort("net_test0", new PortStats { RxPackets = 1 });
        using var client = TelemetrySocketClient.Connect(rig.Server.SocketPath);

        // Longer than DPDK's 1023-byte read: null, whatever it starts with.
        Assert.Equal(JsonValueKind.Null, client.Query("/ethdev/stats,0" + new string(' ', 2000), "/ethdev/stats").ValueKind);
        Assert.Equal(JsonValueKind.Null, client.Query("/info," + new string('x', 1024 * 60), "/info").ValueKind);
        // 1023 bytes fit; a command name that long is echoed as DPDK does, cut at 56 characters.
        string longName = "/" + new string('a', 1022);
        Assert.Equal(JsonValueKind.Null, client.Query(longName, longName[..56]).ValueKind);
        // Not UTF-8, NULs, quotes, no command at all: still one valid JSON object each.
        client.Send([0xff, 0xfe, 0x2f, 0xc3]);
        var garbage = client.ReceiveJson().EnumerateObject().Single();
        Assert.Equal(JsonValueKind.Null, garbage.Value.ValueKind);
        Assert.Equal(JsonValueKind.Null, client.Query("/a\"b\\c", "/a\"b\\c").ValueKind);
        Assert.Equal(JsonValueKind.Null, client.Query(",", "none").ValueKind);
        client.Send(Encoding.UTF8.GetBytes("/info\0junk"));
        Assert.Equal(16384, client.ReceiveJson().GetProperty("/info").GetProperty("max_output_len").GetInt32());
        // A newline at the end (socat, echo) is dropped.
        Assert.Equal(1UL, client.Query("/ethdev/stats,0\n", "/ethdev/stats").GetProperty("ipackets").GetUInt64());
        Assert.Equal(1UL, client.Query("/ethdev/stats,0").GetProperty("ipackets").GetUInt64());
    }

    [Fact]
    public void A_reply_too_long_for_max_output_len_leaves_entries_out_and_stays_valid_json()
    {
        using var rig = new TelemetryRig();
        var port = rig.AddPort("net_test0", default);
        port.Xstats = [.. Enumerable.Range(0, 2000).Select(i => new Xstat($"some_rather_long_counter_name_{i:D4}", (ulong)i * 1_000_000_007))];
        using var client = TelemetrySocketClient.Connect(rig.Server.SocketPath);
        client.Send("/ethdev/xstats,0");
        int size = client.PeekSize();
        var xstats = client.ReceiveJson().GetProperty("/ethdev/xstats");
        Assert.InRange(size, 16000, 16384);
        int count = xstats.EnumerateObject().Count();
        Assert.InRange(count, 100, 1999);
        // The first ones, in order.
        Assert.Equal(Enumerable.Range(0, count).Select(i => $"some_rather_long_counter_name_{i:D4}"), xstats.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public void A_client_that_hangs_up_mid_reply_or_stops_reading_holds_up_nobody()
    {
        using var rig = new TelemetryRig();
        var port = rig.AddPort("net_test0", new PortStats { TxPackets = 5 });
        port.Xstats = [.. Enumerable.Range(0, 2000).Select(i => new Xstat($"counter_{i:D4}", (ulong)i))];
        rig.Server.SendTimeout = TimeSpan.FromMilliseconds(300);

        // Hangs up right after asking, before the reply is read.
        for (int i = 0; i < 20; i++)
        {
            using var rude = TelemetrySocketClient.ConnectRaw(rig.Server.SocketPath);
            rude.Send(Encoding.UTF8.GetBytes("/ethdev/xstats,0"));
        }
        WaitUntil(() => rig.Server.ClientCount == 0, TimeSpan.FromSeconds(10), () => $"{rig.Server.ClientCount} clients still connected");

        // Asks for 16 KiB replies over and over and never reads one: the server's send fills the socket and blocks.
        using var silent = TelemetrySocketClient.ConnectRaw(rig.Server.SocketPath);
        for (int i = 0; i < 40; i++) silent.Send(Encoding.UTF8.GetBytes("/ethdev/xstats,0"));

        // Meanwhile another client is answered at once.
        using var polite = TelemetrySocketClient.Connect(rig.Server.SocketPath);
        var watch = Stopwatch.StartNew();
        for (int i = 0; i < 50; i++) Assert.Equal(5UL, polite.Query("/ethdev/stats,0").GetProperty("opackets").GetUInt64());
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"50 queries took {watch.Elapsed}");

        // The silent one is dropped once its reply has waited SendTimeout; the hung-up ones are gone.
        WaitUntil(() => rig.Server.ClientCount == 1, TimeSpan.FromSeconds(10), () => $"{rig.Server.ClientCount} clients still connected");
        // Its connection is closed: what was queued ends in a reset (the server closed with commands of its unread) or
        // in the end of the stream; a receive timeout would throw here.
        silent.ReceiveTimeout = 5000;
        try
        {
            while (silent.Receive(new byte[64 * 1024]) > 0) { }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset) { }
        Assert.Equal(5UL, polite.Query("/ethdev/stats,0").GetProperty("opackets").GetUInt64());
    }

    [Fact]
    public void Ten_clients_are_served_at_once_and_an_eleventh_is_closed()
    {
        using var rig = new TelemetryRig();
        rig.AddPort("net_test0", new PortStats { RxPackets = 42 });
        var clients = Enumerable.Range(0, 10).Select(_ => TelemetrySocketClient.Connect(rig.Server.SocketPath)).ToList();
        try
        {
            WaitUntil(() => rig.Server.ClientCount == 10, TimeSpan.FromSeconds(5), () => $"{rig.Server.ClientCount} clients");
            using (var eleventh = TelemetrySocketClient.ConnectRaw(rig.Server.SocketPath))
            {
                // Closed without the info message, as DPDK closes it.
                Assert.Equal(0, eleventh.Receive(new byte[1024]));
            }

            Parallel.ForEach(clients, c =>
            {
                for (int i = 0; i < 100; i++) Assert.Equal(42UL, c.Query("/ethdev/stats,0").GetProperty("ipackets").GetUInt64());
            });

            clients[0].Dispose();
            WaitUntil(() => rig.Server.ClientCount == 9, TimeSpan.FromSeconds(5), () => $"{rig.Server.ClientCount} clients");
            clients[0] = TelemetrySocketClient.Connect(rig.Server.SocketPath);
            Assert.Equal(42UL, clients[0].Query("/ethdev/stats,0").GetProperty("ipackets").GetUInt64());
        }
        finally
        {
            foreach (var c in clients) c.Dispose();
        }
    }

    [Fact]
    public void A_live_socket_of_another_server_is_left_alone_and_a_stale_one_replaced()
    {
        using var rig = new TelemetryRig();
        string basePath = rig.Server.SocketPath;
        using (var second = PmdTelemetry.Start(rig.Registry, rig.Prefix))
        {
            Assert.Equal(basePath + ":1", second.SocketPath);
            using var a = TelemetrySocketClient.Connect(basePath);
            using var b = TelemetrySocketClient.Connect(second.SocketPath);
            Assert.Equal(JsonValueKind.Array, a.Query("/ethdev/list").ValueKind);
            Assert.Equal(JsonValueKind.Array, b.Query("/ethdev/list").ValueKind);
            // DPDK's client reaches the second instance with -i.
            var replies = DpdkTelemetryScript.Query(rig.Prefix, ["/info"], instance: 1);
            Assert.Equal(Environment.ProcessId, replies[0].Value.GetProperty("pid").GetInt32());
        }
        Assert.False(File.Exists(basePath + ":1"));

        rig.Server.Dispose();
        Assert.False(File.Exists(basePath));
        // A socket file nobody listens on, as a killed process leaves it (.NET would remove its own on dispose; Python leaves it).
        using (var python = Process.Start("python3", ["-c", $"import socket; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind('{basePath}')"]))
            python.WaitForExit();
        Assert.True(File.Exists(basePath), $"no stale socket at {basePath}");
        using var third = PmdTelemetry.Start(rig.Registry, rig.Prefix);
        Assert.Equal(basePath, third.SocketPath);
        using var c = TelemetrySocketClient.Connect(basePath);
        Assert.Equal(JsonValueKind.Array, c.Query("/").ValueKind);
    }

    [Fact]
    public void Dpdks_own_client_reads_the_replies()
    {
        using var rig = new TelemetryRig();
        rig.AddPort("net_test0", new PortStats { RxPackets = 12, TxPackets = 34 });
        var replies = DpdkTelemetryScript.Query(rig.Prefix, ["/ethdev/list", "/ethdev/stats,0", "/ethdev/link_status,0", "/help,/ethdev/list", "/mempool/list", "/bogus", "/ethdev/stats,5"]);
        Assert.Equal(["/ethdev/list", "/ethdev/stats", "/ethdev/link_status", "/help", "/mempool/list", "/bogus", "/ethdev/stats"], replies.Select(r => r.Key));
        Assert.Equal("[0]", replies[0].Value.GetRawText());
        Assert.Equal(12UL, replies[1].Value.GetProperty("ipackets").GetUInt64());
        Assert.Equal(34UL, replies[1].Value.GetProperty("opackets").GetUInt64());
        Assert.Equal("UP", replies[2].Value.GetProperty("status").GetString());
        Assert.Contains(rig.Pool.Name, replies[4].Value.EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(JsonValueKind.Null, replies[5].Value.ValueKind);
        Assert.Equal(JsonValueKind.Null, replies[6].Value.ValueKind);
    }

    [Fact]
    public void Dispose_closes_every_client_and_removes_the_socket()
    {
        var rig = new TelemetryRig();
        try
        {
            using var idle = TelemetrySocketClient.Connect(rig.Server.SocketPath);
            using var silent = TelemetrySocketClient.ConnectRaw(rig.Server.SocketPath);
            WaitUntil(() => rig.Server.ClientCount == 2, TimeSpan.FromSeconds(5), () => $"{rig.Server.ClientCount} clients");
            var watch = Stopwatch.StartNew();
            rig.Server.Dispose();
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"Dispose took {watch.Elapsed}");
            Assert.False(File.Exists(rig.Server.SocketPath));
            Assert.Equal(0, idle.Socket.Receive(new byte[1024]));
            Assert.Equal(0, rig.Server.ClientCount);
            rig.Server.Dispose();
        }
        finally
        {
            rig.Dispose();
        }
    }

    [Fact]
    public void The_file_prefix_must_be_a_name()
    {
        using var registry = new PortRegistry();
        foreach (string bad in new[] { "", "a/b", "..", "." })
            Assert.Throws<ArgumentException>(() => PmdTelemetry.Start(registry, bad));
        if (Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY") is null && Environment.IsPrivilegedProcess)
            Assert.Equal("/var/run/dpdk/x", PmdTelemetry.RuntimeDirectory("x"));
    }

    private static void WaitUntil(Func<bool> condition, TimeSpan timeout, Func<string> what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) Assert.Fail($"not within {timeout.TotalSeconds} s: {what()}");
            Thread.Sleep(10);
        }
    }

    /// <summary>A registry, a small pool and a telemetry server on a file prefix of its own (its runtime directory removed after).</summary>
    private sealed class TelemetryRig : IDisposable
    {
        private static int s_counter;

        public TelemetryRig()
        {
            int n = Interlocked.Increment(ref s_counter);
            Prefix = $"pmdtel-{Environment.ProcessId}-{n}";
            Pool = Mempool.Create($"tel{Environment.ProcessId}_{n}", 1024, cacheSize: 32, allowHugePages: false);
            Registry = new PortRegistry();
            Server = PmdTelemetry.Start(Registry, Prefix);
        }

        public string Prefix { get; }
        public Mempool Pool { get; }
        public PortRegistry Registry { get; }
        public PmdTelemetry Server { get; }

        public ScriptedPort AddPort(string name, PortStats stats)
        {
            var port = new ScriptedPort(name, MacAddress.Parse($"52:54:00:00:00:{10 + Registry.AllPorts.Count:x2}")) { Stats = stats };
            Registry.Add(port);
            return port;
        }

        public void Dispose()
        {
            Server.Dispose();
            Registry.Dispose();
            Pool.Dispose();
            try { Directory.Delete(PmdTelemetry.RuntimeDirectory(Prefix), recursive: true); }
            catch (DirectoryNotFoundException) { }
        }
    }

    /// <summary>A port whose counters, xstats and link a test sets.</summary>
    private sealed class ScriptedPort(string name, MacAddress mac) : EthPort(name)
    {
        public PortStats Stats { get; set; }
        public IReadOnlyList<Xstat> Xstats { get; set; } = [];
        public LinkStatus LinkStatus { get; set; } = new(true, 10000);
        public ulong[] QueueRx { get; set; } = [];

        public override PortInfo Info => new() { DriverName = "net_test", MaxRxQueues = 4, MaxTxQueues = 4 };
        public override MacAddress MacAddress => mac;
        public override LinkStatus Link => LinkStatus;
        protected override int OnRxBurst(int queue, Span<Mbuf> mbufs) => 0;
        protected override int OnTxBurst(int queue, Span<Mbuf> mbufs) => 0;
        public override PortStats GetStats() => Stats;
        public override IReadOnlyList<Xstat> GetXstats() => Xstats;

        internal override void AddQueueStats(QueueStats stats)
        {
            for (int i = 0; i < QueueRx.Length; i++) stats.RxPackets[i] += QueueRx[i];
        }

        protected override void OnConfigure(PortConfig config) { }
        protected override void OnStart() { }
        protected override void OnStop() { }
        protected override void OnClose() { }
    }
}
