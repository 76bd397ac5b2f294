using Microsoft.Extensions.Logging;

namespace Pmd.Hotplug;

/// <summary>Hotplug's log lines, on the control thread.</summary>
internal static partial class HotplugLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "uevent {Action} {Path}: {Error}")]
    public static partial void HandlerFailed(ILogger logger, string action, string path, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Device} ({Id}) appeared ({Action}, driver {Driver}); the hotplug policy allows it: binding it to vfio-pci")]
    public static partial void Taking(ILogger logger, string device, string id, string action, string driver);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Device} attached as port {Port} ({Ms} ms after its uevent)")]
    public static partial void Attached(ILogger logger, string device, ushort port, long ms);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Device} appeared but could not be taken: {Error}")]
    public static partial void TakeFailed(ILogger logger, string device, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Device} was removed while port {Port} used it")]
    public static partial void Removed(ILogger logger, string device, ushort port);
}
