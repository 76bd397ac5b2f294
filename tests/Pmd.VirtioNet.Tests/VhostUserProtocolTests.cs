using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.VirtioNet.Transport.VhostUser;
using static Pmd.VirtioNet.Net.VirtioFeatures;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// The vhost-user front end against a backend that lies or misbehaves (issue 13), played by an
/// in-process fake: what reaches the app must be a clear error or a counter, never a hang, a
/// lost mbuf or a feature the backend has no say in.
/// </summary>
public sealed class VhostUserProtocolTests
{
    private static string NewSocket(string what) => $"/tmp/pmd-fake-{Environment.ProcessId}-{what}.sock";

    [Fact]
    public void A_bad_get_vring_base_reply_on_stop_still_returns_every_mbuf_and_the_next_start_reconnects()
    {
        VirtioUserDriver.Register();
        using var logs = new CapturedLogs();
        using var backend = new FakeVhostBackend(NewSocket("vringbase")) { BadVringBase = true };
        using var pool = Mempool.Create("fake-vringbase", 4096);
        using var registry = new PortRegistry();
        var port = registry.Attach($"net_virtio_user0,path={backend.Path}");
        port.Configure(new PortConfig { RxPool = pool });
        for (int cycle = 0; cycle < 3; cycle++)
        {
            port.Start();
            pool.FlushThreadCache();
            Assert.True(pool.InUse > 0, "the RX ring was not filled");
            port.Stop();
            pool.FlushThreadCache();
            Assert.Equal(0, pool.InUse);
            Assert.Equal(PortState.Stopped, port.State);
            Assert.False(port.Link.Up);
            // The broken connection is dropped, not kept for the next start.
            Assert.True(backend.WaitForDisconnect(TimeSpan.FromSeconds(5)), "the connection that broke the protocol stayed open");
        }
        Assert.Equal(3, backend.Connections);
        var warnings = logs.Lines.Where(l => l.Message.Contains("broke the protocol while stopping")).ToList();
        Assert.Equal(3, warnings.Count);
        Assert.All(warnings, w => Assert.Null(w.Exception));
        Assert.All(warnings, w => Assert.DoesNotContain('\n', w.Message));
        Assert.DoesNotContain(logs.Lines, l => l.Exception is not null);

        // A backend that behaves again gets a normal stop.
        backend.BadVringBase = false;
        port.Start();
        port.Stop();
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);
        Assert.Equal(4, backend.Connections);
        Assert.False(backend.WaitForDisconnect(TimeSpan.FromMilliseconds(200)), "a clean stop dropped the connection");
        registry.Dispose();
    }

    [Fact]
    public void A_reply_dripped_one_byte_at_a_time_times_out_once_for_the_whole_reply()
    {
        // 20 bytes 300 ms apart take 6 s; each read alone is well within the 1 s timeout.
        using var backend = new FakeVhostBackend(NewSocket("drip")) { DripFeatures = TimeSpan.FromMilliseconds(300) };
        using var transport = new VhostUserTransport(new VhostUserOptions { Path = backend.Path, Timeout = TimeSpan.FromSeconds(1) });
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<VhostUserException>(transport.Connect);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2.5), $"the dripped reply held Connect for {watch.Elapsed.TotalSeconds:0.0} s");
        Assert.Contains("GetFeatures", e.Message);
        Assert.Contains("no complete reply within 1 s", e.Message);
        Assert.True(e.Disconnected);
        Assert.False(transport.IsConnected);
    }

    [Fact]
    public void A_backend_offering_every_feature_bit_cannot_make_the_port_a_failover_standby()
    {
        VirtioUserDriver.Register();
        using var backend = new FakeVhostBackend(NewSocket("allbits")) { Features = ulong.MaxValue };
        using var pool = Mempool.Create("fake-allbits", 4096);
        using var registry = new PortRegistry();
        var port = (VirtioNetPort)registry.Attach($"net_virtio_user0,path={backend.Path}");
        Assert.False(port.IsFailoverStandby);
        ulong negotiated = port.NegotiatedFeatures;
        foreach (int bit in new[] { Standby, GuestAnnounce, CtrlVlan, CtrlMacAddr, AccessPlatform })
            Assert.False(Has(negotiated, bit), $"bit {bit} was taken from the backend's offer");
        Assert.Equal(0UL, port.Transport.DeviceFeatures & ((1UL << Standby) | (1UL << GuestAnnounce) | (1UL << 2) | (1UL << 20) | (1UL << 53) | (1UL << 57) | (1UL << 60) | (1UL << 63)));

        port.Configure(new PortConfig { RxPool = pool });
        port.Start();
        port.Stop();
        Assert.True(backend.FeaturesSet.TryDequeue(out ulong sent));
        Assert.False(Has(sent, Standby), "SET_FEATURES told the backend STANDBY");
        Assert.True(Has(sent, Version1));
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void Standby_is_offered_when_the_front_end_asks_for_it()
    {
        VirtioUserDriver.Register();
        using var backend = new FakeVhostBackend(NewSocket("standby"));
        using var registry = new PortRegistry();
        var port = (VirtioNetPort)registry.Attach($"net_virtio_user0,path={backend.Path},standby=1");
        Assert.True(port.IsFailoverStandby);
    }

    [Fact]
    public void A_backend_that_comes_back_offering_fewer_features_keeps_the_link_down_until_one_offers_them_all()
    {
        VirtioUserDriver.Register();
        using var logs = new CapturedLogs();
        const ulong Full = (1UL << Version1) | (1UL << ProtocolFeatures) | (1UL << IndirectDesc) | (1UL << MrgRxBuf);
        using var backend = new FakeVhostBackend(NewSocket("fewer")) { Features = Full };
        using var pool = Mempool.Create("fake-fewer", 4096);
        using var registry = new PortRegistry();
        var links = new System.Collections.Concurrent.BlockingCollection<string>();
        registry.Subscribe(PortEventType.LinkStateChange, e => links.Add(e.Detail ?? ""));
        var port = registry.Attach($"net_virtio_user0,path={backend.Path}");
        port.Configure(new PortConfig { RxPool = pool });
        port.Start();
        Assert.True(links.TryTake(out var up, 5000) && up == "up");

        backend.Features = (1UL << Version1) | (1UL << ProtocolFeatures);
        backend.DropCurrent();
        Assert.True(links.TryTake(out var down, 5000) && down == "down");
        // It keeps trying, and keeps refusing what it cannot use.
        var watch = Stopwatch.StartNew();
        while (backend.Connections < 4 && watch.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        Assert.True(backend.Connections >= 4, $"only {backend.Connections} connections in 10 s");
        Assert.False(links.TryTake(out _, 300), "the link came up on a backend with fewer features");
        Assert.False(port.Link.Up);
        Assert.Contains(logs.Warnings, w => w.Contains("no longer offers INDIRECT_DESC MRG_RXBUF") || w.Contains("no longer offers MRG_RXBUF INDIRECT_DESC"));
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);

        backend.Features = Full;
        Assert.True(links.TryTake(out var again, 5000) && again == "up", "the link did not come back once the features were offered again");
        Assert.True(port.IsStarted);
        Assert.Equal(1UL, port.GetXstats().Single(x => x.Name == "reconnects").Value);
        port.Stop();
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);
    }
}
