using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Failover;

/// <summary>The failover layer's log lines, all on the control thread.</summary>
internal static partial class FailoverLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: {From} -> {To}")]
    public static partial void StateChanged(ILogger logger, string port, FailoverState from, FailoverState to);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: port {Candidate} has our MAC but another owner; not pairing")]
    public static partial void OwnedElsewhere(ILogger logger, string port, ushort candidate);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: paired primary port {Primary} ({Name}) with MAC {Mac}")]
    public static partial void Paired(ILogger logger, string port, ushort primary, string name, MacAddress mac);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: primary port {Primary} failed to start ({Error}); staying on the standby")]
    public static partial void StartFailed(ILogger logger, string port, ushort primary, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: primary port {Primary}: {Why}; TX moves to the standby")]
    public static partial void SwitchedToStandby(ILogger logger, string port, ushort primary, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: primary port {Primary} link is up; TX moves back to it")]
    public static partial void SwitchedToPrimary(ILogger logger, string port, ushort primary);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: closing primary port {Primary} failed: {Error}")]
    public static partial void CloseFailed(ILogger logger, string port, ushort primary, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Port}: primary port {Primary} released {Ms} ms after the {Why} ({Lost} TX packets lost)")]
    public static partial void Released(ILogger logger, string port, ushort primary, long ms, string why, int lost);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Port}: a datapath thread has been inside a {Direction} burst for 5 s; still waiting to let go of the primary")]
    public static partial void StillInBurst(ILogger logger, string port, string direction);
}
