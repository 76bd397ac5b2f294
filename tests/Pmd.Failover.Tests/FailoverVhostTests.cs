using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Failover.Tests;

/// <summary>Failover over two real DPDK vhost-user backends, with traffic running both ways.</summary>
public sealed class FailoverVhostTests
{
    [Fact]
    public void A_requested_removal_loses_no_packet()
    {
        using var rig = new VhostFailoverRig();
        var primary = rig.AttachPrimary();
        rig.PumpFor(TimeSpan.FromMilliseconds(300));
        long beforeSwitch = rig.Accepted;

        // The hypervisor's unplug request, as VFIO would deliver it.
        rig.Registry.Raise(primary.PortId, PortEventType.DeviceRequest);
        var sw = Stopwatch.StartNew();
        while (rig.Failover.FailoverState != FailoverState.StandbyOnly && sw.Elapsed < TimeSpan.FromSeconds(10)) rig.Pump();
        Assert.Equal(FailoverState.StandbyOnly, rig.Failover.FailoverState);
        rig.PumpFor(TimeSpan.FromMilliseconds(300));
        rig.Quiesce();

        var a = rig.BackendA.Stop();
        var b = rig.BackendB.Stop();
        Assert.True(beforeSwitch > 1000 && b.RxPackets > 1000, $"the primary carried too little: {b.RxPackets}");
        Assert.True(a.RxPackets > 1000, $"the standby carried too little after the switch: {a.RxPackets}");
        // Nothing was left behind on the primary, and every packet our TxBurst accepted (and every
        // announcement of the MAC after a switch) was counted by exactly one backend.
        Assert.Equal(0UL, rig.Xstat("failover_primary_tx_lost"));
        Assert.Equal((ulong)rig.Accepted + rig.Xstat("failover_announcements_sent"), a.RxPackets + b.RxPackets);
        // And every frame the backends sent us was received, or counted as left on the released primary.
        Assert.Equal(a.TxPackets + b.TxPackets, (ulong)rig.Received + rig.Xstat("failover_primary_rx_abandoned"));
        rig.Failover.Stop();
        rig.Pool.FlushThreadCache();
        Assert.Equal(0, rig.Pool.InUse);
    }

    [Fact]
    public void A_crashed_primary_backend_moves_tx_to_the_standby_at_once_and_a_removal_then_releases_it()
    {
        using var rig = new VhostFailoverRig();
        var primary = rig.AttachPrimary();
        rig.PumpFor(TimeSpan.FromMilliseconds(300));

        // The backend dies: to the primary that is a link down, so TX moves and the primary stays paired.
        rig.BackendB.Crash();
        var sw = Stopwatch.StartNew();
        while (rig.Failover.FailoverState != FailoverState.PrimaryLinkDown && sw.Elapsed < TimeSpan.FromSeconds(10)) rig.Pump();
        var fallback = sw.Elapsed;
        Assert.Equal(FailoverState.PrimaryLinkDown, rig.Failover.FailoverState);
        Assert.False(rig.TxOnPrimary);
        TestContext.Current.TestOutputHelper?.WriteLine($"TX on the standby {fallback.TotalMilliseconds:0.0} ms after the backend crashed");
        Assert.True(fallback < TimeSpan.FromSeconds(2), $"the switch took {fallback.TotalMilliseconds} ms");

        long acceptedAfter = rig.Accepted;
        rig.PumpFor(TimeSpan.FromMilliseconds(300));
        // A removal is what lets go of it: what it held is counted as lost, at most its ring.
        rig.Registry.Raise(primary.PortId, PortEventType.Removal);
        VhostFailoverRig.WaitFor(() => rig.Failover.FailoverState == FailoverState.StandbyOnly, TimeSpan.FromSeconds(10), "the release");
        rig.PumpFor(TimeSpan.FromMilliseconds(100));
        rig.Quiesce();
        long onStandby = rig.Accepted - acceptedAfter;
        var a = rig.BackendA.Stop();
        Assert.True(onStandby > 1000, $"only {onStandby} packets after the switch");
        Assert.True(a.RxPackets >= (ulong)onStandby, $"standby backend counted {a.RxPackets}, {onStandby} were sent after the switch");
        Assert.InRange(rig.Xstat("failover_primary_tx_lost"), 0UL, 256UL);
        rig.Failover.Stop();
        rig.Pool.FlushThreadCache();
        Assert.Equal(0, rig.Pool.InUse);
    }

    [Fact]
    public void When_a_dead_primary_is_replaced_traffic_returns_to_the_new_one()
    {
        using var rig = new VhostFailoverRig(mode: "rxonly");
        var dead = rig.AttachPrimary();
        rig.BackendB.Crash();
        VhostFailoverRig.WaitFor(() => rig.Failover.FailoverState == FailoverState.PrimaryLinkDown, TimeSpan.FromSeconds(10), "the switch to the standby");
        rig.PumpFor(TimeSpan.FromMilliseconds(200));
        rig.Registry.Raise(dead.PortId, PortEventType.Removal);
        VhostFailoverRig.WaitFor(() => rig.Failover.FailoverState == FailoverState.StandbyOnly, TimeSpan.FromSeconds(10), "the release");

        rig.BackendB.Dispose();
        rig.BackendB = DpdkVhostBackend.Start(rig.SocketB, "rxonly");
        // Counted before the attach: the announcement sent as TX moves to the new primary reaches B.
        ulong announcedBefore = rig.Xstat("failover_announcements_sent");
        rig.AttachPrimary();
        long before = rig.Accepted;
        rig.PumpFor(TimeSpan.FromMilliseconds(300));
        rig.Quiesce();
        // Counted before B stops: its stop moves TX to the standby, whose announcements B never sees.
        ulong announced = rig.Xstat("failover_announcements_sent") - announcedBefore;
        var b = rig.BackendB.Stop();
        // Everything sent since the new primary took TX reached it: our packets, and the MAC's announcements.
        Assert.Equal((ulong)(rig.Accepted - before) + announced, b.RxPackets);
        Assert.Equal(2UL, rig.Xstat("failover_switches_to_primary"));
    }

    [Fact]
    public void A_hundred_removal_and_reattach_cycles_under_load_leak_nothing()
    {
        using var rig = new VhostFailoverRig(mode: "macswap");
        int regionsBefore = DmaRegion.Count;
        int fdsBefore = Directory.GetFiles("/proc/self/fd").Length;
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        for (int cycle = 0; cycle < 100; cycle++)
        {
            var primary = rig.AttachPrimary();
            for (int i = 0; i < 20; i++) rig.Pump();
            rig.Registry.Raise(primary.PortId, PortEventType.DeviceRequest);
            while (rig.Failover.FailoverState != FailoverState.StandbyOnly) rig.Pump();
            for (int i = 0; i < 10; i++) rig.Pump();
        }
        rig.Quiesce();
        Assert.Equal(100UL, rig.Xstat("failover_switches_to_standby"));
        Assert.Equal(0UL, rig.Xstat("failover_primary_tx_lost"));
        Assert.Equal(regionsBefore, DmaRegion.Count);
        Assert.InRange(Directory.GetFiles("/proc/self/fd").Length, 0, fdsBefore + 4);
        Assert.InRange(GC.GetTotalMemory(forceFullCollection: true) - heapBefore, long.MinValue, 16L << 20);
        rig.Failover.Stop();
        rig.Pool.FlushThreadCache();
        Assert.Equal(0, rig.Pool.InUse);
    }

    private static class DmaRegion
    {
        public static int Count => DmaRegistry.Shared.Snapshot().Count;
    }
}
