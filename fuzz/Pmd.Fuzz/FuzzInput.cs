namespace Pmd.Fuzz;

/// <summary>
/// Reads a fuzz input as a stream of small choices. Past the end every read is 0, so any input,
/// however short, is a complete program for a target: AFL's mutations never make one invalid.
/// </summary>
internal ref struct FuzzInput(ReadOnlySpan<byte> data)
{
    private ReadOnlySpan<byte> _rest = data;

    public readonly bool IsEmpty => _rest.IsEmpty;

    public readonly int Remaining => _rest.Length;

    public byte U8()
    {
        if (_rest.IsEmpty) return 0;
        byte b = _rest[0];
        _rest = _rest[1..];
        return b;
    }

    public ushort U16() => (ushort)(U8() | (U8() << 8));

    public uint U32() => U16() | ((uint)U16() << 16);

    public bool Bool() => (U8() & 1) != 0;

    /// <summary>A value in [0, <paramref name="count"/>).</summary>
    public int Below(int count) => count <= 1 ? 0 : U8() % count;

    /// <summary>Up to <paramref name="max"/> bytes, fewer when the input runs out.</summary>
    public ReadOnlySpan<byte> Bytes(int max)
    {
        var taken = _rest[..Math.Min(max, _rest.Length)];
        _rest = _rest[taken.Length..];
        return taken;
    }

    /// <summary>Everything not read yet.</summary>
    public ReadOnlySpan<byte> Rest()
    {
        var rest = _rest;
        _rest = default;
        return rest;
    }
}
