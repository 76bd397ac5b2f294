using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Vfio.Nics.E1000e;

/// <summary>The e1000e driver's control-path log lines (the datapath never logs).</summary>
internal static partial class E1000eLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{Device}: 82574 (e1000e) {Mac} from {MacSource}, link {Link}; link interrupt: {LinkInterrupt}, request interrupt: {RequestInterrupt}")]
    public static partial void Probed(ILogger logger, string device, MacAddress mac, string macSource, LinkStatus link, bool linkInterrupt, bool requestInterrupt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Device}: no MSI-X vector for link changes, so no link events; Link still reads STATUS")]
    public static partial void NoLinkInterrupt(ILogger logger, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Device}: link {Link}")]
    public static partial void LinkChanged(ILogger logger, string device, LinkStatus link);
}
