using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Vfio;

/// <summary>
/// Pmd.Vfio's log lines (control path only; the datapath never logs), event ids 3000-3999: the
/// e1000e driver 3000-3099, PCI hotplug 3100-3199, the VFIO container 3200-3299.
/// </summary>
internal static partial class VfioLog
{
    // ---- e1000e: 3000-3099 ----

    [LoggerMessage(EventId = 3000, EventName = "E1000eProbed", Level = LogLevel.Information,
        Message = "{Device}: 82574 (e1000e) {Mac} from {MacSource}, link {Link}; link interrupt: {LinkInterrupt}, request interrupt: {RequestInterrupt}")]
    public static partial void E1000eProbed(ILogger logger, string device, MacAddress mac, string macSource, LinkStatus link, bool linkInterrupt, bool requestInterrupt);

    [LoggerMessage(EventId = 3001, EventName = "E1000eNoLinkInterrupt", Level = LogLevel.Warning,
        Message = "{Device}: no MSI-X vector for link changes, so no link events; Link still reads STATUS")]
    public static partial void E1000eNoLinkInterrupt(ILogger logger, string device);

    [LoggerMessage(EventId = 3002, EventName = "E1000eLinkChanged", Level = LogLevel.Information, Message = "{Device}: link {Link}")]
    public static partial void E1000eLinkChanged(ILogger logger, string device, LinkStatus link);

    // ---- PCI hotplug: 3100-3199 ----

    [LoggerMessage(EventId = 3100, EventName = "HotplugTaking", Level = LogLevel.Information,
        Message = "{Device} ({Id}) appeared ({Action}, driver {Driver}); the hotplug policy allows it: binding it to vfio-pci")]
    public static partial void HotplugTaking(ILogger logger, string device, string id, string action, string driver);

    [LoggerMessage(EventId = 3101, EventName = "HotplugAttached", Level = LogLevel.Information, Message = "{Device} attached as port {Port} ({Ms} ms after its uevent)")]
    public static partial void HotplugAttached(ILogger logger, string device, ushort port, long ms);

    // One line, no exception: only the expected failures (no IOMMU group, busy, bad devargs...)
    // come here, and the operator needs what went wrong, not where.
    [LoggerMessage(EventId = 3102, EventName = "HotplugTakeFailed", Level = LogLevel.Warning, Message = "{Device} appeared but could not be taken: {Error}")]
    public static partial void HotplugTakeFailed(ILogger logger, string device, string error);

    [LoggerMessage(EventId = 3104, EventName = "HotplugBindRetry", Level = LogLevel.Debug, Message = "{Device}: bind attempt {Attempt} failed, trying again: {Error}")]
    public static partial void HotplugBindRetry(ILogger logger, string device, int attempt, string error);

    [LoggerMessage(EventId = 3103, EventName = "HotplugRemoved", Level = LogLevel.Warning, Message = "{Device} was removed while port {Port} used it")]
    public static partial void HotplugRemoved(ILogger logger, string device, ushort port);

    // ---- VFIO container: 3200-3299 ----

    [LoggerMessage(EventId = 3200, EventName = "DmaMappingFailed", Level = LogLevel.Error, Message = "DMA {Action} of region {Name} failed")]
    public static partial void DmaMappingFailed(ILogger logger, Exception exception, string action, string name);
}
