namespace Pmd.Vfio.Nics.E1000e;

/// <summary>
/// What the 82574's RSS is loaded with when a port has two RX queues: a Toeplitz key and a
/// redirection table. The device indexes the table's 128 one-byte entries with the hash's low 7
/// bits, and bit 7 of an entry picks queue 1. Entry i is byte i of the table as little-endian
/// dwords (entry 0 is the low byte of RETA's first dword), so 0x80008000 in every dword sends
/// even entries to queue 0 and odd ones to queue 1: the hash's lowest bit picks the queue.
/// </summary>
internal static class E1000eRss
{
    /// <summary>The default Toeplitz key of Microsoft's RSS specification, DPDK's default for Intel NICs: hosts can compute the same hashes.</summary>
    public static ReadOnlySpan<byte> DefaultKey =>
    [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    /// <summary>Entries in the redirection table.</summary>
    public const int RetaEntries = 128;

    /// <summary>The entry bit that selects queue 1.</summary>
    public const byte QueueOneBit = 0x80;

    /// <summary>The queue entry <paramref name="entry"/> names when the table spreads over <paramref name="queues"/> (1 or 2): round robin.</summary>
    public static int QueueOfEntry(int entry, int queues) => entry % queues;

    /// <summary>The queue a frame with RSS hash <paramref name="hash"/> lands on.</summary>
    public static int QueueOfHash(uint hash, int queues) => QueueOfEntry((int)(hash % RetaEntries), queues);

    /// <summary>RETA dword <paramref name="word"/>: its four entries, the lowest byte first.</summary>
    public static uint RetaWord(int word, int queues)
    {
        uint value = 0;
        for (int b = 0; b < 4; b++)
            if (QueueOfEntry(4 * word + b, queues) == 1) value |= (uint)QueueOneBit << (8 * b);
        return value;
    }

    /// <summary>RSSRK dword <paramref name="word"/>: key bytes 4w..4w+3, the first in the low byte (the device reads the registers as a byte array).</summary>
    public static uint KeyWord(ReadOnlySpan<byte> key, int word) =>
        key[4 * word] | (uint)key[4 * word + 1] << 8 | (uint)key[4 * word + 2] << 16 | (uint)key[4 * word + 3] << 24;
}
