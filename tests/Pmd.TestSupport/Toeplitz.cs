namespace Pmd.TestSupport;

/// <summary>
/// The Toeplitz hash of Microsoft's RSS specification, bit by bit as the specification defines it
/// (slow, for tests): for every set bit i of the input, most significant first, the 32 key bits
/// starting at bit i are XORed into the result.
/// </summary>
public static class Toeplitz
{
    /// <summary>Microsoft's default RSS key, DPDK's default for Intel NICs.</summary>
    public static readonly byte[] DefaultKey =
    [
        0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
        0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
        0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
    ];

    public static uint Hash(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        uint result = 0;
        for (int i = 0; i < input.Length * 8; i++)
            if (Bit(input, i)) result ^= KeyWindow(key, i);
        return result;
    }

    private static bool Bit(ReadOnlySpan<byte> bytes, int bit) => bit < bytes.Length * 8 && ((bytes[bit / 8] >> (7 - bit % 8)) & 1) != 0;

    private static uint KeyWindow(ReadOnlySpan<byte> key, int start)
    {
        uint v = 0;
        for (int j = 0; j < 32; j++) v = (v << 1) | (Bit(key, start + j) ? 1u : 0u);
        return v;
    }
}
