using System.Runtime.CompilerServices;

namespace Pmd.VirtioNet.Rings;

/// <summary>
/// The buffer ids a packed ring has not lent, handed out first in, first out. An id that comes back
/// is lent again only after every other free one, so a device that reports a completion twice (a
/// lie, or a late repeat) almost never finds the id lent to a new chain already, where the repeat
/// would complete that chain early. In order, ids then also stay equal to ring positions.
/// </summary>
internal struct FreeIdQueue
{
    private readonly ushort[] _ids;
    private int _head;
    private int _count;

    public FreeIdQueue(int size)
    {
        _ids = new ushort[size];
        for (int i = 0; i < size; i++) _ids[i] = (ushort)i;
        _count = size;
    }

    public readonly int Count => _count;

    /// <summary>The oldest free id. The caller has checked that one is free.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public ushort Take()
    {
        ushort id = _ids[_head];
        if (++_head == _ids.Length) _head = 0;
        _count--;
        return id;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Return(ushort id)
    {
        int tail = _head + _count;
        if (tail >= _ids.Length) tail -= _ids.Length;
        _ids[tail] = id;
        _count++;
    }
}
