using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Issue 13's report, reproduced: Open vSwitch-DPDK with a dpdkvhostuserclient port on Pmd's
/// server socket (server=1), ovs-vswitchd restarted under traffic, 20 times in a row. Each time
/// the traffic must come back with no port stop/start.
/// </summary>
public sealed class OvsReconnectTests(ITestOutputHelper output)
{
    [Fact]
    public void Twenty_ovs_vswitchd_restarts_under_traffic_are_each_survived_by_themselves()
    {
        VirtioUserDriver.Register();
        using var logs = new CapturedLogs();
        string dir = $"/tmp/pmd-ovs-{Environment.ProcessId}";
        string socket = $"{dir}-pmd.sock";
        using var pool = Mempool.Create("ovs-reconnect", 16384);
        using var registry = new PortRegistry();
        var links = new System.Collections.Concurrent.BlockingCollection<string>();
        registry.Subscribe(PortEventType.LinkStateChange, e => links.Add(e.Detail ?? ""));
        using var ovs = OvsDpdkBackend.Start(dir, socket);
        try
        {
            // OVS's vhost client retries its connect every second; attaching waits for it.
            var port = registry.Attach($"net_virtio_user0,path={socket},server=1");
            port.Configure(new PortConfig { RxPool = pool });
            port.Start();
            Assert.True(links.TryTake(out var first, 10_000) && first == "up", "no link-up at start");

            using var pump = new TrafficPump(port, pool);
            Assert.True(pump.WaitForReceived(0, 10_000, TimeSpan.FromSeconds(30)), $"no traffic through OVS at all ({pump.Received} back, {pump.Failure})\n{ovs.Log}");
            const int Restarts = 20;
            var times = new List<long>();
            for (int round = 0; round < Restarts; round++)
            {
                var restart = Stopwatch.StartNew();
                ovs.RestartVswitchd();
                long switchUp = restart.ElapsedMilliseconds;
                Assert.True(links.TryTake(out var down, 10_000) && down == "down", $"round {round}: no link-down when ovs-vswitchd stopped");
                Assert.True(links.TryTake(out var up, 30_000) && up == "up",
                    $"round {round}: the link did not come back by itself; Pmd logged:\n{string.Join("\n", logs.Lines.TakeLast(20).Select(l => l.Message))}\nOVS:\n{ovs.Log[^Math.Min(4000, ovs.Log.Length)..]}");
                long atUp = pump.Received;
                Assert.True(pump.WaitForReceived(atUp, 1, TimeSpan.FromSeconds(20)), $"round {round}: link up but no frame came back ({pump.Failure})");
                long toTraffic = restart.ElapsedMilliseconds;
                times.Add(toTraffic);
                Assert.True(pump.WaitForReceived(atUp, 5_000, TimeSpan.FromSeconds(20)), $"round {round}: traffic did not keep flowing ({pump.Failure})");
                output.WriteLine($"restart {round + 1}: switch back in {switchUp} ms, first frame {toTraffic} ms after the restart began");
                Assert.True(port.IsStarted);
            }
            pump.Stop();
            Assert.Null(pump.Failure);
            Assert.Equal(0, pump.Duplicates);
            Assert.Equal(0, pump.Unknown);
            var x = port.GetXstats().ToDictionary(s => s.Name, s => s.Value);
            Assert.Equal((ulong)Restarts, x["reconnects"]);
            times.Sort();
            output.WriteLine($"{Restarts} restarts survived; time to traffic min {times[0]} ms, median {times[times.Count / 2]} ms, max {times[^1]} ms; frames sent {pump.Sent}, back {pump.Received}, lost in flight {pump.Sent - pump.Received}");

            Loopback.Run(port, pool, 5000, 256, firstSeq: 100_000_000);
            port.Stop();
            pool.FlushThreadCache();
            output.WriteLine($"mbufs in use after stop: {pool.InUse}");
            Assert.Equal(0, pool.InUse);
        }
        finally
        {
            registry.Dispose();
        }
    }
}
