using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// The driver side of a split virtqueue over memory laid out by <see cref="SplitRingLayout"/>.
/// Descriptor links and cookies are kept in private arrays; the shared memory is only written
/// (descriptors, avail ring) or read and validated (used ring).
/// </summary>
internal unsafe struct SplitRing : IVirtqueue
{
    private readonly SplitRingParts _parts;
    private readonly InflightTable _inflight;
    private readonly ushort[] _nextFree;
    private readonly IndirectTables _indirect;
    private readonly ushort _mask;
    private readonly bool _eventIndex;
    private readonly bool _inOrder;
    private readonly bool _vector;
    private ushort _freeHead;
    private ushort _freeTail;
    private int _numFree;
    private ushort _availShadow;
    private ushort _notifiedIdx;
    private ushort _lastUsed;
    private ushort _deviceUsedIdx;
    private ushort _usedEventBase;
    private int _doneAhead;
    private ulong _corrupt;
    private ulong _stalls;
    private bool _stalled;

    /// <summary>Drives the ring in <paramref name="memory"/>, which must be zeroed and laid out for <paramref name="size"/>.</summary>
    internal SplitRing(byte* memory, int size, RingFeatures features, IndirectTables indirect = default)
    {
        _indirect = features.IndirectDescriptors ? indirect : default;
        _parts = new SplitRingParts(memory, size);
        _mask = (ushort)(size - 1);
        _eventIndex = features.EventIndex;
        _inOrder = features.InOrder;
        _vector = features.Vectorized;
        _inflight = new InflightTable(size, trackOrder: features.InOrder);
        _nextFree = new ushort[size];
        for (int i = 0; i < size; i++) _nextFree[i] = (ushort)((i + 1) & _mask);
        _numFree = size;
        _freeHead = 0;
        _freeTail = (ushort)(size - 1);
    }

    public readonly int Size => _mask + 1;

    public readonly int FreeCount => _numFree;

    public readonly ulong CorruptEntries => _corrupt;

    public readonly ulong Stalls => _stalls;

    public readonly bool IsStalled => _stalled;

    /// <summary>The next avail index the driver will publish (VIRTIO's avail->idx), for transports that save ring state.</summary>
    public readonly ushort AvailIndex => _availShadow;

    /// <summary>The used index the driver has consumed up to.</summary>
    public readonly ushort LastUsedIndex => _lastUsed;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AddBuffer(ulong address, uint length, bool deviceWritable, nint cookie)
    {
        if (_numFree == 0) return false;
        ushort id = _freeHead;
        _freeHead = _nextFree[id];
        _numFree--;
        _parts.Descriptors[id] = new SplitDescriptor(address, length, deviceWritable ? SplitDescriptor.Write : (ushort)0, 0);
        _inflight.Add(id, cookie, 1, deviceWritable ? length : 0);
        _parts.AvailRing[_availShadow & _mask] = id;
        _availShadow++;
        return true;
    }

    public int AddBuffers(ReadOnlySpan<VirtqBuffer> buffers, ReadOnlySpan<nint> cookies, bool deviceWritable)
    {
        int n = Math.Min(Math.Min(buffers.Length, cookies.Length), _numFree);
        if (!_vector)
        {
            for (int i = 0; i < n; i++) AddBuffer(buffers[i].Address, buffers[i].Length, deviceWritable, cookies[i]);
            return n;
        }
        // The avail idx, published after the batch, is what makes these visible: the descriptors
        // only need to be whole by then. Each is built in a register and stored once: address in
        // the low half; length, flags and a next of 0 in the high half.
        ulong flags = (ulong)(deviceWritable ? SplitDescriptor.Write : 0) << 32;
        ushort avail = _availShadow;
        for (int i = 0; i < n; i++)
        {
            ushort id = _freeHead;
            _freeHead = _nextFree[id];
            var buffer = buffers[i];
            Vector128.Create(buffer.Address, buffer.Length | flags).Store((ulong*)(_parts.Descriptors + id));
            _inflight.Add(id, cookies[i], 1, deviceWritable ? buffer.Length : 0);
            _parts.AvailRing[avail++ & _mask] = id;
        }
        _availShadow = avail;
        _numFree -= n;
        return n;
    }

    public bool AddChain(ReadOnlySpan<VirtqBuffer> buffers, nint cookie) => AddChain(buffers, buffers.Length, cookie);

    public bool AddChain(ReadOnlySpan<VirtqBuffer> buffers, int firstWritable, nint cookie)
    {
        int n = buffers.Length;
        uint writable = 0;
        if (n == 0 || n > _numFree) return false;
        ushort head = _freeHead, id = head;
        for (int i = 0; i < n; i++)
        {
            ushort next = _nextFree[id];
            bool more = i < n - 1;
            ushort flags = (ushort)((more ? SplitDescriptor.Next : 0) | (i >= firstWritable ? SplitDescriptor.Write : 0));
            if (i >= firstWritable) writable += buffers[i].Length;
            _parts.Descriptors[id] = new SplitDescriptor(buffers[i].Address, buffers[i].Length, flags, more ? next : (ushort)0);
            if (more) id = next;
            else _freeHead = next;
        }
        _numFree -= n;
        _inflight.Add(head, cookie, (ushort)n, writable);
        _parts.AvailRing[_availShadow & _mask] = head;
        _availShadow++;
        return true;
    }

    public bool AddIndirect(ReadOnlySpan<VirtqBuffer> buffers, nint cookie)
    {
        int n = buffers.Length;
        if (_indirect.IsEmpty || n == 0 || n > IndirectTables.MaxEntries || _numFree == 0) return false;
        ushort id = _freeHead;
        _freeHead = _nextFree[id];
        _numFree--;
        var table = (SplitDescriptor*)_indirect.Table(id);
        for (int i = 0; i < n; i++)
            table[i] = new SplitDescriptor(buffers[i].Address, buffers[i].Length, i < n - 1 ? SplitDescriptor.Next : (ushort)0, (ushort)(i + 1));
        _parts.Descriptors[id] = new SplitDescriptor(_indirect.TableIova(id), (uint)(n * sizeof(SplitDescriptor)), SplitDescriptor.Indirect, 0);
        _inflight.Add(id, cookie, 1, 0);
        _parts.AvailRing[_availShadow & _mask] = id;
        _availShadow++;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public readonly void Publish() => _parts.PublishAvail(_availShadow);

    public bool NeedsNotify()
    {
        ushort next = _availShadow, old = _notifiedIdx;
        if (next == old) return false;
        _notifiedIdx = next;
        return _parts.NeedsNotify(_eventIndex, next, old);
    }

    public UsedStatus TryGetUsed(out nint cookie, out uint length)
    {
        cookie = 0;
        length = 0;
        // The device's used idx is read once per batch, not once per entry: the line it sits on
        // is the one the device keeps writing, and every read of it is a cache miss.
        if (_lastUsed == _deviceUsedIdx)
        {
            ushort device = Volatile.Read(ref *_parts.UsedIdx);
            if (device == _lastUsed)
            {
                if (_eventIndex) _parts.KeepInterruptsAway(_lastUsed, ref _usedEventBase);
                return UsedStatus.Empty;
            }
            // Each entry returns a different chain, so more new entries than chains lent cannot
            // be: the ones past the real completions would be stale entries of an earlier lap,
            // whose ids may be lent again (phantom frames). Nothing is taken until it makes sense.
            if ((ushort)(device - _lastUsed) > _inflight.Count) return Stall();
            _deviceUsedIdx = device;
        }
        _stalled = false;
        var element = _parts.UsedRing[_lastUsed & _mask];
        uint id = element.Id;
        // IN_ORDER lets the device return a batch of read-only chains (TX) with one entry naming
        // the last (VIRTIO 2.7.9): the older ones are done too, with no length, and the entry is
        // read again for the next. Writable chains (RX) need an entry each, for the length, so an
        // entry is taken for what it names, as without IN_ORDER: a lying id then costs the
        // buffers it skipped (back on stop), never a frame paired with another's length.
        if (_inOrder && _inflight.IsInFlight((int)id))
        {
            int oldest = _inflight.Oldest;
            if (oldest != (int)id && _inflight.Capacity(oldest) == 0)
            {
                cookie = Release(oldest);
                return UsedStatus.Ok;
            }
        }
        if (!_inflight.IsInFlight((int)id))
        {
            _lastUsed++;
            _corrupt++;
            return UsedStatus.Corrupt;
        }
        _lastUsed++;
        uint capacity = _inflight.Capacity((int)id);
        cookie = Release((int)id);
        length = element.Length;
        if (length > capacity && capacity != 0)
        {
            // The buffer is ours again either way; the caller must not trust its contents.
            _corrupt++;
            return UsedStatus.Corrupt;
        }
        return UsedStatus.Ok;
    }

    /// <summary>The device's used idx is impossible: counted once per episode, and nothing is taken.</summary>
    private UsedStatus Stall()
    {
        if (!_stalled) _stalls++;
        _stalled = true;
        return UsedStatus.Empty;
    }

    public int TakeUsed(Span<nint> cookies, Span<uint> lengths) => CompletedBuffers.TakeEach(ref this, cookies, lengths);

    public int TakeCompleted(Span<nint> cookies)
    {
        if (!_inOrder) return CompletedBuffers.TakeEach(ref this, cookies);
        if (_doneAhead == 0 && !LearnCompletedInOrder()) return 0;
        int n = Math.Min(_doneAhead, cookies.Length);
        for (int i = 0; i < n; i++) cookies[i] = Release(_inflight.Oldest);
        _doneAhead -= n;
        return n;
    }

    /// <summary>
    /// IN_ORDER: the device finishes chains in the order they were lent, so the newest used entry
    /// alone says how many are done: the chain it names and every older one. One entry is read per
    /// batch instead of one per packet (each is a cache line the device's core keeps writing).
    /// </summary>
    private bool LearnCompletedInOrder()
    {
        ushort device = Volatile.Read(ref *_parts.UsedIdx);
        int entries = (ushort)(device - _lastUsed);
        if (entries == 0)
        {
            if (_eventIndex) _parts.KeepInterruptsAway(_lastUsed, ref _usedEventBase);
            return false;
        }
        // More entries than chains lent: the index is impossible, and what lies past the real
        // entries is stale. Nothing is taken until it makes sense again.
        if (entries > _inflight.Count)
        {
            Stall();
            return false;
        }
        _stalled = false;
        int position = _inflight.OrderPosition((int)_parts.UsedRing[(ushort)(device - 1) & _mask].Id);
        _lastUsed = device;
        _deviceUsedIdx = device;
        // Each entry returns at least the oldest chain still lent, so `entries` chains are done
        // whatever the ids say; the newest may say more (a batch returned by its last chain). An
        // id that is not lent, or older than the count allows, is counted; the count still holds,
        // so one bad entry never keeps the good ones around it from completing.
        if (position + 1 < entries) _corrupt++;
        _doneAhead = Math.Max(entries, position + 1);
        return true;
    }

    public bool TryReclaim(out nint cookie)
    {
        int id = _inflight.AnyInFlight();
        if (id < 0)
        {
            cookie = 0;
            return false;
        }
        cookie = Release(id);
        return true;
    }

    public readonly void SuppressInterrupts() => _parts.SuppressInterrupts(_eventIndex, _lastUsed);

    /// <summary>
    /// Returns a chain's descriptors to the free list (walking private links only). With IN_ORDER
    /// they go to the tail, so descriptors are handed out in ring order, as in-order devices (and
    /// DPDK's own driver) use them; otherwise to the head, where they are still warm in the cache.
    /// </summary>
    private nint Release(int head)
    {
        int n = _inflight.ChainLength(head);
        int last = head;
        for (int i = 1; i < n; i++) last = _nextFree[last];
        if (_inOrder)
        {
            if (_numFree == 0) _freeHead = (ushort)head;
            else _nextFree[_freeTail] = (ushort)head;
            _freeTail = (ushort)last;
        }
        else
        {
            if (_numFree == 0) _freeTail = (ushort)last;
            _nextFree[last] = _freeHead;
            _freeHead = (ushort)head;
        }
        _numFree += n;
        return _inflight.Remove(head);
    }
}
