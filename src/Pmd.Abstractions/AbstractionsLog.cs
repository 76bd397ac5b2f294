using Microsoft.Extensions.Logging;

namespace Pmd;

/// <summary>
/// Pmd.Abstractions' log lines (control path only), event ids 1000-1999: the port registry
/// 1000-1099, hotplug and the control thread 1100-1199, memory 1200-1299, telemetry 1300-1399,
/// packet capture 1400-1499.
/// </summary>
internal static partial class AbstractionsLog
{
    // ---- Port registry: 1000-1099 ----

    [LoggerMessage(EventId = 1000, EventName = "PortAttached", Level = LogLevel.Information, Message = "port {PortId}: attached {Name}")]
    public static partial void PortAttached(ILogger logger, ushort portId, string name);

    [LoggerMessage(EventId = 1001, EventName = "PortDetached", Level = LogLevel.Information, Message = "port {PortId}: detached {Name}")]
    public static partial void PortDetached(ILogger logger, ushort portId, string name);

    [LoggerMessage(EventId = 1002, EventName = "EventCallbackFailed", Level = LogLevel.Error, Message = "event callback for {Event} failed")]
    public static partial void EventCallbackFailed(ILogger logger, Exception exception, Ethdev.PortEvent @event);

    [LoggerMessage(EventId = 1003, EventName = "PortCloseFailed", Level = LogLevel.Warning, Message = "closing {Port} failed")]
    public static partial void PortCloseFailed(ILogger logger, Exception exception, Ethdev.EthPort port);

    // ---- Hotplug: 1100-1199 ----

    [LoggerMessage(EventId = 1100, EventName = "UeventHandlerFailed", Level = LogLevel.Warning, Message = "uevent {Action} {Path}: the handler failed")]
    public static partial void UeventHandlerFailed(ILogger logger, Exception exception, string action, string path);

    [LoggerMessage(EventId = 1101, EventName = "ControlCallbackFailed", Level = LogLevel.Error, Message = "control-thread callback failed")]
    public static partial void ControlCallbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 1102, EventName = "ControlThreadFaulted", Level = LogLevel.Critical,
        Message = "control thread stopped: epoll_wait failed; no more port events, hot-plug or reconnects")]
    public static partial void ControlThreadFaulted(ILogger logger, Exception exception);

    // ---- Memory: 1200-1299 ----

    [LoggerMessage(EventId = 1200, EventName = "NoFreeHugePages", Level = LogLevel.Warning,
        Message = "No free 2 MiB hugepages for {Region} ({Free} free); using 4 KiB pages. Reserve some with 'echo 1024 > /proc/sys/vm/nr_hugepages'.")]
    public static partial void NoFreeHugePages(ILogger logger, string region, long free);

    // ---- Telemetry: 1300-1399 ----

    [LoggerMessage(EventId = 1300, EventName = "TelemetryListening", Level = LogLevel.Information, Message = "telemetry: listening on {Path}")]
    public static partial void TelemetryListening(ILogger logger, string path);

    [LoggerMessage(EventId = 1301, EventName = "TelemetrySocketInUse", Level = LogLevel.Information,
        Message = "telemetry: {Path} is served by another process; this one takes instance {Instance} (dpdk-telemetry.py -i {Instance})")]
    public static partial void TelemetrySocketInUse(ILogger logger, string path, int instance);

    [LoggerMessage(EventId = 1302, EventName = "TelemetryClientRefused", Level = LogLevel.Warning,
        Message = "telemetry: {Max} clients are connected already; a new one is closed at once")]
    public static partial void TelemetryClientRefused(ILogger logger, int max);

    [LoggerMessage(EventId = 1303, EventName = "TelemetryCommandFailed", Level = LogLevel.Warning, Message = "telemetry: {Command} failed; answered null")]
    public static partial void TelemetryCommandFailed(ILogger logger, Exception exception, string command);

    [LoggerMessage(EventId = 1304, EventName = "TelemetryInputTooLong", Level = LogLevel.Debug,
        Message = "telemetry: a command of {Length} bytes or more (at most {Max}); answered null")]
    public static partial void TelemetryInputTooLong(ILogger logger, int length, int max);

    [LoggerMessage(EventId = 1305, EventName = "TelemetryClientGone", Level = LogLevel.Debug, Message = "telemetry: client {Client} dropped: {Reason}")]
    public static partial void TelemetryClientGone(ILogger logger, int client, string reason);

    [LoggerMessage(EventId = 1306, EventName = "TelemetryAcceptFailed", Level = LogLevel.Error,
        Message = "telemetry: accept on {Path} failed; the telemetry thread stops")]
    public static partial void TelemetryAcceptFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 1307, EventName = "TelemetryReplyTruncated", Level = LogLevel.Warning,
        Message = "telemetry: {Command}: {Omitted} entries left out to keep the reply within {Max} bytes")]
    public static partial void TelemetryReplyTruncated(ILogger logger, string command, int omitted, int max);

    // ---- Packet capture: 1400-1499 ----

    [LoggerMessage(EventId = 1400, EventName = "CaptureStarted", Level = LogLevel.Information,
        Message = "capture to {Path} started: ports {Ports}, {Direction}, snap length {SnapLength}")]
    public static partial void CaptureStarted(ILogger logger, string path, string ports, Capture.CaptureDirection direction, int snapLength);

    [LoggerMessage(EventId = 1401, EventName = "CaptureStopped", Level = LogLevel.Information,
        Message = "capture to {Path} ended: {Captured} packets written, {Dropped} dropped")]
    public static partial void CaptureStopped(ILogger logger, string path, long captured, long dropped);

    [LoggerMessage(EventId = 1402, EventName = "CaptureLimitReached", Level = LogLevel.Information,
        Message = "capture to {Path}: {Limit} packets written, its limit; the capture ends")]
    public static partial void CaptureLimitReached(ILogger logger, string path, long limit);

    [LoggerMessage(EventId = 1403, EventName = "CaptureWriteFailed", Level = LogLevel.Error,
        Message = "capture to {Path}: writing the file failed; the capture ends")]
    public static partial void CaptureWriteFailed(ILogger logger, Exception exception, string path);
}
