using System.Runtime.CompilerServices;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// The driver's private record of what it lent the device, by buffer id: the cookie, the chain
/// length and the writable capacity, together in one 16-byte entry so a completion touches one
/// cache line. It lives in managed memory the device cannot touch, so a used entry is checked
/// against it before anything is dereferenced. With IN_ORDER it also keeps the order in which
/// chains were posted, because the device may then return a whole batch with one entry naming
/// only the last chain.
/// </summary>
internal sealed class InflightTable
{
    private struct Entry
    {
        public nint Cookie;
        public uint Capacity;
        public ushort ChainLength;
        public ushort OrderSlot;
    }

    private readonly Entry[] _entries;
    private readonly ushort[]? _order;
    private int _orderHead;
    private int _orderCount;

    public InflightTable(int size, bool trackOrder)
    {
        _entries = new Entry[size];
        _order = trackOrder ? new ushort[size] : null;
    }

    /// <summary>Chains lent and not yet returned.</summary>
    public int Count { get; private set; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsInFlight(int id) => (uint)id < (uint)_entries.Length && _entries[id].ChainLength != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Add(ushort id, nint cookie, ushort chainLength, uint writableCapacity)
    {
        ref var e = ref _entries[id];
        e.Cookie = cookie;
        e.ChainLength = chainLength;
        e.Capacity = writableCapacity;
        Count++;
        if (_order is not null)
        {
            if (_orderCount == _order.Length) Compact();
            int slot = _orderHead + _orderCount;
            if (slot >= _order.Length) slot -= _order.Length;
            _order[slot] = id;
            e.OrderSlot = (ushort)slot;
            _orderCount++;
        }
    }

    public ushort ChainLength(int id) => _entries[id].ChainLength;

    public uint Capacity(int id) => _entries[id].Capacity;

    /// <summary>
    /// With order tracking: the oldest chain still lent, or -1. Chains a lying device returned out
    /// of order leave holes in the order, which are dropped here as they come to the front.
    /// </summary>
    public int Oldest
    {
        get
        {
            if (_order is null) return -1;
            while (_orderCount > 0)
            {
                int id = _order[_orderHead];
                if (IsInFlight(id) && _entries[id].OrderSlot == _orderHead) return id;
                if (++_orderHead == _order.Length) _orderHead = 0;
                _orderCount--;
            }
            return -1;
        }
    }

    /// <summary>Rewrites the order without its holes; needed only after out-of-order returns filled it.</summary>
    private void Compact()
    {
        var order = _order!;
        int kept = 0;
        var live = new ushort[Count];
        for (int i = 0; i < _orderCount; i++)
        {
            int slot = (_orderHead + i) % order.Length;
            int id = order[slot];
            if (IsInFlight(id) && _entries[id].OrderSlot == slot) live[kept++] = (ushort)id;
        }
        for (int i = 0; i < kept; i++)
        {
            order[i] = live[i];
            _entries[live[i]].OrderSlot = (ushort)i;
        }
        _orderHead = 0;
        _orderCount = kept;
    }

    /// <summary>
    /// With order tracking: how many chains were lent before <paramref name="id"/> and are still
    /// out (0 for the oldest), or -1 when <paramref name="id"/> is not lent.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int OrderPosition(int id)
    {
        if (_order is null || !IsInFlight(id)) return -1;
        int position = _entries[id].OrderSlot - _orderHead;
        if (position < 0) position += _order.Length;
        return position < _orderCount ? position : -1;
    }

    /// <summary>Forgets <paramref name="id"/> and returns its cookie.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint Remove(int id)
    {
        ref var e = ref _entries[id];
        nint cookie = e.Cookie;
        e.Cookie = 0;
        e.ChainLength = 0;
        Count--;
        if (_order is null) return cookie;
        if (Count == 0)
        {
            // Nothing lent: whatever holes reclaiming or a lying device left in the order go too.
            _orderHead = 0;
            _orderCount = 0;
        }
        else if (_orderCount > 0 && _order[_orderHead] == id && e.OrderSlot == _orderHead)
        {
            if (++_orderHead == _order.Length) _orderHead = 0;
            _orderCount--;
        }
        return cookie;
    }

    /// <summary>Any id still lent, for reclaiming on stop; -1 when none.</summary>
    public int AnyInFlight()
    {
        if (Count == 0) return -1;
        for (int i = 0; i < _entries.Length; i++)
            if (_entries[i].ChainLength != 0) return i;
        return -1;
    }
}
