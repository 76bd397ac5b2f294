using System.Buffers.Binary;
using System.Diagnostics;
using Pmd.Capture;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>Packet capture of a virtio-user port forwarding through DPDK's vhost backend, read back with tshark and capinfos.</summary>
public sealed class CaptureVhostTests
{
    private static int Length(uint seq) => 60 + (int)(seq * 53 % 1455);

    [Fact]
    public void Rx_and_tx_through_dpdk_are_captured_exactly_and_read_back_by_tshark()
    {
        using var peer = new VhostPeer("io");
        string file = Path.Combine(Path.GetTempPath(), $"pmd-capture-vhost-{Environment.ProcessId}.pcapng");
        try
        {
            var capture = PacketCapture.Start(peer.Registry, file, new CaptureOptions { RingSize = 16 << 20 });
            const int Total = 3000;
            var src = peer.Port.MacAddress;
            var received = new List<byte[]>();
            var tx = new Mbuf[32];
            var rx = new Mbuf[32];
            uint seq = 0;
            var watch = Stopwatch.StartNew();
            while (received.Count < Total && watch.Elapsed < TimeSpan.FromSeconds(30))
            {
                // At most 128 frames out at a time: DPDK's io forwarding drops what finds our RX
                // ring (256) full, and a loaded machine can leave the backend that far behind.
                int n = (int)Math.Min(Math.Min(tx.Length, Total - seq), Math.Max(0, 128 - (seq - received.Count)));
                for (int i = 0; i < n; i++) tx[i] = Frames.Build(peer.Pool, seq + (uint)i, Length(seq + (uint)i), src, VhostPeer.PeerMac);
                int accepted = peer.Port.TxBurst(0, tx.AsSpan(0, n));
                Mbuf.Free(tx.AsSpan(accepted, n - accepted));
                seq += (uint)accepted;
                int got = peer.Port.RxBurst(0, rx);
                for (int i = 0; i < got; i++)
                {
                    var bytes = new byte[rx[i].PacketLength];
                    rx[i].CopyTo(bytes);
                    received.Add(bytes);
                }
                Mbuf.Free(rx.AsSpan(0, got));
            }
            capture.Stop();
            Assert.Equal(Total, received.Count);
            Assert.Equal(2 * Total, capture.Captured);
            Assert.Equal(0, capture.Dropped);

            var frames = Wireshark.Frames(file);
            Assert.Equal(2 * Total, frames.Count);
            Assert.All(frames, f => Assert.Equal("net_virtio_user0", f.InterfaceName));
            for (int i = 1; i < frames.Count; i++) Assert.True(frames[i].Epoch >= frames[i - 1].Epoch, $"frame {frames[i].Number} is older than the one before it");

            // What we sent, byte for byte and in order; and what came back is what DPDK's io
            // forwarding returned to us, the same frames, each after its own departure.
            var outbound = frames.Where(f => f.Outbound).ToList();
            var inbound = frames.Where(f => f.Inbound).ToList();
            Assert.Equal(Total, outbound.Count);
            Assert.Equal(Total, inbound.Count);
            var departed = new Dictionary<uint, decimal>();
            for (int i = 0; i < Total; i++)
            {
                var expected = Frames.BuildBytes((uint)i, Length((uint)i), src, VhostPeer.PeerMac);
                Assert.True(expected.AsSpan().SequenceEqual(outbound[i].Bytes), $"sent frame {i} differs in the capture");
                Assert.Equal(expected.Length, outbound[i].Length);
                departed[(uint)i] = outbound[i].Epoch;
                Assert.True(received[i].AsSpan().SequenceEqual(inbound[i].Bytes), $"received frame {i} differs in the capture");
                uint back = BinaryPrimitives.ReadUInt32BigEndian(inbound[i].Bytes.AsSpan(14));
                Assert.True(inbound[i].Epoch >= departed[back], $"frame {back} came back before it left");
            }

            string info = Wireshark.Capinfos(file);
            Assert.Matches($@"Number of packets:\s+{2 * Total}\b", info);
            Assert.Matches(@"Number of interfaces in file: 1\b", info);
            Assert.Matches(@"Strict time order:\s+True", info);
            Assert.Matches(@"Interface #0 info:\s+Name = net_virtio_user0", info);
            var stats = PcapngFile.Read(file).Statistics.Single();
            Assert.Equal((ulong)(2 * Total), stats.Counters["isb_ifrecv"]);
            Assert.Equal(0UL, stats.Counters["isb_ifdrop"]);
            Assert.Equal((ulong)(2 * Total), stats.Counters["isb_usrdeliv"]);
            peer.StopAndAssertNoLeak();
        }
        finally
        {
            File.Delete(file);
        }
    }
}
