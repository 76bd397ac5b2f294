using System.Collections.Concurrent;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

public sealed class PortRegistryTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("52:54:00:00:00:01");

    [Fact]
    public void Ports_get_the_lowest_free_id_and_reuse_it_after_detach()
    {
        using var registry = new PortRegistry();
        Assert.Equal(0, registry.Add(new FakePort("a", Mac)));
        Assert.Equal(1, registry.Add(new FakePort("b", Mac)));
        registry.Detach(0);
        Assert.False(registry.TryGet(0, out _));
        Assert.Equal(0, registry.Add(new FakePort("c", Mac)));
        Assert.Throws<InvalidOperationException>(() => registry.Add(new FakePort("c", Mac)));
    }

    [Fact]
    public void An_owned_port_is_hidden_from_applications_and_cannot_be_claimed_by_another_owner()
    {
        using var registry = new PortRegistry();
        var port = new FakePort("p", Mac);
        ushort id = registry.Add(port);
        ulong failover = registry.NewOwner("failover");
        ulong app = registry.NewOwner("app");
        Assert.NotEqual(PortRegistry.NoOwner, failover);
        Assert.NotEqual(failover, app);

        Assert.True(registry.TrySetOwner(id, failover));
        Assert.Equal((failover, "failover"), registry.GetOwner(id));
        Assert.DoesNotContain(port, registry.Ports);
        Assert.Contains(port, registry.AllPorts);

        Assert.False(registry.TrySetOwner(id, app));
        var e = Assert.Throws<InvalidOperationException>(() => registry.SetOwner(id, app));
        Assert.Equal($"port {id} is owned by failover (owner {failover})", e.Message);
        Assert.False(registry.UnsetOwner(id, app));

        Assert.True(registry.UnsetOwner(id, failover));
        Assert.Null(registry.GetOwner(id));
        Assert.Contains(port, registry.Ports);
        Assert.True(registry.TrySetOwner(id, app));
    }

    [Fact]
    public void Owner_ids_must_be_issued_and_ports_must_exist()
    {
        using var registry = new PortRegistry();
        ushort id = registry.Add(new FakePort("p", Mac));
        Assert.Throws<ArgumentException>(() => registry.TrySetOwner(id, 12345));
        ulong owner = registry.NewOwner("x");
        Assert.False(registry.TrySetOwner(77, owner));
        Assert.Equal("port 77 does not exist", Assert.Throws<InvalidOperationException>(() => registry.SetOwner(77, owner)).Message);
    }

    [Fact]
    public void Two_threads_racing_to_claim_a_port_have_exactly_one_winner()
    {
        using var registry = new PortRegistry();
        for (int round = 0; round < 200; round++)
        {
            var port = new FakePort($"race{round}", Mac);
            ushort id = registry.Add(port);
            ulong a = registry.NewOwner("a"), b = registry.NewOwner("b");
            using var go = new Barrier(2);
            bool wonA = false, wonB = false;
            var ta = new Thread(() => { go.SignalAndWait(); wonA = registry.TrySetOwner(id, a); });
            var tb = new Thread(() => { go.SignalAndWait(); wonB = registry.TrySetOwner(id, b); });
            ta.Start(); tb.Start(); ta.Join(); tb.Join();
            Assert.True(wonA ^ wonB, $"round {round}: a={wonA} b={wonB}");
            Assert.Equal(wonA ? a : b, registry.GetOwner(id)!.Value.Id);
            registry.Detach(id);
        }
    }

    [Fact]
    public void Events_arrive_in_order_on_the_control_thread()
    {
        using var registry = new PortRegistry();
        var seen = new BlockingCollection<(PortEvent Event, int Thread)>();
        foreach (var type in Enum.GetValues<PortEventType>())
            registry.Subscribe(type, ev => seen.Add((ev, Environment.CurrentManagedThreadId)));

        var port = new FakePort("ev", Mac);
        ushort id = registry.Add(port);
        port.SetLink(false);
        port.Raise(PortEventType.DeviceRequest);
        port.SetLink(true);
        port.Raise(PortEventType.Removal);
        registry.Detach(id);

        var got = Enumerable.Range(0, 6).Select(_ => seen.TryTake(out var x, 5000) ? x : throw new TimeoutException("event not delivered")).ToList();
        Assert.Equal(
            [PortEventType.New, PortEventType.LinkStateChange, PortEventType.DeviceRequest, PortEventType.LinkStateChange, PortEventType.Removal, PortEventType.Destroy],
            got.Select(g => g.Event.Type));
        Assert.Equal(["ev", "down", null, "up", null, "ev"], got.Select(g => g.Event.Detail));
        Assert.All(got, g => Assert.Equal(registry.Control.ManagedThreadId, g.Thread));
        Assert.All(got, g => Assert.Equal(id, g.Event.PortId));
        Assert.NotEqual(Environment.CurrentManagedThreadId, registry.Control.ManagedThreadId);
    }

    [Fact]
    public void A_subscription_for_one_port_ignores_the_others_and_can_be_cancelled()
    {
        using var registry = new PortRegistry();
        var a = new FakePort("a", Mac);
        var b = new FakePort("b", Mac);
        registry.Add(a);
        registry.Add(b);
        var seen = new BlockingCollection<PortEvent>();
        var sub = registry.Subscribe(PortEventType.LinkStateChange, seen.Add, b.PortId);
        a.SetLink(false);
        b.SetLink(false);
        Assert.True(seen.TryTake(out var ev, 5000));
        Assert.Equal(b.PortId, ev.PortId);
        sub.Dispose();
        b.SetLink(true);
        registry.Control.Invoke(() => { });
        Assert.False(seen.TryTake(out _, 200));
    }

    [Fact]
    public void A_failing_callback_does_not_stop_later_ones()
    {
        using var registry = new PortRegistry();
        var seen = new BlockingCollection<PortEvent>();
        registry.Subscribe(PortEventType.New, _ => throw new InvalidOperationException("boom"));
        registry.Subscribe(PortEventType.New, seen.Add);
        registry.Add(new FakePort("x", Mac));
        Assert.True(seen.TryTake(out _, 5000));
    }

    [Fact]
    public void The_life_cycle_is_enforced()
    {
        using var registry = new PortRegistry();
        var port = new FakePort("lc", Mac);
        registry.Add(port);
        Assert.Throws<InvalidOperationException>(port.Start);
        Assert.Throws<ArgumentException>(() => port.Configure(new PortConfig()));
        using var pool = Pmd.Memory.Mempool.Create("lc", 16, cacheSize: 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => port.Configure(new PortConfig { RxPool = pool, RxQueues = 5 }));
        port.Configure(new PortConfig { RxPool = pool, RxQueues = 2, TxQueues = 2 });
        port.Start();
        Assert.Throws<InvalidOperationException>(() => port.Configure(new PortConfig { RxPool = pool }));
        port.Stop();
        port.Start();
        Assert.Equal(2, port.StartCount);
        port.Close();
        Assert.True(port.Closed);
        Assert.Throws<ObjectDisposedException>(port.Start);
    }

    [Fact]
    public void Mac_addresses_parse_and_print()
    {
        var mac = MacAddress.Parse("52:54:00:AB:cd:0f");
        Assert.Equal("52:54:00:ab:cd:0f", mac.ToString());
        Assert.Equal(mac, new MacAddress(mac.ToArray()));
        Assert.False(mac.IsMulticast);
        Assert.True(MacAddress.Broadcast.IsMulticast);
        Assert.False(MacAddress.TryParse("52:54:00:ab:cd", out _));
        Assert.False(MacAddress.TryParse("52:54:00:ab:cd:zz", out _));
    }
}
