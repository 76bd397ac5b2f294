using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pmd.Memory;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// Sends frames on one legacy descriptor ring, one descriptor per mbuf segment (two where a
/// segment crosses a page of its pool's memory), EOP and RS on a packet's last. The device sets DD there when it has sent the packet; the mbuf is then freed, in
/// batches. Which mbuf a packet is and where it ends are kept here in private memory: the driver
/// reads nothing back from the ring but the DD bit of a packet it queued.
/// </summary>
internal sealed unsafe class E1000eTxQueue
{
    /// <summary>Segments one packet may have.</summary>
    public const int MaxSegments = 32;

    /// <summary>Descriptors one packet may take (QEMU's e1000e drops a packet of more than 64 buffers).</summary>
    public const int MaxDescriptors = 64;

    /// <summary>Free slots below which a burst first collects completions (DPDK's tx_free_thresh).</summary>
    private const int FreeThreshold = 32;

    private const byte LastCommand = E1000eTxDescriptor.CommandEndOfPacket | E1000eTxDescriptor.CommandReportStatus | E1000eTxDescriptor.CommandInsertFcs;

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
    public E1000eQueueStats Stats;

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
        if (FreeSlots < Math.Max(mbufs.Length, FreeThreshold)) Cleanup();
        int n = 0;
        bool queued = false;
        for (; n < mbufs.Length; n++)
        {
            var m = mbufs[n];
            int descriptors = DescriptorsFor(m);
            if (descriptors > FreeSlots) break;
            if (descriptors < 0)
            {
                // Never sendable: take it and drop it, or the caller would retry it forever.
                Stats.Errors++;
                m.Free();
                continue;
            }
            Queue(m);
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

    /// <summary>Descriptors <paramref name="m"/> takes, or -1 when it can never be sent.</summary>
    private int DescriptorsFor(Mbuf m)
    {
        if (m.SegmentCount > MaxSegments || m.PacketLength <= 0 || m.PacketLength > _maxFrame) return -1;
        // A zero-length descriptor is not something every device takes; neither is a chain that
        // does not add up to the packet length.
        int total = 0, descriptors = 0;
        for (var seg = m; !seg.IsNull; seg = seg.Next)
        {
            if (seg.DataLength <= 0) return -1;
            total += seg.DataLength;
            descriptors += Pieces(seg.DataIova, seg.DataLength, PageMask(seg));
        }
        return total == m.PacketLength && descriptors <= MaxDescriptors ? descriptors : -1;
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Queue(Mbuf m)
    {
        int first = _tail, slot = _tail, count = 0;
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
                _ring[slot].Fill(iova, piece, last ? LastCommand : E1000eTxDescriptor.CommandInsertFcs);
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
    }
}
