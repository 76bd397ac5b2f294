using Pmd.Memory;
using Pmd.TestSupport;

namespace Pmd.Vfio.Tests;

/// <summary>The e1000e TX queue against the descriptor model: descriptors as the datasheet lays them out, DD completion, full rings.</summary>
public sealed class E1000eTxQueueTests
{
    private static Mbuf Packet(E1000eRig rig, uint seq, int length) => Frames.Build(rig.Pool, seq, length, E1000eRig.Guest, E1000eRig.Host);

    [Fact]
    public void Single_and_chained_packets_go_out_byte_for_byte_with_EOP_and_RS_on_the_last_descriptor()
    {
        using var rig = new E1000eRig(size: 32, dataRoom: 512);
        Span<Mbuf> burst = [Packet(rig, 1, 60), Packet(rig, 2, 1500), Packet(rig, 3, 512)];
        Assert.Equal(3, burst[1].SegmentCount);
        Assert.Equal(3, rig.Tx.Burst(burst));
        Assert.Equal(5, rig.Device.TxQueued);
        // Slot 0: packet 1 whole. Slots 1-3: packet 2 (512, 512, 476). Slot 4: packet 3.
        Assert.Equal(((byte)0x0B, 60), rig.Device.TxDescriptor(0));     // EOP | IFCS | RS
        Assert.Equal(((byte)0x02, 512), rig.Device.TxDescriptor(1));    // IFCS only
        Assert.Equal(((byte)0x02, 512), rig.Device.TxDescriptor(2));
        Assert.Equal(((byte)0x0B, 476), rig.Device.TxDescriptor(3));
        var sent = new List<byte[]>();
        Assert.Equal(3, rig.Device.Transmit(sink: sent.Add));
        Assert.Equal([60, 1500, 512], sent.Select(f => f.Length));
        for (int i = 0; i < 3; i++) Assert.Equal(Frames.BuildBytes((uint)i + 1, sent[i].Length, E1000eRig.Guest, E1000eRig.Host), sent[i]);
        Assert.Equal(5, rig.Tx.InFlight);
        rig.Tx.Cleanup();
        Assert.Equal(0, rig.Tx.InFlight);
        Assert.Equal(0, rig.Pool.InUse - rig.Rx.LentCount);
    }

    [Fact]
    public void Thousands_of_packets_wrap_the_ring_and_every_mbuf_comes_back()
    {
        using var rig = new E1000eRig(size: 64, dataRoom: 512);
        int sent = 0;
        uint seq = 0;
        var burst = new Mbuf[16];
        var frames = new List<byte[]>();
        while (seq < 5000)
        {
            int n = 0;
            for (; n < burst.Length && seq < 5000; n++, seq++) burst[n] = Packet(rig, seq, 60 + (int)(seq * 53 % 1400));
            int accepted = rig.Tx.Burst(burst.AsSpan(0, n));
            Mbuf.Free(burst.AsSpan(accepted, n - accepted));
            seq -= (uint)(n - accepted);
            sent += rig.Device.Transmit(sink: frames.Add);
        }
        rig.Tx.Cleanup();
        Assert.Equal(5000, sent);
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Equal(Frames.BuildBytes((uint)i, frames[i].Length, E1000eRig.Guest, E1000eRig.Host), frames[i]);
        }
        Assert.Equal(5000UL, rig.Tx.Stats.Packets);
        Assert.Equal(0, rig.Tx.InFlight);
    }

    [Fact]
    public void A_full_ring_takes_what_fits_and_a_device_that_never_completes_stalls_nothing_but_tx()
    {
        using var rig = new E1000eRig(size: 32);
        var burst = new Mbuf[40];
        for (int i = 0; i < burst.Length; i++) burst[i] = Packet(rig, (uint)i, 64);
        Assert.Equal(31, rig.Tx.Burst(burst));       // one slot stays empty
        for (int i = 0; i < 100; i++) Assert.Equal(0, rig.Tx.Burst(burst.AsSpan(31)));
        Assert.Equal(31, rig.Tx.InFlight);
        Mbuf.Free(burst.AsSpan(31));
        // The device sends ten; their slots free up.
        Assert.Equal(10, rig.Device.Transmit(maxFrames: 10));
        var more = new Mbuf[12];
        for (int i = 0; i < more.Length; i++) more[i] = Packet(rig, 100 + (uint)i, 64);
        Assert.Equal(10, rig.Tx.Burst(more));
        Mbuf.Free(more.AsSpan(10));
        // Drain (in Dispose) gives back the 31 the device never completed.
    }

    [Fact]
    public void Packets_that_can_never_be_sent_are_taken_dropped_and_counted()
    {
        using var rig = new E1000eRig(size: 64, dataRoom: 256, poolSize: 2048);
        var tooManySegments = Packet(rig, 1, 256 * 33);  // 33 segments: over the 32 a packet may have
        var tooLong = Packet(rig, 2, 9019);              // beyond the device's 9018-byte frames
        var empty = rig.Pool.Alloc();
        var fine = Packet(rig, 3, 100);
        Span<Mbuf> burst = [tooManySegments, tooLong, empty, fine];
        Assert.Equal(4, rig.Tx.Burst(burst));
        Assert.Equal(3UL, rig.Tx.Stats.Errors);
        Assert.Equal(1UL, rig.Tx.Stats.Packets);
        var sent = new List<byte[]>();
        Assert.Equal(1, rig.Device.Transmit(sink: sent.Add));
        Assert.Equal(100, sent[0].Length);
    }

    [Fact]
    public void A_buffer_that_crosses_a_page_of_its_pool_is_split_at_the_page()
    {
        using var rig = new E1000eRig(size: 32, hugePages: false);
        Assert.Equal(4096, rig.Pool.Region.PageSize);
        var held = new List<Mbuf>();
        Mbuf crossing = default;
        while (crossing.IsNull)
        {
            var m = Packet(rig, 1, 1500);
            if ((m.DataIova & 4095) + 1500 > 4096) crossing = m;
            else held.Add(m);
        }
        Mbuf.Free(held.ToArray());
        int before = 4096 - (int)(crossing.DataIova & 4095);
        Assert.Equal(1, rig.Tx.Burst(new[] { crossing }));
        Assert.Equal(2, rig.Device.TxQueued);
        Assert.Equal(((byte)0x02, before), rig.Device.TxDescriptor(0));
        Assert.Equal(((byte)0x0B, 1500 - before), rig.Device.TxDescriptor(1));
        var sent = new List<byte[]>();
        Assert.Equal(1, rig.Device.Transmit(sink: sent.Add));
        Assert.Equal(Frames.BuildBytes(1, 1500, E1000eRig.Guest, E1000eRig.Host), sent[0]);
    }
}
