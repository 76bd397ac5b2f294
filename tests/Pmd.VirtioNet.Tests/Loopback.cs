using System.Diagnostics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.VirtioNet.Tests;

/// <summary>Sends patterned frames through a forwarding backend and checks each one coming back.</summary>
internal static class Loopback
{
    /// <summary>
    /// Sends <paramref name="count"/> frames of <paramref name="length"/> bytes on <paramref name="queue"/>,
    /// never more than <paramref name="window"/> in flight, so that nothing is dropped for lack of
    /// RX buffers, and checks that every sequence number comes back once, in order, byte for byte.
    /// </summary>
    public static void Run(EthPort port, Mempool pool, int count, int length, int queue = 0, int window = 64, bool expectSwappedMacs = false, uint firstSeq = 0)
    {
        // A jumbo frame takes several RX buffers of the 256-entry ring: keep the window within it.
        window = Math.Min(window, 200 / ((length + pool.DataRoom - 1) / pool.DataRoom));
        var tx = new Mbuf[32];
        var rx = new Mbuf[32];
        uint nextSend = firstSeq, nextExpect = firstSeq, end = firstSeq + (uint)count;
        var deadline = Stopwatch.StartNew();
        while (nextExpect < end)
        {
            int room = (int)Math.Min(Math.Min(window - (nextSend - nextExpect), end - nextSend), tx.Length);
            if (room > 0)
            {
                for (int i = 0; i < room; i++) tx[i] = Frames.Build(pool, nextSend + (uint)i, length, port.MacAddress, VhostPeer.PeerMac);
                int sent = port.TxBurst(queue, tx.AsSpan(0, room));
                Mbuf.Free(tx.AsSpan(sent, room - sent));
                nextSend += (uint)sent;
            }
            int n = port.RxBurst(queue, rx);
            for (int i = 0; i < n; i++)
            {
                try
                {
                    Assert.Equal(length, rx[i].PacketLength);
                    // Frames larger than one buffer arrive as chains (mergeable RX buffers).
                    if (length > pool.DataRoom) Assert.True(rx[i].SegmentCount > 1, $"a {length}-byte frame arrived in one segment");
                    uint seq = Frames.Verify(rx[i]);
                    Assert.Equal(nextExpect, seq);
                    if (expectSwappedMacs) Assert.Equal(VhostPeer.PeerMac, Frames.Source(rx[i]));
                    nextExpect++;
                }
                finally
                {
                    rx[i].Free();
                }
            }
            if (deadline.Elapsed > TimeSpan.FromSeconds(60))
                Assert.Fail($"loopback stalled: sent {nextSend - firstSeq}, got back {nextExpect - firstSeq} of {count}");
        }
    }
}
