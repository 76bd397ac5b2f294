using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet.Transport.VhostUser;

/// <summary>The vhost-user transport's log lines (control path only): one line each, no stack traces.</summary>
internal static partial class VhostUserLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "waiting for a vhost-user backend on {Path}")]
    public static partial void Waiting(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "connected to {Path}: backend features 0x{Features:x}, protocol features 0x{Protocol:x}")]
    public static partial void Connected(ILogger logger, string path, ulong features, ulong protocol);

    [LoggerMessage(Level = LogLevel.Warning, Message = "vhost-user backend at {Path} disconnected")]
    public static partial void Disconnected(ILogger logger, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "backend went away while stopping: {Error}")]
    public static partial void GoneWhileStopping(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "backend broke the protocol while stopping, dropping the connection: {Error}")]
    public static partial void ProtocolErrorWhileStopping(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Path}: reconnecting to the vhost-user backend ({Role})")]
    public static partial void Reconnecting(ILogger logger, string path, string role);

    [LoggerMessage(Level = LogLevel.Debug, Message = "{Path}: reconnect attempt failed, next in {DelayMs} ms: {Error}")]
    public static partial void AttemptFailed(ILogger logger, string path, long delayMs, string error);

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Path}: a backend connected but the handshake failed: {Error}")]
    public static partial void HandshakeFailed(ILogger logger, string path, string error);
}
