using System.Runtime.CompilerServices;
using Pmd.Memory;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// Receives frames from one extended descriptor ring. Every slot the device may write is lent with
/// an mbuf whose data room it fills; which mbuf sits in which slot is kept here, in private
/// memory, so nothing the device writes can make the driver touch memory it did not lend. The
/// device hands slots back in ring order by setting DD; a frame larger than one buffer spans
/// several slots, EOP on the last, and becomes an mbuf chain, even across bursts. With RSS, the
/// hash of the frame's last descriptor goes into its mbuf (RssHash, OffloadFlags.RxRssHash).
/// </summary>
internal sealed unsafe class E1000eRxQueue
{
    /// <summary>Slots taken back before the ring is refilled, so a tail write (a VM exit) carries many (DPDK's rx_free_thresh).</summary>
    public const int RefillThreshold = 32;

    private const int AllocBatch = 64;

    private readonly E1000eRxDescriptor* _ring;
    private readonly int _size;
    private readonly nint[] _lent;
    private readonly Mempool _pool;
    private readonly MmioWindow _registers;
    private readonly uint _tailRegister;
    private readonly int _bufferSize;
    private readonly ushort _portId;
    private readonly int _refillThreshold;
    private readonly bool _checksums;
    private readonly bool _rss;
    private readonly Mbuf[] _scratch = new Mbuf[AllocBatch];
    private int _next;        // the oldest lent slot: where the device writes next
    private int _tail;        // the next slot to lend; what the tail register holds
    private int _lentCount;
    private Mbuf _partialHead;
    private Mbuf _partialTail;
    private bool _discarding; // a bad descriptor mid-frame: drop what follows up to EOP
    public E1000eQueueStats Stats;

    /// <param name="ring">Descriptor memory the device reads and writes (zeroed, <paramref name="size"/> entries).</param>
    /// <param name="bufferSize">The buffer size the device was told (RCTL.BSIZE); no mbuf lent has less tailroom.</param>
    /// <param name="checksums">The device checks checksums (RXCSUM): their verdicts go into each frame's flags.</param>
    /// <param name="rss">The device hashes frames (MRQC, RXCSUM.PCSD): the hash goes into each hashed frame's mbuf.</param>
    public E1000eRxQueue(E1000eRxDescriptor* ring, int size, Mempool pool, MmioWindow registers, uint tailRegister, int bufferSize, int maxFrame, ushort portId, bool checksums = false, bool rss = false)
    {
        _checksums = checksums;
        _rss = rss;
        if (pool.DataRoom < bufferSize) throw new ArgumentException($"mempool {pool.Name} has {pool.DataRoom}-byte data rooms; the device writes {bufferSize}-byte buffers", nameof(pool));
        _ring = ring;
        _size = size;
        _lent = new nint[size];
        _pool = pool;
        _registers = registers;
        _tailRegister = tailRegister;
        _bufferSize = bufferSize;
        MaxFrame = maxFrame;
        _portId = portId;
        // A small ring must still refill: at most size - 1 slots are ever free.
        _refillThreshold = Math.Min(RefillThreshold, (size - 1) / 2);
    }

    /// <summary>The longest frame delivered, in bytes (without CRC); longer ones are dropped and counted.</summary>
    public int MaxFrame { get; set; }

    /// <summary>Slots lent to the device.</summary>
    public int LentCount => _lentCount;

    public int Burst(Span<Mbuf> mbufs)
    {
        int n = 0;
        while (n < mbufs.Length && _lentCount > 0)
        {
            var writeBack = _ring[_next].ReadWriteBack();
            if (!writeBack.Done) break;
            // The hash is written with the frame's last descriptor; read before the slot is cleared.
            var rss = _rss && writeBack.EndOfPacket ? _ring[_next].ReadRss() : default;
            var m = Mbuf.FromHandle(_lent[_next]);
            _lent[_next] = 0;
            _ring[_next].TakeBack();
            _next = Next(_next);
            _lentCount--;
            Receive(mbufs, ref n, m, writeBack, rss);
        }
        if (_size - 1 - _lentCount >= _refillThreshold) Refill();
        return n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Receive(Span<Mbuf> mbufs, ref int n, Mbuf m, RxWriteBack writeBack, RxRss rss)
    {
        int length = writeBack.Length;
        if (_discarding)
        {
            m.Free();
            if (writeBack.EndOfPacket) _discarding = false;
            return;
        }
        if (length == 0 || length > _bufferSize)
        {
            Stats.BadLength++;
            Discard(m, writeBack.EndOfPacket);
            return;
        }
        m.DataLength = length;
        m.PacketLength = length;
        if (_partialHead.IsNull)
        {
            m.Port = _portId;
            _partialHead = m;
        }
        else
        {
            _partialTail.Next = m;
            _partialHead.SegmentCount++;
            _partialHead.PacketLength += length;
        }
        _partialTail = m;
        if (_partialHead.PacketLength > MaxFrame)
        {
            Stats.BadLength++;
            Discard(default, writeBack.EndOfPacket);
            return;
        }
        if (!writeBack.EndOfPacket) return;
        var frame = _partialHead;
        _partialHead = default;
        _partialTail = default;
        // Error bits are valid only in the last descriptor of a frame.
        if (writeBack.HasFrameError)
        {
            Stats.Errors++;
            frame.Free();
            return;
        }
        if (_checksums) frame.Flags |= writeBack.ChecksumFlags;
        if (rss.Hashed)
        {
            frame.RssHash = rss.Hash;
            frame.Flags |= OffloadFlags.RxRssHash;
        }
        mbufs[n++] = frame;
        Stats.Packets++;
        Stats.Bytes += (ulong)frame.PacketLength;
    }

    /// <summary>Drops <paramref name="m"/> and the frame it belongs to, and the rest of that frame when it has not ended yet.</summary>
    private void Discard(Mbuf m, bool endOfPacket)
    {
        if (!m.IsNull) m.Free();
        if (!_partialHead.IsNull) _partialHead.Free();
        _partialHead = default;
        _partialTail = default;
        _discarding = !endOfPacket;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Next(int slot) => slot + 1 == _size ? 0 : slot + 1;

    /// <summary>Lends empty mbufs to every free slot (one slot stays empty: head == tail means an empty ring) and moves the tail once.</summary>
    public void Refill()
    {
        bool added = false;
        int free;
        while ((free = _size - 1 - _lentCount) > 0)
        {
            int got = _pool.Alloc(_scratch.AsSpan(0, Math.Min(free, AllocBatch)));
            if (got == 0)
            {
                Stats.NoMbuf++;
                break;
            }
            for (int i = 0; i < got; i++)
            {
                // Write-backs are cleared when a slot is taken back, so a done slot here was written
                // while it was not lent: counted, and overwritten without being read.
                if (_ring[_tail].ReadWriteBack().Done) Stats.UnlentDone++;
                _ring[_tail].Lend(_scratch[i].DataIova);
                _lent[_tail] = _scratch[i].Handle;
                _tail = Next(_tail);
            }
            _lentCount += got;
            added = true;
        }
        if (!added) return;
        Stats.TailWrites++;
        _registers.Write32(_tailRegister, (uint)_tail);
    }

    /// <summary>After the device was stopped and reset: frees every lent mbuf and any half-received frame.</summary>
    public void Drain()
    {
        Discard(default, endOfPacket: true);
        for (int i = 0; i < _size; i++)
        {
            if (_lent[i] == 0) continue;
            Mbuf.FromHandle(_lent[i]).Free();
            _lent[i] = 0;
        }
        _lentCount = 0;
        _next = _tail;
    }
}
