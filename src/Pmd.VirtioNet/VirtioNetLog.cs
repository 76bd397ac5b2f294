using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet;

/// <summary>The virtio-net PMD's log lines (control thread only).</summary>
internal static partial class VirtioNetLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: the device did not take the announce ack: {Error}")]
    public static partial void AnnounceAckFailed(ILogger logger, string port, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: the reconnected backend no longer offers {Missing}; link stays down until one that does connects")]
    public static partial void ReconnectFeaturesLost(ILogger logger, string port, string missing);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: setting the rings up again after a reconnect failed: {Error}")]
    public static partial void ReconnectSetupFailed(ILogger logger, string port, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: backend lost ({Queues} queues); reconnecting by itself")]
    public static partial void BackendLost(ILogger logger, string port, int queues);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: backend back, rings set up again (reconnect {Count})")]
    public static partial void BackendBack(ILogger logger, string port, ulong count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: a datapath thread has been inside a burst for over a second; still waiting before the rings are freed")]
    public static partial void SlowQuiescence(ILogger logger, string port);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: the backend that connected while the port was stopped cannot be used: {Error}")]
    public static partial void RenegotiateFailed(ILogger logger, string port, string error);
}
