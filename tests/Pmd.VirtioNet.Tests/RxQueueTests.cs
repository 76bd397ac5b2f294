using Pmd.Memory;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Rings;

namespace Pmd.VirtioNet.Tests;

/// <summary>The RX queue against the in-process device model: mergeable frames and a device that lies mid-frame.</summary>
public sealed unsafe class RxQueueTests : IDisposable
{
    private const int Size = 16;
    private readonly Mempool _pool = Mempool.Create("rxq-tests", 256, cacheSize: 0);
    private readonly RingMemory _ringMemory = RingMemory.For(Size, packed: false);
    private readonly SplitRingDevice _device;
    private readonly VirtioRxQueue _rx;

    public RxQueueTests()
    {
        (var ring, _device) = _ringMemory.Split(new RingFeatures(EventIndex: false, InOrder: false, IndirectDescriptors: false));
        _rx = new VirtioRxQueue<SplitRing>(ring, _pool, new NullTransport(), 0, 7, mergeable: true, guestCsum: false);
        _rx.Refill();
    }

    public void Dispose()
    {
        _rx.Drain();
        Assert.Equal(0, _pool.InUse);
        _ringMemory.Dispose();
        _pool.Dispose();
    }

    /// <summary>Writes a frame piece into the next lent buffer: with a header when it starts a frame.</summary>
    private void Fill(int buffers, int length, byte pattern)
    {
        Assert.True(_device.TryPop(out var chain));
        byte* at = (byte*)chain[0].Address;
        int header = 0;
        if (buffers > 0)
        {
            new Span<byte>(at, VirtioNetHeader.Size).Clear();
            ((VirtioNetHeader*)at)->NumBuffers = (ushort)buffers;
            header = VirtioNetHeader.Size;
        }
        new Span<byte>(at + header, length).Fill(pattern);
        _device.PushUsed(chain.Id, (uint)(header + length));
    }

    [Fact]
    public void A_frame_cut_by_a_bogus_used_entry_is_dropped_whole_and_the_stream_recovers()
    {
        Fill(2, 100, 0x11);            // frame 1: 100 + 50 bytes in two buffers
        Fill(0, 50, 0x22);
        Fill(3, 60, 0x33);             // frame 2 starts ...
        _device.PushUsed(999, 10);     // ... and the device names a buffer that does not exist
        Fill(0, 40, 0x44);             // a continuation that now belongs to nothing: read as a frame
                                       // start, its "header" says 0x4444 buffers, so it is dropped
        Fill(1, 64, 0x55);             // frame 3: whole

        var got = new Mbuf[8];
        int n = _rx.Burst(got);
        Assert.Equal(2, n);

        Assert.Equal(150, got[0].PacketLength);
        Assert.Equal(2, got[0].SegmentCount);
        Assert.Equal(7, got[0].Port);
        Assert.True(got[0].Data.ToArray().All(b => b == 0x11));
        Assert.True(got[0].Next.Data.ToArray().All(b => b == 0x22));
        Assert.Equal(50, got[0].Next.DataLength);

        Assert.Equal(64, got[1].PacketLength);
        Assert.True(got[1].Data.ToArray().All(b => b == 0x55));

        Assert.Equal(2UL, _rx.Stats.Errors);    // the bogus entry and the orphaned continuation
        Assert.Equal(1UL, _rx.CorruptEntries);
        Mbuf.Free(got.AsSpan(0, n));
    }

    /// <summary>A split RX queue of its own, without mergeable buffers, and the device model on its ring.</summary>
    private (VirtioRxQueue<SplitRing> Rx, SplitRingDevice Device) NonMergeableQueue(RingMemory memory)
    {
        var (ring, device) = memory.Split(new RingFeatures(EventIndex: false, InOrder: false, IndirectDescriptors: false));
        return (new VirtioRxQueue<SplitRing>(ring, _pool, new NullTransport(), 0, 7, mergeable: false, guestCsum: false), device);
    }

    [Fact]
    public void A_repeated_used_entry_for_a_buffer_lent_again_is_not_a_frame()
    {
        // Its own queue, without mergeable buffers: nothing in the header then gives a stale buffer away.
        using var memory = RingMemory.For(Size, packed: false);
        var (rx, device) = NonMergeableQueue(memory);
        rx.Refill();
        Assert.True(device.TryPop(out var chain));
        byte* at = (byte*)chain[0].Address;
        new Span<byte>(at, VirtioNetHeader.Size).Clear();
        new Span<byte>(at + VirtioNetHeader.Size, 64).Fill(0x66);
        device.PushUsed(chain.Id, VirtioNetHeader.Size + 64);
        var got = new Mbuf[8];
        Assert.Equal(1, rx.Burst(got));
        Mbuf.Free(got.AsSpan(0, 1));
        rx.Refill();                    // the id is lent again, with another mbuf

        // The device reports the same id again, as if it had written the new buffer.
        device.PushUsed(chain.Id, VirtioNetHeader.Size + 64);
        int n = rx.Burst(got);
        Mbuf.Free(got.AsSpan(0, n));
        Assert.Equal(0, n);
        Assert.Equal(1UL, rx.Stats.Errors);
        Assert.Equal(1UL, rx.Stats.Packets);
        rx.Drain();
    }

    [Fact]
    public void Frames_the_device_completed_but_nobody_took_are_counted_by_drain_and_every_buffer_comes_back()
    {
        // A failover release counts what is left on the primary, then stops it: what the device
        // completes in between must not vanish. Drain, after the device stopped, counts it.
        using var memory = RingMemory.For(Size, packed: false);
        var (rx, device) = NonMergeableQueue(memory);
        int inUse = _pool.InUse;
        rx.Refill();
        for (int i = 0; i < 3; i++)
        {
            Assert.True(device.TryPop(out var chain));
            byte* at = (byte*)chain[0].Address;
            new Span<byte>(at, VirtioNetHeader.Size).Clear();
            device.PushUsed(chain.Id, VirtioNetHeader.Size + 64);
        }
        Assert.True(device.TryPop(out var unwritten));
        device.PushUsed(unwritten.Id, VirtioNetHeader.Size + 64);     // returned, but never written

        Assert.Equal(3, rx.Drain());
        Assert.Equal(0UL, rx.Stats.Packets);                          // missed, not received
        Assert.Equal(1UL, rx.Stats.Errors);
        _pool.FlushThreadCache();
        Assert.Equal(inUse, _pool.InUse);
    }
    [Fact]
    public void On_the_slotted_ring_a_used_index_moved_over_entries_the_device_never_rewrote_brings_no_frame()
    {
        // With ids equal to slots, the previous lap's entries name the right slots: only the
        // unwritten mark in each newly lent buffer gives them away.
        using var memory = RingMemory.For(Size, packed: false);
        var (ring, device) = memory.SplitRx(new RingFeatures(EventIndex: false, InOrder: true, IndirectDescriptors: false));
        var rx = new VirtioRxQueue<SplitRxRing>(ring, _pool, new NullTransport(), 0, 7, mergeable: false, guestCsum: false);
        int inUse = _pool.InUse;
        rx.Refill();
        var got = new Mbuf[Size];
        for (int lap = 0; lap < 2; lap++)
        {
            for (int i = 0; i < Size; i++)
            {
                Assert.True(device.TryPop(out var chain));
                Assert.Equal((ushort)i, chain.Id);
                byte* at = (byte*)chain[0].Address;
                new Span<byte>(at, VirtioNetHeader.Size).Clear();
                new Span<byte>(at + VirtioNetHeader.Size, 64).Fill((byte)(lap * Size + i));
                device.PushUsed(chain.Id, VirtioNetHeader.Size + 64);
            }
            int n = rx.Burst(got);
            Assert.Equal(Size, n);
            for (int i = 0; i < n; i++) Assert.True(got[i].Data.ToArray().All(b => b == (byte)(lap * Size + i)));
            Mbuf.Free(got.AsSpan(0, n));
            rx.Refill();
        }
        // The ring is lent again; the device claims four more without writing entry or buffer.
        Assert.Equal(Size, device.Pending);
        device.SetUsedIndex((ushort)(device.UsedIndex + 4));
        Assert.Equal(0, rx.Burst(got));
        Assert.Equal(4UL, rx.Stats.Errors);
        Assert.Equal((ulong)(2 * Size), rx.Stats.Packets);
        Assert.Equal(0UL, rx.CorruptEntries);
        rx.Drain();
        _pool.FlushThreadCache();
        Assert.Equal(inUse, _pool.InUse);
    }
}
