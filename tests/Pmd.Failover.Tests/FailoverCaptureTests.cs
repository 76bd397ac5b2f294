using System.Buffers.Binary;
using Pmd.Capture;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Failover.Tests;

/// <summary>
/// A capture of a failover port's two paths, the primary and the standby, while TX switches from
/// one to the other: both ports' frames are in one file, read back with tshark.
/// </summary>
public sealed class FailoverCaptureTests
{
    [Fact]
    public void A_capture_across_a_switch_has_both_paths_frames_in_one_file_in_order()
    {
        using var rig = new VhostFailoverRig();
        var primary = rig.AttachPrimary();
        // Let the announcements of the switch to the primary go out before the capture starts.
        rig.PumpFor(TimeSpan.FromMilliseconds(300));
        ulong announcedBefore = rig.Xstat("failover_announcements_sent");
        string file = Path.Combine(Path.GetTempPath(), $"pmd-capture-failover-{Environment.ProcessId}.pcapng");
        try
        {
            var capture = PacketCapture.Start(rig.Registry, file, new CaptureOptions { Ports = [rig.Standby.PortId, primary.PortId], RingSize = 16 << 20 });
            long acceptedBefore = rig.Accepted, receivedBefore = rig.Received;
            for (int i = 0; i < 200; i++) rig.Pump();

            rig.Registry.Raise(primary.PortId, PortEventType.DeviceRequest);
            VhostFailoverRig.WaitFor(() =>
            {
                rig.Pump();
                Thread.Sleep(1);
                return rig.Failover.FailoverState == FailoverState.StandbyOnly;
            }, TimeSpan.FromSeconds(10), "the release of the primary");
            for (int i = 0; i < 200; i++) rig.Pump();
            // The announcements on the standby, 50 ms apart, while traffic goes on.
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (clock.ElapsedMilliseconds < 400)
            {
                rig.Pump();
                Thread.Sleep(1);
            }
            rig.Quiesce();
            capture.Stop();
            Assert.Equal(0, capture.Dropped);
            long accepted = rig.Accepted - acceptedBefore, received = rig.Received - receivedBefore;
            ulong announced = rig.Xstat("failover_announcements_sent") - announcedBefore;
            ulong abandoned = rig.Xstat("failover_primary_rx_abandoned");

            var frames = Wireshark.Frames(file);
            for (int i = 1; i < frames.Count; i++) Assert.True(frames[i].Epoch >= frames[i - 1].Epoch, $"frame {frames[i].Number} is older than the one before it");
            var names = Wireshark.Capinfos(file);
            Assert.Matches(@"Interface #0 info:\s+Name = net_virtio_user0", names);
            Assert.Matches(@"Interface #1 info:\s+Name = net_virtio_user1", names);
            Assert.Matches(@"Strict time order:\s+True", names);

            // Our frames out: every one TX accepted, once, in the order sent — first on the
            // primary, then, from one frame on, on the standby.
            var ours = frames.Where(f => f.Outbound && EtherType(f) == Frames.EtherType).ToList();
            Assert.Equal(accepted, ours.Count);
            for (int i = 1; i < ours.Count; i++) Assert.True(Seq(ours[i]) > Seq(ours[i - 1]), $"frame {ours[i].Number}: sequence {Seq(ours[i])} after {Seq(ours[i - 1])}");
            int switchAt = ours.FindIndex(f => f.InterfaceName == "net_virtio_user0");
            Assert.True(switchAt > 0, "no frame went out on the primary, or none on the standby");
            Assert.All(ours[..switchAt], f => Assert.Equal("net_virtio_user1", f.InterfaceName));
            Assert.All(ours[switchAt..], f => Assert.Equal("net_virtio_user0", f.InterfaceName));
            Assert.All(ours, f => Assert.Equal(VhostFailoverRig.Mac, new MacAddress(f.Bytes.AsSpan(6, 6))));

            // The MAC's announcements after the switch, on the standby.
            var rarps = frames.Where(f => f.Outbound && EtherType(f) == 0x8035).ToList();
            Assert.Equal(announced, (ulong)rarps.Count);
            Assert.All(rarps, f => Assert.Equal("net_virtio_user0", f.InterfaceName));

            // Everything in: what the failover port delivered, and what was left on the released primary.
            Assert.Equal((ulong)received + abandoned, (ulong)frames.Count(f => f.Inbound));
            Assert.Contains(frames, f => f.Inbound && f.InterfaceName == "net_virtio_user1");
            Assert.Contains(frames, f => f.Inbound && f.InterfaceName == "net_virtio_user0");

            var stats = PcapngFile.Read(file).Statistics;
            Assert.Equal(2, stats.Count);
            Assert.All(stats, s => Assert.Equal(0UL, s.Counters["isb_ifdrop"]));
            Assert.Equal((ulong)frames.Count, (ulong)stats.Sum(s => (long)s.Counters["isb_usrdeliv"]));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static ushort EtherType(TsharkFrame f) => BinaryPrimitives.ReadUInt16BigEndian(f.Bytes.AsSpan(12));

    private static uint Seq(TsharkFrame f) => BinaryPrimitives.ReadUInt32BigEndian(f.Bytes.AsSpan(14));
}
