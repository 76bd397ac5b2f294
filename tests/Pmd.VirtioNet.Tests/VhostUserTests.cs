using System.Buffers.Binary;
using System.Diagnostics;
using Pmd.Capture;
using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>The virtio-user PMD against DPDK's vhost-user backend (dpdk-testpmd), on split and packed rings.</summary>
public sealed class VhostUserTests
{
    /// <summary>Both layouts, each also with IN_ORDER and without mergeable buffers (one buffer per frame, as DPDK's in-order paths use).</summary>
    public static TheoryData<string> Rings => new() { "split", "packed", "split-in-order", "packed-in-order" };

    private static string Ring(string ring) =>
        (ring.StartsWith("packed") ? ",packed_vq=1" : "") + (ring.EndsWith("in-order") ? ",in_order=1,mrg_rxbuf=0" : "");

    [Theory]
    [MemberData(nameof(Rings))]
    public void A_million_sequenced_packets_are_all_counted_by_the_backend(string ring)
    {
        using var peer = new VhostPeer("rxonly", Ring(ring));
        var burst = new Mbuf[32];
        uint seq = 0;
        const uint Total = 1_000_000;
        var watch = Stopwatch.StartNew();
        while (seq < Total)
        {
            int n = (int)Math.Min(burst.Length, Total - seq);
            int got = peer.Pool.Alloc(burst.AsSpan(0, n));
            for (int i = 0; i < got; i++)
            {
                var d = burst[i].Append(64);
                VhostPeer.PeerMac.CopyTo(d);
                peer.Port.MacAddress.CopyTo(d[6..]);
                BinaryPrimitives.WriteUInt16BigEndian(d[12..], Frames.EtherType);
                BinaryPrimitives.WriteUInt32BigEndian(d[14..], seq + (uint)i);
            }
            int sent = peer.Port.TxBurst(0, burst.AsSpan(0, got));
            Mbuf.Free(burst.AsSpan(sent, got - sent));
            seq += (uint)sent;
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"only {seq} sent in 60 s");
        }
        Assert.Equal((ulong)Total, peer.Port.GetStats().TxPackets);
        // Let the backend drain our ring before it is stopped.
        WaitUntil(() => peer.Port.TxBurst(0, []) == 0 && RingDrained(peer), TimeSpan.FromSeconds(5));
        var counts = peer.Backend.Stop();
        Assert.Equal((ulong)Total, counts.RxPackets);
        peer.StopAndAssertNoLeak();
    }

    private static bool RingDrained(VhostPeer peer)
    {
        // A TX burst of nothing still reclaims completed buffers; the ring is empty when all mbufs are back.
        peer.Pool.FlushThreadCache();
        return peer.Pool.InUse == 0;
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void Frames_the_backend_transmits_arrive_intact_and_all_are_counted(string ring)
    {
        using var peer = new VhostPeer("txonly", Ring(ring), txPacketLength: 64);
        var burst = new Mbuf[32];
        ulong received = 0;
        var watch = Stopwatch.StartNew();
        void Receive()
        {
            int n = peer.Port.RxBurst(0, burst);
            for (int i = 0; i < n; i++)
            {
                CheckTestpmdUdpFrame(burst[i]);
                burst[i].Free();
            }
            received += (ulong)n;
        }
        while (watch.Elapsed < TimeSpan.FromSeconds(1.5)) Receive();
        var counts = peer.Backend.Stop();
        var quiet = Stopwatch.StartNew();
        while (quiet.Elapsed < TimeSpan.FromMilliseconds(300)) Receive();
        Assert.True(received > 10_000, $"only {received} frames in 1.5 s");
        Assert.Equal(counts.TxPackets, received);
        Assert.Equal(received, peer.Port.GetStats().RxPackets);
        peer.StopAndAssertNoLeak();
    }

    /// <summary>testpmd's txonly frame: Ethernet, IPv4 198.18.0.1 → 198.18.0.2, UDP 9 → 9, 64 bytes.</summary>
    private static void CheckTestpmdUdpFrame(Mbuf m)
    {
        Assert.Equal(64, m.PacketLength);
        Assert.Equal(1, m.SegmentCount);
        var f = m.Data;
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(f[12..]));
        var ip = f[14..34];
        Assert.Equal(0x45, ip[0]);
        Assert.Equal(50, BinaryPrimitives.ReadUInt16BigEndian(ip[2..]));
        Assert.Equal(17, ip[9]);
        Assert.Equal(new byte[] { 198, 18, 0, 1 }, ip[12..16].ToArray());
        Assert.Equal(new byte[] { 198, 18, 0, 2 }, ip[16..20].ToArray());
        uint sum = 0;
        for (int i = 0; i < 20; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        Assert.Equal(0xFFFFu, sum);
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(f[34..]));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(f[36..]));
        Assert.Equal(30, BinaryPrimitives.ReadUInt16BigEndian(f[38..]));
    }

    public static TheoryData<string, string, int> LoopbackCases
    {
        get
        {
            var data = new TheoryData<string, string, int>();
            foreach (var ring in new[] { "split", "packed" })
                foreach (var mode in new[] { "io", "macswap" })
                    foreach (int length in new[] { 64, 128, 1518, 9000 })
                        data.Add(ring, mode, length);
            return data;
        }
    }

    [Theory]
    [MemberData(nameof(LoopbackCases))]
    public void Looped_back_frames_keep_every_byte_and_their_order(string ring, string mode, int length)
    {
        using var peer = new VhostPeer(mode, Ring(ring));
        // Chained TX frames go through indirect tables when the backend offers them (DPDK does).
        Assert.True(Net.VirtioFeatures.Has(((VirtioNetPort)peer.Port).NegotiatedFeatures, Net.VirtioFeatures.IndirectDesc));
        Loopback.Run(peer.Port, peer.Pool, count: length > 2000 ? 2000 : 20_000, length, expectSwappedMacs: mode == "macswap");
        var stats = peer.Port.GetStats();
        Assert.Equal(stats.TxPackets, stats.RxPackets);
        Assert.Equal(0UL, stats.RxErrors);
        peer.StopAndAssertNoLeak();
    }

    [Theory]
    [InlineData("", true)]
    [InlineData(",packed_vq=1", true)]
    [InlineData(",in_order=0,vectorized=1", true)]
    [InlineData(",in_order=0,vectorized=0", false)]
    [InlineData(",packed_vq=1,in_order=0,vectorized=0", false)]
    public void RX_lends_buffers_in_ring_order_with_IN_ORDER_or_vectorized_1_and_every_frame_comes_back(string devargs, bool slotted)
    {
        using var logs = new CapturedLogs();
        using var peer = new VhostPeer("io", devargs);
        // DPDK's vhost offers IN_ORDER; the port negotiates it unless in_order=0.
        Assert.Equal(!devargs.Contains("in_order=0"), Net.VirtioFeatures.Has(((VirtioNetPort)peer.Port).NegotiatedFeatures, Net.VirtioFeatures.InOrder));
        string expected = slotted ? "RX buffers in ring order (id = slot)" : "RX buffers from a free list";
        Assert.Contains(logs.Lines, l => l.Message.Contains(expected));
        Loopback.Run(peer.Port, peer.Pool, count: 20_000, 1518);
        var stats = peer.Port.GetStats();
        Assert.Equal(stats.TxPackets, stats.RxPackets);
        Assert.Equal(0UL, stats.RxErrors);
        peer.StopAndAssertNoLeak();
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void Two_queue_pairs_each_loop_back_their_own_traffic(string ring)
    {
        using var peer = new VhostPeer("io", Ring(ring), queues: 2);
        Loopback.Run(peer.Port, peer.Pool, 10_000, 128, queue: 0, firstSeq: 0);
        Loopback.Run(peer.Port, peer.Pool, 10_000, 128, queue: 1, firstSeq: 100_000);
        var x = peer.Port.GetXstats().ToDictionary(s => s.Name, s => s.Value);
        Assert.Equal(10_000UL, x["rx_q0_packets"]);
        Assert.Equal(10_000UL, x["rx_q1_packets"]);
        Assert.Equal(10_000UL, x["tx_q1_packets"]);
        peer.StopAndAssertNoLeak();
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void Four_queue_pairs_each_loop_back_their_own_traffic(string ring)
    {
        // DPDK's backend forwards RX queue q of its port to TX queue q: what Pmd sends on queue q
        // must come back on queue q, with the other three queues busy too.
        using var peer = new VhostPeer("io", Ring(ring), queues: 4);
        Assert.Equal(4, peer.Port.Info.MaxRxQueues);
        for (int q = 0; q < 4; q++) Loopback.Run(peer.Port, peer.Pool, 5_000, 128 + 300 * q, queue: q, firstSeq: (uint)(q * 100_000));
        var x = peer.Port.GetXstats().ToDictionary(s => s.Name, s => s.Value);
        for (int q = 0; q < 4; q++)
        {
            Assert.Equal(5_000UL, x[$"rx_q{q}_packets"]);
            Assert.Equal(5_000UL, x[$"tx_q{q}_packets"]);
        }
        peer.StopAndAssertNoLeak();
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void A_port_stopped_and_started_again_on_the_same_backend_moves_traffic_again(string ring)
    {
        // DPDK's vhost keeps its mapping of a memory table whose regions have the same addresses
        // and sizes: rings in a new block at the old address would be invisible to it.
        using var peer = new VhostPeer("io", Ring(ring));
        Loopback.Run(peer.Port, peer.Pool, 2000, 256);
        for (int round = 1; round <= 3; round++)
        {
            peer.Port.Stop();
            peer.Port.Start();
            Loopback.Run(peer.Port, peer.Pool, 2000, 256, firstSeq: (uint)(round * 100_000));
        }
        peer.StopAndAssertNoLeak();
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void A_backend_that_dies_mid_run_brings_the_link_down_loses_no_mbuf_and_traffic_resumes_after_restart(string ring)
    {
        using var peer = new VhostPeer("io", Ring(ring));
        Assert.True(peer.LinkEvents.TryTake(out var up, 5000));
        Assert.Equal("up", up.Detail);
        Loopback.Run(peer.Port, peer.Pool, 1000, 256);

        // Traffic in flight both ways when the backend vanishes.
        var burst = new Mbuf[32];
        for (int i = 0; i < 4; i++)
        {
            for (int j = 0; j < burst.Length; j++) burst[j] = Frames.Build(peer.Pool, (uint)j, 256, peer.Port.MacAddress, VhostPeer.PeerMac);
            Mbuf.Free(burst.AsSpan(peer.Port.TxBurst(0, burst)));
        }
        peer.Backend.Crash();
        Assert.True(peer.LinkEvents.TryTake(out var down, 10_000), "no link-down event after the backend died");
        Assert.Equal(PortEventType.LinkStateChange, down.Type);
        Assert.Equal("down", down.Detail);
        Assert.False(peer.Port.Link.Up);

        // Polling a dead backend is harmless.
        for (int i = 0; i < 1000; i++)
        {
            int n = peer.Port.RxBurst(0, burst);
            Mbuf.Free(burst.AsSpan(0, n));
            burst[0] = Frames.Build(peer.Pool, 0, 64, peer.Port.MacAddress, VhostPeer.PeerMac);
            if (peer.Port.TxBurst(0, burst.AsSpan(0, 1)) == 0) burst[0].Free();
        }
        peer.StopAndAssertNoLeak();

        // The backend comes back; restarting the port reconnects, and traffic flows again.
        peer.Backend.Dispose();
        peer.Backend = DpdkVhostBackend.Start(peer.Socket, "io");
        peer.Port.Start();
        peer.Backend.WaitForDevice();
        Assert.True(peer.LinkEvents.TryTake(out var again, 5000));
        Assert.Equal("up", again.Detail);
        Loopback.Run(peer.Port, peer.Pool, 5000, 256, firstSeq: 1_000_000);
        peer.StopAndAssertNoLeak();
    }

    [Fact]
    public void The_port_can_listen_and_let_the_backend_connect()
    {
        VirtioUserDriver.Register();
        string socket = $"/tmp/pmd-test-{Environment.ProcessId}-server.sock";
        using var pool = Mempool.Create("server", 8192);
        using var registry = new PortRegistry();
        using var backend = DpdkVhostBackend.Start(socket, "macswap", client: true);
        var port = registry.Attach($"net_virtio_user0,path={socket},server=1");
        port.Configure(new PortConfig { RxPool = pool });
        port.Start();
        Loopback.Run(port, pool, 5000, 512, expectSwappedMacs: true);
        port.Stop();
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);
    }

    [Theory]
    [InlineData(",vectorized=0", false)]
    [InlineData(",vectorized=1", false)]
    [InlineData(",packed_vq=1,vectorized=0", false)]
    [InlineData(",packed_vq=1,vectorized=1", false)]
    // Without IN_ORDER and vectorized=1, RX takes the general rings (free list, inflight table).
    [InlineData(",in_order=0,vectorized=0", false)]
    [InlineData(",packed_vq=1,in_order=0,vectorized=0", false)]
    [InlineData(",vectorized=1", true)]
    [InlineData(",packed_vq=1,vectorized=1", true)]
    public void The_steady_state_datapath_allocates_nothing_over_a_million_packets(string devargs, bool capturing)
    {
        using var peer = new VhostPeer("io", devargs);
        // With a capture of RX and TX active (into /dev/null: the bursts' copies are what counts here).
        using var capture = capturing ? PacketCapture.Start(peer.Registry, "/dev/null", new CaptureOptions { SnapLength = 128 }) : null;
        var tx = new Mbuf[32];
        var rx = new Mbuf[32];
        void Exchange(int packets, ref long moved)
        {
            long target = moved + packets;
            while (moved < target)
            {
                int got = peer.Pool.Alloc(tx);
                for (int i = 0; i < got; i++) tx[i].Append(64);
                int sent = peer.Port.TxBurst(0, tx.AsSpan(0, got));
                Mbuf.Free(tx.AsSpan(sent, got - sent));
                int n = peer.Port.RxBurst(0, rx);
                Mbuf.Free(rx.AsSpan(0, n));
                moved += n;
            }
        }
        long warm = 0;
        Exchange(100_000, ref warm);
        long moved = 0;
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exchange(1_000_000, ref moved);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(moved >= 1_000_000);
        Assert.Equal(0, allocated);
        if (capture is not null)
        {
            capture.Stop();
            var stats = capture.GetPortStats().Single();
            Assert.True(stats.Seen >= 2 * (moved + warm), $"the capture saw {stats.Seen} packets of {2 * (moved + warm)}");
            Assert.Equal(stats.Seen, stats.Captured + stats.Dropped);
        }
        peer.StopAndAssertNoLeak();
    }

    [Fact]
    public void A_socket_with_no_backend_is_a_clear_error()
    {
        VirtioUserDriver.Register();
        using var registry = new PortRegistry();
        var e = Assert.Throws<Transport.VhostUser.VhostUserException>(() => registry.Attach("net_virtio_user0,path=/tmp/pmd-no-such-backend.sock"));
        Assert.StartsWith("cannot connect to vhost-user socket /tmp/pmd-no-such-backend.sock: ", e.Message);
        Assert.EndsWith("is the backend running?", e.Message);
    }

    [Theory]
    [InlineData("net_virtio_user0", "net_virtio_user0: 'path=' is required (the vhost-user socket)")]
    [InlineData("net_virtio_user0,path=/tmp/x,queues=17", "net_virtio_user0: 'queues=17' is not an integer from 1 to 16")]
    [InlineData("net_virtio_user0,path=/tmp/x,queue_size=100", "net_virtio_user0: 'queue_size=100' is not a power of two from 2 to 32768")]
    [InlineData("net_virtio_user0,path=/tmp/x,vectorized=2", "net_virtio_user0: 'vectorized=2' must be 0 or 1")]
    [InlineData("net_virtio_user0,path=/tmp/x,packed=1", "net_virtio_user0: unknown key 'packed' for net_virtio_user (known keys: path, server, queues, queue_size, mac, packed_vq, in_order, mrg_rxbuf, csum, tso, vectorized, standby)")]
    public void Bad_devargs_are_rejected_before_any_connection(string devargs, string message)
    {
        VirtioUserDriver.Register();
        using var registry = new PortRegistry();
        var e = Assert.Throws<DevArgsException>(() => registry.Attach(devargs));
        Assert.Equal(message, e.Message);
    }

    private static void WaitUntil(Func<bool> condition, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!condition() && sw.Elapsed < timeout) Thread.Sleep(10);
    }
}
