using Pmd.VirtioNet.Rings;

namespace Pmd.Fuzz.Targets;

/// <summary>The device side of an RX ring as the mergeable-RX target plays it: what was posted, and used entries written back.</summary>
internal unsafe interface IRxDevice
{
    /// <summary>The id of some buffer the driver posted, chosen by <paramref name="k"/>: valid completions are then easy to reach.</summary>
    ushort PostedId(int k);

    /// <summary>Where the driver said buffer <paramref name="id"/> is, or 0 when the harness does not know.</summary>
    ulong AddressOf(uint id);

    /// <summary>Writes the next used entry and makes it visible, as a device does.</summary>
    void Complete(uint id, uint length);

    /// <summary>Raw device writes anywhere in the device-written part of the ring.</summary>
    void Scribble(ref FuzzInput input);

    /// <summary>After the driver posted buffers: learn where they are.</summary>
    void LearnPosted();
}

/// <summary>A split ring's device: the descriptor table is indexed by id and written only by the driver.</summary>
internal sealed unsafe class SplitRxDevice(byte* memory, int size) : IRxDevice
{
    private readonly SplitRingLayout _layout = SplitRingLayout.For(size);
    private ushort _usedIdx;

    private ushort* AvailRing => (ushort*)(memory + _layout.AvailOffset + 4);
    private ushort* UsedIdx => (ushort*)(memory + _layout.UsedOffset + 2);
    private uint* UsedRing => (uint*)(memory + _layout.UsedOffset + 4);

    public ushort PostedId(int k) => AvailRing[k & (size - 1)];

    public ulong AddressOf(uint id) => id < size ? *(ulong*)(memory + _layout.DescriptorOffset + 16 * id) : 0;

    public void Complete(uint id, uint length)
    {
        int slot = _usedIdx & (size - 1);
        UsedRing[slot * 2] = id;
        UsedRing[slot * 2 + 1] = length;
        Volatile.Write(ref *UsedIdx, ++_usedIdx);
    }

    public void Scribble(ref FuzzInput input)
    {
        _usedIdx = input.U16();
        Volatile.Write(ref *UsedIdx, _usedIdx);
    }

    public void LearnPosted() { }
}

/// <summary>
/// A packed ring's device: used entries overwrite the descriptors, so where each posted buffer
/// is gets noted from the available descriptors before the device writes over them.
/// </summary>
internal sealed unsafe class PackedRxDevice(byte* memory, int size) : IRxDevice
{
    private const ushort Avail = 1 << 7, Used = 1 << 15;
    private readonly ulong[] _addressOf = new ulong[size];
    private int _usedPos;
    private bool _usedWrap = true;

    private byte* Desc(int pos) => memory + 16 * pos;

    public ushort PostedId(int k) => *(ushort*)(Desc(k % size) + 12);

    public ulong AddressOf(uint id) => id < size ? _addressOf[id] : 0;

    public void Complete(uint id, uint length)
    {
        byte* d = Desc(_usedPos);
        *(uint*)(d + 8) = length;
        *(ushort*)(d + 12) = (ushort)id;
        Volatile.Write(ref *(ushort*)(d + 14), _usedWrap ? (ushort)(Avail | Used) : (ushort)0);
        if (++_usedPos == size)
        {
            _usedPos = 0;
            _usedWrap = !_usedWrap;
        }
    }

    public void Scribble(ref FuzzInput input)
    {
        byte* d = Desc(input.U8() % size);
        *(uint*)(d + 8) = input.U32();
        *(ushort*)(d + 12) = input.U16();
        Volatile.Write(ref *(ushort*)(d + 14), input.U16());
    }

    public void LearnPosted()
    {
        for (int pos = 0; pos < size; pos++)
        {
            byte* d = Desc(pos);
            ushort flags = *(ushort*)(d + 14), id = *(ushort*)(d + 12);
            bool available = ((flags & Avail) != 0) != ((flags & Used) != 0);
            if (available && id < size) _addressOf[id] = *(ulong*)d;
        }
    }
}
