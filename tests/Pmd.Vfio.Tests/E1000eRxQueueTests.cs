using Pmd.Memory;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vfio.Tests;

/// <summary>The e1000e RX queue against the descriptor model: wrap-around, chains, and a device that lies.</summary>
public sealed class E1000eRxQueueTests
{
    private static byte[] Frame(uint seq, int length) => Frames.BuildBytes(seq, length, E1000eRig.Host, E1000eRig.Guest);

    private static List<uint> ReceiveAll(E1000eRig rig, int burst = 32)
    {
        var seqs = new List<uint>();
        var mbufs = new Mbuf[burst];
        int n;
        while ((n = rig.Rx.Burst(mbufs)) > 0)
        {
            for (int i = 0; i < n; i++)
            {
                Assert.Equal(3, mbufs[i].Port);
                seqs.Add(Frames.Verify(mbufs[i]));
            }
            Mbuf.Free(mbufs.AsSpan(0, n));
        }
        return seqs;
    }

    [Fact]
    public void Frames_come_through_byte_for_byte_across_many_wraps_of_the_ring()
    {
        using var rig = new E1000eRig(size: 32);
        Assert.Equal(31, rig.Device.RxLent);   // one slot stays empty: head == tail means empty
        var received = new List<uint>();
        uint seq = 0;
        for (int round = 0; round < 100; round++)
        {
            for (int i = 0; i < 20; i++, seq++) Assert.True(rig.Device.Receive(Frame(seq, 60 + (int)(seq * 37 % 1400))));
            received.AddRange(ReceiveAll(rig, burst: 7));
        }
        Assert.Equal(Enumerable.Range(0, 2000).Select(i => (uint)i), received);
        Assert.Equal(0, rig.Device.RxMissed);
        Assert.Equal(2000UL, rig.Rx.Stats.Packets);
        Assert.Equal(0UL, rig.Rx.Stats.Errors + rig.Rx.Stats.BadLength + rig.Rx.Stats.UnlentDone);
        // Refills wait until half the ring is free: a tail write carries many slots, never one per frame.
        Assert.True(rig.Rx.Stats.TailWrites < 200, $"{rig.Rx.Stats.TailWrites} tail writes for 2000 frames");
    }

    [Fact]
    public void A_frame_longer_than_a_buffer_arrives_as_a_chain()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 256, maxFrame: 9018);
        rig.Device.Receive(Frame(1, 1000));            // 4 buffers of 256
        var mbufs = new Mbuf[4];
        Assert.Equal(1, rig.Rx.Burst(mbufs));
        Assert.Equal(4, mbufs[0].SegmentCount);
        Assert.Equal(1000, mbufs[0].PacketLength);
        Assert.Equal(1u, Frames.Verify(mbufs[0]));
        mbufs[0].Free();
    }

    [Fact]
    public void A_jumbo_frame_split_over_two_bursts_is_one_chain()
    {
        using var rig = new E1000eRig(size: 64, dataRoom: 2048, maxFrame: 9018);
        var frame = Frame(9, 9000);                   // 5 buffers of 2048
        Assert.True(rig.Device.Receive(frame));
        // Hide the last two write-backs: the driver sees three descriptors, then the rest.
        int head = rig.Device.RxHead;
        rig.Device.WriteBackRx((head + 63) % 64, 0, 0, 0);
        rig.Device.WriteBackRx((head + 62) % 64, 0, 0, 0);
        var mbufs = new Mbuf[4];
        Assert.Equal(0, rig.Rx.Burst(mbufs));
        rig.Device.WriteBackRx((head + 62) % 64, 2048, 0x01, 0);
        rig.Device.WriteBackRx((head + 63) % 64, 9000 - 4 * 2048, 0x03, 0);
        Assert.Equal(1, rig.Rx.Burst(mbufs));
        Assert.Equal(5, mbufs[0].SegmentCount);
        Assert.Equal(9u, Frames.Verify(mbufs[0]));
        mbufs[0].Free();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2049)]
    [InlineData(65535)]
    public void A_length_of_zero_or_beyond_the_buffer_is_counted_and_dropped(int length)
    {
        using var rig = new E1000eRig(size: 32);
        rig.Device.Receive(Frame(1, 100));
        rig.Device.ReceiveRaw(Frame(2, 100), (ushort)length, status: 0x03);
        rig.Device.Receive(Frame(3, 100));
        Assert.Equal([1u, 3u], ReceiveAll(rig));
        Assert.Equal(1UL, rig.Rx.Stats.BadLength);
    }

    [Fact]
    public void A_bad_descriptor_mid_frame_drops_the_whole_frame_up_to_its_end()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 256, maxFrame: 9018);
        rig.Device.ReceiveRaw(Frame(1, 600), 256, status: 0x01);   // frame 1: first part fine
        rig.Device.ReceiveRaw([], 999, status: 0x01);              // a lie, mid-frame
        rig.Device.ReceiveRaw([], 88, status: 0x03);               // the rest of frame 1
        rig.Device.Receive(Frame(2, 300));
        Assert.Equal([2u], ReceiveAll(rig));
        Assert.Equal(1UL, rig.Rx.Stats.BadLength);
        Assert.Equal(1UL, rig.Rx.Stats.Packets);
    }

    [Fact]
    public void A_frame_with_error_bits_is_dropped_and_counted()
    {
        using var rig = new E1000eRig(size: 32);
        rig.Device.Receive(Frame(1, 64), errors: 0x01);            // CRC error
        rig.Device.Receive(Frame(2, 64), errors: 0x80);            // RX data error
        rig.Device.Receive(Frame(3, 64), errors: 0x40);            // IP checksum error: not a frame error (checksum offload is off)
        Assert.Equal([3u], ReceiveAll(rig));
        Assert.Equal(2UL, rig.Rx.Stats.Errors);
    }

    [Fact]
    public void A_chain_longer_than_the_port_takes_is_dropped()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 256, maxFrame: 1522);
        rig.Device.Receive(Frame(1, 2000));
        rig.Device.Receive(Frame(2, 1500));
        Assert.Equal([2u], ReceiveAll(rig));
        Assert.Equal(1UL, rig.Rx.Stats.BadLength);
    }

    [Fact]
    public void Done_written_on_slots_that_were_not_lent_is_never_delivered_and_is_counted()
    {
        using var rig = new E1000eRig(size: 32);
        rig.Device.Receive(Frame(1, 64));
        Assert.Equal([1u], ReceiveAll(rig));
        // Slot 0 was handed back and not lent again yet (refills wait for 32 free): the device writes it anyway.
        rig.Device.WriteBackRx(0, 64, 0x03, 0);
        Assert.Empty(ReceiveAll(rig));
        // The 30 slots still lent take 30 frames; taking them back refills the ring, slot 0 with it.
        for (uint s = 2; s < 32; s++) Assert.True(rig.Device.Receive(Frame(s, 64)));
        Assert.False(rig.Device.Receive(Frame(99, 64)));
        Assert.Equal(Enumerable.Range(2, 30).Select(i => (uint)i), ReceiveAll(rig));
        Assert.Equal(1UL, rig.Rx.Stats.UnlentDone);
        Assert.Equal(0UL, rig.Rx.Stats.BadLength + rig.Rx.Stats.Errors);
    }

    [Fact]
    public void A_device_that_never_completes_yields_nothing_and_gives_every_buffer_back_on_drain()
    {
        using var rig = new E1000eRig(size: 32);
        var mbufs = new Mbuf[32];
        for (int i = 0; i < 1000; i++) Assert.Equal(0, rig.Rx.Burst(mbufs));
        Assert.Equal(31, rig.Pool.InUse);
    }

    [Fact]
    public void An_empty_pool_is_counted_and_the_ring_refills_when_mbufs_return()
    {
        using var rig = new E1000eRig(size: 64, poolSize: 70);
        var held = new Mbuf[7];
        Assert.Equal(7, rig.Pool.Alloc(held));            // 63 lent + 7 held = the whole pool
        for (uint s = 0; s < 40; s++) rig.Device.Receive(Frame(s, 64));
        var mbufs = new Mbuf[64];
        int n = rig.Rx.Burst(mbufs);
        Assert.Equal(40, n);
        Assert.True(rig.Rx.Stats.NoMbuf > 0);
        Assert.Equal(23, rig.Rx.LentCount);
        Mbuf.Free(mbufs.AsSpan(0, n));
        Mbuf.Free(held);
        Assert.Equal(0, rig.Rx.Burst(mbufs));
        Assert.Equal(63, rig.Rx.LentCount);
    }
}
