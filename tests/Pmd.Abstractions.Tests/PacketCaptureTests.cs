using Pmd.Capture;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

/// <summary>
/// Packet capture on in-process ports, read back with Wireshark's tshark and capinfos: the exact
/// frames in order, their interfaces, directions and timestamps, snap lengths, the packet limit,
/// drops of a full ring, and no allocation in the bursts.
/// </summary>
public sealed class PacketCaptureTests
{
    private static readonly MacAddress Peer = MacAddress.Parse("02:00:00:00:00:99");

    [Fact]
    public void Rx_and_tx_of_two_ports_read_back_by_tshark_byte_for_byte_in_order()
    {
        using var rig = new Rig(ports: 2);
        var before = DateTimeOffset.UtcNow;
        var capture = PacketCapture.Start(rig.Registry, rig.File);
        Assert.Equal(new ushort[] { 0, 1 }, capture.PortIds);
        var expected = new List<(int Port, int Direction, byte[] Bytes)>();
        var burst = new Mbuf[3];
        uint seq = 0;
        for (int k = 0; k < 100; k++)
        {
            var rx = rig.Ports[k % 2];
            var tx = rig.Ports[(k + 1) % 2];
            for (int i = 0; i < burst.Length; i++, seq++)
            {
                int length = 60 + (int)(seq * 53 % 1455);
                rx.Inject(0, Frames.Build(rig.Pool, seq, length, rx.MacAddress, Peer));
                expected.Add((k % 2, 1, Frames.BuildBytes(seq, length, rx.MacAddress, Peer)));
            }
            Assert.Equal(3, rx.RxBurst(0, burst));
            Assert.Equal(3, tx.TxBurst(0, burst));
            foreach (var m in burst)
            {
                var bytes = new byte[m.PacketLength];
                m.CopyTo(bytes);
                expected.Add(((k + 1) % 2, 2, bytes));
            }
            tx.FreeTx(0);
        }
        capture.Stop();
        var after = DateTimeOffset.UtcNow;
        Assert.Equal(600, capture.Captured);
        Assert.Equal(0, capture.Dropped);

        var frames = Wireshark.Frames(rig.File);
        Assert.Equal(expected.Count, frames.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            var (port, direction, bytes) = expected[i];
            var f = frames[i];
            Assert.Equal(port, f.InterfaceId);
            Assert.Equal($"net_fake{port}", f.InterfaceName);
            Assert.Equal(direction, f.Direction);
            Assert.Equal(bytes.Length, f.Length);
            Assert.Equal(bytes.Length, f.CapturedLength);
            Assert.True(bytes.AsSpan().SequenceEqual(f.Bytes), $"frame {f.Number} differs");
            if (i > 0) Assert.True(f.Epoch >= frames[i - 1].Epoch, $"frame {f.Number} is older than the one before it");
        }
        // The timestamps are wall-clock nanoseconds (to the calibration's precision).
        Assert.InRange(frames[0].Epoch, Seconds(before) - 0.01m, Seconds(after) + 0.01m);
        Assert.InRange(frames[^1].Epoch, frames[0].Epoch, Seconds(after) + 0.01m);

        string info = Wireshark.Capinfos(rig.File);
        Assert.Matches(@"File type:\s+pcapng", info);
        Assert.Matches(@"File encapsulation:\s+ether\b", info);
        Assert.Matches(@"File timestamp precision:\s+nanoseconds \(9\)", info);
        Assert.Matches(@"Strict time order:\s+True", info);
        Assert.Matches(@"Number of packets:\s+600\b", info);
        Assert.Matches(@"Number of interfaces in file: 2", info);
        Assert.Matches(@"Interface #0 info:\s+Name = net_fake0", info);
        Assert.Matches(@"Interface #1 info:\s+Name = net_fake1", info);
        Assert.Matches(@"Time precision = nanoseconds \(9\)", info);

        var file = PcapngFile.Read(rig.File);
        Assert.All(file.Interfaces, i => Assert.Equal(9, i.TimestampResolution!.Value));
        Assert.Equal(["net_fake0", "net_fake1"], file.Interfaces.Select(i => i.Name));
        Assert.Equal(2, file.Statistics.Count);
        foreach (var s in file.Statistics)
        {
            Assert.Equal(300UL, s.Counters["isb_ifrecv"]);
            Assert.Equal(0UL, s.Counters["isb_ifdrop"]);
            Assert.Equal(300UL, s.Counters["isb_usrdeliv"]);
        }
        Assert.Equal(0, rig.Pool.InUse);
    }

    [Fact]
    public void The_snap_length_cuts_each_frame_and_keeps_its_length()
    {
        using var rig = new Rig(ports: 1);
        var port = rig.Ports[0];
        using (var capture = PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { SnapLength = 32, Direction = CaptureDirection.Rx }))
        {
            var burst = new Mbuf[8];
            for (uint i = 0; i < 8; i++) port.Inject(0, Frames.Build(rig.Pool, i, 100 + (int)i, port.MacAddress, Peer));
            Assert.Equal(8, port.RxBurst(0, burst));
            Assert.Equal(8, port.TxBurst(0, burst)); // TX is not captured
            port.FreeTx(0);
            capture.Stop();
        }
        var frames = Wireshark.Frames(rig.File);
        Assert.Equal(8, frames.Count);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(32, frames[i].CapturedLength);
            Assert.Equal(100 + i, frames[i].Length);
            Assert.Equal(Frames.BuildBytes((uint)i, 100 + i, port.MacAddress, Peer).AsSpan(0, 32).ToArray(), frames[i].Bytes);
            Assert.True(frames[i].Inbound);
        }
        Assert.Matches(@"Capture length = 32", Wireshark.Capinfos(rig.File));
    }

    [Fact]
    public void The_packet_limit_writes_exactly_that_many_and_ends_the_capture()
    {
        using var rig = new Rig(ports: 1);
        var port = rig.Ports[0];
        var capture = PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { PacketLimit = 50 });
        var burst = new Mbuf[16];
        for (int round = 0; round < 10 && capture.IsRunning; round++)
        {
            for (uint i = 0; i < 16; i++) port.Inject(0, Frames.Build(rig.Pool, i, 64, port.MacAddress, Peer));
            port.RxBurst(0, burst);
            Mbuf.Free(burst);
        }
        Assert.True(capture.WaitForCompletion(TimeSpan.FromSeconds(10)), "the capture did not end at its limit");
        Assert.False(capture.IsRunning);
        Assert.False(port.IsTapped);
        Assert.Equal(50, capture.Captured);
        capture.Stop();
        Assert.Matches(@"Number of packets:\s+50\b", Wireshark.Capinfos(rig.File));
        Assert.Equal(50, Wireshark.Frames(rig.File).Count);
    }

    [Fact]
    public void A_full_ring_counts_drops_that_the_statistics_block_reports()
    {
        using var rig = new Rig(ports: 1);
        var port = rig.Ports[0];
        var capture = PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { RingSize = CaptureOptions.MinRingSize });
        // One burst of 64 frames of 64 bytes into a 4 KiB ring: 51 records fit (16 + 64 bytes each).
        var burst = new Mbuf[64];
        for (uint i = 0; i < 64; i++) port.Inject(0, Frames.Build(rig.Pool, i, 64, port.MacAddress, Peer));
        Assert.Equal(64, port.RxBurst(0, burst));
        Mbuf.Free(burst);
        capture.Stop();
        Assert.Equal(51, capture.Captured);
        Assert.Equal(13, capture.Dropped);
        Assert.Equal(new CapturePortStats(0, "net_fake0", 64, 51, 13), capture.GetPortStats().Single());

        var frames = Wireshark.Frames(rig.File);
        Assert.Equal(Enumerable.Range(0, 51).Select(i => (uint)i), frames.Select(f => (uint)(f.Bytes[14] << 24 | f.Bytes[15] << 16 | f.Bytes[16] << 8 | f.Bytes[17])));
        var stats = PcapngFile.Read(rig.File).Statistics.Single();
        Assert.Equal(64UL, stats.Counters["isb_ifrecv"]);
        Assert.Equal(13UL, stats.Counters["isb_ifdrop"]);
        Assert.Equal(51UL, stats.Counters["isb_usrdeliv"]);
        Assert.Matches(@"Number of stat entries = 1", Wireshark.Capinfos(rig.File));
    }

    [Fact]
    public void Only_the_chosen_queue_and_direction_are_captured()
    {
        using var rig = new Rig(ports: 1, queues: 2);
        var port = rig.Ports[0];
        var capture = PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { Queues = [1], Direction = CaptureDirection.Tx });
        var burst = new Mbuf[4];
        for (int q = 0; q < 2; q++)
        {
            for (uint i = 0; i < 4; i++) port.Inject(q, Frames.Build(rig.Pool, (uint)(q * 10) + i, 64, port.MacAddress, Peer));
            Assert.Equal(4, port.RxBurst(q, burst));
            Assert.Equal(4, port.TxBurst(q, burst));
            port.FreeTx(q);
        }
        capture.Stop();
        var packets = PcapngFile.Read(rig.File).Packets;
        Assert.Equal(4, packets.Count);
        Assert.All(packets, p => Assert.Equal(1u, p.Queue));
        Assert.All(packets, p => Assert.Equal(2u, p.Flags));
        Assert.Equal(4, Wireshark.Frames(rig.File).Count(f => f.Outbound));
    }

    [Fact]
    public void A_port_has_one_capture_at_a_time_and_a_refused_start_leaves_no_file()
    {
        using var rig = new Rig(ports: 2);
        using var first = PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { Ports = [1] });
        string second = rig.File + ".second";
        var e = Assert.Throws<InvalidOperationException>(() => PacketCapture.Start(rig.Registry, second));
        Assert.Equal("port 1 is already being captured", e.Message);
        Assert.False(File.Exists(second));
        Assert.False(rig.Ports[0].IsTapped);
        Assert.True(rig.Ports[1].IsTapped);
        first.Stop();
        Assert.False(rig.Ports[1].IsTapped);
        using var again = PacketCapture.Start(rig.Registry, second, new CaptureOptions { Ports = [1] });
        again.Stop();
        File.Delete(second);
    }

    [Fact]
    public void Options_out_of_range_and_ports_that_do_not_exist_are_refused()
    {
        using var rig = new Rig(ports: 1);
        Assert.Throws<ArgumentOutOfRangeException>(() => PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { SnapLength = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { RingSize = 100 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { Queues = [3] }));
        Assert.Equal("port 7 does not exist", Assert.Throws<ArgumentException>(() => PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { Ports = [7] })).Message.Split(" (")[0]);
        Assert.Throws<DirectoryNotFoundException>(() => PacketCapture.Start(rig.Registry, "/nonexistent-dir/x.pcapng"));
        Assert.False(rig.Ports[0].IsTapped);
        using var empty = new PortRegistry();
        Assert.Throws<InvalidOperationException>(() => PacketCapture.Start(empty, rig.File));
    }

    [Fact]
    public void Stop_waits_for_a_burst_still_copying_and_keeps_its_packets()
    {
        using var rig = new Rig(ports: 1);
        var port = rig.Ports[0];
        var capture = PacketCapture.Start(rig.Registry, rig.File);
        using var inDriver = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        port.InBurst = () => { inDriver.Set(); release.Wait(); };
        var frame = Frames.Build(rig.Pool, 77, 64, port.MacAddress, Peer);
        int sent = 0;
        var sender = new Thread(() => sent = port.TxBurst(0, [frame]));
        sender.Start();
        Assert.True(inDriver.Wait(TimeSpan.FromSeconds(5)));
        var stopping = new Thread(capture.Stop);
        stopping.Start();
        Assert.False(stopping.Join(200), "Stop returned while a TX burst was still inside the driver");
        release.Set();
        Assert.True(sender.Join(TimeSpan.FromSeconds(5)));
        Assert.Equal(1, sent);
        Assert.True(stopping.Join(TimeSpan.FromSeconds(5)));
        port.InBurst = null;
        port.FreeTx(0);
        var f = Assert.Single(Wireshark.Frames(rig.File));
        Assert.Equal(Frames.BuildBytes(77, 64, port.MacAddress, Peer), f.Bytes);
        Assert.True(f.Outbound);
    }

    [Fact]
    public void Bursts_on_two_threads_are_written_in_timestamp_order()
    {
        using var rig = new Rig(ports: 2);
        var capture = PacketCapture.Start(rig.Registry, rig.File, new CaptureOptions { SnapLength = 64, RingSize = 16 << 20 });
        const int Rounds = 500;
        var threads = rig.Ports.Select(port => new Thread(() =>
        {
            var burst = new Mbuf[16];
            for (int r = 0; r < Rounds; r++)
            {
                for (uint i = 0; i < 16; i++) port.Inject(0, Frames.Build(rig.Pool, i, 64, port.MacAddress, Peer));
                int n = port.RxBurst(0, burst);
                int sent = port.TxBurst(0, burst.AsSpan(0, n));
                Mbuf.Free(burst.AsSpan(sent, n - sent));
                port.FreeTx(0);
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        capture.Stop();
        Assert.Equal(0, capture.Dropped);
        var packets = PcapngFile.Read(rig.File).Packets;
        Assert.Equal(2 * Rounds * 16 * 2, packets.Count);
        for (int i = 1; i < packets.Count; i++)
            Assert.True(packets[i].Timestamp >= packets[i - 1].Timestamp, $"packet {i} is older than packet {i - 1}");
        var frames = Wireshark.Frames(rig.File);
        Assert.Equal(packets.Count, frames.Count);
        Assert.Equal(Rounds * 16 * 2, frames.Count(f => f.InterfaceName == "net_fake1"));
    }

    [Fact]
    public void With_a_capture_active_a_million_packets_through_rx_and_tx_allocate_nothing()
    {
        using var rig = new Rig(ports: 1);
        var port = rig.Ports[0];
        // Written to /dev/null: what is measured is the bursts' copies, not the disk.
        using var capture = PacketCapture.Start(rig.Registry, "/dev/null", new CaptureOptions { SnapLength = 64 });
        var frames = new Mbuf[32];
        var burst = new Mbuf[32];
        for (int i = 0; i < frames.Length; i++)
        {
            frames[i] = Frames.Build(rig.Pool, (uint)i, 64, port.MacAddress, Peer);
            frames[i].AddRef(); // the test keeps them; the port's FreeTx drops the burst's reference
        }
        void Cycle()
        {
            foreach (var m in frames)
            {
                m.AddRef();
                port.Inject(0, m);
            }
            int n = port.RxBurst(0, burst);
            int sent = port.TxBurst(0, burst.AsSpan(0, n));
            Mbuf.Free(burst.AsSpan(sent, n - sent));
            port.FreeTx(0);
        }
        for (int i = 0; i < 1000; i++) Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1_000_000 / 32; i++) Cycle();
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        capture.Stop();
        Assert.Equal(0, allocated);
        var stats = capture.GetPortStats().Single();
        Assert.Equal(2 * 32 * (1000 + 1_000_000 / 32), stats.Seen);
        Assert.Equal(stats.Seen, stats.Captured + stats.Dropped);
        Mbuf.Free(frames);
        Mbuf.Free(frames);
        Assert.Equal(0, rig.Pool.InUse);
    }

    private static decimal Seconds(DateTimeOffset t) => t.ToUnixTimeMilliseconds() / 1000m;

    /// <summary>Started fake ports on a registry, a pool, and a capture file that is deleted afterwards.</summary>
    private sealed class Rig : IDisposable
    {
        private static int s_counter;

        public Rig(int ports, int queues = 1)
        {
            int id = Interlocked.Increment(ref s_counter);
            Pool = Mempool.Create($"capture{id}", 4096);
            Registry = new PortRegistry();
            for (int i = 0; i < ports; i++)
            {
                var port = new FakePort($"net_fake{i}", MacAddress.Parse($"52:54:00:ca:00:{i:x2}"));
                Registry.Add(port);
                port.Configure(new PortConfig { RxQueues = queues, TxQueues = queues, RxPool = Pool });
                port.Start();
                Ports.Add(port);
            }
            File = Path.Combine(Path.GetTempPath(), $"pmd-capture-{Environment.ProcessId}-{id}.pcapng");
        }

        public Mempool Pool { get; }
        public PortRegistry Registry { get; }
        public List<FakePort> Ports { get; } = [];
        public string File { get; }

        public void Dispose()
        {
            Registry.Dispose();
            Pool.Dispose();
            if (System.IO.File.Exists(File)) System.IO.File.Delete(File);
        }
    }
}
