namespace Pmd.Devargs;

/// <summary>
/// A parsed device string: "net_virtio_user0,path=/tmp/vh.sock,queues=2" (a virtual device) or
/// "0000:00:04.0,key=value" (a PCI device). Keys keep their order; each appears once.
/// </summary>
public sealed class DevArgs
{
    private readonly List<KeyValuePair<string, string>> _pairs;

    private DevArgs(string text, string name, string driver, PciAddress? pci, List<KeyValuePair<string, string>> pairs)
    {
        Text = text;
        Name = name;
        Driver = driver;
        Pci = pci;
        _pairs = pairs;
    }

    /// <summary>The string as given.</summary>
    public string Text { get; }

    /// <summary>The device name: "net_virtio_user0", or the PCI address in canonical form.</summary>
    public string Name { get; }

    /// <summary>The driver part of a virtual device's name ("net_virtio_user"); empty for PCI.</summary>
    public string Driver { get; }

    public PciAddress? Pci { get; }

    public bool IsPci => Pci is not null;

    public IReadOnlyList<KeyValuePair<string, string>> Pairs => _pairs;

    public bool Has(string key) => _pairs.Any(p => p.Key == key);

    public string? Get(string key) => _pairs.FirstOrDefault(p => p.Key == key).Value;

    /// <summary>The value of an integer or power-of-two key, or its default; checked against its range.</summary>
    public long GetInt(DevArgKey key) => long.Parse(Checked(key, DevArgKind.Integer, DevArgKind.PowerOfTwo), System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The value of a 0/1 key, or its default (false when it has none).</summary>
    public bool GetBool(DevArgKey key) => Get(key.Name) is null && key.Default is null ? false : Checked(key, DevArgKind.Bool) == "1";

    /// <summary>The value of a path, MAC or text key, or its default; null when neither is there.</summary>
    public string? GetText(DevArgKey key) => Get(key.Name) is null && key.Default is null ? null : Checked(key, DevArgKind.Path, DevArgKind.Mac, DevArgKind.Text);

    private string Checked(DevArgKey key, params ReadOnlySpan<DevArgKind> kinds)
    {
        if (!kinds.Contains(key.Kind)) throw new ArgumentException($"'{key.Name}' is a {key.Kind} key", nameof(key));
        string value = Get(key.Name) ?? key.Default ?? throw new DevArgsException($"{Name}: '{key.Name}=' is required ({key.Help})");
        // Resolve checked what the devargs gave; this also holds a default to the key's own rule.
        if (key.Check(value) is { } problem) throw new DevArgsException($"{Name}: {key.Name}={value} {problem}");
        return value;
    }

    /// <summary>Parses without knowing the driver; <see cref="DriverRegistry.Resolve"/> checks the keys.</summary>
    public static DevArgs Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new DevArgsException("the device string is empty");
        var parts = text.Split(',');
        string head = parts[0].Trim();
        string name, driver;
        PciAddress? pci = null;
        if (PciAddress.LooksLikePci(head))
        {
            pci = PciAddress.TryParse(head, out var address)
                ? address
                : throw new DevArgsException($"'{head}' is not a PCI address like 0000:00:04.0");
            name = address.ToString();
            driver = "";
        }
        else
        {
            if (head.Length == 0 || !char.IsAsciiLetter(head[0]) || !head.All(c => char.IsAsciiLetterOrDigit(c) || c == '_'))
                throw new DevArgsException($"'{head}' is not a device name: use letters, digits and '_', starting with a letter, like net_virtio_user0");
            name = head;
            driver = head.TrimEnd("0123456789".ToCharArray());
        }

        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var raw in parts.AsSpan(1))
        {
            string part = raw.Trim();
            if (part.Length == 0) throw new DevArgsException($"{name}: empty argument (two commas in a row, or a trailing comma)");
            int eq = part.IndexOf('=');
            if (eq < 0) throw new DevArgsException($"{name}: '{part}' has no value; write {part}=VALUE");
            string key = part[..eq].Trim(), value = part[(eq + 1)..].Trim();
            if (key.Length == 0) throw new DevArgsException($"{name}: '{part}' has no key before '='");
            if (pairs.Any(p => p.Key == key)) throw new DevArgsException($"{name}: key '{key}' is given twice");
            pairs.Add(new(key, value));
        }
        return new DevArgs(text, name, driver, pci, pairs);
    }

    public override string ToString() => Text;
}
