using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet;

/// <summary>
/// Pmd.VirtioNet's log lines (control thread only), event ids 2000-2999: the port 2000-2099,
/// the virtio-pci transport 2100-2199, the vhost-user transport 2200-2299.
/// </summary>
/// <remarks>
/// What a device or backend does wrong (a protocol error, a lying ring, a feature it stopped
/// offering) is expected and handled, and is logged as one line with the exception's message,
/// not the exception: the operator needs what the peer did, not a stack trace, and the hostile
/// backend tests hold the log to that.
/// </remarks>
internal static partial class VirtioNetLog
{
    // ---- The port: 2000-2099 ----

    [LoggerMessage(EventId = 2000, EventName = "Negotiated", Level = LogLevel.Information, Message = "{Name}: negotiated {Features}")]
    public static partial void Negotiated(ILogger logger, string name, string features);

    // A device/backend failure, handled: one line (see the remarks).
    [LoggerMessage(EventId = 2001, EventName = "AnnounceAckFailed", Level = LogLevel.Warning, Message = "{Port}: the device did not take the announce ack: {Error}")]
    public static partial void AnnounceAckFailed(ILogger logger, string port, string error);

    [LoggerMessage(EventId = 2002, EventName = "QueueStalled", Level = LogLevel.Warning,
        Message = "{Port}: {Direction} queue {Queue} stalled: the device wrote a ring state that cannot be (a used index past what is lent, or wrong wrap bits); {Stalls} time(s) so far, counted in xstats as {Direction}_q{Queue}_stalls")]
    public static partial void QueueStalled(ILogger logger, string port, string direction, int queue, ulong stalls);

    [LoggerMessage(EventId = 2003, EventName = "CorruptEntries", Level = LogLevel.Warning,
        Message = "{Port}: {Direction} queue {Queue}: the device returned {Count} used entries that were rejected (an id not lent, a length past the buffer); later ones are only counted, in xstats as {Direction}_q{Queue}_corrupt_used")]
    public static partial void CorruptEntries(ILogger logger, string port, string direction, int queue, ulong count);

    [LoggerMessage(EventId = 2004, EventName = "ReconnectFeaturesLost", Level = LogLevel.Warning,
        Message = "{Port}: the reconnected backend no longer offers {Missing}; link stays down until one that does connects")]
    public static partial void ReconnectFeaturesLost(ILogger logger, string port, string missing);

    // A backend failure, handled (it reconnects again): one line (see the remarks).
    [LoggerMessage(EventId = 2005, EventName = "ReconnectSetupFailed", Level = LogLevel.Warning, Message = "{Port}: setting the rings up again after a reconnect failed: {Error}")]
    public static partial void ReconnectSetupFailed(ILogger logger, string port, string error);

    [LoggerMessage(EventId = 2006, EventName = "BackendLost", Level = LogLevel.Information, Message = "{Port}: backend lost ({Queues} queues); reconnecting by itself")]
    public static partial void BackendLost(ILogger logger, string port, int queues);

    [LoggerMessage(EventId = 2007, EventName = "BackendBack", Level = LogLevel.Information, Message = "{Port}: backend back, rings set up again (reconnect {Count})")]
    public static partial void BackendBack(ILogger logger, string port, ulong count);

    [LoggerMessage(EventId = 2008, EventName = "SlowQuiescence", Level = LogLevel.Warning,
        Message = "{Port}: a datapath thread has been inside a burst for over a second; still waiting before the rings are freed")]
    public static partial void SlowQuiescence(ILogger logger, string port);

    // A backend that offers what cannot be used: one line (see the remarks).
    [LoggerMessage(EventId = 2009, EventName = "RenegotiateFailed", Level = LogLevel.Warning, Message = "{Port}: the backend that connected while the port was stopped cannot be used: {Error}")]
    public static partial void RenegotiateFailed(ILogger logger, string port, string error);

    [LoggerMessage(EventId = 2012, EventName = "RingPath", Level = LogLevel.Information, Message = "{Port}: using the {Ring} rings' {Path} path, RX buffers {RxBuffers} (CPU: {Cpu})")]
    public static partial void RingPath(ILogger logger, string port, string ring, string path, string rxBuffers, string cpu);

    [LoggerMessage(EventId = 2010, EventName = "StallReset", Level = LogLevel.Warning,
        Message = "{Port}: a queue stayed stalled; the rings were set up afresh (stall reset {Count}), every lent mbuf back in its pool")]
    public static partial void StallReset(ILogger logger, string port, ulong count);

    // A lying device that also fails the reset (a hostile backend case): one line (see the remarks).
    [LoggerMessage(EventId = 2011, EventName = "StallResetFailed", Level = LogLevel.Warning,
        Message = "{Port}: setting the rings up afresh after a lasting stall failed: {Error}; the link is down until the port is started again")]
    public static partial void StallResetFailed(ILogger logger, string port, string error);

    // ---- virtio-pci: 2100-2199 ----

    [LoggerMessage(EventId = 2100, EventName = "PciDeviceFeatures", Level = LogLevel.Information,
        Message = "{Device}: device features 0x{Features:x}, {Queues} queues, queue size {Size}")]
    public static partial void PciDeviceFeatures(ILogger logger, string device, ulong features, int queues, int size);

    [LoggerMessage(EventId = 2101, EventName = "PciNoConfigVector", Level = LogLevel.Warning,
        Message = "{Device}: the device refused an MSI-X vector for config changes; link changes will not be reported")]
    public static partial void PciNoConfigVector(ILogger logger, string device);

    // ---- vhost-user: 2200-2299 (protocol failures are one line each, no stack traces) ----

    [LoggerMessage(EventId = 2200, EventName = "VhostUserWaiting", Level = LogLevel.Information, Message = "waiting for a vhost-user backend on {Path}")]
    public static partial void VhostUserWaiting(ILogger logger, string path);

    [LoggerMessage(EventId = 2201, EventName = "VhostUserConnected", Level = LogLevel.Information,
        Message = "connected to {Path}: backend features 0x{Features:x}, protocol features 0x{Protocol:x}")]
    public static partial void VhostUserConnected(ILogger logger, string path, ulong features, ulong protocol);

    [LoggerMessage(EventId = 2202, EventName = "VhostUserDisconnected", Level = LogLevel.Warning, Message = "vhost-user backend at {Path} disconnected")]
    public static partial void VhostUserDisconnected(ILogger logger, string path);

    [LoggerMessage(EventId = 2203, EventName = "VhostUserGoneWhileStopping", Level = LogLevel.Warning, Message = "backend went away while stopping: {Error}")]
    public static partial void VhostUserGoneWhileStopping(ILogger logger, string error);

    // VhostUserProtocolTests matches this text and asserts it carries no exception.
    [LoggerMessage(EventId = 2204, EventName = "VhostUserProtocolErrorWhileStopping", Level = LogLevel.Warning,
        Message = "backend broke the protocol while stopping, dropping the connection: {Error}")]
    public static partial void VhostUserProtocolErrorWhileStopping(ILogger logger, string error);

    [LoggerMessage(EventId = 2205, EventName = "VhostUserReconnecting", Level = LogLevel.Information, Message = "{Path}: reconnecting to the vhost-user backend ({Role})")]
    public static partial void VhostUserReconnecting(ILogger logger, string path, string role);

    [LoggerMessage(EventId = 2206, EventName = "VhostUserAttemptFailed", Level = LogLevel.Debug, Message = "{Path}: reconnect attempt failed, next in {DelayMs} ms: {Error}")]
    public static partial void VhostUserAttemptFailed(ILogger logger, string path, long delayMs, string error);

    [LoggerMessage(EventId = 2207, EventName = "VhostUserHandshakeFailed", Level = LogLevel.Warning, Message = "{Path}: a backend connected but the handshake failed: {Error}")]
    public static partial void VhostUserHandshakeFailed(ILogger logger, string path, string error);
}
