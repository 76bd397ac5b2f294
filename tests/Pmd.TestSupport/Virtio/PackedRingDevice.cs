using Pmd.VirtioNet.Rings;

namespace Pmd.TestSupport.Virtio;

/// <summary>The device side of a packed ring, in process (see <see cref="SplitRingDevice"/>).</summary>
internal sealed unsafe class PackedRingDevice
{
    private const ushort Next = 1, Write = 2, Avail = 1 << 7, Used = 1 << 15;
    private readonly byte* _memory;
    private readonly int _size;
    private readonly PackedRingLayout _layout;
    private readonly VirtqBuffer[] _buffers;
    private readonly bool[] _writable;
    private ushort _availPos;
    private bool _availWrap = true;
    private ushort _usedPos;
    private bool _usedWrap = true;

    public PackedRingDevice(nint memory, int size)
    {
        _memory = (byte*)memory;
        _size = size;
        _layout = PackedRingLayout.For(size);
        _buffers = new VirtqBuffer[size];
        _writable = new bool[size];
    }

    public static int BytesFor(int size) => PackedRingLayout.For(size).TotalBytes;

    private ulong* Desc(int pos) => (ulong*)(_memory + 16 * pos);
    private ushort* Flags(int pos) => (ushort*)(_memory + 16 * pos + 14);

    public ushort DriverEventFlags => *(ushort*)(_memory + _layout.DriverEventOffset + 2);

    public bool TryPop(out DeviceChain chain)
    {
        chain = default;
        int count = 0;
        ushort pos = _availPos;
        bool wrap = _availWrap;
        ushort id = 0;
        while (true)
        {
            ushort flags = Volatile.Read(ref *Flags(pos));
            bool avail = (flags & Avail) != 0, used = (flags & Used) != 0;
            if (avail != wrap || used == wrap)
            {
                if (count == 0) return false;
                throw new InvalidOperationException("driver published a chain head before its tail");
            }
            var d = Desc(pos);
            id = (ushort)(d[1] >> 32);
            if ((flags & 4) != 0)
            {
                // An indirect table: entries in order, in memory the test owns (IOVA = VA).
                var table = (ulong*)d[0];
                int entries = (int)((uint)d[1] / 16);
                for (int i = 0; i < entries; i++)
                {
                    _buffers[count] = new VirtqBuffer(table[i * 2], (uint)table[i * 2 + 1]);
                    _writable[count++] = ((table[i * 2 + 1] >> 48) & Write) != 0;
                }
                if (++pos == _size) { pos = 0; wrap = !wrap; }
                break;
            }
            _buffers[count] = new VirtqBuffer(d[0], (uint)d[1]);
            _writable[count] = (flags & Write) != 0;
            count++;
            if (++pos == _size) { pos = 0; wrap = !wrap; }
            if ((flags & Next) == 0) break;
            if (count >= _size) throw new InvalidOperationException("endless chain");
        }
        _availPos = pos;
        _availWrap = wrap;
        chain = new DeviceChain(id, _buffers, _writable, count);
        return true;
    }

    /// <summary>Writes a used descriptor for buffer <paramref name="id"/> and skips <paramref name="descriptors"/> slots.</summary>
    public void PushUsed(ushort id, uint length, int descriptors = 1)
    {
        byte* d = (byte*)Desc(_usedPos);
        *(uint*)(d + 8) = length;
        *(ushort*)(d + 12) = id;
        ushort flags = (ushort)(_usedWrap ? Avail | Used : 0);
        Volatile.Write(ref *Flags(_usedPos), flags);
        int p = _usedPos + descriptors;
        while (p >= _size) { p -= _size; _usedWrap = !_usedWrap; }
        _usedPos = (ushort)p;
    }

    /// <summary>A lying device: writes <paramref name="flags"/> into the descriptor at its used position, moving nothing.</summary>
    public void WriteFlagsAtUsedPosition(ushort flags) => Volatile.Write(ref *Flags(_usedPos), flags);

    /// <summary>The lap the device's used position is in.</summary>
    public bool UsedWrap => _usedWrap;

    /// <summary>Sets the device event-suppression area: what the driver reads to decide on kicks.</summary>
    public void SetDeviceEvent(ushort flags, ushort offsetWrap = 0)
    {
        var area = (ushort*)(_memory + _layout.DeviceEventOffset);
        Volatile.Write(ref area[0], offsetWrap);
        Volatile.Write(ref area[1], flags);
    }
}
