using System.Text;

namespace Pmd.Hotplug;

/// <summary>
/// One kernel uevent as NETLINK_KOBJECT_UEVENT delivers it: a header "ACTION@DEVPATH", then
/// NUL-separated KEY=VALUE pairs (ACTION, DEVPATH, SUBSYSTEM, SEQNUM, and per subsystem more, e.g.
/// PCI_ID and PCI_SLOT_NAME for PCI). Parsing is strict: anything else is not a uevent.
/// </summary>
public sealed record Uevent(string Action, string DevPath, IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>The longest message accepted (the kernel's UEVENT_BUFFER_SIZE is 2048).</summary>
    public const int MaxLength = 8192;

    public string? Subsystem => Get("SUBSYSTEM");

    public string? Get(string key) => Properties.TryGetValue(key, out var v) ? v : null;

    /// <summary>Parses one datagram; false for a truncated, oversized or malformed one, or one in udev's format.</summary>
    public static bool TryParse(ReadOnlySpan<byte> message, out Uevent? uevent)
    {
        uevent = null;
        if (message.IsEmpty || message.Length > MaxLength) return false;
        int headerEnd = message.IndexOf((byte)0);
        // The kernel ends every field with a NUL, the last one too: a message without is truncated.
        if (headerEnd <= 0 || message[^1] != 0) return false;
        if (!TryText(message[..headerEnd], out string header)) return false;
        int at = header.IndexOf('@');
        if (at <= 0 || at == header.Length - 1) return false;
        string action = header[..at], devPath = header[(at + 1)..];
        if (!devPath.StartsWith('/')) return false;
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = message[(headerEnd + 1)..];
        while (!rest.IsEmpty)
        {
            int end = rest.IndexOf((byte)0);
            if (!TryText(rest[..end], out string field)) return false;
            int eq = field.IndexOf('=');
            if (eq <= 0) return false;
            properties[field[..eq]] = field[(eq + 1)..];
            rest = rest[(end + 1)..];
        }
        // The header and the properties must agree, or the message is not the kernel's.
        if (properties.GetValueOrDefault("ACTION") != action || properties.GetValueOrDefault("DEVPATH") != devPath) return false;
        uevent = new Uevent(action, devPath, properties);
        return true;
    }

    private static bool TryText(ReadOnlySpan<byte> bytes, out string text)
    {
        text = "";
        foreach (byte b in bytes)
            if (b < 0x20 || b > 0x7E) return false;
        text = Encoding.ASCII.GetString(bytes);
        return true;
    }
}
