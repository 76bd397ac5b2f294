using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// A split ring for RX buffers lent to a device that uses them in order (IN_ORDER, or the
/// <c>vectorized=1</c> devarg, which assumes it as DPDK's vector RX does). Every buffer is one
/// descriptor whose id is its slot: the avail ring says 0, 1, 2 ... once, at setup, and never
/// changes; lending writes descriptors in ring order and moves the avail index; the used entry at
/// position p must name slot p mod size. There is no free list, no chain to walk and no order to
/// keep, which is most of what the general <see cref="SplitRing"/> spends on RX.
/// The device is not trusted for that: an entry naming another slot, or a length past the
/// buffer, is counted and handed up as rejected with the slot's buffer (so nothing is lost), and a
/// used index past what is lent is a stall. A used index moved over entries the device never
/// rewrote shows the previous lap's ids, which are right; the RX queue's unwritten mark in each
/// buffer catches those.
/// </summary>
internal unsafe struct SplitRxRing : IReceiveRing
{
    private readonly SplitRingParts _parts;
    // What each slot holds, in managed memory the device cannot reach. Two arrays rather than one
    // of pairs, so the vectorized take copies four cookies and checks four lengths in one load each.
    private readonly nint[] _cookies;
    private readonly uint[] _capacities;
    private readonly ushort _mask;
    private readonly bool _eventIndex;
    private readonly bool _vector;
    private ushort _availShadow;
    private ushort _notifiedIdx;
    private ushort _lastUsed;
    private ushort _deviceUsedIdx;
    private ushort _usedEventBase;
    private ulong _corrupt;
    private ulong _stalls;
    private bool _stalled;

    /// <summary>Drives the ring in <paramref name="memory"/>, which must be zeroed and laid out for <paramref name="size"/>.</summary>
    internal SplitRxRing(byte* memory, int size, RingFeatures features)
    {
        _parts = new SplitRingParts(memory, size);
        _mask = (ushort)(size - 1);
        _eventIndex = features.EventIndex;
        _vector = features.Vectorized && Avx2.IsSupported;
        _cookies = new nint[size];
        _capacities = new uint[size];
        // Written once: the device reads it, the driver never does, so a device that overwrites it
        // only confuses itself.
        for (int i = 0; i < size; i++) _parts.AvailRing[i] = (ushort)i;
    }

    public readonly int Size => _mask + 1;

    /// <summary>Buffers lent and not yet taken back.</summary>
    private readonly int Lent => (ushort)(_availShadow - _lastUsed);

    public readonly int FreeCount => Size - Lent;

    public readonly ulong CorruptEntries => _corrupt;

    public readonly ulong Stalls => _stalls;

    public readonly bool IsStalled => _stalled;

    public int AddBuffers(ReadOnlySpan<VirtqBuffer> buffers, ReadOnlySpan<nint> cookies, bool deviceWritable)
    {
        int n = Math.Min(Math.Min(buffers.Length, cookies.Length), FreeCount);
        ulong flags = (ulong)(deviceWritable ? SplitDescriptor.Write : 0) << 32;
        ushort avail = _availShadow;
        for (int i = 0; i < n; i++, avail++)
        {
            int slot = avail & _mask;
            var buffer = buffers[i];
            // Address in the low half; length, flags and a next of 0 in the high half: one store.
            // The avail idx, published after the batch, is what makes the descriptor visible.
            Vector128.Create(buffer.Address, buffer.Length | flags).Store((ulong*)(_parts.Descriptors + slot));
            _cookies[slot] = cookies[i];
            _capacities[slot] = deviceWritable ? buffer.Length : 0;
        }
        _availShadow = avail;
        return n;
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

    public int TakeUsed(Span<nint> cookies, Span<uint> lengths)
    {
        // The device's used idx is read once per batch, not once per entry: the line it sits on
        // is the one the device keeps writing, and every read of it is a cache miss.
        if (_lastUsed == _deviceUsedIdx && !LearnUsedIndex()) return 0;
        _stalled = false;
        int n = Math.Min(Math.Min((ushort)(_deviceUsedIdx - _lastUsed), cookies.Length), lengths.Length);
        int i = 0;
        if (_vector)
        {
            for (; i + 4 <= n; i += 4)
                if (!TakeFour(cookies.Slice(i, 4), lengths.Slice(i, 4))) break;
        }
        for (; i < n; i++) cookies[i] = TakeOne(out lengths[i]);
        return n;
    }

    /// <summary>Whether the device moved its used idx to somewhere possible; what it moved over is then takeable.</summary>
    private bool LearnUsedIndex()
    {
        ushort device = Volatile.Read(ref *_parts.UsedIdx);
        if (device == _lastUsed)
        {
            if (_eventIndex) _parts.KeepInterruptsAway(_lastUsed, ref _usedEventBase);
            return false;
        }
        // Each entry returns a different buffer, so more new entries than buffers lent cannot be:
        // the ones past the real completions would be stale entries of an earlier lap. Nothing is
        // taken until it makes sense.
        if ((ushort)(device - _lastUsed) > Lent)
        {
            if (!_stalled) _stalls++;
            _stalled = true;
            return false;
        }
        _deviceUsedIdx = device;
        return true;
    }

    /// <summary>The entry at the next used position, checked against its slot: the buffer comes back either way.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint TakeOne(out uint length)
    {
        int slot = _lastUsed & _mask;
        _lastUsed++;
        var element = _parts.UsedRing[slot];
        length = element.Length;
        if (element.Id != (uint)slot || length > _capacities[slot])
        {
            _corrupt++;
            length = CompletedBuffers.Rejected;
        }
        return _cookies[slot];
    }

    /// <summary>
    /// Four entries in one 32-byte load, their ids and lengths checked together; false (nothing
    /// taken) when they wrap past the ring's end or any is wrong, and <see cref="TakeOne"/> judges them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TakeFour(Span<nint> cookies, Span<uint> lengths)
    {
        int slot = _lastUsed & _mask;
        if (slot + 4 > Size) return false;
        // id0 len0 id1 len1 ... gathered to ids in the low half, lengths in the high half.
        var entries = Avx.LoadVector256((uint*)(_parts.UsedRing + slot));
        var split = Avx2.PermuteVar8x32(entries, Vector256.Create(0u, 2, 4, 6, 1, 3, 5, 7));
        var ids = split.GetLower();
        var used = split.GetUpper();
        var expected = Vector128.Create((uint)slot) + Vector128.Create(0u, 1, 2, 3);
        var capacity = Vector128.LoadUnsafe(ref _capacities[slot]);
        if (!Vector128.EqualsAll(ids, expected) || Vector128.GreaterThanAny(used, capacity)) return false;
        used.StoreUnsafe(ref lengths[0]);
        Vector256.LoadUnsafe(ref _cookies[slot]).StoreUnsafe(ref cookies[0]);
        _lastUsed += 4;
        return true;
    }

    public bool TryReclaim(out nint cookie)
    {
        if (Lent == 0)
        {
            cookie = 0;
            return false;
        }
        cookie = _cookies[_lastUsed & _mask];
        _lastUsed++;
        _deviceUsedIdx = _lastUsed;
        return true;
    }

    public readonly void SuppressInterrupts() => _parts.SuppressInterrupts(_eventIndex, _lastUsed);
}
