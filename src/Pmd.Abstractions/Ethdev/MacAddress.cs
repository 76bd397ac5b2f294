using System.Buffers.Binary;
using System.Globalization;

namespace Pmd.Ethdev;

/// <summary>A 48-bit Ethernet address, kept in the low bits of a ulong in wire order.</summary>
public readonly struct MacAddress : IEquatable<MacAddress>
{
    private readonly ulong _value;

    private MacAddress(ulong value) => _value = value & 0xFFFF_FFFF_FFFF;

    public MacAddress(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 6) throw new ArgumentException("a MAC address has 6 bytes", nameof(bytes));
        _value = ((ulong)BinaryPrimitives.ReadUInt32BigEndian(bytes) << 16) | BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]);
    }

    public static MacAddress Zero => default;

    public static MacAddress Broadcast => new(0xFFFF_FFFF_FFFF);

    public bool IsZero => _value == 0;

    public bool IsMulticast => ((_value >> 40) & 1) != 0;

    public void CopyTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(_value >> 16));
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], (ushort)_value);
    }

    public byte[] ToArray()
    {
        var bytes = new byte[6];
        CopyTo(bytes);
        return bytes;
    }

    /// <summary>Parses "52:54:00:12:34:56" (or with dashes).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress mac)
    {
        mac = default;
        if (text.Length != 17) return false;
        ulong value = 0;
        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[i * 3 - 1] is not (':' or '-')) return false;
            if (!byte.TryParse(text.Slice(i * 3, 2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b)) return false;
            value = (value << 8) | b;
        }
        mac = new MacAddress(value);
        return true;
    }

    public static MacAddress Parse(string text) =>
        TryParse(text, out var mac) ? mac : throw new FormatException($"'{text}' is not a MAC address like 52:54:00:12:34:56");

    public bool Equals(MacAddress other) => _value == other._value;

    public override bool Equals(object? obj) => obj is MacAddress m && Equals(m);

    public override int GetHashCode() => _value.GetHashCode();

    public static bool operator ==(MacAddress a, MacAddress b) => a._value == b._value;

    public static bool operator !=(MacAddress a, MacAddress b) => a._value != b._value;

    public override string ToString() => string.Create(17, _value, static (span, v) =>
    {
        for (int i = 0; i < 6; i++)
        {
            byte b = (byte)(v >> (40 - 8 * i));
            if (i > 0) span[i * 3 - 1] = ':';
            b.TryFormat(span.Slice(i * 3, 2), out _, "x2", CultureInfo.InvariantCulture);
        }
    });
}
