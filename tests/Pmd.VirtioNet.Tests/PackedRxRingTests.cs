using Pmd.Memory;
using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Net;
using Pmd.VirtioNet.Rings;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// The packed RX ring whose buffer ids are its positions, against the in-process device model:
/// ring order, wrap-around, and the lies a device can tell in a used descriptor. Scalar here;
/// <see cref="VectorizedPackedRxRingTests"/> runs every test again with batches written in
/// 16-byte stores, head flags last.
/// </summary>
public unsafe class PackedRxRingTests
{
    protected virtual bool Vectorized => false;

    private sealed class Harness : IDisposable
    {
        private readonly RingMemory _memory;
        public PackedRxRing Ring;
        public readonly PackedRingDevice Device;
        private long _nextCookie = 1;

        public Harness(int size, bool vectorized)
        {
            _memory = RingMemory.For(size, packed: true);
            (Ring, Device) = _memory.PackedRx(new RingFeatures(EventIndex: false, InOrder: true, IndirectDescriptors: false, vectorized));
        }

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
        }

        /// <summary>The device takes what is available and returns each, naming <paramref name="id"/>'s choice, with <paramref name="length"/>'s.</summary>
        public List<ushort> UseAll(Func<ushort, uint>? length = null, Func<ushort, ushort>? id = null)
        {
            var ids = new List<ushort>();
            while (Device.TryPop(out var chain))
            {
                Assert.Equal(1, chain.Count);
                Assert.True(chain.IsWritable(0));
                ids.Add(chain.Id);
                Device.PushUsed(id?.Invoke(chain.Id) ?? chain.Id, length?.Invoke(chain.Id) ?? (uint)(chain[0].Address / 0x10000 % 900));
            }
            return ids;
        }

        public (nint[] Cookies, uint[] Lengths) Take(int max = 64)
        {
            var cookies = new nint[max];
            var lengths = new uint[max];
            int n = Ring.TakeUsed(cookies, lengths);
            return (cookies[..n], lengths[..n]);
        }

        public void Dispose() => _memory.Dispose();
    }

    [Fact]
    public void Buffers_go_out_in_ring_order_with_ids_equal_to_positions_and_come_back_with_their_lengths_at_every_size()
    {
        for (int size = 2; size <= 32768; size *= 2)
        {
            using var h = new Harness(size, Vectorized);
            long expected = 1;
            int batch = Math.Max(1, size * 3 / 4);
            for (int round = 0; round < 6; round++)
            {
                h.Lend(batch);
                Assert.Equal(size - batch, h.Ring.FreeCount);
                var ids = h.UseAll();
                Assert.Equal(batch, ids.Count);
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
    [InlineData(0, 3)]
    [InlineData(5, 1)]
    [InlineData(7, 1000)]
    public void An_entry_that_names_another_id_is_rejected_with_its_positions_buffer_and_the_rest_come_through(int liar, int named)
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(8);
        h.UseAll(length: _ => 100, id: pos => pos == liar ? (ushort)named : pos);
        var (cookies, lengths) = h.Take();
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], cookies);
        for (int i = 0; i < 8; i++) Assert.Equal(i == liar ? CompletedBuffers.Rejected : 100u, lengths[i]);
        Assert.Equal(1UL, h.Ring.CorruptEntries);
        Assert.Equal(8, h.Ring.FreeCount);
    }

    [Fact]
    public void A_length_past_the_buffer_is_rejected_and_a_length_that_fills_it_is_not()
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(8, capacity: 512);
        h.UseAll(length: pos => pos == 3 ? 513u : pos == 6 ? 512u : 60u);
        var (_, lengths) = h.Take();
        Assert.Equal(CompletedBuffers.Rejected, lengths[3]);
        Assert.Equal(512u, lengths[6]);
        Assert.Equal(60u, lengths[7]);
        Assert.Equal(1UL, h.Ring.CorruptEntries);
    }

    [Fact]
    public void A_take_stops_at_the_first_entry_not_used_yet_and_at_the_space_given()
    {
        using var h = new Harness(16, Vectorized);
        h.Lend(10);
        for (int i = 0; i < 7; i++)
        {
            Assert.True(h.Device.TryPop(out var chain));
            h.Device.PushUsed(chain.Id, 70);
        }
        var cookies = new nint[4];
        var lengths = new uint[4];
        Assert.Equal(4, h.Ring.TakeUsed(cookies, lengths));
        Assert.Equal([1, 2, 3, 4], cookies);
        Assert.Equal(3, h.Ring.TakeUsed(cookies, lengths));
        Assert.Equal([5, 6, 7], cookies[..3]);
        Assert.Equal(0, h.Ring.TakeUsed(cookies, lengths));
        Assert.False(h.Ring.IsStalled);
        Assert.Equal(13, h.Ring.FreeCount);
    }

    [Fact]
    public void Flags_of_neither_lap_take_nothing_count_one_stall_and_the_ring_recovers_when_the_device_writes_them_right()
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(4);
        Assert.True(h.Device.TryPop(out _));
        // AVAIL set, USED clear is "available" in lap 1; the reverse is neither available nor used.
        h.Device.WriteFlagsAtUsedPosition(PackedDescriptor.Used);
        for (int i = 0; i < 3; i++) Assert.Empty(h.Take().Cookies);
        Assert.True(h.Ring.IsStalled);
        Assert.Equal(1UL, h.Ring.Stalls);
        h.Device.PushUsed(0, 64);
        Assert.Equal([1], h.Take().Cookies);
        Assert.False(h.Ring.IsStalled);
        Assert.Equal(0UL, h.Ring.CorruptEntries);
    }

    [Fact]
    public void An_entry_marked_used_while_nothing_is_lent_is_a_stall_and_nothing_is_taken()
    {
        using var h = new Harness(8, Vectorized);
        h.Device.PushUsed(0, 64);
        Assert.Empty(h.Take().Cookies);
        Assert.Equal(1UL, h.Ring.Stalls);
        Assert.Equal(8, h.Ring.FreeCount);
    }

    [Fact]
    public void Reclaim_gives_back_every_buffer_still_lent_once_in_ring_order_across_the_wrap()
    {
        using var h = new Harness(8, Vectorized);
        h.Lend(6);
        for (int i = 0; i < 6; i++)
        {
            Assert.True(h.Device.TryPop(out var chain));
            h.Device.PushUsed(chain.Id, 64);
        }
        Assert.Equal(6, h.Take().Cookies.Length);
        h.Lend(5);
        var back = new List<nint>();
        while (h.Ring.TryReclaim(out nint cookie)) back.Add(cookie);
        Assert.Equal([7, 8, 9, 10, 11], back);
        Assert.Equal(8, h.Ring.FreeCount);
        Assert.Empty(h.Take().Cookies);
    }

    [Fact]
    public void A_used_entry_whose_buffer_the_device_never_wrote_is_not_a_frame()
    {
        using var memory = RingMemory.For(8, packed: true);
        using var pool = Mempool.Create("packed-rx-mark", 64, cacheSize: 0);
        var (ring, device) = memory.PackedRx(new RingFeatures(EventIndex: false, InOrder: true, IndirectDescriptors: false, Vectorized));
        var rx = new VirtioRxQueue<PackedRxRing>(ring, pool, new NullTransport(), 0, 3, mergeable: false, guestCsum: false);
        rx.Refill();
        Assert.True(device.TryPop(out var written));
        byte* at = (byte*)written[0].Address;
        new Span<byte>(at, VirtioNetHeader.Size).Clear();
        new Span<byte>(at + VirtioNetHeader.Size, 60).Fill(0x5A);
        device.PushUsed(written.Id, VirtioNetHeader.Size + 60);
        Assert.True(device.TryPop(out var unwritten));
        device.PushUsed(unwritten.Id, VirtioNetHeader.Size + 60);
        var got = new Mbuf[8];
        Assert.Equal(1, rx.Burst(got));
        Assert.True(got[0].Data.ToArray().All(b => b == 0x5A));
        Mbuf.Free(got.AsSpan(0, 1));
        Assert.Equal(1UL, rx.Stats.Errors);
        Assert.Equal(1UL, rx.Stats.Packets);
        rx.Drain();
        pool.FlushThreadCache();
        Assert.Equal(0, pool.InUse);
    }
}

/// <summary>Every PackedRxRing test again, with batches written as the vectorized path writes them.</summary>
public sealed class VectorizedPackedRxRingTests : PackedRxRingTests
{
    protected override bool Vectorized => true;
}
