using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pmd.Memory;
using Pmd.Net;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// Sends frames on one descriptor ring, one descriptor per mbuf segment (two where a segment
/// crosses a page of its pool's memory), EOP and RS on a packet's last. The device sets DD there
/// when it has sent the packet; the mbuf is then freed, in batches. A packet without offloads
/// takes legacy descriptors; one that asks for checksums or TSO takes extended data descriptors,
/// after a context descriptor when its context differs from the last one sent (the slot is the
/// packet's, freed with it). Which mbuf a packet is and where it starts and ends are kept here in
/// private memory: the driver reads nothing back from the ring but the DD bit of a packet it queued.
/// </summary>
internal sealed unsafe class E1000eTxQueue
{
    /// <summary>Segments one packet may have.</summary>
    public const int MaxSegments = 32;

    /// <summary>Descriptors one packet may take (QEMU's e1000e drops a packet of more than 64 buffers).</summary>
    public const int MaxDescriptors = 64;

    /// <summary>Free slots below which a burst first collects completions (DPDK's tx_free_thresh).</summary>
    private const int FreeThreshold = 32;

    private readonly E1000eTxDescriptor* _ring;
    private readonly int _size;
    private readonly nint[] _packetEndingAt;  // at a packet's last slot: its mbuf
    private readonly int[] _lastSlotOf;       // at a packet's first slot: where it ends
    private readonly MmioWindow _registers;
    private readonly uint _tailRegister;
    private readonly int _maxFrame;
    private int _tail;    // the next free slot; what the tail register holds
    private int _oldest;  // the first slot of the oldest packet in flight
    private int _used;    // slots in flight
    private E1000eTxContext _context;   // the last context descriptor sent: the device's
    private bool _hasContext;
    // IPv6 TSO is cut here (see QueueSoftwareTso): the segments of one frame, reused.
    private readonly Mbuf[] _segments = new Mbuf[SoftwareTsoSegments];
    public E1000eQueueStats Stats;

    /// <summary>Segments one IPv6 TSO frame may become here (64 KiB at an MSS of 536 is 123).</summary>
    private const int SoftwareTsoSegments = 128;

    public E1000eTxQueue(E1000eTxDescriptor* ring, int size, MmioWindow registers, uint tailRegister, int maxFrame)
    {
        _ring = ring;
        _size = size;
        _packetEndingAt = new nint[size];
        _lastSlotOf = new int[size];
        _registers = registers;
        _tailRegister = tailRegister;
        _maxFrame = maxFrame;
    }

    /// <summary>Descriptors the device has not given back.</summary>
    public int InFlight => _used;

    // One slot stays empty: head == tail means an empty ring.
    private int FreeSlots => _size - 1 - _used;

    public int Burst(Span<Mbuf> mbufs)
    {
        // Collected up front when a burst of one-slot packets might not fit, and once more when one
        // that takes more slots (segments, a context) finds too few.
        bool collected = FreeSlots < Math.Max(mbufs.Length, FreeThreshold);
        if (collected) Cleanup();
        int n = 0;
        bool queued = false;
        for (; n < mbufs.Length; n++)
        {
            var m = mbufs[n];
            int descriptors;
            if ((m.Flags & (OffloadFlags.TxTcpSegmentation | OffloadFlags.TxIpv6)) == (OffloadFlags.TxTcpSegmentation | OffloadFlags.TxIpv6))
            {
                int taken = QueueSoftwareTso(m);
                if (taken == 0)
                {
                    if (collected) break;
                    Cleanup();
                    collected = true;
                    if ((taken = QueueSoftwareTso(m)) == 0) break;
                }
                if (taken < 0)
                {
                    Stats.Errors++;
                    m.Free();
                    continue;
                }
                queued = true;
                continue;
            }
            if ((m.Flags & OffloadFlags.TxOffloadMask) != 0)
            {
                descriptors = QueueOffloaded(m);
                if (descriptors == 0)
                {
                    if (collected) break;
                    Cleanup();
                    collected = true;
                    if ((descriptors = QueueOffloaded(m)) == 0) break;
                }
            }
            else
            {
                descriptors = DescriptorsFor(m, _maxFrame, _size - 1);
                if (descriptors > FreeSlots)
                {
                    if (collected) break;
                    Cleanup();
                    collected = true;
                    if (descriptors > FreeSlots) break;
                }
                if (descriptors >= 0) Queue(m, _tail, extended: false, E1000eTxDescriptor.CommandInsertFcs, 0);
            }
            if (descriptors < 0)
            {
                // Never sendable: take it and drop it, or the caller would retry it forever.
                Stats.Errors++;
                m.Free();
                continue;
            }
            queued = true;
            Stats.Packets++;
            Stats.Bytes += (ulong)m.PacketLength;
        }
        if (queued)
        {
            Stats.TailWrites++;
            _registers.Write32(_tailRegister, (uint)_tail);
        }
        return n;
    }

    /// <summary>
    /// IPv6 TSO, done in software: QEMU 7.2's e1000e cuts a TSO frame for a backend without vnet
    /// headers by IPv4 fragmentation, which mangles an IPv6 one. The frame becomes segments from
    /// its own pool (checksums computed), each queued as a plain packet, and is freed. Returns
    /// the slots taken, 0 when the ring has too few free, -1 when it can never be sent (the caller
    /// drops it). Off the fast path.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int QueueSoftwareTso(Mbuf m)
    {
        int count = TcpSegmentation.SegmentsFor(m);
        if (count <= 0 || count > SoftwareTsoSegments || m.HeaderLength + m.TsoSegmentSize > Math.Min(_maxFrame, m.Pool.DataRoom)) return -1;
        // A segment is one buffer, two descriptors at most (a page boundary inside it).
        if (2 * count > _size - 2) return -1;
        if (2 * count > FreeSlots) return 0;
        var segments = _segments.AsSpan();
        // Valid and fitting by now: a refusal is the pool running dry, which passes.
        int n = TcpSegmentation.Segment(m, m.Pool, segments);
        if (n < 0) return 0;
        int taken = 0;
        for (int i = 0; i < n; i++)
        {
            var s = segments[i];
            int descriptors = DescriptorsFor(s, _maxFrame, _size - 1);
            if (descriptors < 0)
            {
                Stats.Errors++;
                s.Free();
                continue;
            }
            Queue(s, _tail, extended: false, E1000eTxDescriptor.CommandInsertFcs, 0);
            taken += descriptors;
            Stats.Packets++;
            Stats.Bytes += (ulong)s.PacketLength;
        }
        segments[..n].Clear();
        Stats.SoftwareTso++;
        m.Free();
        return Math.Max(taken, 1);
    }

    /// <summary>
    /// Queues a packet that asks for offloads: slots taken (its context's among them), 0 when the
    /// ring has too few free, -1 when the request can never be honored. Off the fast path.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private int QueueOffloaded(Mbuf m)
    {
        // A TSO packet's limit is its IP datagram's (checked with its headers), not a frame's.
        // A packet that could never fit beside its context would wait for room forever: one slot less.
        int descriptors = DescriptorsFor(m, (m.Flags & OffloadFlags.TxTcpSegmentation) != 0 ? int.MaxValue : _maxFrame, _size - 2);
        if (descriptors < 0 || !E1000eTxOffload.TryPrepare(m, _maxFrame, out var request)) return -1;
        if (request.Options == 0)
        {
            if (descriptors > FreeSlots) return 0;
            Queue(m, _tail, extended: false, E1000eTxDescriptor.CommandInsertFcs, 0);
            return descriptors;
        }
        bool newContext = !_hasContext || request.Context != _context;
        if (newContext) descriptors++;
        if (descriptors > FreeSlots) return 0;
        int first = _tail;
        if (newContext)
        {
            _ring[_tail].FillContext(request.Context);
            _context = request.Context;
            _hasContext = true;
            _tail = Next(_tail);
            _used++;
        }
        Queue(m, first, extended: true, (byte)(E1000eTxDescriptor.CommandInsertFcs | request.Command), request.Options);
        return descriptors;
    }

    /// <summary>Data descriptors <paramref name="m"/> takes, or -1 when it can never be sent (more than <paramref name="ringLimit"/>, or than the device takes).</summary>
    private static int DescriptorsFor(Mbuf m, int maxLength, int ringLimit)
    {
        if (m.SegmentCount > MaxSegments || m.PacketLength <= 0 || m.PacketLength > maxLength) return -1;
        // A zero-length descriptor is not something every device takes; neither is a chain that
        // does not add up to the packet length.
        int total = 0, descriptors = 0;
        for (var seg = m; !seg.IsNull; seg = seg.Next)
        {
            if (seg.DataLength <= 0) return -1;
            total += seg.DataLength;
            descriptors += Pieces(seg.DataIova, seg.DataLength, PageMask(seg));
        }
        return total == m.PacketLength && descriptors <= Math.Min(MaxDescriptors, ringLimit) ? descriptors : -1;
    }

    /// <summary>
    /// The page size of the segment's pool, less one. Pages of a pool are contiguous in IOVA but
    /// not necessarily in the physical memory behind an IOMMU, and QEMU's e1000e maps each TX
    /// buffer as one physically contiguous range (a buffer that is not is dropped): so a buffer
    /// never crosses a page.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong PageMask(Mbuf seg) => (ulong)seg.Pool.Region.PageSize - 1;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Pieces(ulong iova, int length, ulong pageMask)
    {
        ulong first = iova & ~pageMask, last = (iova + (ulong)length - 1) & ~pageMask;
        return (int)((last - first) / (pageMask + 1)) + 1;
    }

    /// <summary>
    /// Fills the data descriptors of <paramref name="m"/> from the tail, legacy or extended (with
    /// <paramref name="options"/>), <paramref name="command"/> on each and EOP and RS added on the
    /// last; the packet's slots run from <paramref name="first"/> (its context's, if it has one).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Queue(Mbuf m, int first, bool extended, byte command, byte options)
    {
        const byte Last = E1000eTxDescriptor.CommandEndOfPacket | E1000eTxDescriptor.CommandReportStatus;
        int slot = _tail, count = 0;
        for (var seg = m; !seg.IsNull; seg = seg.Next)
        {
            ulong iova = seg.DataIova, pageMask = PageMask(seg);
            int remaining = seg.DataLength;
            bool lastSegment = seg.Next.IsNull;
            while (remaining > 0)
            {
                int piece = (int)Math.Min((ulong)remaining, (iova | pageMask) + 1 - iova);
                remaining -= piece;
                bool last = lastSegment && remaining == 0;
                byte cmd = last ? (byte)(command | Last) : command;
                // QEMU's e1000e takes POPTS and TSE from a packet's last data descriptor, the datasheet from its first: both have them.
                if (extended) _ring[slot].FillData(iova, piece, cmd, options);
                else _ring[slot].Fill(iova, piece, cmd);
                iova += (ulong)piece;
                count++;
                if (!last) slot = Next(slot);
            }
        }
        _packetEndingAt[slot] = m.Handle;
        _lastSlotOf[first] = slot;
        _tail = Next(slot);
        _used += count;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Next(int slot) => slot + 1 == _size ? 0 : slot + 1;

    /// <summary>Frees the packets the device has finished with, oldest first, in batches into their pools.</summary>
    public void Cleanup()
    {
        const int Batch = 64;
        Span<nint> done = stackalloc nint[Batch];
        int k = 0;
        while (_used > 0)
        {
            int last = _lastSlotOf[_oldest];
            if (!_ring[last].IsDone) break;
            done[k++] = _packetEndingAt[last];
            _packetEndingAt[last] = 0;
            _used -= (last >= _oldest ? last - _oldest : last + _size - _oldest) + 1;
            _oldest = Next(last);
            if (k == Batch)
            {
                Mbuf.Free(MemoryMarshal.Cast<nint, Mbuf>(done));
                k = 0;
            }
        }
        if (k > 0) Mbuf.Free(MemoryMarshal.Cast<nint, Mbuf>(done[..k]));
    }

    /// <summary>After the device was stopped and reset: frees every packet still queued, done or not.</summary>
    public void Drain()
    {
        Cleanup();
        while (_used > 0)
        {
            int last = _lastSlotOf[_oldest];
            Mbuf.FromHandle(_packetEndingAt[last]).Free();
            _packetEndingAt[last] = 0;
            _used -= (last >= _oldest ? last - _oldest : last + _size - _oldest) + 1;
            _oldest = Next(last);
        }
        _oldest = _tail;
        _hasContext = false;
    }
}
