using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Large receive (GUEST_TSO4) against a real peer: Open vSwitch-DPDK with userspace TSO, which
/// passes a TSO frame through whole and sends it to a vhost port as a GSO frame. DPDK's testpmd
/// cannot do that (its vhost port has no TSO to offer), so OVS is the peer: Pmd sends a 60 KB TSO
/// frame, OVS's loopback flow sends it back, and it must arrive as one coalesced frame (a chain
/// flagged RxLro with the segment size), every byte as sent but the checksum field.
/// </summary>
public sealed class LargeReceiveOvsTests
{
    [Fact]
    public void A_tso_frame_that_ovs_sends_back_arrives_as_one_coalesced_frame()
    {
        VirtioUserDriver.Register();
        string dir = $"/tmp/pmd-ovs-lro-{Environment.ProcessId}";
        string socket = $"{dir}-pmd.sock";
        using var pool = Mempool.Create("ovs-lro", 16384);
        using var registry = new PortRegistry();
        using var ovs = OvsDpdkBackend.Start(dir, socket, userspaceTso: true);
        var port = registry.Attach($"net_virtio_user0,path={socket},server=1");
        port.Configure(new PortConfig
        {
            RxPool = pool,
            RxOffloads = RxOffloads.TcpLro | RxOffloads.Checksum,
            TxOffloads = TxOffloads.TcpTso | TxOffloads.TcpChecksum | TxOffloads.MultiSegment,
        });
        port.Start();
        var features = port.Info.Details.Single(d => d.Key == "features").Value;
        Assert.True(features.Contains("GUEST_TSO4") && features.Contains("HOST_TSO4"), $"OVS with userspace TSO did not take TSO both ways: {features}");

        const int Payload = 60_000, Mss = 1448;
        var mac = port.MacAddress;
        var burst = new Mbuf[32];
        var watch = Stopwatch.StartNew();
        (byte[] Bytes, OffloadFlags Flags, int Segsz, int Segments)? back = null;
        byte[]? sent = null;
        int round = 0;
        // OVS's vhost client connects within a second or so; the first frames may find no port yet.
        while (back is null && watch.Elapsed < TimeSpan.FromSeconds(30))
        {
            sent = TcpFrames.Bytes(false, Payload, mac, mac, streamOffset: round++ * Payload);
            var m = TcpFrames.Build(pool, sent, false, OffloadFlags.TxTcpSegmentation, Mss);
            Span<Mbuf> one = [m];
            if (port.TxBurst(0, one) == 0) m.Free();
            var until = Stopwatch.StartNew();
            while (back is null && until.Elapsed < TimeSpan.FromSeconds(1))
            {
                int n = port.RxBurst(0, burst);
                for (int i = 0; i < n; i++)
                {
                    var r = burst[i];
                    var bytes = new byte[r.PacketLength];
                    r.CopyTo(bytes);
                    if (bytes.Length > 1000 && back is null) back = (bytes, r.Flags, r.TsoSegmentSize, r.SegmentCount);
                    r.Free();
                }
            }
        }
        Assert.True(back is not null, $"no TSO frame came back through OVS in 30 s\n{ovs.Log[^Math.Min(3000, ovs.Log.Length)..]}");
        var (got, flags, segsz, chain) = back!.Value;
        Assert.Equal(OffloadFlags.RxLro, flags & OffloadFlags.RxLro);
        // The gso_size the device wrote: OVS sets it from its port's MTU (1500 less the headers), not from ours.
        Assert.InRange(segsz, 1, 1460);
        Assert.True(chain > 1, $"a {got.Length}-byte frame in {chain} mbuf(s)");
        // Every byte as sent but the TCP checksum field (a coalesced frame's checksum is not computed).
        int field = TcpFrames.HeaderLength(false) - 4;
        var expected = TcpFrames.Bytes(false, Payload, mac, mac, streamOffset: TcpFrames.Check(Normalized(got, field), ipv6: false, checksumPartial: false).StreamOffset);
        Assert.Equal(expected.Length, got.Length);
        expected[field] = got[field];
        expected[field + 1] = got[field + 1];
        Assert.Equal(expected, got);
        port.Stop();
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);
    }

    /// <summary>The frame with its TCP checksum computed, so that the checker reads its sequence and payload.</summary>
    private static byte[] Normalized(byte[] frame, int field)
    {
        var copy = (byte[])frame.Clone();
        ushort sum = TcpFrames.TcpChecksum(copy, ipv6: false);
        copy[field] = (byte)(sum >> 8);
        copy[field + 1] = (byte)sum;
        return copy;
    }
}
