using Pmd.Capture;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

/// <summary>The capture's per-queue ring: records in order across the wrap, drops when full, TX keeping what the driver took.</summary>
public sealed class CaptureRingTests
{
    private static readonly MacAddress Src = MacAddress.Parse("52:54:00:00:00:01");
    private static readonly MacAddress Dst = MacAddress.Parse("52:54:00:00:00:02");

    [Fact]
    public void Records_come_back_in_order_with_lengths_and_bytes_across_many_wraps()
    {
        using var pool = Mempool.Create("cap-ring-wrap", 256);
        var ring = new CaptureRing(4096, snapLength: 100, new CaptureGate(), 0, 0, CaptureDirection.Rx);
        var burst = new Mbuf[7];
        uint seq = 0, expected = 0;
        long position = 0;
        for (int round = 0; round < 500; round++)
        {
            for (int i = 0; i < burst.Length; i++, seq++) burst[i] = Frames.Build(pool, seq, 40 + (int)(seq * 37 % 160), Src, Dst);
            ring.Received(burst);
            Mbuf.Free(burst);
            long head = ring.ReadHead();
            while (position < head)
            {
                var entry = ring.Peek(ref position);
                int length = 40 + (int)(expected * 37 % 160);
                Assert.Equal(length, entry.OriginalLength);
                Assert.Equal(Math.Min(length, 100), entry.CapturedLength);
                Assert.Equal(Frames.BuildBytes(expected, length, Src, Dst).AsSpan(0, entry.CapturedLength).ToArray(), entry.Data.ToArray());
                Assert.NotEqual(0, entry.Timestamp);
                position += entry.Size;
                expected++;
            }
            ring.Release(position);
        }
        Assert.Equal(seq, expected);
        Assert.Equal(0, ring.Dropped);
        Assert.Equal(seq, ring.Seen);
        Assert.Equal(0, pool.InUse);
    }

    [Fact]
    public void A_full_ring_drops_the_rest_of_the_burst_and_counts_it()
    {
        using var pool = Mempool.Create("cap-ring-full", 256);
        var ring = new CaptureRing(4096, snapLength: 1000, new CaptureGate(), 0, 0, CaptureDirection.Rx);
        var burst = new Mbuf[64];
        for (int i = 0; i < burst.Length; i++) burst[i] = Frames.Build(pool, (uint)i, 64, Src, Dst);
        ring.Received(burst);
        // A 64-byte packet takes a 16-byte header and 64 bytes: 51 fit in 4096.
        Assert.Equal(64, ring.Seen);
        Assert.Equal(64 - 4096 / 80, ring.Dropped);
        int records = 0;
        long position = 0, head = ring.ReadHead();
        while (position < head)
        {
            position += ring.Peek(ref position).Size;
            records++;
        }
        Assert.Equal(4096 / 80, records);
        // Once the writer gives the space back, the ring takes packets again.
        ring.Release(position);
        ring.Received(burst.AsSpan(0, 10));
        Assert.Equal(74, ring.Seen);
        Assert.Equal(64 - 4096 / 80, ring.Dropped);
        Mbuf.Free(burst);
    }

    [Fact]
    public void A_tx_burst_keeps_only_the_packets_the_driver_took_even_across_the_wrap()
    {
        using var pool = Mempool.Create("cap-ring-tx", 256);
        var ring = new CaptureRing(4096, snapLength: 1000, new CaptureGate(), 0, 0, CaptureDirection.Tx);
        var burst = new Mbuf[10];
        uint seq = 0, expected = 0;
        long position = 0;
        for (int round = 0; round < 200; round++)
        {
            for (int i = 0; i < burst.Length; i++) burst[i] = Frames.Build(pool, seq + (uint)i, 100, Src, Dst);
            int taken = round % 4 == 0 ? 10 : round % 3; // 10, 1, 2, 0, ...
            Assert.True(ring.Enter());
            Assert.Equal(10, ring.Copy(burst));
            ring.Publish(10, taken);
            ring.Exit();
            seq += (uint)taken;
            Mbuf.Free(burst);
            long head = ring.ReadHead();
            while (position < head)
            {
                var entry = ring.Peek(ref position);
                Assert.Equal(Frames.BuildBytes(expected, 100, Src, Dst), entry.Data.ToArray());
                position += entry.Size;
                expected++;
            }
            ring.Release(position);
        }
        Assert.Equal(seq, expected);
        Assert.Equal(seq, ring.Seen);
        Assert.Equal(0, ring.Dropped);
    }

    [Fact]
    public void A_closed_gate_lets_no_burst_copy()
    {
        using var pool = Mempool.Create("cap-ring-gate", 64);
        var gate = new CaptureGate();
        var ring = new CaptureRing(4096, snapLength: 1000, gate, 0, 0, CaptureDirection.Rx);
        var burst = new Mbuf[4];
        for (int i = 0; i < burst.Length; i++) burst[i] = Frames.Build(pool, (uint)i, 64, Src, Dst);
        gate.Close([ring]);
        ring.Received(burst);
        Assert.Equal(0, ring.ReadHead());
        Assert.Equal(0, ring.Seen);
        Assert.Equal(0, ring.BusySince);
        Mbuf.Free(burst);
    }

    [Fact]
    public void Chained_mbufs_are_copied_across_their_segments()
    {
        using var pool = Mempool.Create("cap-ring-chain", 64);
        var ring = new CaptureRing(1 << 16, snapLength: 5000, new CaptureGate(), 0, 0, CaptureDirection.Rx);
        var frame = Frames.Build(pool, 9, 4000, Src, Dst);
        Assert.True(frame.SegmentCount > 1);
        ring.Received([frame]);
        long position = 0;
        var entry = ring.Peek(ref position);
        Assert.Equal(Frames.BuildBytes(9, 4000, Src, Dst), entry.Data.ToArray());
        frame.Free();
    }
}
