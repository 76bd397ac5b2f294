using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// A backend restart is survived without the app (issue 13): DPDK's testpmd is killed under
/// traffic and started again, in both roles, and traffic comes back with no port stop/start.
/// </summary>
public sealed class VhostReconnectTests(ITestOutputHelper output)
{
    public static TheoryData<string, bool> Cases => new()
    {
        { "split", false }, { "packed", false }, { "split", true }, { "packed", true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_backend_killed_under_traffic_and_started_again_brings_traffic_back_by_itself(string ring, bool server)
    {
        VirtioUserDriver.Register();
        using var logs = new CapturedLogs();
        string socket = $"/tmp/pmd-reconnect-{Environment.ProcessId}-{ring}-{(server ? "server" : "client")}.sock";
        using var pool = Mempool.Create($"reconnect-{ring}-{server}", 16384);
        using var registry = new PortRegistry();
        var links = new System.Collections.Concurrent.BlockingCollection<string>();
        registry.Subscribe(PortEventType.LinkStateChange, e => links.Add(e.Detail ?? ""));
        // In server mode testpmd is the vhost client: it starts first and keeps trying our socket.
        var backend = DpdkVhostBackend.Start(socket, "io", client: server);
        try
        {
            var port = registry.Attach($"net_virtio_user0,path={socket}{(server ? ",server=1" : "")}{(ring == "packed" ? ",packed_vq=1" : "")}");
            port.Configure(new PortConfig { RxPool = pool });
            port.Start();
            Assert.True(links.TryTake(out var first, 10_000) && first == "up", "no link-up at start");

            using var pump = new TrafficPump(port, pool);
            const int Restarts = 3;
            for (int round = 0; round < Restarts; round++)
            {
                Assert.True(pump.WaitForReceived(pump.Received, 20_000, TimeSpan.FromSeconds(20)), $"round {round}: no traffic before the kill ({pump.Received} back, {pump.Failure})");
                long before = pump.Received;
                var killed = Stopwatch.StartNew();
                backend.Crash();
                backend.Dispose();
                Assert.True(links.TryTake(out var down, 10_000) && down == "down", $"round {round}: no link-down after the backend died");
                Assert.False(port.Link.Up);
                var restart = Stopwatch.StartNew();
                backend = DpdkVhostBackend.Start(socket, "io", client: server);
                Assert.True(links.TryTake(out var up, 20_000) && up == "up", $"round {round}: the link did not come back by itself; Pmd logged:\n{string.Join("\n", logs.Lines.Select(l => $"{l.Level}: {l.Message} {l.Exception}"))}\ntestpmd:\n{backend.Output}");
                long atUp = pump.Received;
                Assert.True(pump.WaitForReceived(atUp, 1, TimeSpan.FromSeconds(20)), $"round {round}: no frame after the reconnect ({pump.Failure})");
                long firstFrameAfterKill = killed.ElapsedMilliseconds, firstFrameAfterStart = restart.ElapsedMilliseconds;
                Assert.True(pump.WaitForReceived(atUp, 20_000, TimeSpan.FromSeconds(20)), $"round {round}: traffic did not keep up after the reconnect ({pump.Received - atUp} frames, {pump.Failure})");
                output.WriteLine($"{ring} {(server ? "server" : "client")} round {round}: kill→first frame {firstFrameAfterKill} ms, backend start→first frame {firstFrameAfterStart} ms, {pump.Received - before} frames back since the kill");
                Assert.True(port.IsStarted);
            }
            pump.Stop();
            Assert.Null(pump.Failure);
            Assert.Equal(0, pump.Duplicates);
            Assert.Equal(0, pump.Unknown);
            Assert.True(pump.Received <= pump.Sent);
            output.WriteLine($"sent {pump.Sent}, back {pump.Received}, lost in flight at the kills {pump.Sent - pump.Received}");
            var x = port.GetXstats().ToDictionary(s => s.Name, s => s.Value);
            Assert.Equal((ulong)Restarts, x["reconnects"]);
            Assert.Equal((ulong)pump.Received, port.GetStats().RxPackets);

            // After the last reconnect: exact, in-order loopback.
            Loopback.Run(port, pool, 5000, 256, firstSeq: 100_000_000);
            port.Stop();
            pool.FlushThreadCache();
            Assert.Equal(0, pool.InUse);
        }
        finally
        {
            registry.Dispose();
            backend.Dispose();
        }
    }
}
