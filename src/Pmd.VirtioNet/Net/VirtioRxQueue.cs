using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using Pmd.Memory;
using Pmd.VirtioNet.Rings;
using Pmd.VirtioNet.Transport;

namespace Pmd.VirtioNet.Net;

/// <summary>An RX queue, whatever its ring type: what the port calls once per burst.</summary>
internal abstract class VirtioRxQueue
{
    public VirtioQueueStats Stats;

    public abstract ulong CorruptEntries { get; }

    /// <summary>Times the device-written state of the ring became impossible (see <see cref="IReceiveRing.Stalls"/>).</summary>
    public abstract ulong Stalls { get; }

    /// <summary>The last look at the ring found its device-written state impossible.</summary>
    public abstract bool IsStalled { get; }

    public abstract int Burst(Span<Mbuf> mbufs);

    /// <summary>Lends the device as many empty buffers as the ring and pool allow.</summary>
    public abstract void Refill();

    /// <summary>
    /// After the device stopped: frees every buffer still on the ring or half-assembled. Returns the
    /// frames the device had completed that nobody took, which the port counts as missed.
    /// </summary>
    public abstract int Drain();
}

/// <summary>
/// Receives frames from one virtqueue. Each buffer is an mbuf lent with the virtio-net header in
/// the end of its headroom, so the frame lands exactly at the data offset. With MRG_RXBUF a frame
/// spans num_buffers buffers, which become an mbuf chain, even across bursts.
/// </summary>
internal sealed unsafe class VirtioRxQueue<TRing> : VirtioRxQueue where TRing : struct, IReceiveRing
{
    private const int RefillBatch = 64;

    /// <summary>
    /// A gso_type no device writes, put into each buffer's header as it is lent. A device writes
    /// the header of every frame, so a first buffer that comes back still marked was never written:
    /// the used entry that returned it is a stale or repeated one, not a frame.
    /// </summary>
    private const byte UnwrittenMark = 0xFF;
    private TRing _ring;
    private readonly Mempool _pool;
    private readonly VirtioTransport _transport;
    private readonly int _virtqueue;
    private readonly ushort _portId;
    private readonly bool _mergeable;
    private readonly bool _guestCsum;
    private readonly bool _lro;
    private readonly Mbuf[] _scratch = new Mbuf[RefillBatch];
    private Mbuf _partialHead;
    private Mbuf _partialTail;
    private int _partialRemaining;

    public VirtioRxQueue(TRing ring, Mempool pool, VirtioTransport transport, int virtqueue, ushort portId, bool mergeable, bool guestCsum, bool lro = false)
    {
        _ring = ring;
        _pool = pool;
        _transport = transport;
        _virtqueue = virtqueue;
        _portId = portId;
        _mergeable = mergeable;
        _guestCsum = guestCsum;
        _lro = lro;
        _ring.SuppressInterrupts();
    }

    public override ulong CorruptEntries => _ring.CorruptEntries;

    public override ulong Stalls => _ring.Stalls;

    public override bool IsStalled => _ring.IsStalled;

    public override int Burst(Span<Mbuf> mbufs)
    {
        // Used entries are taken in batches, and the header lines of a batch are prefetched
        // before any is read: the device's core just wrote them, so each read is a miss, and
        // issued together the misses overlap instead of queueing one behind the other.
        const int Batch = 32;
        Span<nint> cookies = stackalloc nint[Batch];
        Span<uint> lengths = stackalloc uint[Batch];
        int n = 0;
        // Entries read per burst, valid or rejected, are bounded by the ring: a device that keeps
        // writing bad entries cannot keep the burst from returning.
        int budget = _ring.Size;
        while (n < mbufs.Length && budget > 0)
        {
            // One frame at most per entry, so a batch never brings more frames than there is room for.
            int want = Math.Min(Math.Min(Batch, mbufs.Length - n), budget);
            int got = _ring.TakeUsed(cookies[..want], lengths[..want]);
            if (got == 0) break;
            budget -= got;
            PrefetchHeaders(cookies[..got]);
            for (int i = 0; i < got; i++) Receive(mbufs, ref n, cookies[i], lengths[i]);
        }
        if (_ring.FreeCount >= RefillBatch / 2) Refill();
        return n;
    }

    private static void PrefetchHeaders(ReadOnlySpan<nint> cookies)
    {
        if (!Sse.IsSupported) return;
        foreach (nint cookie in cookies)
            if (cookie != 0) Sse.Prefetch0(Mbuf.FromHandle(cookie).DataPointer - VirtioNetHeader.Size);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Receive(Span<Mbuf> mbufs, ref int n, nint cookie, uint length)
    {
        var m = Mbuf.FromHandle(cookie);
        if (length == CompletedBuffers.Rejected)
        {
            Stats.Errors++;
            if (cookie != 0) m.Free();
            AbandonPartial();
            return;
        }
        if (_partialRemaining > 0)
        {
            AppendSegment(m, length);
            if (_partialRemaining == 0) Deliver(mbufs, ref n, _partialHead);
            return;
        }
        if (length < VirtioNetHeader.Size)
        {
            Stats.Errors++;
            m.Free();
            return;
        }
        var header = (VirtioNetHeader*)(m.DataPointer - VirtioNetHeader.Size);
        if (header->GsoType == UnwrittenMark)
        {
            // The device returned a buffer it never wrote: a stale or repeated used entry.
            Stats.Errors++;
            m.Free();
            return;
        }
        int frame = (int)length - VirtioNetHeader.Size;
        m.DataLength = frame;
        m.PacketLength = frame;
        m.Port = _portId;
        if (_guestCsum) m.Flags = ChecksumFlags(header->Flags);
        if (_lro && header->GsoType != VirtioNetHeader.GsoNone) MarkCoalesced(m, header);
        int buffers = _mergeable ? header->NumBuffers : 1;
        if (buffers < 1 || buffers > _ring.Size)
        {
            Stats.Errors++;
            m.Free();
            return;
        }
        if (buffers == 1)
        {
            Deliver(mbufs, ref n, m);
            return;
        }
        _partialHead = m;
        _partialTail = m;
        _partialRemaining = buffers - 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Deliver(Span<Mbuf> mbufs, ref int n, Mbuf m)
    {
        mbufs[n++] = m;
        Stats.Packets++;
        Stats.Bytes += (ulong)m.PacketLength;
    }

    private void AppendSegment(Mbuf segment, uint length)
    {
        // Continuation buffers carry no header: their data starts where the header would be.
        segment.DataOffset -= VirtioNetHeader.Size;
        segment.DataLength = (int)length;
        segment.PacketLength = (int)length;
        _partialTail.Next = segment;
        _partialTail = segment;
        _partialHead.SegmentCount++;
        _partialHead.PacketLength += (int)length;
        _partialRemaining--;
    }

    private void AbandonPartial()
    {
        if (_partialRemaining == 0) return;
        _partialHead.Free();
        _partialHead = default;
        _partialRemaining = 0;
    }

    /// <summary>A frame the device coalesced (GUEST_TSO4/6): the app learns so, and the segments' size, as from DPDK's LRO.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void MarkCoalesced(Mbuf m, VirtioNetHeader* header)
    {
        m.Flags |= OffloadFlags.RxLro;
        m.TsoSegmentSize = header->GsoSize;
    }

    private static OffloadFlags ChecksumFlags(byte flags) =>
        (flags & VirtioNetHeader.DataValid) != 0 ? OffloadFlags.RxL4ChecksumGood
        : (flags & VirtioNetHeader.NeedsCsum) != 0 ? OffloadFlags.RxL4ChecksumNone
        : OffloadFlags.None;

    public override void Refill()
    {
        bool added = false;
        Span<VirtqBuffer> buffers = stackalloc VirtqBuffer[RefillBatch];
        while (_ring.FreeCount > 0)
        {
            int want = Math.Min(_ring.FreeCount, RefillBatch);
            int got = _pool.Alloc(_scratch.AsSpan(0, want));
            if (got == 0)
            {
                Stats.NoMbuf++;
                break;
            }
            for (int i = 0; i < got; i++)
            {
                var m = _scratch[i];
                ((VirtioNetHeader*)(m.DataPointer - VirtioNetHeader.Size))->GsoType = UnwrittenMark;
                // Lend from the last header-size bytes of headroom: the frame then starts at the data offset.
                buffers[i] = new VirtqBuffer(m.DataIova - VirtioNetHeader.Size, (uint)(m.Tailroom + VirtioNetHeader.Size));
            }
            _ring.AddBuffers(buffers[..got], MemoryMarshal.Cast<Mbuf, nint>(_scratch.AsSpan(0, got)), deviceWritable: true);
            added = true;
            if (got < want) break;
        }
        if (!added) return;
        _ring.Publish();
        if (_ring.NeedsNotify())
        {
            Stats.Kicks++;
            _transport.Notify(_virtqueue);
        }
    }

    public override int Drain()
    {
        // Frames the device completed before it stopped are taken as a burst takes them (checked,
        // and a frame of several buffers once), then freed. They were never received, so the
        // burst's counts are put back; the caller counts them as missed.
        var counted = Stats;
        Span<nint> cookie = stackalloc nint[1];
        Span<uint> length = stackalloc uint[1];
        Span<Mbuf> frame = stackalloc Mbuf[1];
        int undelivered = 0;
        for (int read = 0; read < _ring.Size && _ring.TakeUsed(cookie, length) == 1; read++)
        {
            int n = 0;
            Receive(frame, ref n, cookie[0], length[0]);
            if (n == 0) continue;
            frame[0].Free();
            undelivered++;
        }
        Stats.Packets = counted.Packets;
        Stats.Bytes = counted.Bytes;
        AbandonPartial();
        while (_ring.TryReclaim(out nint lent)) Mbuf.FromHandle(lent).Free();
        return undelivered;
    }
}
