using System.Runtime.CompilerServices;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// A packed ring for RX buffers lent to a device that uses them in order (IN_ORDER, or the
/// <c>vectorized=1</c> devarg, which assumes it as DPDK's vector RX does). Every buffer is one
/// descriptor whose buffer id is its position, so the used entry at a position must name that
/// position: there is no free id queue, no order to track and no chain to skip, which is most of
/// what the general <see cref="PackedRing"/> spends on RX.
/// The device is not trusted for that: an entry naming another id, or a length past the buffer,
/// is counted and handed up as rejected with the position's buffer (so nothing is lost), and an
/// entry marked used while nothing is lent, or with AVAIL/USED bits of neither lap, is a stall.
/// A device that marks an entry used without writing its buffer is caught by the RX queue's
/// unwritten mark.
/// </summary>
internal unsafe struct PackedRxRing : IReceiveRing
{
    private readonly PackedDescriptor* _desc;
    private readonly PackedEventSuppression* _driverEvent;
    private readonly PackedEventSuppression* _deviceEvent;
    // What each position holds, in managed memory the device cannot reach.
    private readonly nint[] _cookies;
    private readonly uint[] _capacities;
    private readonly ushort _size;
    private readonly bool _eventIndex;
    private readonly bool _vector;
    private int _lent;
    private ushort _availPos;
    private bool _availWrap;
    private ushort _usedPos;
    private bool _usedWrap;
    private ushort _sinceNotify;
    private ulong _corrupt;
    private ulong _stalls;
    private bool _stalled;

    internal PackedRxRing(byte* memory, int size, RingFeatures features)
    {
        var layout = PackedRingLayout.For(size);
        _desc = (PackedDescriptor*)(memory + layout.DescriptorOffset);
        _driverEvent = (PackedEventSuppression*)(memory + layout.DriverEventOffset);
        _deviceEvent = (PackedEventSuppression*)(memory + layout.DeviceEventOffset);
        _size = (ushort)size;
        _eventIndex = features.EventIndex;
        _vector = features.Vectorized;
        _cookies = new nint[size];
        _capacities = new uint[size];
        _availWrap = true;
        _usedWrap = true;
    }

    public readonly int Size => _size;

    public readonly int FreeCount => _size - _lent;

    public readonly ulong CorruptEntries => _corrupt;

    public readonly ulong Stalls => _stalls;

    public readonly bool IsStalled => _stalled;

    public int AddBuffers(ReadOnlySpan<VirtqBuffer> buffers, ReadOnlySpan<nint> cookies, bool deviceWritable)
    {
        int n = Math.Min(Math.Min(buffers.Length, cookies.Length), FreeCount);
        if (n == 0) return 0;
        ushort write = deviceWritable ? PackedDescriptor.Write : (ushort)0;
        ushort headPos = _availPos;
        ushort headFlags = (ushort)(PackedDescriptor.AvailableBits(_availWrap) | write);
        ushort pos = _availPos;
        bool wrap = _availWrap;
        for (int i = 0; i < n; i++)
        {
            var buffer = buffers[i];
            _cookies[pos] = cookies[i];
            _capacities[pos] = deviceWritable ? buffer.Length : 0;
            ushort flags = (ushort)(PackedDescriptor.AvailableBits(wrap) | write);
            ref var d = ref _desc[pos];
            // The head's flags go last (below): the device reads the ring in order, so it sees none
            // of the batch before that store and all of it after. The vectorized path writes each
            // other descriptor whole in one 16-byte store.
            if (i == 0) d.Fill(buffer.Address, buffer.Length, pos);
            else if (_vector) d.StoreWhole(buffer.Address, buffer.Length, pos, flags);
            else
            {
                d.Fill(buffer.Address, buffer.Length, pos);
                d.StoreFlags(flags);
            }
            if (++pos == _size)
            {
                pos = 0;
                wrap = !wrap;
            }
        }
        _availPos = pos;
        _availWrap = wrap;
        _lent += n;
        _sinceNotify += (ushort)n;
        _desc[headPos].StoreFlags(headFlags);
        return n;
    }

    /// <summary>Each batch was published by its head's flags as it was added.</summary>
    public readonly void Publish() { }

    public bool NeedsNotify()
    {
        if (_sinceNotify == 0) return false;
        ushort added = _sinceNotify;
        _sinceNotify = 0;
        return PackedNotification.Needed(_deviceEvent, _eventIndex, _size, _availPos, _availWrap, added);
    }

    public int TakeUsed(Span<nint> cookies, Span<uint> lengths)
    {
        int want = Math.Min(Math.Min(cookies.Length, lengths.Length), _lent);
        int n = 0;
        ushort pos = _usedPos;
        bool wrap = _usedWrap;
        for (; n < want; n++)
        {
            ref var d = ref _desc[pos];
            ushort flags = d.LoadFlags();
            if (!PackedDescriptor.IsUsed(flags, wrap))
            {
                // While anything is lent, the entry here is one we made available in this lap, or
                // the device has used it. Any other AVAIL/USED pair is the device's mistake.
                if (!PackedDescriptor.IsAvailable(flags, wrap)) Stall();
                else _stalled = false;
                break;
            }
            // Read once each, after the flags: the device may write them again while we look.
            ushort id = d.Id;
            uint length = d.Length;
            if (id != pos || length > _capacities[pos])
            {
                _corrupt++;
                length = CompletedBuffers.Rejected;
            }
            cookies[n] = _cookies[pos];
            lengths[n] = length;
            if (++pos == _size)
            {
                pos = 0;
                wrap = !wrap;
            }
        }
        if (n == 0)
        {
            // Used while nothing is lent: not an entry of ours.
            if (_lent == 0 && PackedDescriptor.IsUsed(_desc[pos].LoadFlags(), wrap)) Stall();
            return 0;
        }
        _stalled = false;
        _usedPos = pos;
        _usedWrap = wrap;
        _lent -= n;
        return n;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void Stall()
    {
        if (!_stalled) _stalls++;
        _stalled = true;
    }

    public bool TryReclaim(out nint cookie)
    {
        if (_lent == 0)
        {
            cookie = 0;
            return false;
        }
        cookie = _cookies[_usedPos];
        if (++_usedPos == _size)
        {
            _usedPos = 0;
            _usedWrap = !_usedWrap;
        }
        _lent--;
        return true;
    }

    public readonly void SuppressInterrupts() => _driverEvent->StoreFlags(PackedEventSuppression.Disable);
}
