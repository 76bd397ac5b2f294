using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>
/// Pmd.Failover's log lines, all on the control thread, event ids 4000-4999: the failover port
/// 4000-4099, auto-attach 4100-4199.
/// </summary>
internal static partial class FailoverLog
{
    // ---- The failover port: 4000-4099 ----

    [LoggerMessage(EventId = 4000, EventName = "StateChanged", Level = LogLevel.Information, Message = "{Port}: {From} -> {To}")]
    public static partial void StateChanged(ILogger logger, string port, FailoverState from, FailoverState to);

    [LoggerMessage(EventId = 4001, EventName = "OwnedElsewhere", Level = LogLevel.Information, Message = "{Port}: port {Candidate} has our MAC but another owner; not pairing")]
    public static partial void OwnedElsewhere(ILogger logger, string port, ushort candidate);

    [LoggerMessage(EventId = 4002, EventName = "Paired", Level = LogLevel.Information, Message = "{Port}: paired primary port {Primary} ({Name}) with MAC {Mac}")]
    public static partial void Paired(ILogger logger, string port, ushort primary, string name, MacAddress mac);

    // Any exception from the primary's configure or start: not one of ours to expect, so with its trace.
    [LoggerMessage(EventId = 4003, EventName = "PrimaryStartFailed", Level = LogLevel.Warning, Message = "{Port}: primary port {Primary} failed to start; staying on the standby")]
    public static partial void StartFailed(ILogger logger, Exception exception, string port, ushort primary);

    [LoggerMessage(EventId = 4004, EventName = "SwitchedToStandby", Level = LogLevel.Warning, Message = "{Port}: primary port {Primary}: {Why}; TX moves to the standby")]
    public static partial void SwitchedToStandby(ILogger logger, string port, ushort primary, string why);

    [LoggerMessage(EventId = 4005, EventName = "SwitchedToPrimary", Level = LogLevel.Information, Message = "{Port}: primary port {Primary} link is up; TX moves back to it")]
    public static partial void SwitchedToPrimary(ILogger logger, string port, ushort primary);

    [LoggerMessage(EventId = 4006, EventName = "PrimaryCloseFailed", Level = LogLevel.Warning, Message = "{Port}: closing primary port {Primary} failed")]
    public static partial void CloseFailed(ILogger logger, Exception exception, string port, ushort primary);

    [LoggerMessage(EventId = 4007, EventName = "PrimaryReleased", Level = LogLevel.Information,
        Message = "{Port}: primary port {Primary} released {Ms} ms after the {Why} ({Lost} TX packets lost)")]
    public static partial void Released(ILogger logger, string port, ushort primary, long ms, string why, int lost);

    [LoggerMessage(EventId = 4008, EventName = "StillInBurst", Level = LogLevel.Warning,
        Message = "{Port}: a datapath thread has been inside a {Direction} burst for 5 s; still waiting to let go of the primary")]
    public static partial void StillInBurst(ILogger logger, string port, string direction);

    [LoggerMessage(EventId = 4009, EventName = "SoftwareOffloads", Level = LogLevel.Information,
        Message = "{Port}: primary port {Primary} lacks offloads the port was configured with; done in software while it is used: TX {Tx}, RX {Rx}")]
    public static partial void SoftwareOffloads(ILogger logger, string port, ushort primary, TxOffloads tx, RxOffloads rx);

    // ---- Auto-attach: 4100-4199 ----

    [LoggerMessage(EventId = 4100, EventName = "AutoAttached", Level = LogLevel.Information, Message = "created {Failover} over standby port {Port}")]
    public static partial void AutoAttached(ILogger logger, string failover, ushort port);

    [LoggerMessage(EventId = 4101, EventName = "AutoAttachFailed", Level = LogLevel.Warning, Message = "no failover port over standby port {Port}")]
    public static partial void AutoAttachFailed(ILogger logger, Exception exception, ushort port);
}
