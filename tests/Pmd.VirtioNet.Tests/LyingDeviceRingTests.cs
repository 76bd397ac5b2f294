using Pmd.TestSupport.Virtio;
using Pmd.VirtioNet.Rings;

namespace Pmd.VirtioNet.Tests;

/// <summary>
/// Regression tests for the ways a hostile vhost-user backend broke the rings (issue 13): each
/// drives the ring with the in-process device model telling the same lie, and asserts that nothing
/// was taken that the device never returned, that the ring stays in step, and that it recovers.
/// Buffers are lent in batches (AddBuffers); <see cref="VectorizedLyingDeviceRingTests"/> runs every
/// test again on the vectorized path, whose validation must hold the same.
/// </summary>
public unsafe class LyingDeviceRingTests : IDisposable
{
    private const int Size = 8;
    private readonly RingMemory _ringMemory = RingMemory.ForEitherLayout(Size);
    private readonly nint _memory;

    public LyingDeviceRingTests() => _memory = _ringMemory.Address;

    public void Dispose()
    {
        _ringMemory.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Which path the rings under test take (<see cref="RingFeatures.Vectorized"/>).</summary>
    protected virtual bool Vectorized => false;

    private RingFeatures Features(bool inOrder) => new(EventIndex: false, InOrder: inOrder, IndirectDescriptors: false, Vectorized);

    /// <summary>Lends <paramref name="count"/> single-buffer chains in one batch, cookies from <paramref name="firstCookie"/>, at 0x1000 times the cookie.</summary>
    private static void Lend<TRing>(ref TRing ring, int count, int firstCookie, uint length, bool writable) where TRing : struct, IVirtqueue
    {
        var buffers = new VirtqBuffer[count];
        var cookies = new nint[count];
        for (int i = 0; i < count; i++)
        {
            buffers[i] = new VirtqBuffer((ulong)(0x1000 * (firstCookie + i)), length);
            cookies[i] = firstCookie + i;
        }
        Assert.Equal(count, ring.AddBuffers(buffers, cookies, writable));
    }

    /// <summary>Lends <paramref name="count"/> writable buffers with cookies from <paramref name="firstCookie"/>; returns the ids the device saw.</summary>
    private static List<ushort> LendWritable(ref SplitRing ring, SplitRingDevice device, int count, int firstCookie)
    {
        Lend(ref ring, count, firstCookie, 256, writable: true);
        ring.Publish();
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);
        return ids;
    }

    [Theory]
    [InlineData(false, 1000)]
    [InlineData(false, 65000)]
    [InlineData(true, 1000)]
    [InlineData(true, 65000)]
    public void Split_ring_takes_nothing_from_a_used_index_that_jumps_past_what_is_lent(bool inOrder, int jump)
    {
        var ring = new SplitRing((byte*)_memory, Size, Features(inOrder));
        var device = new SplitRingDevice(_memory, Size);
        // One honest lap leaves a used entry for every id in the ring: stale entries to lie with.
        foreach (var id in LendWritable(ref ring, device, Size, 1)) device.PushUsed(id, 100);
        for (int i = 0; i < Size; i++) Assert.Equal(UsedStatus.Ok, ring.TryGetUsed(out _, out _));
        var ids = LendWritable(ref ring, device, Size, 101);

        device.PushUsed(ids[0], 60);
        ushort honest = device.UsedIndex;
        device.SetUsedIndex((ushort)(honest + jump));
        Assert.Equal(UsedStatus.Empty, ring.TryGetUsed(out nint cookie, out _));
        Assert.Equal(0, cookie);
        Assert.Equal(UsedStatus.Empty, ring.TryGetUsed(out _, out _));
        Assert.True(ring.IsStalled);
        Assert.Equal(1UL, ring.Stalls);          // one episode, however often it is looked at
        Assert.Equal(Size, Size - ring.FreeCount);

        // The device takes its lie back: the real entry comes through, with its own length.
        device.SetUsedIndex(honest);
        Assert.Equal(UsedStatus.Ok, ring.TryGetUsed(out cookie, out uint length));
        Assert.Equal((101, 60u), (cookie, length));
        Assert.False(ring.IsStalled);
        Assert.Equal(UsedStatus.Empty, ring.TryGetUsed(out _, out _));
        Assert.Equal(0UL, ring.CorruptEntries);
    }

    [Theory]
    [InlineData(900)]      // an id beyond the ring
    [InlineData(-1)]       // the previous completion reported again
    public void Split_in_order_tx_completes_a_batch_whose_newest_entry_lies(int badId)
    {
        var ring = new SplitRing((byte*)_memory, Size, Features(inOrder: true));
        var device = new SplitRingDevice(_memory, Size);
        Lend(ref ring, Size, 1, 64, writable: false);
        ring.Publish();
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);
        Assert.Equal(0, ring.FreeCount);     // a full TX ring: no later entry will come to fix things

        // The device returns all eight, one entry each, but the newest names the wrong id.
        for (int i = 0; i < Size - 1; i++) device.PushUsed(ids[i], 0);
        device.PushUsed(badId < 0 ? ids[Size - 2] : (uint)badId, 0);

        Span<nint> done = stackalloc nint[16];
        int n = ring.TakeCompleted(done);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], done[..n].ToArray());
        Assert.Equal(Size, ring.FreeCount);
        Assert.Equal(1UL, ring.CorruptEntries);
    }

    [Fact]
    public void Split_in_order_tx_takes_nothing_from_more_entries_than_chains_lent()
    {
        var ring = new SplitRing((byte*)_memory, Size, Features(inOrder: true));
        var device = new SplitRingDevice(_memory, Size);
        Lend(ref ring, 4, 1, 64, writable: false);
        ring.Publish();
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);
        for (int i = 0; i < 5; i++) device.PushUsed(ids[3], 0);    // five entries for four chains
        Span<nint> done = stackalloc nint[16];
        Assert.Equal(0, ring.TakeCompleted(done));
        Assert.Equal(1UL, ring.Stalls);
        device.SetUsedIndex((ushort)(device.UsedIndex - 1));        // four entries: plausible again
        Assert.Equal(4, ring.TakeCompleted(done));
        Assert.Equal(Size, ring.FreeCount);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Packed_in_order_rx_stays_in_step_after_a_bad_or_repeated_id(bool repeated)
    {
        var ring = new PackedRing((byte*)_memory, Size, Features(inOrder: true));
        var device = new PackedRingDevice(_memory, Size);
        Lend(ref ring, Size, 1, 256, writable: true);
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);

        device.PushUsed(ids[0], 10);
        if (repeated)
        {
            device.PushUsed(ids[0], 11);         // an extra entry repeating a completion
            device.PushUsed(ids[1], 12);
        }
        else
        {
            device.PushUsed(900, 11);            // the second buffer's entry with a bad id
        }
        device.PushUsed(ids[2], 13);
        device.PushUsed(ids[3], 14);

        var frames = new List<(nint, uint)>();
        for (int i = 0; i < 8; i++)
        {
            var status = ring.TryGetUsed(out nint cookie, out uint length);
            if (status == UsedStatus.Empty) break;
            if (status == UsedStatus.Ok) frames.Add((cookie, length));
        }
        // Every frame taken is one the device returned, with its own length; none has length 0.
        var expected = repeated ? new List<(nint, uint)> { (1, 10), (2, 12), (3, 13), (4, 14) } : [(1, 10), (3, 13), (4, 14)];
        Assert.Equal(expected, frames);
        Assert.Equal(1UL, ring.CorruptEntries);

        // Still in step: the next entries are taken where the device writes them.
        device.PushUsed(ids[4], 15);
        Assert.Equal(UsedStatus.Ok, ring.TryGetUsed(out nint next, out uint nextLength));
        Assert.Equal((5, 15u), (next, nextLength));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Packed_in_order_tx_stays_in_step_after_a_bad_or_repeated_id(bool repeated)
    {
        // Chains of two descriptors, so that a wrong step shows: the old ring stepped one slot
        // over a lying entry, kept the chain lent, and skipped its slots again in the next batch.
        var ring = new PackedRing((byte*)_memory, Size, Features(inOrder: true));
        var device = new PackedRingDevice(_memory, Size);
        for (int i = 1; i <= Size / 2; i++)
            Assert.True(ring.AddChain([new VirtqBuffer((ulong)(0x1000 * i), 12), new VirtqBuffer((ulong)(0x1000 * i + 0x100), 64)], i));
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);
        Assert.Equal(Size / 2, ids.Count);

        device.PushUsed(ids[0], 0, descriptors: 2);
        device.PushUsed(repeated ? ids[0] : (ushort)900, 0, descriptors: 2);   // the second chain's entry lies
        device.PushUsed(ids[2], 0, descriptors: 2);
        var taken = new List<nint>();
        while (ring.TryGetUsed(out nint cookie, out _) != UsedStatus.Empty)
            if (cookie != 0) taken.Add(cookie);
        Assert.Equal([1, 2, 3], taken);
        Assert.Equal(1UL, ring.CorruptEntries);
        Assert.Equal(Size - 2, ring.FreeCount);

        // In step: a new chain in the freed slots, and the last two entries are read where the device writes them.
        Assert.True(ring.AddChain([new VirtqBuffer(0x9000, 12), new VirtqBuffer(0x9100, 64)], 5));
        Assert.True(device.TryPop(out var fifth));
        device.PushUsed(ids[3], 0, descriptors: 2);
        device.PushUsed(fifth.Id, 0, descriptors: 2);
        taken.Clear();
        while (ring.TryGetUsed(out nint cookie, out _) != UsedStatus.Empty)
            if (cookie != 0) taken.Add(cookie);
        Assert.Equal([4, 5], taken);
        Assert.Equal(Size, ring.FreeCount);
        Assert.Equal(0UL, ring.Stalls);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Packed_ring_counts_wrap_bits_that_cannot_be_and_recovers_when_they_are_fixed(bool inOrder)
    {
        var ring = new PackedRing((byte*)_memory, Size, Features(inOrder));
        var device = new PackedRingDevice(_memory, Size);
        Lend(ref ring, 4, 1, 256, writable: true);
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);

        // AVAIL of the other lap, USED of this one: neither available nor used.
        bool wrap = device.UsedWrap;
        device.WriteFlagsAtUsedPosition((ushort)((wrap ? 0 : PackedDescriptor.Avail) | (wrap ? PackedDescriptor.Used : 0)));
        Assert.Equal(UsedStatus.Empty, ring.TryGetUsed(out _, out _));
        Assert.Equal(UsedStatus.Empty, ring.TryGetUsed(out _, out _));
        Assert.True(ring.IsStalled);
        Assert.Equal(1UL, ring.Stalls);

        device.PushUsed(ids[0], 40);
        Assert.Equal(UsedStatus.Ok, ring.TryGetUsed(out nint cookie, out uint length));
        Assert.Equal((1, 40u), (cookie, length));
        Assert.False(ring.IsStalled);
    }

    [Theory]
    [InlineData(900)]   // an id never lent
    [InlineData(-1)]    // the last id of the batch before, reported again
    public void Packed_in_order_tx_batches_take_what_one_entry_returns_and_count_a_lying_one(int lie)
    {
        var ring = new PackedRing((byte*)_memory, Size, Features(inOrder: true));
        var device = new PackedRingDevice(_memory, Size);
        Lend(ref ring, 6, 1, 64, writable: false);
        var ids = new List<ushort>();
        while (device.TryPop(out var chain)) ids.Add(chain.Id);
        Span<nint> done = stackalloc nint[Size];

        // One entry names the third chain: the first three are done.
        device.PushUsed(ids[2], 0, descriptors: 3);
        Assert.Equal([1, 2, 3], Taken(ref ring, done));
        Assert.Equal(0UL, ring.CorruptEntries);

        // An entry that lies about its id still sits where the oldest chain began: that chain is
        // taken (the device has moved past it), the entry counted, and the ring stays in step.
        device.PushUsed(lie < 0 ? ids[2] : (ushort)lie, 0, descriptors: 1);
        Assert.Equal([4], Taken(ref ring, done));
        Assert.Equal(1UL, ring.CorruptEntries);

        device.PushUsed(ids[5], 0, descriptors: 2);
        Assert.Equal([5, 6], Taken(ref ring, done));
        Assert.Equal(Size, ring.FreeCount);
        Assert.Equal(1UL, ring.CorruptEntries);
        Assert.Equal(0UL, ring.Stalls);
        Assert.Equal(0, ring.TakeCompleted(done));
    }

    private static nint[] Taken(ref PackedRing ring, Span<nint> done)
    {
        var taken = new List<nint>();
        for (int n; (n = ring.TakeCompleted(done)) > 0;) taken.AddRange(done[..n]);
        return [.. taken];
    }

    [Fact]
    public void Packed_ring_counts_a_used_entry_when_nothing_is_lent()
    {
        var ring = new PackedRing((byte*)_memory, Size, Features(inOrder: false));
        var device = new PackedRingDevice(_memory, Size);
        device.PushUsed(0, 40);
        Assert.Equal(UsedStatus.Empty, ring.TryGetUsed(out nint cookie, out _));
        Assert.Equal(0, cookie);
        Assert.Equal(1UL, ring.Stalls);
        Assert.Equal(Size, ring.FreeCount);
    }

    [Fact]
    public void Packed_ring_does_not_let_a_repeated_completion_finish_the_chain_lent_next()
    {
        // The hostile backend's dup_id on TX: a completion reported once more, a moment after the
        // first, when the driver has taken the first and lent the next chain. Were the id lent again
        // at once, the repeat would complete the new chain while the device still reads it.
        var ring = new PackedRing((byte*)_memory, Size, Features(inOrder: false));
        var device = new PackedRingDevice(_memory, Size);
        Assert.True(ring.AddBuffer(0x1000, 64, false, 1));
        Assert.True(device.TryPop(out var first));
        device.PushUsed(first.Id, 0);
        Assert.Equal(UsedStatus.Ok, ring.TryGetUsed(out nint cookie, out _));
        Assert.Equal(1, cookie);

        Assert.True(ring.AddBuffer(0x2000, 64, false, 2));
        Assert.True(device.TryPop(out var second));
        Assert.NotEqual(first.Id, second.Id);
        device.PushUsed(first.Id, 0);                // the repeat
        Assert.NotEqual(UsedStatus.Ok, ring.TryGetUsed(out cookie, out _));
        Assert.Equal(0, cookie);
        Assert.Equal(1UL, ring.CorruptEntries);
        Assert.Equal(Size - 1, ring.FreeCount);      // the second chain is still lent

        device.PushUsed(second.Id, 0);
        Assert.Equal(UsedStatus.Ok, ring.TryGetUsed(out cookie, out _));
        Assert.Equal(2, cookie);
    }
}

/// <summary>Every lying-device test again, on the rings' vectorized path.</summary>
public sealed class VectorizedLyingDeviceRingTests : LyingDeviceRingTests
{
    protected override bool Vectorized => true;
}
