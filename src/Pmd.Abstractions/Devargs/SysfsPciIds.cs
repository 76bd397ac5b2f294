using System.Globalization;

namespace Pmd.Devargs;

/// <summary>
/// A PCI device's vendor and device ids as sysfs gives them (devices/&lt;address&gt;/vendor and
/// device), read one way for both driver matching here and PCI discovery in Pmd.Vfio.
/// </summary>
internal static class SysfsPciIds
{
    public const string DefaultRoot = "/sys/bus/pci";

    public static string DeviceDirectory(string root, PciAddress address) => Path.Combine(root, "devices", address.ToString());

    /// <summary>
    /// The ids of the device at <paramref name="address"/> under <paramref name="root"/>, or null
    /// when there is no such device. A device unplugged halfway through the read throws
    /// <see cref="FileNotFoundException"/> or <see cref="DirectoryNotFoundException"/>.
    /// </summary>
    public static (ushort Vendor, ushort Device)? Read(string root, PciAddress address)
    {
        string dir = DeviceDirectory(root, address);
        if (!Directory.Exists(dir)) return null;
        return ((ushort)ReadHex(Path.Combine(dir, "vendor")), (ushort)ReadHex(Path.Combine(dir, "device")));
    }

    /// <summary>A sysfs attribute that holds one hex number, as "0x8086" (the prefix is optional).</summary>
    public static uint ReadHex(string path)
    {
        string text = File.ReadAllText(path).Trim();
        var digits = text.AsSpan();
        if (digits.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) digits = digits[2..];
        return uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint value)
            ? value
            : throw new InvalidDataException($"{path} holds '{text}', not a hex number");
    }
}
