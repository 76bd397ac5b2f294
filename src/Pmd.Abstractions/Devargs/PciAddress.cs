using System.Globalization;

namespace Pmd.Devargs;

/// <summary>A PCI address, domain:bus:device.function, as in "0000:00:04.0".</summary>
public readonly record struct PciAddress(ushort Domain, byte Bus, byte Device, byte Function)
{
    /// <summary>Parses "DDDD:BB:DD.F" or the short "BB:DD.F".</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out PciAddress address)
    {
        address = default;
        ushort domain = 0;
        if (text.Length == 12)
        {
            if (text[4] != ':' || !ushort.TryParse(text[..4], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out domain)) return false;
            text = text[5..];
        }
        if (text.Length != 7 || text[2] != ':' || text[5] != '.') return false;
        if (!byte.TryParse(text[..2], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte bus)) return false;
        if (!byte.TryParse(text[3..5], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte device) || device > 31) return false;
        if (!byte.TryParse(text[6..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte function) || function > 7) return false;
        address = new PciAddress(domain, bus, device, function);
        return true;
    }

    public static PciAddress Parse(string text) =>
        TryParse(text, out var a) ? a : throw new DevArgsException($"'{text}' is not a PCI address like 0000:00:04.0");

    /// <summary>Whether the text starts like a PCI address, to tell "-a" arguments from vdev names.</summary>
    public static bool LooksLikePci(ReadOnlySpan<char> text)
    {
        int comma = text.IndexOf(',');
        var head = comma < 0 ? text : text[..comma];
        return head.Length is 7 or 12 && head.Contains(':') && head.Contains('.');
    }

    public override string ToString() => $"{Domain:x4}:{Bus:x2}:{Device:x2}.{Function:x1}";
}
