using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet;

/// <summary>The virtio-net PMD's log lines (control thread only).</summary>
internal static partial class VirtioNetLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: the device did not take the announce ack: {Error}")]
    public static partial void AnnounceAckFailed(ILogger logger, string port, string error);
}
