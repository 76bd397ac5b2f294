using System.Globalization;
using Pmd.Ethdev;

namespace Pmd.TestPmd.Interactive;

/// <summary>Resolves "all" or a port id in a command; an id with no port prints "Invalid port N".</summary>
internal static class PortSelector
{
    /// <summary>The ports named by <paramref name="text"/>, or null after printing why there are none.</summary>
    public static List<EthPort>? Resolve(PortRegistry registry, string text, TextWriter output)
    {
        if (text == "all")
        {
            var all = new List<EthPort>(registry.Ports);
            all.Sort((a, b) => a.PortId.CompareTo(b.PortId));
            return all;
        }
        if (ushort.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ushort id) && registry.TryGet(id, out var port))
            return [port];
        output.WriteLine($"Invalid port {text}");
        return null;
    }
}
