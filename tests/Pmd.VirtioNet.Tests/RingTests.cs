using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Rings;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Both ring layouts against the in-process device model: ordering, wrap-around, corruption, on the
/// scalar path; <see cref="VectorizedRingTests"/> runs every one of them again on the vectorized path.
/// </summary>
public unsafe class RingTests
{
    public static TheoryData<bool> Layouts => new() { false, true };

    /// <summary>Which path the rings under test take (<see cref="RingFeatures.Vectorized"/>).</summary>
    protected virtual bool Vectorized => false;

    private Harness NewHarness(int size, bool packed, RingFeatures features = default) =>
        new(size, packed, features with { Vectorized = Vectorized });

    private sealed class Harness : IDisposable
    {
        private readonly RingMemory _memory;
        public IVirtqueue Ring;
        public readonly SplitRingDevice? Split;
        public readonly PackedRingDevice? Packed;

        private readonly bool _vectorized;

        public Harness(int size, bool packed, RingFeatures features)
        {
            _vectorized = features.Vectorized;
            _memory = RingMemory.For(size, packed, indirectTables: true);
            if (packed)
            {
                var (ring, device) = _memory.Packed(features);
                Ring = ring;
                Packed = device;
            }
            else
            {
                var (ring, device) = _memory.Split(features);
                Ring = ring;
                Split = device;
            }
        }

        /// <summary>One buffer, through AddBuffers on the vectorized path (a batch of one: only its head) and AddBuffer on the scalar one.</summary>
        public bool Add(ulong address, uint length, bool deviceWritable, nint cookie) =>
            _vectorized ? Ring.AddBuffers([new VirtqBuffer(address, length)], [cookie], deviceWritable) == 1
                : Ring.AddBuffer(address, length, deviceWritable, cookie);

        public bool Pop(out DeviceChain chain) => Split?.TryPop(out chain) ?? Packed!.TryPop(out chain);

        public void Used(ushort id, uint length, int descriptors = 1)
        {
            if (Split is not null) Split.PushUsed(id, length);
            else Packed!.PushUsed(id, length, descriptors);
        }

        public void Dispose() => _memory.Dispose();
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Buffers_wrap_around_at_every_queue_size_from_2_to_32768(bool packed)
    {
        for (int size = 2; size <= 32768; size *= 2)
        {
            using var h = NewHarness(size, packed);
            // Three laps, filling the ring half at a time so that positions and ids wrap.
            int half = Math.Max(1, size / 2);
            long cookie = 1, expected = 1;
            for (int lap = 0; lap < 6; lap++)
            {
                // One batch: on the vectorized path, whole descriptors and the head's flags last, across the wrap.
                var batch = new VirtqBuffer[half];
                var cookies = new nint[half];
                for (int i = 0; i < half; i++)
                {
                    batch[i] = new VirtqBuffer((ulong)(0x1000 + cookie), (uint)(cookie % 1500 + 64));
                    cookies[i] = (nint)cookie++;
                }
                Assert.Equal(half, h.Ring.AddBuffers(batch, cookies, deviceWritable: true));
                h.Ring.Publish();
                for (int i = 0; i < half; i++)
                {
                    Assert.True(h.Pop(out var chain), $"size {size}: device sees buffer {i}");
                    Assert.Equal(1, chain.Count);
                    Assert.True(chain.IsWritable(0));
                    h.Used(chain.Id, chain[0].Length - 1);
                }
                for (int i = 0; i < half; i++)
                {
                    Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out nint got, out uint length));
                    Assert.Equal((nint)expected, got);
                    Assert.Equal((uint)(expected % 1500 + 64) - 1, length);
                    expected++;
                }
                Assert.Equal(UsedStatus.Empty, h.Ring.TryGetUsed(out _, out _));
                Assert.Equal(size, h.Ring.FreeCount);
            }
        }
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_full_ring_refuses_more_and_chains_keep_their_segments(bool packed)
    {
        using var h = NewHarness(8, packed);
        VirtqBuffer[] chain = [new(0x100, 12), new(0x200, 100), new(0x300, 200)];
        Assert.True(h.Ring.AddChain(chain, 11));
        Assert.True(h.Ring.AddChain(chain, 12));
        Assert.Equal(2, h.Ring.FreeCount);
        Assert.False(h.Ring.AddChain(chain, 13));
        Assert.True(h.Add(0x400, 64, false, 14));
        Assert.True(h.Add(0x500, 64, false, 15));
        Assert.False(h.Add(0x600, 64, false, 16));
        h.Ring.Publish();

        Assert.True(h.Pop(out var c1));
        Assert.Equal(3, c1.Count);
        Assert.Equal(new VirtqBuffer(0x200, 100), c1[1]);
        Assert.False(c1.IsWritable(2));
        ushort id1 = c1.Id;
        Assert.True(h.Pop(out var c2));
        ushort id2 = c2.Id;
        // Return the second chain first: completion need not follow posting order.
        h.Used(id2, 0, 3);
        h.Used(id1, 0, 3);
        Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out nint first, out _));
        Assert.Equal(12, first);
        Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out nint second, out _));
        Assert.Equal(11, second);
        Assert.Equal(6, h.Ring.FreeCount);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void Corrupt_used_entries_are_counted_and_never_dereferenced(bool packed)
    {
        using var h = NewHarness(8, packed);
        for (int i = 1; i <= 4; i++) h.Add((ulong)(i * 0x1000), 256, true, i);
        h.Ring.Publish();
        for (int i = 0; i < 4; i++) Assert.True(h.Pop(out _));

        h.Used(7, 10);          // an id that was never lent
        h.Used(900, 10);        // an id beyond the ring
        Assert.Equal(UsedStatus.Corrupt, h.Ring.TryGetUsed(out nint c1, out _));
        Assert.Equal(0, c1);
        Assert.Equal(UsedStatus.Corrupt, h.Ring.TryGetUsed(out nint c2, out _));
        Assert.Equal(0, c2);

        h.Used(0, 100_000);     // a length beyond the buffer: the buffer comes back, flagged
        Assert.Equal(UsedStatus.Corrupt, h.Ring.TryGetUsed(out nint c3, out _));
        Assert.Equal(1, c3);

        h.Used(0, 10);          // the same id again: no longer lent
        Assert.Equal(UsedStatus.Corrupt, h.Ring.TryGetUsed(out nint c4, out _));
        Assert.Equal(0, c4);
        Assert.Equal(4UL, h.Ring.CorruptEntries);

        h.Used(1, 20);          // the ring still works for honest entries
        Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out nint c5, out uint len));
        Assert.Equal((2, 20u), (c5, len));

        // What the device never returned is reclaimed on stop.
        var reclaimed = new List<nint>();
        while (h.Ring.TryReclaim(out nint c)) reclaimed.Add(c);
        Assert.Equal([3, 4], reclaimed.Order());
        Assert.Equal(8, h.Ring.FreeCount);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void In_order_devices_may_return_a_batch_with_one_entry(bool packed)
    {
        using var h = NewHarness(16, packed, new RingFeatures(EventIndex: false, InOrder: true, IndirectDescriptors: false));
        for (int i = 1; i <= 5; i++) h.Add((ulong)(i * 0x1000), 64, false, i);
        h.Ring.Publish();
        ushort last = 0;
        for (int i = 0; i < 5; i++) { Assert.True(h.Pop(out var c)); last = c.Id; }
        h.Used(last, 0, 5);     // one used entry for all five
        var done = new List<nint>();
        while (h.Ring.TryGetUsed(out nint c, out _) == UsedStatus.Ok) done.Add(c);
        Assert.Equal([1, 2, 3, 4, 5], done);
        Assert.Equal(16, h.Ring.FreeCount);
        // The next buffer lands where the device expects it.
        h.Add(0x9000, 64, false, 6);
        h.Ring.Publish();
        Assert.True(h.Pop(out var next));
        h.Used(next.Id, 0);
        Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out nint six, out _));
        Assert.Equal(6, six);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Completed_buffers_are_taken_in_batches_per_entry_or_per_in_order_batch(bool packed, bool inOrder)
    {
        using var h = NewHarness(16, packed, new RingFeatures(EventIndex: false, InOrder: inOrder, IndirectDescriptors: false));
        var ids = new List<ushort>();
        for (int i = 1; i <= 10; i++) h.Add((ulong)(i * 0x1000), 64, false, i);
        h.Ring.Publish();
        while (h.Pop(out var c)) ids.Add(c.Id);
        Span<nint> taken = stackalloc nint[4];
        Assert.Equal(0, h.Ring.TakeCompleted(taken));
        if (inOrder)
        {
            h.Used(ids[6], 0, 7);   // one entry for the first seven
        }
        else
        {
            for (int i = 6; i >= 0; i--) h.Used(ids[i], 0);
        }
        var done = new List<nint>();
        int n;
        while ((n = h.Ring.TakeCompleted(taken)) > 0)
        {
            Assert.True(n <= 4);
            for (int i = 0; i < n; i++) done.Add(taken[i]);
        }
        Assert.Equal(inOrder ? [1, 2, 3, 4, 5, 6, 7] : [7, 6, 5, 4, 3, 2, 1], done);
        Assert.Equal(13, h.Ring.FreeCount);
        Assert.Equal(0UL, h.Ring.CorruptEntries);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void An_in_order_ring_taken_back_by_reclaim_lends_its_whole_size_again(bool packed)
    {
        // Found by the split-ring fuzz target: reclaim goes by id, not in order, and used to leave
        // the in-order record behind, so lending the whole ring again indexed past it.
        using var h = NewHarness(4, packed, new RingFeatures(EventIndex: true, InOrder: true, IndirectDescriptors: false));
        // One honest round first, so that the next two buffers get ids in falling order.
        for (int i = 0; i < 3; i++) Assert.True(h.Add((ulong)(0x100 * (i + 1)), 64, true, 100 + i));
        h.Ring.Publish();
        while (h.Pop(out var c)) h.Used(c.Id, 1);
        for (int i = 0; i < 3; i++) Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out _, out _));
        Assert.True(h.Add(0x400, 64, true, 1));
        Assert.True(h.Add(0x500, 64, true, 2));
        h.Ring.Publish();
        var reclaimed = new List<nint>();
        while (h.Ring.TryReclaim(out nint c)) reclaimed.Add(c);
        Assert.Equal([1, 2], reclaimed.Order());
        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 4; i++) Assert.True(h.Add((ulong)(0x1000 * (i + 1)), 64, true, 10 + i));
            Assert.Equal(0, h.Ring.FreeCount);
            while (h.Ring.TryReclaim(out _)) { }
            Assert.Equal(4, h.Ring.FreeCount);
        }
    }

    [Fact]
    public void The_in_order_record_keeps_the_oldest_through_returns_out_of_order()
    {
        // Found by the ring fuzz targets: a device that returns buffers out of order under
        // IN_ORDER leaves holes in the driver's order record; when it filled up, compacting it
        // kept the old place of the id being lent again, and the record overran its oldest entry.
        var table = new InflightTable(4, trackOrder: true);
        for (ushort id = 0; id < 4; id++) table.Add(id, 10 + id, 1, 0);
        Assert.Equal(12, table.Remove(2));     // out of order: a hole
        table.Add(2, 22, 1, 0);                 // the record is full: compacted first
        Assert.Equal(0, table.Oldest);
        table.Remove(0);
        table.Remove(1);
        Assert.Equal(3, table.Oldest);
        table.Remove(3);
        Assert.Equal(2, table.Oldest);
        Assert.Equal(22, table.Remove(2));
        Assert.Equal(-1, table.Oldest);
        Assert.Equal(0, table.Count);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void An_indirect_chain_takes_one_slot_and_the_device_reads_every_segment(bool packed)
    {
        using var h = NewHarness(4, packed, new RingFeatures(EventIndex: false, InOrder: false, IndirectDescriptors: true));
        VirtqBuffer[] chain = [new(0x100, 12), new(0x200, 1000), new(0x300, 2000), new(0x400, 48)];
        for (int i = 1; i <= 4; i++) Assert.True(h.Ring.AddIndirect(chain, i));
        Assert.Equal(0, h.Ring.FreeCount);
        Assert.False(h.Ring.AddIndirect(chain, 5));
        Assert.False(h.Ring.AddIndirect(new VirtqBuffer[IndirectTables.MaxEntries + 1], 6));
        h.Ring.Publish();
        for (int i = 0; i < 4; i++)
        {
            Assert.True(h.Pop(out var c));
            Assert.Equal(4, c.Count);
            for (int s = 0; s < 4; s++) Assert.Equal(chain[s], c[s]);
            Assert.False(c.IsWritable(3));
            h.Used(c.Id, 0);
        }
        for (int i = 1; i <= 4; i++)
        {
            Assert.Equal(UsedStatus.Ok, h.Ring.TryGetUsed(out nint cookie, out _));
            Assert.Equal(i, cookie);
        }
        Assert.Equal(4, h.Ring.FreeCount);
    }

    [Theory]
    [MemberData(nameof(Layouts))]
    public void A_command_chain_ends_in_a_writable_ack_whose_length_is_checked(bool packed)
    {
        using var h = NewHarness(8, packed);
        Assert.True(h.Ring.AddChain([new(0x100, 2), new(0x102, 6), new(0x400, 1)], 2, 42));
        h.Ring.Publish();
        Assert.True(h.Pop(out var c));
        Assert.Equal([false, false, true], new[] { c.IsWritable(0), c.IsWritable(1), c.IsWritable(2) });
        h.Used(c.Id, 2, 3);     // more than the one writable byte: flagged, but the buffer is back
        Assert.Equal(UsedStatus.Corrupt, h.Ring.TryGetUsed(out nint cookie, out _));
        Assert.Equal(42, cookie);
        Assert.Equal(8, h.Ring.FreeCount);
    }

    [Fact]
    public void Without_the_feature_no_indirect_chain_is_made()
    {
        using var h = NewHarness(4, packed: false);
        Assert.False(h.Ring.AddIndirect([new(0x100, 12), new(0x200, 10)], 1));
        Assert.Equal(4, h.Ring.FreeCount);
    }

    [Fact]
    public void In_order_split_rings_hand_out_descriptors_in_ring_order()
    {
        using var h = NewHarness(8, packed: false, new RingFeatures(EventIndex: false, InOrder: true, IndirectDescriptors: false));
        var seen = new List<int>();
        for (int round = 0; round < 5; round++)
        {
            h.Ring.AddChain([new(0x100, 10), new(0x200, 10)], 1);
            h.Add(0x300, 10, false, 2);
            h.Add(0x400, 10, false, 3);
            h.Ring.Publish();
            ushort last = 0;
            while (h.Pop(out var c)) { seen.Add(c.Id); last = c.Id; }
            h.Used(last, 0);
            while (h.Ring.TryGetUsed(out _, out _) == UsedStatus.Ok) { }
            Assert.Equal(8, h.Ring.FreeCount);
        }
        // Heads of 2+1+1 descriptors per round, wrapping around the 8-entry table: 0, 2, 3, 4, 6, 7, 0, ...
        Assert.Equal([0, 2, 3, 4, 6, 7, 0, 2, 3, 4, 6, 7, 0, 2, 3], seen);
    }

    [Fact]
    public void Split_notifications_follow_the_no_notify_flag_and_the_event_index()
    {
        using var plain = NewHarness(16, packed: false);
        plain.Ring.AddBuffer(0x1000, 64, false, 1);
        plain.Ring.Publish();
        Assert.True(plain.Ring.NeedsNotify());
        Assert.False(plain.Ring.NeedsNotify()); // nothing new since
        plain.Split!.SetNoNotify(true);
        plain.Ring.AddBuffer(0x2000, 64, false, 2);
        plain.Ring.Publish();
        Assert.False(plain.Ring.NeedsNotify());

        using var evt = NewHarness(16, packed: false, new RingFeatures(true, false, false));
        evt.Split!.SetAvailEvent(2);            // kick me once avail idx passes 2
        evt.Ring.AddBuffer(0x1000, 64, false, 1);
        evt.Ring.AddBuffer(0x1000, 64, false, 2);
        evt.Ring.Publish();
        Assert.False(evt.Ring.NeedsNotify());   // idx went 0 -> 2: entry 2 not yet made available
        evt.Ring.AddBuffer(0x1000, 64, false, 3);
        evt.Ring.Publish();
        Assert.True(evt.Ring.NeedsNotify());    // 2 -> 3 crosses it
        evt.Ring.SuppressInterrupts();
        Assert.Equal(1, evt.Split.AvailFlags);
    }

    [Fact]
    public void Packed_notifications_follow_the_device_event_suppression_area()
    {
        using var h = NewHarness(8, packed: true, new RingFeatures(true, false, false));
        h.Add(0x1000, 64, false, 1);
        Assert.True(h.Ring.NeedsNotify());      // ENABLE by default
        h.Packed!.SetDeviceEvent(flags: 1);     // DISABLE
        h.Add(0x1000, 64, false, 2);
        Assert.False(h.Ring.NeedsNotify());
        h.Packed.SetDeviceEvent(flags: 2, offsetWrap: 0x8000 | 3); // DESC: position 3 in lap 1
        h.Add(0x1000, 64, false, 3);
        Assert.False(h.Ring.NeedsNotify());     // position 2 made available
        h.Add(0x1000, 64, false, 4);
        Assert.True(h.Ring.NeedsNotify());      // position 3 made available
        h.Ring.SuppressInterrupts();
        Assert.Equal(1, h.Packed.DriverEventFlags);
    }
}

/// <summary>Every ring test again, on the rings' vectorized path.</summary>
public sealed class VectorizedRingTests : RingTests
{
    protected override bool Vectorized => true;
}
