using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pmd.Memory;
using Pmd.Timing;

namespace Pmd.Capture;

/// <summary>
/// One captured queue and direction: a single-producer, single-consumer ring of variable-length
/// records in preallocated memory. The producer is whichever datapath thread uses the queue (one
/// at a time, as for the queue itself); the consumer is the capture's writer thread. A record is a
/// 16-byte header (captured length, original length, TSC timestamp) and the packet's first bytes,
/// padded to 8; one that would cross the end leaves a wrap marker and starts over at offset 0.
/// </summary>
/// <remarks>
/// A burst copies its packets, then publishes the new head once (a release store); the writer
/// reads it with an acquire load, writes what is there and gives the space back the same way.
/// The producer reads the consumer's tail only when the space it last saw runs out. A packet the
/// ring cannot take is counted as dropped, and so is the rest of its burst: the records of a burst
/// are always its first packets, in order, so a TX burst can keep exactly those the driver took.
/// </remarks>
internal sealed unsafe class CaptureRing
{
    public const int HeaderSize = 16;
    private const int WrapMarker = -1;

    private readonly byte[] _memory;
    private readonly byte* _base;
    private readonly long _mask;
    private readonly int _snapLength;
    private readonly CaptureGate _gate;
    private Indexes _ix;

    public CaptureRing(int size, int snapLength, CaptureGate gate, ushort portId, int queue, CaptureDirection direction)
    {
        if (size < CaptureOptions.MinRingSize || !int.IsPow2(size)) throw new ArgumentOutOfRangeException(nameof(size), $"a capture ring is a power of two of at least {CaptureOptions.MinRingSize} bytes");
        // Pinned, so that the datapath copies through a pointer; the GC keeps it alive for as long as
        // a burst that read the tap before it was taken off may still be copying.
        _memory = GC.AllocateArray<byte>(size, pinned: true);
        _base = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_memory));
        _mask = size - 1;
        _snapLength = snapLength;
        _gate = gate;
        PortId = portId;
        Queue = queue;
        Direction = direction;
    }

    public ushort PortId { get; }

    public int Queue { get; }

    public CaptureDirection Direction { get; }

    public int Size => _memory.Length;

    /// <summary>Packets of this queue the capture saw (copied or dropped).</summary>
    public long Seen => Volatile.Read(ref _ix.Seen);

    /// <summary>Packets the full ring could not take.</summary>
    public long Dropped => Volatile.Read(ref _ix.Dropped);

    /// <summary>The timestamp of the burst copying now, or 0 when none is.</summary>
    public long BusySince => Volatile.Read(ref _ix.BusySince);

    // ---- Producer (a datapath thread) ----

    /// <summary>The RX side: copies a burst the driver returned.</summary>
    public void Received(ReadOnlySpan<Mbuf> mbufs)
    {
        if (!Enter()) return;
        int copied = Copy(mbufs);
        Publish(copied, mbufs.Length);
        Exit();
    }

    /// <summary>
    /// Marks a burst as copying, with its timestamp; false when the capture is closing (then the
    /// burst copies nothing). The full fence of the exchange orders the mark before the read of the
    /// gate, against the closing thread's write of the gate before its read of the mark.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Enter()
    {
        long now = CycleCounter.Read();
        Interlocked.Exchange(ref _ix.BusySince, now == 0 ? 1 : now);
        if (!_gate.Closed) return true;
        Volatile.Write(ref _ix.BusySince, 0);
        return false;
    }

    /// <summary>The burst is done with the ring.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Exit() => Volatile.Write(ref _ix.BusySince, 0);

    /// <summary>
    /// Copies the burst's first packets, as many as fit, after the published head without
    /// publishing them; returns how many. Only between <see cref="Enter"/> and <see cref="Exit"/>.
    /// </summary>
    public int Copy(ReadOnlySpan<Mbuf> mbufs)
    {
        long timestamp = _ix.BusySince;
        long head = _ix.PublishedHead, tail = _ix.CachedTail;
        long size = _mask + 1;
        int i = 0;
        for (; i < mbufs.Length; i++)
        {
            var m = mbufs[i];
            int length = m.PacketLength;
            int captured = Math.Min(length, _snapLength);
            long need = HeaderSize + Align8(captured);
            long offset = head & _mask;
            long skip = need > size - offset ? size - offset : 0;
            if (head + skip + need - tail > size)
            {
                tail = _ix.CachedTail = Volatile.Read(ref _ix.Tail);
                if (head + skip + need - tail > size) break;
            }
            if (skip != 0)
            {
                *(int*)(_base + offset) = WrapMarker;
                head += skip;
                offset = 0;
            }
            byte* record = _base + offset;
            *(int*)record = captured;
            *(int*)(record + 4) = length;
            *(long*)(record + 8) = timestamp;
            if (captured > 0) m.CopyTo(new Span<byte>(record + HeaderSize, captured));
            head += need;
        }
        _ix.PendingHead = head;
        return i;
    }

    /// <summary>
    /// Publishes the records of the first <paramref name="accepted"/> packets of the burst (all
    /// of an RX burst; those the driver took of a TX burst) and counts those that did not fit.
    /// </summary>
    public void Publish(int copied, int accepted)
    {
        long head = _ix.PendingHead;
        if (accepted < copied)
        {
            // The driver took fewer than were copied: keep only their records.
            head = _ix.PublishedHead;
            for (int k = 0; k < accepted; k++)
            {
                long offset = head & _mask;
                int captured = *(int*)(_base + offset);
                if (captured == WrapMarker)
                {
                    head += _mask + 1 - offset;
                    captured = *(int*)_base;
                }
                head += HeaderSize + Align8(captured);
            }
        }
        _ix.Seen += accepted;
        if (accepted > copied) _ix.Dropped += accepted - copied;
        Volatile.Write(ref _ix.PublishedHead, head);
    }

    // ---- Consumer (the writer thread) ----

    /// <summary>Where the producer has published up to (acquire).</summary>
    public long ReadHead() => Volatile.Read(ref _ix.PublishedHead);

    /// <summary>Where the consumer is.</summary>
    public long Tail => _ix.Tail;

    /// <summary>
    /// The record at <paramref name="position"/> (before the published head); moves the position
    /// over a wrap marker first.
    /// </summary>
    public CaptureRecord Peek(ref long position)
    {
        long offset = position & _mask;
        byte* record = _base + offset;
        if (*(int*)record == WrapMarker)
        {
            position += _mask + 1 - offset;
            record = _base;
        }
        int captured = *(int*)record;
        return new CaptureRecord(captured, *(int*)(record + 4), *(long*)(record + 8),
            new ReadOnlySpan<byte>(record + HeaderSize, captured), HeaderSize + Align8(captured));
    }

    /// <summary>Gives the space up to <paramref name="position"/> back to the producer (release).</summary>
    public void Release(long position) => Volatile.Write(ref _ix.Tail, position);

    private static long Align8(int n) => (n + 7) & ~7L;

    /// <summary>The producer's indexes and the consumer's tail, on cache lines of their own.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    private struct Indexes
    {
        // The producer's line; the writer reads PublishedHead, BusySince and the counters.
        [FieldOffset(0)] public long PublishedHead;
        [FieldOffset(8)] public long PendingHead;
        [FieldOffset(16)] public long CachedTail;
        [FieldOffset(32)] public long BusySince;
        [FieldOffset(40)] public long Seen;
        [FieldOffset(48)] public long Dropped;

        // The consumer's line.
        [FieldOffset(128)] public long Tail;
    }
}

/// <summary>One record as the writer reads it: lengths, TSC timestamp, the bytes kept, its size in the ring.</summary>
internal readonly ref struct CaptureRecord(int captured, int original, long timestamp, ReadOnlySpan<byte> data, long size)
{
    public int CapturedLength { get; } = captured;
    public int OriginalLength { get; } = original;
    public long Timestamp { get; } = timestamp;
    public ReadOnlySpan<byte> Data { get; } = data;
    public long Size { get; } = size;
}

/// <summary>Closed when the capture ends: a burst that enters after that copies nothing.</summary>
internal sealed class CaptureGate
{
    private volatile bool _closed;

    public bool Closed => _closed;

    /// <summary>Closes the gate and waits until no burst is copying into any of <paramref name="rings"/>.</summary>
    public void Close(IEnumerable<CaptureRing> rings)
    {
        _closed = true;
        // Against Enter's exchange: our write of the gate is seen, or we see its mark.
        Interlocked.MemoryBarrier();
        foreach (var ring in rings)
        {
            var spin = new SpinWait();
            while (ring.BusySince != 0) spin.SpinOnce(sleep1Threshold: 20);
        }
    }
}
