using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Rings;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// The RX ring whose buffer ids are its slots, against the in-process device model: ring order,
/// wrap-around, and every lie a device can tell about what it used. Scalar here;
/// <see cref="VectorizedSplitRxRingTests"/> runs every test again on the path that checks four
/// used entries per load, whose validation must hold the same.
/// </summary>
public unsafe class SplitRxRingTests
{
    protected virtual bool Vectorized => false;

    private sealed class Harness : IDisposable
    {
        private readonly RingMemory _memory;
        public SplitRxRing Ring;
        public readonly SplitRingDevice Device;
        private long _nextCookie = 1;

        public Harness(int size, bool vectorized, bool eventIndex = false)
        {
            _memory = RingMemory.For(size, packed: false);
            (Ring, Device) = _memory.SplitRx(new RingFeatures(eventIndex, InOrder: true, IndirectDescriptors: false, vectorized));
        }

        /// <summary>Lends <paramref name="count"/> buffers of <paramref name="capacity"/> bytes, cookies counting up, each at 0x10000 times its cookie.</summary>
        public void Lend(int count, uint capacity = 1000)
        {
            var buffers = new VirtqBuffer[count];
            var cookies = new nint[count];
            for (int i = 0; i < count; i++)
            {
                cookies[i] = (nint)_nextCookie++;
                buffers[i] = new VirtqBuffer((ulong)cookies[i] * 0x10000, capacity);
            }
            Assert.Equal(count, Ring.AddBuffers(buffers, cookies, deviceWritable: true));
            Ring.Publish();
        }

        /// <summary>The device takes everything made available and returns each with its cookie's length, in order.</summary>
        public List<ushort> UseAll(Func<ushort, uint>? length = null)
        {
            var ids = new List<ushort>();
            while (Device.TryPop(out var chain))
            {
                Assert.Equal(1, chain.Count);
                Assert.True(chain.IsWritable(0));
                ids.Add(chain.Id);
                Device.PushUsed(chain.Id, length?.Invoke(chain.Id) ?? (uint)(chain[0].Address / 0x10000 % 900), publish: false);
            }
            Device.Publish();
            return ids;
        }

        public (nint[] Cookies, uint[] Lengths) Take(int max = 64)
        {
            var cookies = new nint[max];
            var lengths = new uint[max];
            int n = Ring.TakeUsed(cookies, lengths);
            return (cookies[..n], lengths[..n]);
        }

        public byte* Address => (byte*)_memory.Address;

        public void Dispose() => _memory.Dispose();
    }

    [Fact]
    public void Buffers_go_out_in_ring_order_with_ids_equal_to_slots_and_come_back_with_their_lengths_at_every_size()
    {
        for (int size = 2; size <= 32768; size *= 2)
        {
            using var h = new Harness(size, Vectorized);
            long expected = 1;
            int batch = Math.Max(1, size * 3 / 4);
            // Batches of three quarters of the ring, so positions wrap mid-batch, for several laps.
            for (int round = 0; round < 6; round++)
            {
                h.Lend(batch);
                Assert.Equal(size - batch, h.Ring.FreeCount);
                var ids = h.UseAll();
                for (int i = 0; i < ids.Count; i++) Assert.Equal((ushort)((expected - 1 + i) % size), ids[i]);
                var (cookies, lengths) = h.Take(batch + 1);
                Assert.Equal(batch, cookies.Length);
                for (int i = 0; i < batch; i++, expected++)
                {
                    Assert.Equal((nint)expected, cookies[i]);
                    Assert.Equal((uint)(expected % 900), lengths[i]);
                }
                Assert.Equal(size, h.Ring.FreeCount);
            }
            Assert.Equal(0UL, h.Ring.CorruptEntries);
        }
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    [InlineData(5)]
    [InlineData(7)]
    public void An_entry_that_names_another_slot_is_rejected_with_its_slots_buffer_and_the_rest_come_through(int liar)
    {
        using var h = new Harness(16, Vectorized);
        h.Lend(8);
        h.UseAll(id => 100);
        // The device rewrites one entry to name a slot it was also given: the buffer at the
        // entry's own position comes back rejected (it is ours again), the named one is not taken twice.
        h.Device.SetUsedIndex((ushort)liar);
        h.Device.PushUsed((uint)((liar + 3) % 8), 100);
        h.Device.SetUsedIndex(8);
        var (cookies, lengths) = h.Take();
        Assert.Equal(8, cookies.Length);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal((nint)(i + 1), cookies[i]);
            Assert.Equal(i == liar ? CompletedBuffers.Rejected : 100u, lengths[i]);
        }
        Assert.Equal(1UL, h.Ring.CorruptEntries);
        Assert.Equal(16, h.Ring.FreeCount);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1000u)]
    public void An_id_past_the_ring_is_rejected(uint offset)
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(4);
        h.UseAll(id => 64);
        h.Device.SetUsedIndex(1);
        h.Device.PushUsed(8 + offset, 64);
        h.Device.SetUsedIndex(4);
        var (cookies, lengths) = h.Take();
        Assert.Equal([1, 2, 3, 4], cookies);
        Assert.Equal([64u, CompletedBuffers.Rejected, 64u, 64u], lengths);
        Assert.Equal(1UL, h.Ring.CorruptEntries);
    }

    [Fact]
    public void A_length_past_the_buffer_is_rejected_and_a_length_that_fills_it_is_not()
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(8, capacity: 512);
        h.UseAll(id => id == 3 ? 513u : id == 6 ? 512u : 60u);
        var (cookies, lengths) = h.Take();
        Assert.Equal(8, cookies.Length);
        Assert.Equal(CompletedBuffers.Rejected, lengths[3]);
        Assert.Equal(512u, lengths[6]);
        Assert.Equal(60u, lengths[7]);
        Assert.Equal(1UL, h.Ring.CorruptEntries);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(1000)]
    [InlineData(65535)]
    public void A_used_index_past_what_is_lent_takes_nothing_counts_one_stall_and_recovers(int jump)
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(4);
        h.UseAll(id => 64);
        h.Device.SetUsedIndex((ushort)jump);
        for (int i = 0; i < 3; i++) Assert.Empty(h.Take().Cookies);
        Assert.True(h.Ring.IsStalled);
        Assert.Equal(1UL, h.Ring.Stalls);
        Assert.Equal(4, h.Ring.FreeCount);
        h.Device.SetUsedIndex(4);
        Assert.Equal([1, 2, 3, 4], h.Take().Cookies);
        Assert.False(h.Ring.IsStalled);
    }

    [Fact]
    public void A_take_stops_at_the_used_index_and_at_the_space_given_and_goes_on_from_there()
    {
        using var h = new Harness(32, Vectorized);
        h.Lend(20);
        h.UseAll(id => 70);
        h.Device.SetUsedIndex(11);
        var cookies = new nint[6];
        var lengths = new uint[6];
        Assert.Equal(6, h.Ring.TakeUsed(cookies, lengths));
        Assert.Equal([1, 2, 3, 4, 5, 6], cookies);
        Assert.Equal(5, h.Ring.TakeUsed(cookies, lengths));
        Assert.Equal([7, 8, 9, 10, 11], cookies[..5]);
        Assert.Equal(0, h.Ring.TakeUsed(cookies, lengths));
        h.Device.SetUsedIndex(20);
        Assert.Equal(6, h.Ring.TakeUsed(cookies, lengths));
        Assert.Equal(12, cookies[0]);
        Assert.Equal(0UL, h.Ring.CorruptEntries);
    }

    [Fact]
    public void Reclaim_gives_back_every_buffer_still_lent_once_in_ring_order()
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(6);
        h.UseAll(id => 64);
        h.Device.SetUsedIndex(2);
        Assert.Equal([1, 2], h.Take().Cookies);
        h.Lend(3);
        var back = new List<nint>();
        while (h.Ring.TryReclaim(out nint cookie)) back.Add(cookie);
        Assert.Equal([3, 4, 5, 6, 7, 8, 9], back);
        Assert.Equal(8, h.Ring.FreeCount);
        Assert.Empty(h.Take().Cookies);
    }

    [Fact]
    public void A_device_that_overwrites_the_avail_ring_confuses_only_itself_and_every_buffer_comes_back()
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(8);
        Assert.Equal([0, 1, 2, 3, 4, 5, 6, 7], h.UseAll(id => 64));
        Assert.Equal(8, h.Take().Cookies.Length);
        // The driver wrote the avail ring once and never reads it back: a device that scribbles
        // over it then reads slot 5 eight times, and its used entries say so.
        var availRing = (ushort*)(h.Address + SplitRingLayout.For(8).AvailOffset + 4);
        for (int i = 0; i < 8; i++) availRing[i] = 5;
        h.Lend(8);
        Assert.All(h.UseAll(id => 64), id => Assert.Equal(5, id));
        var (cookies, lengths) = h.Take();
        Assert.Equal([9, 10, 11, 12, 13, 14, 15, 16], cookies);
        for (int i = 0; i < 8; i++) Assert.Equal(i == 5 ? 64u : CompletedBuffers.Rejected, lengths[i]);
        Assert.Equal(7UL, h.Ring.CorruptEntries);
        Assert.Equal(8, h.Ring.FreeCount);
    }

    [Fact]
    public void Event_index_keeps_the_devices_interrupts_half_a_ring_index_space_away()
    {
        using var h = new Harness(8, Vectorized, eventIndex: true);
        h.Ring.SuppressInterrupts();
        Assert.Equal(1, h.Device.AvailFlags);
        Assert.Equal(0x8000, h.Device.UsedEvent);
        h.Device.SetAvailEvent(0);
        h.Lend(1);
        Assert.True(h.Ring.NeedsNotify());
        h.Lend(1);
        Assert.False(h.Ring.NeedsNotify());
    }
}

/// <summary>Every SplitRxRing test again, on the path that takes four used entries per load.</summary>
public sealed class VectorizedSplitRxRingTests : SplitRxRingTests
{
    protected override bool Vectorized => true;
}
