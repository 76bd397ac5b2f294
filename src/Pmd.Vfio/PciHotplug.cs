using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.Hotplug;

namespace Pmd.Vfio;

/// <summary>
/// Takes PCI functions that appear while the application runs, when its policy allows them: a
/// function whose vendor:device id is on the allow list is bound to vfio-pci (even if a kernel
/// driver took it first) and attached as a port, which raises the NEW event a failover port pairs
/// on. Functions with an allowed id that are already there when it starts are taken the same way
/// (a restarted application finds its primary plugged in). A function that disappears under a
/// port raises that port's Removal event. Without an allow list nothing is ever bound: the
/// library does not take devices on its own initiative.
/// </summary>
public sealed class PciHotplug : IDisposable
{
    private readonly PortRegistry _registry;
    private readonly HashSet<PciId> _allowed;
    private readonly UeventMonitor _monitor;
    private readonly ILogger _log;

    public PciHotplug(PortRegistry registry, IEnumerable<PciId> allowed)
    {
        _registry = registry;
        _log = registry.LoggerFactory.CreateLogger("Pmd.Hotplug");
        _allowed = [.. allowed];
        if (_allowed.Count == 0) throw new ArgumentException("a hotplug policy needs at least one vendor:device id to allow", nameof(allowed));
        _monitor = new UeventMonitor(registry.Control, OnUevent, registry.LoggerFactory);
        // After the monitor is listening, so that a device appearing meanwhile is not missed (a
        // second sighting finds its port and is ignored).
        registry.Control.Post(TakeExisting);
    }

    private void TakeExisting()
    {
        foreach (var device in PciSysfs.List())
            if (_allowed.Contains(new PciId(device.VendorId, device.DeviceId)))
                Take(device.Address, new PciId(device.VendorId, device.DeviceId).ToString(), "present at start", device.Driver);
    }

    /// <summary>The allow list.</summary>
    public IReadOnlyCollection<PciId> Allowed => _allowed;

    /// <summary>Devices attached since the start.</summary>
    public int Taken { get; private set; }

    /// <summary>Parses "8086:10d3" (hex, as lspci prints ids).</summary>
    public static PciId ParseId(string text)
    {
        var parts = text.Split(':');
        if (parts.Length != 2
            || !ushort.TryParse(parts[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort vendor)
            || !ushort.TryParse(parts[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort device))
            throw new FormatException($"'{text}' is not a PCI vendor:device id (e.g. 8086:10d3)");
        return new PciId(vendor, device);
    }

    /// <summary>What a uevent asks of the policy, decided without touching the system (for tests).</summary>
    internal static HotplugAction Decide(Uevent e, IReadOnlySet<PciId> allowed)
    {
        if (e.Subsystem != "pci" || e.Get("PCI_SLOT_NAME") is not { } slot || !PciAddress.TryParse(slot, out var address)) return HotplugAction.None;
        switch (e.Action)
        {
            case "remove":
                return new HotplugAction(HotplugActionKind.Remove, address);
            case "add" or "bind":
                if (e.Get("PCI_ID") is not { } id) return HotplugAction.None;
                PciId parsed;
                try { parsed = ParseId(id); }
                catch (FormatException) { return HotplugAction.None; }
                if (!allowed.Contains(parsed)) return HotplugAction.None;
                // vfio-pci binding it is our own doing: nothing more to decide.
                if (e.Action == "bind" && e.Get("DRIVER") == PciSysfs.VfioPciDriver) return HotplugAction.None;
                return new HotplugAction(HotplugActionKind.Take, address);
            default:
                return HotplugAction.None;
        }
    }

    private void OnUevent(Uevent e)
    {
        var action = Decide(e, _allowed);
        switch (action.Kind)
        {
            case HotplugActionKind.Take:
                Take(action.Address, e.Get("PCI_ID") ?? "?", e.Action, e.Get("DRIVER"));
                break;
            case HotplugActionKind.Remove when PortAt(action.Address) is { } port:
                VfioLog.HotplugRemoved(_log, action.Address.ToString(), port.PortId);
                _registry.Raise(port.PortId, PortEventType.Removal, "the PCI device was removed");
                break;
        }
    }

    private EthPort? PortAt(PciAddress address) =>
        _registry.AllPorts.FirstOrDefault(p => p.Name == address.ToString() && p.State != PortState.Closed);

    /// <summary>Bind attempts for a device that just appeared, <see cref="BindRetryDelay"/> apart.</summary>
    private const int BindAttempts = 20;

    private static readonly TimeSpan BindRetryDelay = TimeSpan.FromMilliseconds(50);

    private void Take(PciAddress address, string id, string why, string? driver)
    {
        if (PortAt(address) is not null) return;
        VfioLog.HotplugTaking(_log, address.ToString(), id, why, driver ?? "none");
        TryTake(address, Stopwatch.StartNew(), attempt: 1);
    }

    private void TryTake(PciAddress address, Stopwatch clock, int attempt)
    {
        if (PortAt(address) is not null) return;
        try
        {
            PciSysfs.BindToVfio(address);
        }
        catch (VfioException ex) when (attempt < BindAttempts && Directory.Exists(PciSysfs.DeviceDirectory(address)))
        {
            // The add uevent can come before the kernel has assigned the device's BARs (a device
            // QEMU plugs back in after a cancelled migration); vfio-pci's probe then refuses it.
            // The device is still there: try again shortly, from the control thread's timer.
            VfioLog.HotplugBindRetry(_log, address.ToString(), attempt, ex.Message);
            _registry.Control.Schedule(BindRetryDelay, () => TryTake(address, clock, attempt + 1));
            return;
        }
        catch (Exception ex) when (ex is VfioException or IOException or UnauthorizedAccessException)
        {
            VfioLog.HotplugTakeFailed(_log, address.ToString(), ex.Message);   // expected failures: one line (see VfioLog)
            return;
        }
        // The group's device node appears after the bind, when devtmpfs and udev get to it: one
        // opened before that does not exist yet (seen after a cancelled migration's re-plug).
        if (attempt < BindAttempts && PciSysfs.Find(address) is { IommuGroup: int group } info
            && !File.Exists(VfioGroup.PathOf(group, info.NoIommuGroup)))
        {
            VfioLog.HotplugBindRetry(_log, address.ToString(), attempt, $"{VfioGroup.PathOf(group, info.NoIommuGroup)} does not exist yet");
            _registry.Control.Schedule(BindRetryDelay, () => TryTake(address, clock, attempt + 1));
            return;
        }
        try
        {
            var port = _registry.Attach(address.ToString());
            Taken++;
            VfioLog.HotplugAttached(_log, address.ToString(), port.PortId, clock.ElapsedMilliseconds);
        }
        catch (Exception ex) when (ex is VfioException or DevArgsException or IOException or InvalidOperationException or NotSupportedException or TimeoutException or UnauthorizedAccessException)
        {
            VfioLog.HotplugTakeFailed(_log, address.ToString(), ex.Message);   // expected failures: one line (see VfioLog)
        }
    }

    public void Dispose() => _monitor.Dispose();
}

internal enum HotplugActionKind { None, Take, Remove }

internal readonly record struct HotplugAction(HotplugActionKind Kind, PciAddress Address)
{
    public static HotplugAction None => default;
}
