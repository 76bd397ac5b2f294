using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pmd.TestSupport;

namespace TestPmd.Tests;

/// <summary>
/// TestPmd's telemetry socket read by DPDK's own client, dpdk-telemetry.py, unchanged: counts that
/// match TestPmd's own statistics and DPDK's backend (itself asked through its DPDK telemetry),
/// replies with DPDK's fields, and a socket that outlives clients that misbehave.
/// </summary>
public sealed partial class TelemetryTests
{
    private static int s_counter;

    private static string NewPrefix() => $"pmdtel-tp-{Environment.ProcessId}-{Interlocked.Increment(ref s_counter)}";

    private static string SocketOf(string prefix) => $"/var/run/dpdk/{prefix}/dpdk_telemetry.v2";

    [Fact]
    public void Dpdk_telemetry_py_reads_the_counts_testpmd_and_the_backend_print()
    {
        string prefix = NewPrefix(), backendPrefix = prefix + "-dpdk";
        try
        {
            using var backend = DpdkVhostBackend.Start(Peer.NewSocket(), "io", filePrefix: backendPrefix);
            using var ours = TestPmdProcess.Start("--vdev", $"net_virtio_user0,path={backend.Socket}", "-l", "0-1", "--main-lcore", "1",
                "--file-prefix", prefix, "--", "-i");
            ours.Send("show port info 0");
            ours.WaitForOutput("Driver name: net_virtio");
            WaitForLinkUp(prefix);

            ours.Send("start tx_first");
            ours.WaitForOutput("io packet forwarding - ports=1 - cores=1 - streams=1");
            Thread.Sleep(1000);
            ours.Send("stop");
            ours.WaitForOutput("Done.");
            var forwarded = OurCounts.Parse(ours.Stdout);
            ours.Send("show port stats 0");
            ours.WaitForOutput("Tx-pps:");
            var nic = NicStats.Parse(ours.Stdout);
            Assert.True(nic.TxPackets > 1000, ours.Stdout);

            var replies = DpdkTelemetryScript.Query(prefix,
            [
                "/", "/info", "/help,/ethdev/stats", "/ethdev/list", "/ethdev/info,0", "/ethdev/stats,0", "/ethdev/xstats,0",
                "/ethdev/link_status,0", "/mempool/list", "/mempool/info,testpmd_mbuf_pool", "/failover/list", "/ethdev/stats,9", "/no/such",
            ]);
            var r = replies.ToDictionary(x => x.Command, x => x.Value);
            Assert.Equal(["/", "/info", "/help", "/ethdev/list", "/ethdev/info", "/ethdev/stats", "/ethdev/xstats", "/ethdev/link_status", "/mempool/list", "/mempool/info", "/failover/list", "/ethdev/stats", "/no/such"],
                replies.Select(x => x.Key));

            var commands = r["/"].EnumerateArray().Select(e => e.GetString()).ToList();
            foreach (var c in new[] { "/", "/info", "/help", "/ethdev/list", "/ethdev/info", "/ethdev/stats", "/ethdev/xstats", "/ethdev/link_status", "/mempool/list", "/mempool/info", "/failover/list", "/failover/info" })
                Assert.Contains(c, commands);
            Assert.StartsWith("Pmd ", r["/info"].GetProperty("version").GetString(), StringComparison.Ordinal);
            Assert.Equal(16384, r["/info"].GetProperty("max_output_len").GetInt32());
            Assert.Contains("port_id", r["/help,/ethdev/stats"].GetProperty("/ethdev/stats").GetString(), StringComparison.Ordinal);
            Assert.Equal("[0]", r["/ethdev/list"].GetRawText());
            Assert.Equal("net_virtio_user0", r["/ethdev/info,0"].GetProperty("name").GetString());
            Assert.Equal(1, r["/ethdev/info,0"].GetProperty("dev_started").GetInt32());
            Assert.Equal("UP", r["/ethdev/link_status,0"].GetProperty("status").GetString());
            Assert.Equal("[]", r["/failover/list"].GetRawText());
            Assert.Equal(JsonValueKind.Null, r["/ethdev/stats,9"].ValueKind);
            Assert.Equal(JsonValueKind.Null, r["/no/such"].ValueKind);

            // The counts are TestPmd's own: "show port stats" and the forward statistics.
            var stats = r["/ethdev/stats,0"];
            Assert.Equal(nic.RxPackets, stats.GetProperty("ipackets").GetUInt64());
            Assert.Equal(nic.TxPackets, stats.GetProperty("opackets").GetUInt64());
            Assert.Equal(nic.RxBytes, stats.GetProperty("ibytes").GetUInt64());
            Assert.Equal(nic.TxBytes, stats.GetProperty("obytes").GetUInt64());
            Assert.Equal(nic.RxMissed, stats.GetProperty("imissed").GetUInt64());
            Assert.Equal(nic.TxErrors, stats.GetProperty("oerrors").GetUInt64());
            Assert.Equal(forwarded.RxPackets, stats.GetProperty("ipackets").GetUInt64());
            Assert.Equal(forwarded.TxPackets, stats.GetProperty("opackets").GetUInt64());
            Assert.Equal(nic.RxPackets, stats.GetProperty("q_ipackets")[0].GetUInt64());
            Assert.Equal(nic.TxPackets, stats.GetProperty("q_opackets")[0].GetUInt64());
            Assert.Equal(nic.RxPackets, r["/ethdev/xstats,0"].GetProperty("rx_q0_packets").GetUInt64());
            Assert.Equal(nic.TxPackets, r["/ethdev/xstats,0"].GetProperty("tx_q0_packets").GetUInt64());
            Assert.Contains("testpmd_mbuf_pool", r["/mempool/list"].EnumerateArray().Select(e => e.GetString()));
            var pool = r["/mempool/info,testpmd_mbuf_pool"];
            Assert.Equal(16384, pool.GetProperty("size").GetInt32());
            Assert.Equal(16384, pool.GetProperty("in_use").GetInt32() + pool.GetProperty("available").GetInt32());
            Assert.True(pool.GetProperty("in_use").GetInt32() > 0, "the RX ring holds mbufs of the pool");

            // DPDK's backend, asked through its own telemetry by the same client: it received what we sent,
            // and our replies have its fields.
            var dpdk = DpdkTelemetryScript.Query(backendPrefix, ["/ethdev/stats,0", "/ethdev/link_status,0", "/ethdev/info,0", "/info"])
                .ToDictionary(x => x.Command, x => x.Value);
            Assert.StartsWith("DPDK 22.11", dpdk["/info"].GetProperty("version").GetString(), StringComparison.Ordinal);
            Assert.Equal(nic.TxPackets, dpdk["/ethdev/stats,0"].GetProperty("ipackets").GetUInt64());
            Assert.InRange(dpdk["/ethdev/stats,0"].GetProperty("opackets").GetUInt64() - nic.RxPackets, 0UL, 256UL);
            Assert.Equal(Names(dpdk["/ethdev/stats,0"]), Names(stats));
            Assert.Equal(Names(dpdk["/ethdev/link_status,0"]), Names(r["/ethdev/link_status,0"]));
            Assert.Equal(Names(dpdk["/info"]), Names(r["/info"]));
            Assert.Empty(Names(dpdk["/ethdev/info,0"]).Except(Names(r["/ethdev/info,0"])));
            Assert.Equal(dpdk["/ethdev/stats,0"].GetProperty("q_ipackets").GetArrayLength(), stats.GetProperty("q_ipackets").GetArrayLength());

            ours.Send("quit");
            ours.WaitForExit(TimeSpan.FromSeconds(20));
            Assert.Equal(0, ours.ExitCode);
            Assert.False(File.Exists(SocketOf(prefix)), "the socket outlived TestPmd");
            var counts = backend.Stop();
            Assert.Equal(nic.TxPackets, counts.RxPackets);
        }
        finally
        {
            RemoveRuntimeDirectory(prefix);
            RemoveRuntimeDirectory(backendPrefix);
        }
    }

    [Fact]
    public void A_client_that_misbehaves_gets_null_or_is_dropped_and_the_real_client_is_still_answered()
    {
        string prefix = NewPrefix();
        try
        {
            using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--file-prefix", prefix, "--", "-i");
            ours.Send("show port summary");
            ours.WaitForOutput("Number of available ports: 0");
            string socket = SocketOf(prefix);
            Assert.True(File.Exists(socket), $"no {socket}");

            using (var raw = TelemetrySocketClient.Connect(socket))
            {
                Assert.Equal(ours.ProcessId, raw.Info.GetProperty("pid").GetInt32());
                // Oversized (DPDK reads 1023 bytes), malformed, unknown, bad parameters: null each, and the connection goes on.
                Assert.Equal(JsonValueKind.Null, raw.Query("/ethdev/list," + new string('x', 4096), "/ethdev/list").ValueKind);
                Assert.Equal(JsonValueKind.Null, raw.Query("ethdev/list").ValueKind);
                Assert.Equal(JsonValueKind.Null, raw.Query("/ethdev/stats,zero", "/ethdev/stats").ValueKind);
                Assert.Equal(JsonValueKind.Null, raw.Query("/ethdev/stats,0", "/ethdev/stats").ValueKind);
                raw.Send([0x2f, 0xff, 0x00, 0x22]);
                Assert.Equal(JsonValueKind.Null, raw.ReceiveJson().EnumerateObject().Single().Value.ValueKind);
                Assert.Equal("[]", raw.Query("/ethdev/list").GetRawText());
            }
            // Hang up with a reply on its way, many times over; and a client that asks and never reads.
            for (int i = 0; i < 30; i++)
            {
                using var rude = TelemetrySocketClient.ConnectRaw(socket);
                rude.Send(Encoding.UTF8.GetBytes("/"));
            }
            // Let the server see those hang-ups before DPDK's client comes (it takes 10 clients at most).
            Thread.Sleep(500);
            using var silent = TelemetrySocketClient.ConnectRaw(socket);
            for (int i = 0; i < 100; i++) silent.Send(Encoding.UTF8.GetBytes("/mempool/info,testpmd_mbuf_pool"));

            var replies = DpdkTelemetryScript.Query(prefix, ["/ethdev/list", "/mempool/list"]);
            Assert.Equal("[]", replies[0].Value.GetRawText());
            Assert.Equal("[\"testpmd_mbuf_pool\"]", replies[1].Value.GetRawText());

            ours.Send("show port summary");
            ours.WaitForOutput("Number of available ports: 0", occurrences: 2);
            ours.Send("quit");
            ours.WaitForExit(TimeSpan.FromSeconds(20));
            Assert.Equal(0, ours.ExitCode);
            Assert.Equal("", ours.Stderr);
            Assert.False(File.Exists(socket));
        }
        finally
        {
            RemoveRuntimeDirectory(prefix);
        }
    }

    [Fact]
    public void No_telemetry_makes_no_socket()
    {
        string prefix = NewPrefix();
        try
        {
            using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--file-prefix", prefix, "--no-telemetry", "--", "-i");
            ours.Send("show port summary");
            ours.WaitForOutput("Number of available ports: 0");
            Assert.False(Directory.Exists($"/var/run/dpdk/{prefix}"));
            ours.Send("quit");
            ours.WaitForExit(TimeSpan.FromSeconds(20));
            Assert.Equal(0, ours.ExitCode);
        }
        finally
        {
            RemoveRuntimeDirectory(prefix);
        }
    }

    [Fact]
    public void Failover_info_through_dpdk_telemetry_py_follows_a_requested_removal()
    {
        const string Mac = "52:54:00:fa:22:02";
        string prefix = NewPrefix();
        try
        {
            using var standbyBackend = Peer.Start("rxonly");
            using var primaryBackend = Peer.Start("rxonly");
            using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--file-prefix", prefix,
                "--vdev", $"net_virtio_user0,path={standbyBackend.Socket},mac={Mac},standby=1",
                "--vdev", $"net_virtio_user1,path={primaryBackend.Socket},mac={Mac}",
                "--", "-i", "--forward-mode=txonly");
            ours.WaitForOutput("Port 1: failover event (primary port 2)");

            var before = DpdkTelemetryScript.Query(prefix, ["/failover/list", "/failover/info,1", "/ethdev/list", "/failover/info,0"]);
            Assert.Equal("[1]", before[0].Value.GetRawText());
            var info = before[1].Value;
            Assert.Equal("PrimaryActive", info.GetProperty("state").GetString());
            Assert.Equal(0, info.GetProperty("standby_port").GetInt32());
            Assert.Equal(2, info.GetProperty("primary_port").GetInt32());
            Assert.Equal("primary", info.GetProperty("tx_on").GetString());
            Assert.Equal(1UL, info.GetProperty("switches_to_primary").GetUInt64());
            // The standby and the primary are owned by the failover port: not listed, as DPDK lists owned ports.
            Assert.Equal("[1]", before[2].Value.GetRawText());
            Assert.Equal(JsonValueKind.Null, before[3].Value.ValueKind);

            ours.Send("port request_removal 1");
            ours.WaitForOutput("Port 2: device released event");
            var after = DpdkTelemetryScript.Query(prefix, ["/failover/info,1", "/ethdev/xstats,1"]);
            info = after[0].Value;
            Assert.Equal("StandbyOnly", info.GetProperty("state").GetString());
            Assert.Equal(-1, info.GetProperty("primary_port").GetInt32());
            Assert.Equal("standby", info.GetProperty("tx_on").GetString());
            Assert.Equal(1UL, info.GetProperty("switches_to_standby").GetUInt64());
            Assert.Equal(1UL, after[1].Value.GetProperty("failover_switches_to_standby").GetUInt64());
            Assert.Equal(info.GetProperty("announcements_sent").GetUInt64(), after[1].Value.GetProperty("failover_announcements_sent").GetUInt64());

            ours.Send("quit");
            ours.WaitForExit(TimeSpan.FromSeconds(20));
            Assert.Equal(0, ours.ExitCode);
        }
        finally
        {
            RemoveRuntimeDirectory(prefix);
        }
    }

    private static List<string> Names(JsonElement dict) => [.. dict.EnumerateObject().Select(p => p.Name)];

    /// <summary>Link up as telemetry reports it (the virtio-user port's link comes up as the backend acks its rings).</summary>
    private static void WaitForLinkUp(string prefix)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            var reply = DpdkTelemetryScript.Query(prefix, ["/ethdev/link_status,0"])[0].Value;
            if (reply.ValueKind == JsonValueKind.Object && reply.GetProperty("status").GetString() == "UP") return;
            if (watch.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail($"port 0's link not up within 20 s: {reply.GetRawText()}");
            Thread.Sleep(100);
        }
    }

    private static void RemoveRuntimeDirectory(string prefix)
    {
        try { Directory.Delete($"/var/run/dpdk/{prefix}", recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>The last "NIC statistics for port 0" block TestPmd printed.</summary>
    private sealed partial record NicStats(ulong RxPackets, ulong RxMissed, ulong RxBytes, ulong TxPackets, ulong TxErrors, ulong TxBytes)
    {
        public static NicStats Parse(string stdout)
        {
            int block = stdout.LastIndexOf("NIC statistics for port 0", StringComparison.Ordinal);
            Assert.True(block >= 0, stdout);
            string text = stdout[block..];
            var rx = RxLine().Match(text);
            var tx = TxLine().Match(text);
            Assert.True(rx.Success && tx.Success, text);
            static ulong U(Group g) => ulong.Parse(g.Value, CultureInfo.InvariantCulture);
            return new NicStats(U(rx.Groups[1]), U(rx.Groups[2]), U(rx.Groups[3]), U(tx.Groups[1]), U(tx.Groups[2]), U(tx.Groups[3]));
        }

        [GeneratedRegex(@"RX-packets: (\d+)\s+RX-missed: (\d+)\s+RX-bytes:\s+(\d+)")]
        private static partial Regex RxLine();

        [GeneratedRegex(@"TX-packets: (\d+)\s+TX-errors: (\d+)\s+TX-bytes:\s+(\d+)")]
        private static partial Regex TxLine();
    }
}
