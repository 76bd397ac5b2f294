using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Checksum offload, TSO and the RX checksum flags against DPDK's vhost backend with two vhost
/// ports: Pmd's port A sends, testpmd forwards from its port 0 to its port 1, and Pmd's port B
/// receives and checks every byte. DPDK's vhost PMD completes a NEEDS_CSUM checksum in software
/// from what is in the field (so a wrong pseudo-header sum arrives as a wrong checksum), and
/// with GSO on in its csum engine cuts a TSO frame itself.
/// </summary>
public sealed class OffloadVhostTests
{
    private static readonly MacAddress MacA = MacAddress.Parse("02:00:00:0f:00:0a"), MacB = MacAddress.Parse("02:00:00:0f:00:0b");

    private sealed class Rig : IDisposable
    {
        private static int s_id;
        public readonly DpdkVhostBackend Backend;
        public readonly Mempool Pool;
        public readonly PortRegistry Registry = new();
        public readonly EthPort A, B;

        public Rig(string mode, PortConfig configA, PortConfig configB, string ring = "", string? vhostArgs = null, IEnumerable<string>? commands = null, IEnumerable<string>? extraArgs = null)
        {
            VirtioUserDriver.Register();
            int id = Interlocked.Increment(ref s_id);
            string a = $"/tmp/pmd-off-{Environment.ProcessId}-{id}-a.sock", b = $"/tmp/pmd-off-{Environment.ProcessId}-{id}-b.sock";
            Backend = DpdkVhostBackend.Start(a, mode, vhostArgs: vhostArgs, secondSocket: b, commands: commands, extraArgs: extraArgs);
            Pool = Mempool.Create($"off{id}", 16384);
            A = Registry.Attach($"net_virtio_user0,path={a},mac={MacA}{ring}");
            B = Registry.Attach($"net_virtio_user1,path={b},mac={MacB}{ring}");
            configA.RxPool = Pool;
            configB.RxPool = Pool;
            A.Configure(configA);
            B.Configure(configB);
            A.Start();
            B.Start();
            Backend.WaitForDevice();
        }

        public void Dispose()
        {
            Registry.Dispose();
            Backend.Dispose();
            Pool.Dispose();
        }

        /// <summary>Sends <paramref name="m"/> on A (retrying while the ring is full).</summary>
        public void Send(Mbuf m)
        {
            var watch = Stopwatch.StartNew();
            Span<Mbuf> one = [m];
            while (A.TxBurst(0, one) == 0)
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "port A did not take a frame in 10 s");
                Drain();
            }
        }

        private void Drain()
        {
            Span<Mbuf> burst = stackalloc Mbuf[32];
            int n = A.RxBurst(0, burst);
            Mbuf.Free(burst[..n]);
        }

        /// <summary>Receives on B until <paramref name="count"/> frames came or nothing more does; returns their bytes and flags.</summary>
        public List<(byte[] Bytes, OffloadFlags Flags, int Segsz)> Receive(int count, TimeSpan? timeout = null)
        {
            var got = new List<(byte[], OffloadFlags, int)>();
            var burst = new Mbuf[32];
            var watch = Stopwatch.StartNew();
            while (got.Count < count && watch.Elapsed < (timeout ?? TimeSpan.FromSeconds(10)))
            {
                A.TxBurst(0, []);
                int n = B.RxBurst(0, burst);
                for (int i = 0; i < n; i++)
                {
                    var bytes = new byte[burst[i].PacketLength];
                    burst[i].CopyTo(bytes);
                    got.Add((bytes, burst[i].Flags, burst[i].TsoSegmentSize));
                    burst[i].Free();
                }
            }
            return got;
        }
    }

    public static TheoryData<string> Rings => new() { "", ",packed_vq=1" };

    [Theory]
    [MemberData(nameof(Rings))]
    public void Frames_sent_with_checksum_offload_arrive_with_correct_checksums(string ring)
    {
        using var rig = new Rig("io", new PortConfig { TxOffloads = TxOffloads.TcpChecksum | TxOffloads.Ipv4Checksum | TxOffloads.MultiSegment }, new PortConfig(), ring);
        int[] payloads = [0, 1, 6, 100, 1000, 1460, 4000, 8000];
        foreach (bool ipv6 in new[] { false, true })
        {
            foreach (int payload in payloads)
            {
                // Wrong checksums in the frame: only the offload can make them right.
                var bytes = TcpFrames.Bytes(ipv6, payload, MacA, MacB, streamOffset: payload);
                if (!ipv6) { bytes[24] ^= 0x5A; bytes[25] ^= 0xA5; }
                rig.Send(TcpFrames.Build(rig.Pool, bytes, ipv6, OffloadFlags.TxTcpChecksum | (ipv6 ? 0 : OffloadFlags.TxIpChecksum)));
            }
        }
        var received = rig.Receive(2 * payloads.Length);
        Assert.Equal(2 * payloads.Length, received.Count);
        for (int i = 0; i < received.Count; i++)
        {
            bool ipv6 = i >= payloads.Length;
            var seg = TcpFrames.Check(received[i].Bytes, ipv6);
            Assert.Equal(payloads[i % payloads.Length], seg.PayloadLength);
        }
        Assert.Equal(0UL, rig.A.GetStats().TxErrors);
    }

    [Fact]
    public void A_checksum_request_the_port_cannot_honor_is_refused_at_configure()
    {
        using var rig = new Rig("io", new PortConfig(), new PortConfig(), ",tso=0");
        rig.A.Stop();
        var e = Assert.Throws<NotSupportedException>(() => rig.A.Configure(new PortConfig { RxPool = rig.Pool, TxOffloads = TxOffloads.TcpTso }));
        Assert.Contains("TcpTso", e.Message);
        Assert.DoesNotContain(TxOffloads.TcpTso.ToString(), rig.A.Info.TxOffloadCapabilities.ToString());
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void A_64_KiB_TSO_frame_arrives_as_correctly_cut_segments_every_byte_checked(string ring)
    {
        const int Mss = 1448, Payload = 65536 - 54 - 10;
        // testpmd's csum engine with GSO on its port 1 cuts what its port 0 received as a TSO
        // frame (tso=1 offers HOST_TSO4/6); its vhost port computes the segments' checksums,
        // since B did not take GUEST_CSUM.
        using var rig = new Rig("csum", new PortConfig { TxOffloads = TxOffloads.TcpTso | TxOffloads.MultiSegment }, new PortConfig(), ring,
            vhostArgs: ",tso=1",
            commands: ["port stop all", "csum set tcp hw 1", "set port 1 gso on", $"set gso segsz {Mss + 54}", "port start all", "set verbose 1"]);
        var features = rig.A.Info.Details.Single(d => d.Key == "features").Value;
        Assert.True(features.Contains("HOST_TSO4"), features);
        for (int frame = 0; frame < 3; frame++)
        {
            var bytes = TcpFrames.Bytes(false, Payload, MacA, MacB, streamOffset: frame * Payload, ipId: 7);
            rig.Send(TcpFrames.Build(rig.Pool, bytes, false, OffloadFlags.TxTcpSegmentation, Mss));
        }
        int perFrame = (Payload + Mss - 1) / Mss;
        var received = rig.Receive(3 * perFrame);
        Assert.Equal(3 * perFrame, received.Count);
        int offset = 0;
        foreach (var (bytes, _, _) in received)
        {
            var seg = TcpFrames.Check(bytes, ipv6: false);
            Assert.Equal(offset, seg.StreamOffset);
            Assert.Equal(Math.Min(Mss, Payload - offset % Payload), seg.PayloadLength);
            offset += seg.PayloadLength;
        }
        Assert.Equal(3 * Payload, offset);
        // DPDK read our header: vhost marks a frame LRO only for gso_type TCPV4 with a non-zero
        // gso_size (its csum engine prints the size after clearing it, so only the flag is checked).
        // Its output comes through a pipe and may lag the frames: waited for, a few seconds at most.
        int LroLines() => rig.Backend.Output.Split('\n').Count(l => l.StartsWith("rx: l2_len=14 ethertype=800 l3_len=20 l4_proto=6 l4_len=20", StringComparison.Ordinal) && l.Contains("RTE_MBUF_F_RX_LRO"));
        var wait = Stopwatch.StartNew();
        while (LroLines() < 3 && wait.Elapsed < TimeSpan.FromSeconds(10)) Thread.Sleep(20);
        Assert.Equal(3, LroLines());
    }

    [Fact]
    public void Rx_checksum_flags_say_what_the_device_vouched_for()
    {
        // testpmd's csum engine asks its port 1 for the TCP checksum: DPDK's vhost hands such a
        // frame to B as NEEDS_CSUM (checksum not computed, data valid), with the pseudo-header
        // sum in the field. A frame it was not asked about carries no verdict.
        using var rig = new Rig("csum", new PortConfig(), new PortConfig { RxOffloads = RxOffloads.Checksum },
            commands: ["port stop all", "csum set tcp hw 1", "port start all"]);
        rig.Send(TcpFrames.Build(rig.Pool, TcpFrames.Bytes(false, 500, MacA, MacB, tcpChecksum: true), false));
        var received = rig.Receive(1);
        Assert.Single(received);
        Assert.Equal(OffloadFlags.RxL4ChecksumNone, received[0].Flags & OffloadFlags.RxL4ChecksumMask);
        TcpFrames.Check(received[0].Bytes, ipv6: false, checksumPartial: true);
    }

    [Theory]
    [MemberData(nameof(Rings))]
    public void The_offloaded_datapath_allocates_nothing_over_a_million_packets(string ring)
    {
        // Every frame asks for the IPv4 and TCP checksums, every eighth is a two-segment TSO frame;
        // B takes RX checksum status. Frames are made from a template without allocating.
        using var rig = new Rig("io", new PortConfig { TxOffloads = TxOffloads.TcpChecksum | TxOffloads.Ipv4Checksum | TxOffloads.TcpTso | TxOffloads.MultiSegment },
            new PortConfig { RxOffloads = RxOffloads.Checksum }, ring, vhostArgs: ",tso=1");
        byte[] template = TcpFrames.Bytes(false, 1000, MacA, MacB);
        byte[] big = TcpFrames.Bytes(false, 3000, MacA, MacB);
        var tx = new Mbuf[32];
        var rx = new Mbuf[32];
        void Round(ref long moved)
        {
            {
                int got = rig.Pool.Alloc(tx);
                for (int i = 0; i < got; i++)
                {
                    var m = tx[i];
                    bool tso = (i & 7) == 7;
                    var bytes = tso ? big : template;
                    int first = Math.Min(bytes.Length, 2000);
                    bytes.AsSpan(0, first).CopyTo(m.Append(first));
                    if (first < bytes.Length)
                    {
                        var tail = rig.Pool.Alloc();
                        if (!tail.IsNull)
                        {
                            bytes.AsSpan(first).CopyTo(tail.Append(bytes.Length - first));
                            m.Chain(tail);
                        }
                    }
                    m.Flags = OffloadFlags.TxIpv4 | OffloadFlags.TxIpChecksum | (tso && m.PacketLength == bytes.Length ? OffloadFlags.TxTcpSegmentation : OffloadFlags.TxTcpChecksum);
                    m.L2Length = 14;
                    m.L3Length = 20;
                    m.L4Length = 20;
                    m.TsoSegmentSize = 1448;
                }
                int sent = rig.A.TxBurst(0, tx.AsSpan(0, got));
                Mbuf.Free(tx.AsSpan(sent, got - sent));
                int n = rig.B.RxBurst(0, rx);
                Mbuf.Free(rx.AsSpan(0, n));
                moved += n;
            }
        }
        Assert.Equal(0, SteadyState.AllocatedBytes(Round, 1_000_000, warmup: 50_000));
        Assert.Equal(0UL, rig.A.GetStats().TxErrors);
    }
}
