using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Failover.Tests;

/// <summary>
/// The app asks the failover port for TX checksums and TSO once; the device under it changes.
/// The standby (virtio with TSO and CSUM, DPDK's vhost with tso=1) does them itself; a primary
/// without them (csum=0,tso=0) gets them done in software by the failover port. Every frame comes
/// back through DPDK's macswap and is checked byte for byte, checksums included, on either path.
/// </summary>
public sealed class FailoverOffloadTests
{
    private const int Mss = 1448, Payload = 60_000;
    private static readonly MacAddress Peer = MacAddress.Parse("02:00:00:00:00:02");

    private static VhostFailoverRig NewRig() => new("macswap",
        new PortConfig { TxOffloads = TxOffloads.TcpChecksum | TxOffloads.Ipv4Checksum | TxOffloads.TcpTso | TxOffloads.MultiSegment },
        standbyBackendArgs: ",tso=1");

    /// <summary>Sends one TSO frame and one checksum-only frame at <paramref name="offset"/>; returns the frames that came back.</summary>
    private static List<byte[]> SendAndReceive(VhostFailoverRig rig, int offset, int expected)
    {
        var tso = TcpFrames.Build(rig.Pool, TcpFrames.Bytes(false, Payload, VhostFailoverRig.Mac, Peer, streamOffset: offset), false, OffloadFlags.TxTcpSegmentation, Mss);
        var small = TcpFrames.Bytes(false, 900, VhostFailoverRig.Mac, Peer, streamOffset: offset + Payload);
        small[24] ^= 0xFF; // a wrong IPv4 checksum: the offload must replace it
        var csum = TcpFrames.Build(rig.Pool, small, false, OffloadFlags.TxTcpChecksum | OffloadFlags.TxIpChecksum);
        var watch = Stopwatch.StartNew();
        foreach (var m in new[] { tso, csum })
        {
            Span<Mbuf> one = [m];
            while (rig.Failover.TxBurst(0, one) == 0) Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "the failover port did not take a frame");
        }
        var got = new List<byte[]>();
        var burst = new Mbuf[32];
        while (got.Count < expected && watch.Elapsed < TimeSpan.FromSeconds(15))
        {
            rig.Failover.TxBurst(0, []);
            int n = rig.Failover.RxBurst(0, burst);
            for (int i = 0; i < n; i++)
            {
                var bytes = new byte[burst[i].PacketLength];
                burst[i].CopyTo(bytes);
                // The failover port's own MAC announcements after a switch come back too: not ours.
                if (bytes.Length > 14 && bytes[12] == 0x08 && bytes[13] == 0x00) got.Add(bytes);
                burst[i].Free();
            }
        }
        return got;
    }

    /// <summary>Checks each frame (macswap sent it back) and that together they carry the stream bytes [offset, offset + Payload + 900).</summary>
    private static void CheckStream(List<byte[]> frames, int offset)
    {
        int next = offset;
        foreach (var f in frames)
        {
            var seg = TcpFrames.Check(f, ipv6: false);
            Assert.Equal(next, seg.StreamOffset);
            next += seg.PayloadLength;
        }
        Assert.Equal(offset + Payload + 900, next);
    }

    [Fact]
    public void Offloaded_tx_stays_correct_on_the_standby_on_a_primary_without_offloads_and_back()
    {
        using var rig = NewRig();
        Assert.Equal(TxOffloads.TcpTso, rig.Failover.Info.TxOffloadCapabilities & TxOffloads.TcpTso);

        // The standby segments nothing: DPDK's vhost takes the 60 KB frame whole (and finishes its
        // checksum from the pseudo-header sum the driver wrote), and macswap sends it back whole.
        var onStandby = SendAndReceive(rig, 0, 2);
        Assert.Equal(2, onStandby.Count);
        CheckStream(onStandby, 0);

        var primary = rig.AttachPrimary(",csum=0,tso=0");
        Assert.Equal(TxOffloads.None, primary.Info.TxOffloadCapabilities & (TxOffloads.TcpTso | TxOffloads.TcpChecksum));
        // What both devices do: TSO and the TCP checksum no longer.
        Assert.Equal(TxOffloads.None, rig.Failover.Info.TxOffloadCapabilities & (TxOffloads.TcpTso | TxOffloads.TcpChecksum));
        int segments = (Payload + Mss - 1) / Mss;
        var onPrimary = SendAndReceive(rig, 1_000_000, segments + 1);
        Assert.Equal(segments + 1, onPrimary.Count);
        CheckStream(onPrimary, 1_000_000);
        Assert.True(onPrimary.Take(segments).All(f => f.Length <= 14 + 20 + 20 + Mss), "a segment is longer than the MSS");
        Assert.Equal(1UL, rig.Xstat("failover_sw_tso_frames"));
        Assert.Equal((ulong)segments, rig.Xstat("failover_sw_tso_segments"));
        Assert.Equal(1UL, rig.Xstat("failover_sw_checksums"));
        Assert.Equal(0UL, rig.Xstat("failover_sw_dropped"));

        rig.Registry.Raise(primary.PortId, PortEventType.DeviceRequest);
        VhostFailoverRig.WaitFor(() => rig.Failover.Primary is null, TimeSpan.FromSeconds(10), "the primary's release");
        var backOnStandby = SendAndReceive(rig, 2_000_000, 2);
        Assert.Equal(2, backOnStandby.Count);
        CheckStream(backOnStandby, 2_000_000);
        Assert.Equal(1UL, rig.Xstat("failover_sw_tso_frames"));
    }

    [Fact]
    public void Software_offloads_on_the_primary_allocate_nothing_over_a_million_packets()
    {
        using var rig = NewRig();
        rig.AttachPrimary(",csum=0,tso=0");
        byte[] template = TcpFrames.Bytes(false, 200, VhostFailoverRig.Mac, Peer);
        byte[] big = TcpFrames.Bytes(false, 1800, VhostFailoverRig.Mac, Peer);
        var tx = new Mbuf[32];
        var rx = new Mbuf[32];
        void Round(ref long moved)
        {
            {
                int got = rig.Pool.Alloc(tx);
                for (int i = 0; i < got; i++)
                {
                    // Every eighth frame is cut in two by software TSO; the rest get software checksums.
                    bool tso = (i & 7) == 7;
                    var bytes = tso ? big : template;
                    bytes.CopyTo(tx[i].Append(bytes.Length));
                    tx[i].Flags = OffloadFlags.TxIpv4 | OffloadFlags.TxIpChecksum | (tso ? OffloadFlags.TxTcpSegmentation : OffloadFlags.TxTcpChecksum);
                    tx[i].L2Length = 14;
                    tx[i].L3Length = 20;
                    tx[i].L4Length = 20;
                    tx[i].TsoSegmentSize = 1000;
                }
                int sent = rig.Failover.TxBurst(0, tx.AsSpan(0, got));
                Mbuf.Free(tx.AsSpan(sent, got - sent));
                int n = rig.Failover.RxBurst(0, rx);
                Mbuf.Free(rx.AsSpan(0, n));
                moved += n;
            }
        }
        Assert.Equal(0, SteadyState.AllocatedBytes(Round, 1_000_000, warmup: 50_000));
        Assert.True(rig.Xstat("failover_sw_tso_frames") > 100_000, $"{rig.Xstat("failover_sw_tso_frames")} frames cut in software");
        Assert.True(rig.Xstat("failover_sw_checksums") > 700_000);
    }
}
