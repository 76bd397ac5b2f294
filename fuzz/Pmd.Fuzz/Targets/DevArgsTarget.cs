using System.Text;
using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.Vfio.Nics.E1000e;
using Pmd.VirtioNet;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// devargs: DevArgs.Parse and DriverRegistry.Resolve over the input as text, with Pmd's real
/// drivers registered and PCI ids read from the input instead of sysfs. The only error allowed
/// is DevArgsException. A string that resolves must give each driver values its Probe can
/// convert (Probe is told the keys were checked, and calls int.Parse and MacAddress.Parse on
/// them), and a PCI device's canonical name must be its address.
/// </summary>
internal sealed class DevArgsTarget : FuzzTarget
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
    private readonly DriverRegistry _registry = new();
    private (ushort Vendor, ushort Device)? _pciIds;

    public DevArgsTarget()
    {
        VirtioUserDriver.Register(_registry);
        _registry.Register(VirtioPciDriver.Instance);
        _registry.Register(E1000eDriver.Instance);
        _registry.PciIdReader = _ => _pciIds;
    }

    public override string Name => "devargs";

    public override void Run(ReadOnlySpan<byte> data)
    {
        var input = new FuzzInput(data);
        // The first byte picks what sysfs would say about a PCI device: nothing, virtio, e1000e, or unknown.
        _pciIds = input.Below(4) switch
        {
            0 => null,
            1 => (0x1af4, 0x1041),
            2 => (0x8086, 0x10d3),
            _ => (0x1234, 0x5678),
        };
        string text = Utf8.GetString(input.Rest());
        DevArgs args;
        PmdDriver driver;
        try
        {
            args = DevArgs.Parse(text);
            driver = _registry.Resolve(args);
        }
        catch (DevArgsException)
        {
            return;
        }
        foreach (var (key, value) in args.Pairs)
        {
            var spec = driver.Keys.First(k => k.Name == key);
            if (spec.Kind is DevArgKind.Integer or DevArgKind.PowerOfTwo)
                InvariantException.Check(int.TryParse(value, out _), "a checked integer value is not one int.Parse takes");
            if (spec.Kind == DevArgKind.Mac)
                InvariantException.Check(MacAddress.TryParse(value, out _), "a checked MAC is not one MacAddress.Parse takes");
        }
        // A PCI device's name is its address in canonical form, which must read back as the same address.
        if (args.Pci is { } pci)
            InvariantException.Check(PciAddress.TryParse(args.Name, out var again) && again == pci, "a PCI device's canonical name does not parse back to its address");
    }
}
