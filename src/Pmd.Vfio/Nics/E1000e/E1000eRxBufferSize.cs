using static Pmd.Vfio.Nics.E1000e.E1000eRegisters;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// The receive buffer sizes RCTL can name (BSIZE, times 16 with BSEX): the device writes up to
/// that many bytes into each lent buffer, so the size chosen is the largest that fits the pool's
/// data room, and a frame longer than one buffer continues in the next descriptor.
/// </summary>
internal static class E1000eRxBufferSize
{
    private static readonly (int Size, uint Bits)[] Choices =
    [
        (16384, RctlBits.BufferSizeExtension | 1u << (int)RctlBits.BufferSizeShift),
        (8192, RctlBits.BufferSizeExtension | 2u << (int)RctlBits.BufferSizeShift),
        (4096, RctlBits.BufferSizeExtension | 3u << (int)RctlBits.BufferSizeShift),
        (2048, 0),
        (1024, 1u << (int)RctlBits.BufferSizeShift),
        (512, 2u << (int)RctlBits.BufferSizeShift),
        (256, 3u << (int)RctlBits.BufferSizeShift),
    ];

    public const int Smallest = 256;

    /// <summary>The largest buffer size not above <paramref name="dataRoom"/>, and its RCTL bits.</summary>
    public static (int Size, uint RctlBits) For(int dataRoom)
    {
        foreach (var choice in Choices)
            if (choice.Size <= dataRoom) return choice;
        throw new ArgumentOutOfRangeException(nameof(dataRoom), $"an e1000e receive buffer is at least {Smallest} bytes; the pool's data room is {dataRoom}");
    }
}
