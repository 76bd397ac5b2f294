using Pmd.VirtioNet.Rings;

namespace Pmd.TestSupport.Virtio;

/// <summary>
/// The device side of a split ring, in process: reads what the driver made available and writes
/// used entries, with the same memory ordering a real device needs. For unit tests of the ring
/// logic and for microbenchmarks; the real-peer tests use DPDK's vhost backend instead.
/// </summary>
internal sealed unsafe class SplitRingDevice
{
    private readonly byte* _memory;
    private readonly int _size;
    private readonly SplitRingLayout _layout;
    private readonly VirtqBuffer[] _buffers;
    private readonly bool[] _writable;
    private ushort _lastAvail;
    private ushort _usedIdx;

    public SplitRingDevice(nint memory, int size)
    {
        _memory = (byte*)memory;
        _size = size;
        _layout = SplitRingLayout.For(size);
        _buffers = new VirtqBuffer[size];
        _writable = new bool[size];
    }

    public static int BytesFor(int size) => SplitRingLayout.For(size).TotalBytes;

    private ushort* AvailIdx => (ushort*)(_memory + _layout.AvailOffset + 2);
    private ushort* AvailRing => (ushort*)(_memory + _layout.AvailOffset + 4);
    private ushort* UsedFlags => (ushort*)(_memory + _layout.UsedOffset);
    private ushort* UsedIdx => (ushort*)(_memory + _layout.UsedOffset + 2);
    private uint* UsedRing => (uint*)(_memory + _layout.UsedOffset + 4);
    private ushort* AvailEvent => (ushort*)(_memory + _layout.UsedOffset + 4 + 8 * _size);

    public ushort AvailFlags => *(ushort*)(_memory + _layout.AvailOffset);

    public ushort UsedEvent => *(ushort*)(_memory + _layout.AvailOffset + 4 + 2 * _size);

    /// <summary>Chains made available and not yet popped.</summary>
    public int Pending => (ushort)(Volatile.Read(ref *AvailIdx) - _lastAvail);

    public bool TryPop(out DeviceChain chain)
    {
        chain = default;
        if (_lastAvail == Volatile.Read(ref *AvailIdx)) return false;
        ushort head = AvailRing[_lastAvail & (_size - 1)];
        _lastAvail++;
        var desc = (ulong*)_memory;
        int count = 0;
        ushort id = head;
        while (true)
        {
            if (id >= _size || count >= _size) throw new InvalidOperationException($"driver wrote a bad descriptor chain at {head}");
            ulong address = desc[id * 2];
            uint length = (uint)desc[id * 2 + 1];
            ushort flags = (ushort)(desc[id * 2 + 1] >> 32);
            ushort next = (ushort)(desc[id * 2 + 1] >> 48);
            if ((flags & 4) != 0)
            {
                count = ReadIndirect((ulong*)address, (int)(length / 16));
                break;
            }
            _buffers[count] = new VirtqBuffer(address, length);
            _writable[count] = (flags & 2) != 0;
            count++;
            if ((flags & 1) == 0) break;
            id = next;
        }
        chain = new DeviceChain(head, _buffers, _writable, count);
        return true;
    }

    /// <summary>An indirect table: a chain of its own, linked by NEXT, in memory the test owns (IOVA = VA).</summary>
    private int ReadIndirect(ulong* table, int entries)
    {
        int count = 0;
        for (int i = 0; ; count++)
        {
            if (i >= entries || count >= entries) throw new InvalidOperationException("bad indirect table");
            ushort flags = (ushort)(table[i * 2 + 1] >> 32);
            _buffers[count] = new VirtqBuffer(table[i * 2], (uint)table[i * 2 + 1]);
            _writable[count] = (flags & 2) != 0;
            if ((flags & 1) == 0) return count + 1;
            i = (ushort)(table[i * 2 + 1] >> 48);
        }
    }

    /// <summary>Returns a chain: writes the used element and publishes the new used idx.</summary>
    public void PushUsed(uint id, uint length, bool publish = true)
    {
        int slot = _usedIdx & (_size - 1);
        UsedRing[slot * 2] = id;
        UsedRing[slot * 2 + 1] = length;
        _usedIdx++;
        if (publish) Publish();
    }

    public void Publish() => Volatile.Write(ref *UsedIdx, _usedIdx);

    /// <summary>A lying device: publishes <paramref name="index"/> as its used idx and carries on from there.</summary>
    public void SetUsedIndex(ushort index)
    {
        _usedIdx = index;
        Publish();
    }

    /// <summary>The used idx the device will publish next.</summary>
    public ushort UsedIndex => _usedIdx;

    /// <summary>VRING_USED_F_NO_NOTIFY: the device polls and wants no kicks.</summary>
    public void SetNoNotify(bool on) => Volatile.Write(ref *UsedFlags, on ? (ushort)1 : (ushort)0);

    /// <summary>With EVENT_IDX: kick me when avail idx passes <paramref name="index"/>.</summary>
    public void SetAvailEvent(ushort index) => Volatile.Write(ref *AvailEvent, index);
}
