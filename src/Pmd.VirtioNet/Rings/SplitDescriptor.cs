using System.Runtime.InteropServices;

namespace Pmd.VirtioNet.Rings;

/// <summary>struct virtq_desc: one entry of a split ring's descriptor table (little-endian, x86 only).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct SplitDescriptor
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;

    private ulong _address;
    private uint _length;
    private ushort _flags;
    private ushort _next;

    public SplitDescriptor(ulong address, uint length, ushort flags, ushort next)
    {
        _address = address;
        _length = length;
        _flags = flags;
        _next = next;
    }

    public readonly ulong Address => _address;
    public readonly uint Length => _length;
    public readonly ushort Flags => _flags;
    public readonly ushort NextIndex => _next;
}

/// <summary>struct virtq_used_elem: the id of a returned chain and the bytes the device wrote.</summary>
[StructLayout(LayoutKind.Sequential, Size = 8)]
internal readonly struct SplitUsedElement
{
    private readonly uint _id;
    private readonly uint _length;

    public SplitUsedElement(uint id, uint length)
    {
        _id = id;
        _length = length;
    }

    public uint Id => _id;
    public uint Length => _length;
}
