using Pmd.Ethdev;

namespace Pmd.Devargs;

/// <summary>Drivers by name, and the checks that make a devargs string safe to hand to one.</summary>
public sealed class DriverRegistry
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, PmdDriver> _drivers = new(StringComparer.Ordinal);

    /// <summary>Reads a PCI device's vendor and device ids; replaceable for tests.</summary>
    internal Func<PciAddress, (ushort Vendor, ushort Device)?> PciIdReader { get; set; } = address => SysfsPciIds.Read(SysfsPciIds.DefaultRoot, address);

    public static DriverRegistry Default { get; } = new();

    public IReadOnlyCollection<string> Names
    {
        get { lock (_lock) return [.. _drivers.Keys.Order()]; }
    }

    /// <summary>Adds a driver; registering the same driver twice is harmless.</summary>
    public void Register(PmdDriver driver)
    {
        lock (_lock)
        {
            if (_drivers.TryGetValue(driver.Name, out var existing) && existing.GetType() != driver.GetType())
                throw new InvalidOperationException($"another driver is already registered as {driver.Name}");
            _drivers[driver.Name] = driver;
        }
    }

    /// <summary>Finds the driver for <paramref name="args"/> and checks every key and value against it.</summary>
    public PmdDriver Resolve(DevArgs args)
    {
        var driver = args.IsPci ? ResolvePci(args) : ResolveVirtual(args);
        Validate(args, driver);
        return driver;
    }

    private PmdDriver ResolveVirtual(DevArgs args)
    {
        lock (_lock)
        {
            if (_drivers.TryGetValue(args.Driver, out var d)) return d;
        }
        throw new DevArgsException($"{args.Name}: no driver named '{args.Driver}' (known: {string.Join(", ", Names)})");
    }

    private PmdDriver ResolvePci(DevArgs args)
    {
        var address = args.Pci!.Value;
        var ids = PciIdReader(address) ?? throw new DevArgsException($"{address}: no such PCI device (nothing at {SysfsPciIds.DeviceDirectory(SysfsPciIds.DefaultRoot, address)})");
        lock (_lock)
        {
            var d = _drivers.Values.FirstOrDefault(d => d.MatchesPci(ids.Vendor, ids.Device));
            if (d is not null) return d;
        }
        throw new DevArgsException($"{address}: no driver for PCI device {ids.Vendor:x4}:{ids.Device:x4}");
    }

    private static void Validate(DevArgs args, PmdDriver driver)
    {
        foreach (var (key, value) in args.Pairs)
        {
            var spec = driver.Keys.FirstOrDefault(k => k.Name == key)
                ?? throw new DevArgsException($"{args.Name}: unknown key '{key}' for {driver.Name} (known keys: {string.Join(", ", driver.Keys.Select(k => k.Name))})");
            if (spec.Check(value) is { } problem)
                throw new DevArgsException($"{args.Name}: '{key}={value}' {problem}");
        }
    }
}
