using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Pmd.VirtioNet.Rings;

/// <summary>struct pvirtq_desc: one entry of a packed ring (VIRTIO 1.x, 2.8).</summary>
[StructLayout(LayoutKind.Sequential, Size = 16)]
internal struct PackedDescriptor
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;
    public const ushort Avail = 1 << 7;
    public const ushort Used = 1 << 15;

    private ulong _address;
    private uint _length;
    private ushort _id;
    private ushort _flags;

    public ulong Address { readonly get => _address; set => _address = value; }
    public uint Length { readonly get => _length; set => _length = value; }
    public ushort Id { readonly get => _id; set => _id = value; }

    /// <summary>Every field but the flags, which publish the descriptor when stored after (<see cref="StoreFlags"/>).</summary>
    public void Fill(ulong address, uint length, ushort id)
    {
        _address = address;
        _length = length;
        _id = id;
    }

    /// <summary>
    /// Every field, flags included, in one aligned 16-byte store: for a descriptor of a batch whose
    /// first descriptor's flags, stored last, publish it. Descriptors live in ring memory, never on
    /// the managed heap, so the reference is a fixed address.
    /// </summary>
    public unsafe void StoreWhole(ulong address, uint length, ushort id, ushort flags) =>
        Vector128.Create(address, length | (ulong)id << 32 | (ulong)flags << 48).StoreAligned((ulong*)Unsafe.AsPointer(ref this));

    /// <summary>Acquire: the other fields may be read only after the flags say the entry is ours.</summary>
    public ushort LoadFlags() => Volatile.Read(ref _flags);

    /// <summary>Release: publishes the fields written before it.</summary>
    public void StoreFlags(ushort flags) => Volatile.Write(ref _flags, flags);

    /// <summary>The AVAIL/USED bits that mark an entry available to the device in ring lap <paramref name="wrap"/>.</summary>
    public static ushort AvailableBits(bool wrap) => wrap ? Avail : Used;

    /// <summary>Whether <paramref name="flags"/> mark an entry the driver made available in lap <paramref name="wrap"/>.</summary>
    public static bool IsAvailable(ushort flags, bool wrap)
    {
        bool avail = (flags & Avail) != 0, used = (flags & Used) != 0;
        return avail == wrap && used != wrap;
    }

    /// <summary>Whether <paramref name="flags"/> mark an entry the device has used in lap <paramref name="wrap"/>.</summary>
    public static bool IsUsed(ushort flags, bool wrap)
    {
        bool avail = (flags & Avail) != 0, used = (flags & Used) != 0;
        return avail == used && used == wrap;
    }
}

/// <summary>struct pvirtq_event_suppress: how one side tells the other when to notify it.</summary>
[StructLayout(LayoutKind.Sequential, Size = 4)]
internal struct PackedEventSuppression
{
    public const ushort Enable = 0;
    public const ushort Disable = 1;
    public const ushort Descriptor = 2;

    private ushort _offsetWrap;
    private ushort _flags;

    public ushort LoadOffsetWrap() => Volatile.Read(ref _offsetWrap);
    public ushort LoadFlags() => Volatile.Read(ref _flags);
    public void StoreOffsetWrap(ushort value) => Volatile.Write(ref _offsetWrap, value);
    public void StoreFlags(ushort value) => Volatile.Write(ref _flags, value);
}
