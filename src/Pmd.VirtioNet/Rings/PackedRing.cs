using System.Runtime.CompilerServices;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// The driver side of a packed virtqueue over memory laid out by <see cref="PackedRingLayout"/>.
/// Buffer ids are handed out from a private free queue (<see cref="FreeIdQueue"/>); positions advance with wrap counters. The
/// head descriptor's flags are stored last, with release semantics, so the device never sees a
/// half-written chain.
/// </summary>
internal unsafe struct PackedRing : IVirtqueue
{
    private readonly PackedDescriptor* _desc;
    private readonly PackedEventSuppression* _driverEvent;
    private readonly PackedEventSuppression* _deviceEvent;
    private readonly InflightTable _inflight;
    private FreeIdQueue _freeIds;
    private readonly IndirectTables _indirect;
    private readonly ushort _size;
    private readonly bool _eventIndex;
    private readonly bool _inOrder;
    private readonly bool _vector;
    private int _numFree;
    private ushort _availPos;
    private bool _availWrap;
    private ushort _usedPos;
    private bool _usedWrap;
    private int _pendingSkip;
    private int _doneAhead;
    private int _batchLast;
    private ushort _sinceNotify;
    private ulong _corrupt;
    private ulong _stalls;
    private bool _stalled;

    internal PackedRing(byte* memory, int size, RingFeatures features, IndirectTables indirect = default)
    {
        _indirect = features.IndirectDescriptors ? indirect : default;
        var layout = PackedRingLayout.For(size);
        _desc = (PackedDescriptor*)(memory + layout.DescriptorOffset);
        _driverEvent = (PackedEventSuppression*)(memory + layout.DriverEventOffset);
        _deviceEvent = (PackedEventSuppression*)(memory + layout.DeviceEventOffset);
        _size = (ushort)size;
        _eventIndex = features.EventIndex;
        _inOrder = features.InOrder;
        _vector = features.Vectorized;
        _inflight = new InflightTable(size, trackOrder: features.InOrder);
        _freeIds = new FreeIdQueue(size);
        _numFree = size;
        _availWrap = true;
        _usedWrap = true;
    }

    public readonly int Size => _size;

    public readonly int FreeCount => _numFree;

    public readonly ulong CorruptEntries => _corrupt;

    public readonly ulong Stalls => _stalls;

    public readonly bool IsStalled => _stalled;

    /// <summary>The next position the driver makes available, with its wrap counter in bit 15 (vhost-user's vring base).</summary>
    public readonly ushort AvailState => (ushort)(_availPos | (_availWrap ? 0x8000 : 0));

    /// <summary>The next position the driver reads for used entries, with its wrap counter in bit 15.</summary>
    public readonly ushort UsedState => (ushort)(_usedPos | (_usedWrap ? 0x8000 : 0));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool AddBuffer(ulong address, uint length, bool deviceWritable, nint cookie)
    {
        if (_numFree == 0) return false;
        ushort id = _freeIds.Take();
        ref var d = ref _desc[_availPos];
        d.Fill(address, length, id);
        ushort flags = (ushort)(PackedDescriptor.AvailableBits(_availWrap) | (deviceWritable ? PackedDescriptor.Write : 0));
        _inflight.Add(id, cookie, 1, deviceWritable ? length : 0);
        _numFree--;
        Advance(ref _availPos, ref _availWrap, 1);
        _sinceNotify++;
        d.StoreFlags(flags);
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
        if (n == 0) return 0;
        // Every descriptor after the first is written whole, flags included, in one aligned 16-byte
        // store; the first gets its flags last, with release semantics. A device reads the ring in
        // order, so it sees none of the batch before that store and all of it after.
        ushort write = deviceWritable ? PackedDescriptor.Write : (ushort)0;
        ushort headPos = _availPos;
        ushort headFlags = (ushort)(PackedDescriptor.AvailableBits(_availWrap) | write);
        ushort pos = _availPos;
        bool wrap = _availWrap;
        for (int i = 0; i < n; i++)
        {
            var buffer = buffers[i];
            ushort id = _freeIds.Take();
            _inflight.Add(id, cookies[i], 1, deviceWritable ? buffer.Length : 0);
            if (i == 0) _desc[pos].Fill(buffer.Address, buffer.Length, id);
            else _desc[pos].StoreWhole(buffer.Address, buffer.Length, id, (ushort)(PackedDescriptor.AvailableBits(wrap) | write));
            if (++pos == _size)
            {
                pos = 0;
                wrap = !wrap;
            }
        }
        _availPos = pos;
        _availWrap = wrap;
        _numFree -= n;
        _sinceNotify += (ushort)n;
        _desc[headPos].StoreFlags(headFlags);
        return n;
    }

    public bool AddChain(ReadOnlySpan<VirtqBuffer> buffers, nint cookie) => AddChain(buffers, buffers.Length, cookie);

    public bool AddChain(ReadOnlySpan<VirtqBuffer> buffers, int firstWritable, nint cookie)
    {
        int n = buffers.Length;
        if (n == 0 || n > _numFree) return false;
        ushort id = _freeIds.Take();
        ushort headPos = _availPos;
        uint writable = 0;
        ushort headFlags = (ushort)(PackedDescriptor.AvailableBits(_availWrap) | (n > 1 ? PackedDescriptor.Next : 0) | (firstWritable == 0 ? PackedDescriptor.Write : 0));
        ushort pos = _availPos;
        bool wrap = _availWrap;
        for (int i = 0; i < n; i++)
        {
            ref var d = ref _desc[pos];
            d.Fill(buffers[i].Address, buffers[i].Length, id);
            if (i >= firstWritable) writable += buffers[i].Length;
            if (i > 0) d.StoreFlags((ushort)(PackedDescriptor.AvailableBits(wrap) | (i < n - 1 ? PackedDescriptor.Next : 0) | (i >= firstWritable ? PackedDescriptor.Write : 0)));
            Advance(ref pos, ref wrap, 1);
        }
        _availPos = pos;
        _availWrap = wrap;
        _numFree -= n;
        _sinceNotify++;
        _inflight.Add(id, cookie, (ushort)n, writable);
        _desc[headPos].StoreFlags(headFlags);
        return true;
    }

    public bool AddIndirect(ReadOnlySpan<VirtqBuffer> buffers, nint cookie)
    {
        int n = buffers.Length;
        if (_indirect.IsEmpty || n == 0 || n > IndirectTables.MaxEntries || _numFree == 0) return false;
        ushort id = _freeIds.Take();
        // Entries of a packed indirect table are read in order; their flags carry no NEXT.
        var table = (PackedDescriptor*)_indirect.Table(id);
        for (int i = 0; i < n; i++)
        {
            table[i].Address = buffers[i].Address;
            table[i].Length = buffers[i].Length;
            table[i].Id = 0;
            table[i].StoreFlags(0);
        }
        ref var d = ref _desc[_availPos];
        d.Fill(_indirect.TableIova(id), (uint)(n * sizeof(PackedDescriptor)), id);
        ushort flags = (ushort)(PackedDescriptor.AvailableBits(_availWrap) | PackedDescriptor.Indirect);
        _inflight.Add(id, cookie, 1, 0);
        _numFree--;
        Advance(ref _availPos, ref _availWrap, 1);
        _sinceNotify++;
        d.StoreFlags(flags);
        return true;
    }

    /// <summary>Each chain was published by its head's flags as it was added.</summary>
    public readonly void Publish() { }

    public bool NeedsNotify()
    {
        if (_sinceNotify == 0) return false;
        ushort added = _sinceNotify;
        _sinceNotify = 0;
        return PackedNotification.Needed(_deviceEvent, _eventIndex, _size, _availPos, _availWrap, added);
    }

    public UsedStatus TryGetUsed(out nint cookie, out uint length)
    {
        cookie = 0;
        length = 0;
        ref var d = ref _desc[_usedPos];
        ushort flags = d.LoadFlags();
        if (!PackedDescriptor.IsUsed(flags, _usedWrap))
        {
            // While anything is lent, the entry here is one we made available in this lap, or
            // the device has used it. Any other AVAIL/USED pair is the device's mistake, and the
            // queue would wait for it for ever: count it.
            if (_inflight.Count > 0 && !PackedDescriptor.IsAvailable(flags, _usedWrap)) return Stall();
            return UsedStatus.Empty;
        }
        if (_inflight.Count == 0) return Stall();   // used, but nothing is lent: not an entry of ours
        _stalled = false;
        int id = d.Id;
        uint written = d.Length;
        // IN_ORDER lets the device return a batch of read-only chains (TX) with one entry naming
        // the last: the older ones are done too, and their slots are skipped when that entry is
        // taken. Writable chains (RX) need an entry each, for the length, so an entry is taken
        // for what it names, as without IN_ORDER, and moves on by that chain's slots: a lying
        // id then costs the buffers it skipped (back on stop), never the ring's step.
        if (_inOrder && _inflight.IsInFlight(id))
        {
            int oldest = _inflight.Oldest;
            if (oldest != id && _inflight.Capacity(oldest) == 0)
            {
                _pendingSkip += _inflight.ChainLength(oldest);
                cookie = Release(oldest);
                return UsedStatus.Ok;
            }
        }
        if (!_inflight.IsInFlight(id))
        {
            _corrupt++;
            if (_inOrder && _inflight.Capacity(_inflight.Oldest) == 0)
            {
                // In order, an entry sits where the oldest chain began and at least that chain is
                // done; only the id lies. Taking that chain keeps the ring in step with where the
                // device writes next. (Stepping one slot instead left the oldest chain lent, and a
                // later batch skipped its slots a second time.)
                int oldest = _inflight.Oldest;
                Advance(ref _usedPos, ref _usedWrap, _pendingSkip + _inflight.ChainLength(oldest));
                _pendingSkip = 0;
                cookie = Release(oldest);
                return UsedStatus.Corrupt;
            }
            Advance(ref _usedPos, ref _usedWrap, 1 + _pendingSkip);
            _pendingSkip = 0;
            return UsedStatus.Corrupt;
        }
        int slots = _pendingSkip + _inflight.ChainLength(id);
        _pendingSkip = 0;
        Advance(ref _usedPos, ref _usedWrap, slots);
        uint capacity = _inflight.Capacity(id);
        cookie = Release(id);
        length = written;
        if (length > capacity && capacity != 0)
        {
            _corrupt++;
            return UsedStatus.Corrupt;
        }
        return UsedStatus.Ok;
    }

    /// <summary>The device-written state is impossible: counted once per episode, and nothing is taken.</summary>
    private UsedStatus Stall()
    {
        if (!_stalled) _stalls++;
        _stalled = true;
        return UsedStatus.Empty;
    }

    public int TakeUsed(Span<nint> cookies, Span<uint> lengths) => CompletedBuffers.TakeEach(ref this, cookies, lengths);

    /// <summary>
    /// Scalar: every used entry is read, as TryGetUsed reads it. Vectorized with IN_ORDER: one entry
    /// says how many read-only chains are done (<see cref="LearnCompletedInOrder"/>), and they are
    /// released oldest first without reading the entry again for each.
    /// </summary>
    public int TakeCompleted(Span<nint> cookies)
    {
        if (!_vector || !_inOrder) return CompletedBuffers.TakeEach(ref this, cookies);
        if (_doneAhead == 0 && !LearnCompletedInOrder()) return _doneAhead < 0 ? TakeEachAfterBatch(cookies) : 0;
        int n = 0;
        while (n < cookies.Length && _doneAhead > 0)
        {
            int oldest = _inflight.Oldest;
            _pendingSkip += _inflight.ChainLength(oldest);
            cookies[n++] = Release(oldest);
            // Holes in the order (chains returned out of order earlier) make the count an upper
            // bound: the batch ends at the chain its entry named, whatever the count says.
            _doneAhead = oldest == _batchLast ? 0 : _doneAhead - 1;
        }
        if (_doneAhead == 0)
        {
            // The device writes its next entry where the batch's chains end.
            Advance(ref _usedPos, ref _usedWrap, _pendingSkip);
            _pendingSkip = 0;
        }
        return n;
    }

    /// <summary>The entry at hand is not one the batch path takes (see <see cref="LearnCompletedInOrder"/>): TryGetUsed judges it.</summary>
    private int TakeEachAfterBatch(Span<nint> cookies)
    {
        _doneAhead = 0;
        // Entries are read until one returns a buffer, so rejected ones do not end the caller's
        // loop; then the next call tries a batch again.
        for (int read = 0; read < cookies.Length; read++)
        {
            if (TryGetUsed(out nint cookie, out _) == UsedStatus.Empty) return 0;
            if (cookie == 0) continue;
            cookies[0] = cookie;
            return 1;
        }
        return 0;
    }

    /// <summary>
    /// IN_ORDER: an entry at the oldest chain's first slot that names a later read-only chain
    /// returns that chain and every older one (VIRTIO 2.8.20), so one entry gives the batch. Sets
    /// <see cref="_doneAhead"/> to the count, or to -1 when the entry is used but not a plain batch
    /// of read-only chains ending at a lent id (a lie, or a writable chain): the scalar reading
    /// then validates and counts it exactly as without the vectorized path.
    /// </summary>
    private bool LearnCompletedInOrder()
    {
        ref var d = ref _desc[_usedPos];
        ushort flags = d.LoadFlags();
        if (!PackedDescriptor.IsUsed(flags, _usedWrap) || _inflight.Count == 0 || _pendingSkip != 0)
        {
            // Not used yet, or a state TryGetUsed handles (a stall, a batch half-taken by it).
            _doneAhead = PackedDescriptor.IsUsed(flags, _usedWrap) || (_inflight.Count > 0 && !PackedDescriptor.IsAvailable(flags, _usedWrap)) ? -1 : 0;
            return false;
        }
        _stalled = false;
        int id = d.Id;   // read once: the device may write it again while we look
        int position = _inflight.OrderPosition(id);
        if (position < 0 || _inflight.Capacity(id) != 0 || _inflight.Capacity(_inflight.Oldest) != 0)
        {
            _doneAhead = -1;
            return false;
        }
        _doneAhead = position + 1;
        _batchLast = id;
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

    public readonly void SuppressInterrupts() => _driverEvent->StoreFlags(PackedEventSuppression.Disable);

    private nint Release(int id)
    {
        _numFree += _inflight.ChainLength(id);
        _freeIds.Return((ushort)id);
        return _inflight.Remove(id);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void Advance(ref ushort pos, ref bool wrap, int count)
    {
        int p = pos + count;
        while (p >= _size)
        {
            p -= _size;
            wrap = !wrap;
        }
        pos = (ushort)p;
    }
}
