using Pmd.Devargs;

namespace Pmd.Vfio;

/// <summary>
/// The NIC drivers that live in this assembly, one folder each under Nics/. Each adds itself here
/// from a module initializer in its own folder, so a new driver is a new folder: nothing else in
/// Pmd.Vfio, the core, the failover port or an application changes. Applications call
/// <see cref="RegisterAll"/> once.
/// </summary>
public static class PciNicDrivers
{
    private static readonly Lock Sync = new();
    private static readonly List<PciNicDriver> Drivers = [];

    /// <summary>Every NIC driver in this assembly, by name.</summary>
    public static IReadOnlyList<PciNicDriver> All
    {
        get { lock (Sync) return [.. Drivers.OrderBy(d => d.Name, StringComparer.Ordinal)]; }
    }

    /// <summary>Registers every NIC driver of this assembly with <paramref name="drivers"/> (default: the process-wide registry).</summary>
    public static void RegisterAll(DriverRegistry? drivers = null)
    {
        foreach (var driver in All) (drivers ?? DriverRegistry.Default).Register(driver);
    }

    /// <summary>Called by a driver's module initializer.</summary>
    internal static void Add(PciNicDriver driver)
    {
        lock (Sync)
        {
            if (!Drivers.Any(d => d.Name == driver.Name)) Drivers.Add(driver);
        }
    }
}
