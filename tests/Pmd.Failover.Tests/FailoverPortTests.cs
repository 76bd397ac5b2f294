using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Failover.Tests;

/// <summary>Pairing, steering and fallback against deterministic fake ports.</summary>
public sealed class FailoverPortTests
{
    [Fact]
    public void The_port_with_the_standby_mac_is_claimed_started_and_gets_the_tx()
    {
        using var f = new FakePair();
        var stranger = f.AddPrimary("stranger", MacAddress.Parse("52:54:00:aa:bb:99"));
        var primary = f.AddPrimary("vf");
        f.Settle();

        Assert.Same(primary, f.Failover.Primary);
        Assert.Equal(FailoverState.PrimaryActive, f.Failover.FailoverState);
        Assert.Equal(1, primary.StartCount);
        Assert.Equal("net_failover0", f.Registry.GetOwner(primary.PortId)!.Value.Name);
        Assert.Null(f.Registry.GetOwner(stranger.PortId));
        // Applications see the failover port, not its halves.
        Assert.DoesNotContain(primary, f.Registry.Ports);
        Assert.DoesNotContain(f.Standby, f.Registry.Ports);
        Assert.Contains(f.Failover, f.Registry.Ports);

        var burst = new Mbuf[8];
        Assert.Equal(8, f.Pool.Alloc(burst));
        Assert.Equal(8, f.Failover.TxBurst(1, burst));
        Assert.Equal(8, primary.TxCount(1));
        Assert.Equal(0, f.Standby.TxCount(1));
        primary.FreeTx(1);
    }

    [Fact]
    public void Rx_polls_the_primary_first_then_the_standby_and_marks_the_failover_port()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        var a = f.Pool.Alloc();
        var b = f.Pool.Alloc();
        f.Standby.Inject(0, b);
        primary.Inject(0, a);
        var burst = new Mbuf[4];
        Assert.Equal(2, f.Failover.RxBurst(0, burst));
        Assert.Equal(a, burst[0]);
        Assert.Equal(b, burst[1]);
        Assert.All(burst[..2], m => Assert.Equal(f.Failover.PortId, m.Port));
        Mbuf.Free(burst.AsSpan(0, 2));
        var stats = f.Failover.GetStats();
        Assert.Equal(2UL, stats.RxPackets);
    }

    [Fact]
    public void A_port_owned_by_someone_else_is_never_claimed()
    {
        using var f = new FakePair(start: false);
        var taken = new FakePort("taken", FakePair.Mac);
        // Another owner claims it before any event about it is delivered.
        f.Registry.Control.Invoke(() =>
        {
            f.Registry.Add(taken);
            f.Registry.SetOwner(taken.PortId, f.Registry.NewOwner("bonding"));
        });
        f.Failover.Start();
        f.Settle();
        Assert.Null(f.Failover.Primary);
        Assert.Equal("bonding", f.Registry.GetOwner(taken.PortId)!.Value.Name);
        Assert.Equal(0, taken.StartCount);
        Assert.Equal(FailoverState.StandbyOnly, f.Failover.FailoverState);
    }

    [Fact]
    public void A_mac_mismatch_is_never_paired()
    {
        using var f = new FakePair();
        var other = f.AddPrimary("other", MacAddress.Parse("52:54:00:aa:bb:02"));
        f.Settle();
        Assert.Null(f.Failover.Primary);
        Assert.Null(f.Registry.GetOwner(other.PortId));
    }

    [Theory]
    [InlineData(PortEventType.DeviceRequest)]
    [InlineData(PortEventType.Removal)]
    public void An_unplug_request_or_removal_moves_tx_to_the_standby_and_releases_the_primary(PortEventType trouble)
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        primary.Raise(trouble);
        f.Settle();

        Assert.Null(f.Failover.Primary);
        Assert.Equal(FailoverState.StandbyOnly, f.Failover.FailoverState);
        Assert.Equal(1, primary.StopCount);
        Assert.True(primary.Closed);
        Assert.False(f.Registry.TryGet(primary.PortId, out _));
        var x = f.Failover.GetXstats().ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal(1UL, x["failover_switches_to_primary"]);
        Assert.Equal(1UL, x["failover_switches_to_standby"]);

        var m = f.Pool.Alloc();
        Assert.Equal(1, f.Failover.TxBurst(0, new[] { m }));
        Assert.Equal(2, f.Standby.TxCount(0));   // the packet, after the first announcement of the MAC on the standby
        f.Standby.FreeTx(0);
    }

    [Fact]
    public void Link_down_of_the_primary_moves_tx_to_the_standby_keeps_the_primary_and_link_up_brings_tx_back()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        Assert.Equal(1, primary.FreeTx(0));   // the announcement of the MAC on the primary, sent at once
        primary.SetLink(false);
        f.Settle();
        Assert.Equal(FailoverState.PrimaryLinkDown, f.Failover.FailoverState);
        Assert.Same(primary, f.Failover.Primary);
        Assert.False(primary.Closed);
        Assert.Equal(0, primary.StopCount);
        var m = f.Pool.Alloc();
        Assert.Equal(1, f.Failover.TxBurst(0, new[] { m }));
        Assert.Equal(2, f.Standby.FreeTx(0));   // the packet, and the announcement of the MAC that went first
        // RX still polls the primary while its link is down: what it still delivers is not lost.
        var late = f.Pool.Alloc();
        primary.Inject(0, late);
        var rx = new Mbuf[4];
        Assert.Equal(1, f.Failover.RxBurst(0, rx));
        rx[0].Free();

        primary.SetLink(true);
        f.Settle();
        Assert.Equal(FailoverState.PrimaryActive, f.Failover.FailoverState);
        m = f.Pool.Alloc();
        Assert.Equal(1, f.Failover.TxBurst(0, new[] { m }));
        Assert.Equal(2, primary.FreeTx(0));
        Assert.Equal(2UL, Xstat(f, "failover_switches_to_primary"));
        Assert.Equal(1UL, Xstat(f, "failover_switches_to_standby"));
    }

    [Fact]
    public void A_primary_whose_link_is_down_is_still_released_by_an_unplug_request()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        primary.SetLink(false);
        f.Settle();
        primary.Raise(PortEventType.DeviceRequest);
        f.Settle();
        Assert.True(primary.Closed);
        Assert.Null(f.Failover.Primary);
        Assert.Equal(FailoverState.StandbyOnly, f.Failover.FailoverState);
        // The switch to the standby happened at the link-down, not again at the release.
        Assert.Equal(1UL, Xstat(f, "failover_switches_to_standby"));
    }

    [Fact]
    public void A_new_primary_gets_the_ports_mtu_modes_and_queue_layout_before_it_starts()
    {
        using var f = new FakePair(start: false);
        f.Failover.SetMtu(9000);
        f.Failover.SetPromiscuous(true);
        f.Failover.SetAllMulticast(true);
        f.Failover.Start();
        var primary = f.AddPrimary("vf");
        f.Settle();
        Assert.Equal(FailoverState.PrimaryActive, f.Failover.FailoverState);
        Assert.Equal(9000, primary.Mtu);
        Assert.True(primary.Promiscuous);
        Assert.True(primary.AllMulticast);
        Assert.Equal(2, primary.Config!.RxQueues);
        Assert.Equal(2, primary.Config.TxQueues);
        Assert.NotSame(f.Failover.Config, primary.Config);
        // Changes while paired reach the primary as well.
        f.Failover.SetPromiscuous(false);
        Assert.False(primary.Promiscuous);
    }

    [Fact]
    public void A_stopped_failover_port_keeps_its_primary_paired_and_takes_it_up_again_on_start()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        f.Failover.Stop();
        Assert.Equal(FailoverState.Paired, f.Failover.FailoverState);
        Assert.Same(primary, f.Failover.Primary);
        Assert.False(primary.IsStarted);
        Assert.False(primary.Closed);
        f.Failover.Start();
        f.Settle();
        Assert.Equal(FailoverState.PrimaryActive, f.Failover.FailoverState);
        Assert.True(primary.IsStarted);
        Assert.Equal(2, primary.StartCount);
    }

    [Fact]
    public void A_primary_found_while_the_port_is_stopped_is_paired_and_started_with_the_port()
    {
        using var f = new FakePair(start: false);
        var primary = f.AddPrimary("vf");
        f.Settle();
        Assert.Equal(FailoverState.Paired, f.Failover.FailoverState);
        Assert.Equal(0, primary.StartCount);
        f.Failover.Start();
        f.Settle();
        Assert.Equal(FailoverState.PrimaryActive, f.Failover.FailoverState);
    }

    [Fact]
    public void Every_switch_announces_the_mac_on_the_new_path_three_times_with_rarp()
    {
        using var f = new FakePair();
        f.Failover.AnnouncementInterval = TimeSpan.FromMilliseconds(20);
        var primary = f.AddPrimary("vf");
        f.Settle();
        var seen = PumpAnnouncements(f, primary);
        Assert.Equal(MacAnnouncement.Rounds, seen.Count);
        var rarp = seen[0];
        Assert.Equal(MacAnnouncement.FrameLength, rarp.Length);
        Assert.Equal(MacAddress.Broadcast, new MacAddress(rarp.AsSpan(0, 6)));
        Assert.Equal(FakePair.Mac, new MacAddress(rarp.AsSpan(6, 6)));
        Assert.Equal([0x80, 0x35, 0, 1, 0x08, 0, 6, 4, 0, 3], rarp[12..22]);
        Assert.Equal(FakePair.Mac, new MacAddress(rarp.AsSpan(22, 6)));
        Assert.Equal(FakePair.Mac, new MacAddress(rarp.AsSpan(32, 6)));

        primary.SetLink(false);
        f.Settle();
        Assert.Equal(MacAnnouncement.Rounds, PumpAnnouncements(f, f.Standby).Count);
        Assert.Equal(2UL * MacAnnouncement.Rounds, Xstat(f, "failover_announcements_sent"));
    }

    [Fact]
    public void An_announce_request_on_the_standby_sends_one_rarp_on_the_path_tx_takes_now()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        primary.FreeTx(0);   // the switch's own announcement
        f.Standby.Raise(PortEventType.AnnounceRequest);
        f.Settle();
        var frames = PumpAnnouncements(f, primary);
        Assert.Single(frames);
        Assert.Equal([0x80, 0x35], frames[0][12..14]);
        Assert.Equal(0, f.Standby.TxCount(0));
        Assert.Equal(1UL, Xstat(f, "failover_announce_requests"));

        primary.SetLink(false);
        f.Settle();
        f.Standby.FreeTx(0);
        f.Standby.Raise(PortEventType.AnnounceRequest);
        f.Settle();
        Assert.Single(PumpAnnouncements(f, f.Standby));
        Assert.Equal(0, primary.TxCount(0));
        // A request for another port is not ours.
        primary.Raise(PortEventType.AnnounceRequest);
        f.Settle();
        Assert.Equal(2UL, Xstat(f, "failover_announce_requests"));
    }

    [Fact]
    public void An_announce_request_goes_on_announcing_for_longer_than_qemus_rounds()
    {
        using var f = new FakePair();
        f.Failover.AnnouncementInterval = TimeSpan.FromMilliseconds(5);
        f.Standby.Raise(PortEventType.AnnounceRequest);
        f.Settle();
        var frames = PumpAnnouncements(f, f.Standby);
        Assert.Equal(FailoverPort.FramesPerAnnounceRequest, frames.Count);
        Assert.All(frames, rarp => Assert.Equal([0x80, 0x35], rarp[12..14]));
    }

    /// <summary>Waits half a second with no TX burst at all (the control thread sends the announcements, 20 ms apart here); returns what went out on <paramref name="path"/>.</summary>
    private static List<byte[]> PumpAnnouncements(FakePair f, FakePort path)
    {
        Thread.Sleep(500);
        var frames = new List<byte[]>();
        foreach (var m in path.DrainTx(0))
        {
            var bytes = new byte[m.PacketLength];
            m.CopyTo(bytes);
            frames.Add(bytes);
            m.Free();
        }
        return frames;
    }

    private static ulong Xstat(FakePair f, string name) => f.Failover.GetXstats().Single(x => x.Name == name).Value;

    [Fact]
    public void The_primary_is_not_released_while_a_burst_is_still_using_it()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        using var inBurst = new ManualResetEventSlim();
        using var letGo = new ManualResetEventSlim();
        primary.InBurst = () => { inBurst.Set(); letGo.Wait(); };
        var m = f.Pool.Alloc();
        int sent = 0;
        var datapath = new Thread(() => sent = f.Failover.TxBurst(0, new[] { m }));
        datapath.Start();
        Assert.True(inBurst.Wait(5000));

        primary.Raise(PortEventType.DeviceRequest);
        Thread.Sleep(300);
        // The control thread has switched TX but must wait for the burst to leave the primary.
        Assert.Equal(FailoverState.Releasing, f.Failover.FailoverState);
        Assert.Equal(0, primary.StopCount);
        Assert.False(primary.Closed);

        primary.InBurst = null;
        letGo.Set();
        datapath.Join();
        f.Settle();
        Assert.Equal(1, sent);
        Assert.True(primary.Closed);
        Assert.Equal(FailoverState.StandbyOnly, f.Failover.FailoverState);
        primary.FreeTx(0);
    }

    [Fact]
    public void Two_trouble_events_at_once_release_the_primary_once()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        primary.Raise(PortEventType.DeviceRequest);
        primary.Raise(PortEventType.Removal);
        primary.SetLink(false);
        f.Settle();
        Assert.Equal(1, primary.StopCount);
        Assert.Equal(1UL, f.Failover.GetXstats().Single(x => x.Name == "failover_switches_to_standby").Value);
    }

    [Fact]
    public void A_new_port_with_the_mac_is_paired_again_without_the_application()
    {
        using var f = new FakePair();
        var first = f.AddPrimary("vf");
        f.Settle();
        first.Raise(PortEventType.DeviceRequest);
        f.Settle();
        var second = f.AddPrimary("vf-again");
        f.Settle();
        Assert.Same(second, f.Failover.Primary);
        Assert.Equal(FailoverState.PrimaryActive, f.Failover.FailoverState);
        Assert.Equal(2UL, f.Failover.GetXstats().Single(x => x.Name == "failover_switches_to_primary").Value);
    }

    [Fact]
    public void Packets_the_primary_never_completed_are_reported_as_lost()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        primary.PendingTx = 7;
        primary.Raise(PortEventType.Removal);   // a surprise: the device cannot complete anything any more
        f.Settle();
        Assert.Equal(2UL * 7, f.Failover.GetXstats().Single(x => x.Name == "failover_primary_tx_lost").Value);
    }

    [Fact]
    public void Stats_are_summed_over_the_standby_the_primary_and_released_primaries()
    {
        using var f = new FakePair();
        var primary = f.AddPrimary("vf");
        f.Settle();
        var burst = new Mbuf[5];
        f.Pool.Alloc(burst);
        f.Failover.TxBurst(0, burst);
        primary.FreeTx(0);
        primary.Raise(PortEventType.DeviceRequest);
        f.Settle();
        f.Pool.Alloc(burst.AsSpan(0, 3));
        f.Failover.TxBurst(0, burst.AsSpan(0, 3));
        f.Standby.FreeTx(0);
        // 5 + 3 packets, and the first announcement of the MAC on each path: the port sent those too.
        Assert.Equal(10UL, f.Failover.GetStats().TxPackets);
    }

    [Fact]
    public void Explicit_devargs_create_a_failover_port_over_a_standby()
    {
        var drivers = new Pmd.Devargs.DriverRegistry();
        FailoverDriver.Register(drivers);
        using var registry = new PortRegistry(drivers);
        var standby = new FakePort("standby", FakePair.Mac) { Standby = true };
        registry.Add(standby);
        var port = registry.Attach($"net_failover0,standby={standby.PortId}");
        Assert.IsType<FailoverPort>(port);
        Assert.Equal("net_failover1: standby port 9 does not exist",
            Assert.Throws<Pmd.Devargs.DevArgsException>(() => registry.Attach("net_failover1,standby=9")).Message);
        Assert.Equal($"net_failover1: standby port {standby.PortId} is owned by net_failover0",
            Assert.Throws<Pmd.Devargs.DevArgsException>(() => registry.Attach($"net_failover1,standby={standby.PortId}")).Message);
    }

    [Fact]
    public void Auto_attach_creates_a_failover_port_over_each_standby()
    {
        using var registry = new PortRegistry();
        using var auto = FailoverAutoAttach.Enable(registry);
        var standby = new FakePort("virtio0", FakePair.Mac) { Standby = true };
        registry.Add(standby);
        registry.Add(new FakePort("plain", MacAddress.Parse("52:54:00:00:00:07")));
        for (int i = 0; i < 3; i++) registry.Control.Invoke(() => { });
        var failover = Assert.Single(registry.AllPorts.OfType<FailoverPort>());
        Assert.Equal("net_failover_virtio0", failover.Name);
        Assert.Same(standby, failover.Standby);
    }

    [Fact]
    public void The_auto_attach_names_the_port_to_forward_on_at_once_the_failover_over_a_standby_else_the_port()
    {
        using var registry = new PortRegistry();
        using var auto = FailoverAutoAttach.Enable(registry);
        var standby = new FakePort("virtio0", FakePair.Mac) { Standby = true };
        registry.Add(standby);
        // No waiting for the New event to be handled: the answer is made on the spot if need be.
        var forwarding = Assert.IsType<FailoverPort>(auto.ForwardingPortFor(standby));
        Assert.Same(standby, forwarding.Standby);
        Assert.Same(forwarding, auto.ForwardingPortFor(standby));           // asked again: the same one
        Assert.Single(registry.AllPorts.OfType<FailoverPort>());

        var plain = new FakePort("plain", MacAddress.Parse("52:54:00:00:00:07"));
        registry.Add(plain);
        Assert.Same(plain, auto.ForwardingPortFor(plain));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Bursts_allocate_nothing_with_the_primary_active_or_on_the_standby(bool primaryActive)
    {
        using var f = new FakePair();
        FakePort? primary = primaryActive ? f.AddPrimary("vf") : null;
        f.Settle();
        Assert.Equal(primaryActive ? FailoverState.PrimaryActive : FailoverState.StandbyOnly, f.Failover.FailoverState);
        var target = primary ?? f.Standby;
        var tx = new Mbuf[32];
        var rx = new Mbuf[32];
        void Cycle()
        {
            int got = f.Pool.Alloc(tx);
            int sent = f.Failover.TxBurst(0, tx.AsSpan(0, got));
            Mbuf.Free(tx.AsSpan(sent, got - sent));
            for (int i = 0; i < 32; i++)
            {
                var m = f.Pool.Alloc();
                if (m.IsNull) break;
                target.Inject(0, m);
            }
            int n = f.Failover.RxBurst(0, rx);
            Mbuf.Free(rx.AsSpan(0, n));
            target.FreeTx(0);
        }
        for (int i = 0; i < 1000; i++) Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000_000 / 32; i++) Cycle();
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.True(f.Failover.GetStats().TxPackets >= 1_000_000);
    }
}
