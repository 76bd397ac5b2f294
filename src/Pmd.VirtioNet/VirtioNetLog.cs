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
}
