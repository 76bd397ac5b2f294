namespace Pmd.VirtioNet.Rings;

/// <summary>
/// The driver's private record of what it lent the device, by buffer id: the cookie, the chain
/// length and the writable capacity. It lives in managed memory the device cannot touch, so a
/// used entry is checked against it before anything is dereferenced. With IN_ORDER it also keeps
/// the order in which chains were posted, because the device may then return a whole batch with
/// one entry naming only the last chain.
/// </summary>
internal sealed class InflightTable
{
    private readonly nint[] _cookies;
    private readonly ushort[] _chainLength;
    private readonly uint[] _capacity;
    private readonly ushort[]? _order;
    private int _orderHead;
    private int _orderCount;

    public InflightTable(int size, bool trackOrder)
    {
        _cookies = new nint[size];
        _chainLength = new ushort[size];
        _capacity = new uint[size];
        _order = trackOrder ? new ushort[size] : null;
    }

    /// <summary>Chains lent and not yet returned.</summary>
    public int Count { get; private set; }

    public bool IsInFlight(int id) => (uint)id < (uint)_cookies.Length && _chainLength[id] != 0;

    public void Add(ushort id, nint cookie, ushort chainLength, uint writableCapacity)
    {
        _cookies[id] = cookie;
        _chainLength[id] = chainLength;
        _capacity[id] = writableCapacity;
        Count++;
        if (_order is not null)
        {
            _order[(_orderHead + _orderCount) % _order.Length] = id;
            _orderCount++;
        }
    }

    public ushort ChainLength(int id) => _chainLength[id];

    public uint Capacity(int id) => _capacity[id];

    /// <summary>With order tracking: the oldest chain still lent, or -1.</summary>
    public int Oldest => _order is null || _orderCount == 0 ? -1 : _order[_orderHead];

    /// <summary>Forgets <paramref name="id"/> and returns its cookie.</summary>
    public nint Remove(int id)
    {
        nint cookie = _cookies[id];
        _cookies[id] = 0;
        _chainLength[id] = 0;
        Count--;
        if (_order is not null && _orderCount > 0 && _order[_orderHead] == id)
        {
            _orderHead = (_orderHead + 1) % _order.Length;
            _orderCount--;
        }
        return cookie;
    }

    /// <summary>Any id still lent, for reclaiming on stop; -1 when none.</summary>
    public int AnyInFlight()
    {
        if (Count == 0) return -1;
        for (int i = 0; i < _chainLength.Length; i++)
            if (_chainLength[i] != 0) return i;
        return -1;
    }
}
