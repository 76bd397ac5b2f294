using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet;

/// <summary>The virtio-net PMD's log lines (control thread only).</summary>
internal static partial class VirtioNetLog
{
    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: the device did not take the announce ack: {Error}")]
    public static partial void AnnounceAckFailed(ILogger logger, string port, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: {Direction} queue {Queue} stalled: the device wrote a ring state that cannot be (a used index past what is lent, or wrong wrap bits); {Stalls} time(s) so far, counted in xstats as {Direction}_q{Queue}_stalls")]
    public static partial void QueueStalled(ILogger logger, string port, string direction, int queue, ulong stalls);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: {Direction} queue {Queue}: the device returned {Count} used entries that were rejected (an id not lent, a length past the buffer); later ones are only counted, in xstats as {Direction}_q{Queue}_corrupt_used")]
    public static partial void CorruptEntries(ILogger logger, string port, string direction, int queue, ulong count);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: a queue stayed stalled; the rings were set up afresh (stall reset {Count}), every lent mbuf back in its pool")]
    public static partial void StallReset(ILogger logger, string port, ulong count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: setting the rings up afresh after a lasting stall failed: {Error}; the link is down until the port is started again")]
    public static partial void StallResetFailed(ILogger logger, string port, string error);
}
