using System.Buffers;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Pmd.Ethdev;

namespace Pmd.Telemetry;

/// <summary>
/// A telemetry socket that DPDK's own client, <c>dpdk-telemetry.py</c>, queries as it queries a DPDK
/// app: telemetry v2, an AF_UNIX SOCK_SEQPACKET socket named <c>dpdk_telemetry.v2</c> in DPDK's
/// runtime directory for the file prefix (<see cref="RuntimeDirectory"/>). A client gets
/// <c>{"version":...,"pid":...,"max_output_len":16384}</c> on connect, then one JSON object
/// <c>{"/cmd":value}</c> for each command it sends (<c>/cmd</c> or <c>/cmd,parameters</c>);
/// an unknown command, a bad parameter or a command of 1024 bytes or more gets <c>{"/cmd":null}</c>.
/// Commands: <c>/</c>, <c>/info</c>, <c>/help</c>, DPDK's <c>/ethdev/...</c> and <c>/mempool/...</c>, and
/// Pmd.Failover's <c>/failover/...</c> when that assembly is in use.
/// One thread accepts; each client (at most 10, as DPDK) has a thread of its own, so a slow or
/// silent client holds up nobody else, and one that stops reading is dropped after
/// <see cref="SendTimeout"/>. Counters are read as "show port stats" reads them, never through
/// the datapath. As DPDK does, a socket that another live process serves is left alone: this
/// one then takes the next free instance, <c>dpdk_telemetry.v2:1</c> and so on (the client's
/// <c>-i</c>); a stale one (nobody listening) is replaced. Dispose closes every connection and
/// removes the socket.
/// </summary>
public sealed class PmdTelemetry : IDisposable
{
    /// <summary>The socket's name in the runtime directory, as DPDK's telemetry v2.</summary>
    internal const string SocketName = "dpdk_telemetry.v2";

    /// <summary>DPDK's MAX_OUTPUT_LEN: no reply is longer (the client reads each with one recv of this size).</summary>
    internal const int MaxOutputLength = 16 * 1024;

    /// <summary>DPDK reads a command into 1024 bytes with room for its NUL: 1023 bytes at most.</summary>
    internal const int MaxInputLength = 1023;

    /// <summary>DPDK's MAX_CONNECTIONS: more clients than this are closed as they connect.</summary>
    internal const int MaxClients = 10;

    private const int Backlog = 16;
    private const int MaxInstances = 1000;

    private readonly PortRegistry _registry;
    private readonly Socket _listener;
    private readonly Thread _acceptThread;
    private readonly ILogger _log;
    private readonly Lock _lock = new();
    private readonly Dictionary<int, (Socket Socket, Thread Thread)> _clients = [];
    private int _nextClient;
    private volatile bool _disposed;

    private PmdTelemetry(PortRegistry registry, Socket listener, string path, ILogger log)
    {
        _registry = registry;
        _listener = listener;
        _log = log;
        SocketPath = path;
        _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "pmd-telemetry" };
        _acceptThread.Start();
    }

    /// <summary>The path of the socket this server listens on.</summary>
    public string SocketPath { get; }

    /// <summary>"Pmd" and the version of this assembly: what <c>/info</c> and the connect message give as the version.</summary>
    internal static string Version { get; } = $"Pmd {typeof(PmdTelemetry).Assembly.GetName().Version?.ToString(3) ?? "0.0.0"}";

    /// <summary>How long a reply may wait for a client that does not read, before the client is dropped. Default 5 s.</summary>
    internal TimeSpan SendTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Clients connected now.</summary>
    internal int ClientCount
    {
        get { lock (_lock) return _clients.Count; }
    }

    /// <summary>
    /// Starts serving <paramref name="registry"/>'s ports on the telemetry socket for
    /// <paramref name="filePrefix"/> (DPDK's <c>--file-prefix</c>; "rte" by default), creating the
    /// runtime directory (mode 0700) if need be. Throws <see cref="PmdIOException"/> when the
    /// socket cannot be made.
    /// </summary>
    public static PmdTelemetry Start(PortRegistry registry, string filePrefix = "rte")
    {
        ArgumentNullException.ThrowIfNull(registry);
        ArgumentNullException.ThrowIfNull(filePrefix);
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("DPDK's telemetry socket is a Unix socket");
        if (filePrefix.Length == 0 || filePrefix.Contains('/') || filePrefix is "." or "..")
            throw new ArgumentException($"file prefix '{filePrefix}' must be a non-empty name without '/'", nameof(filePrefix));
        var log = registry.LoggerFactory.CreateLogger("Pmd.Telemetry");
        string directory = RuntimeDirectory(filePrefix);
        try
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PmdIOException($"telemetry: cannot create the runtime directory {directory}: {e.Message}");
        }
        var (listener, path) = Listen(Path.Combine(directory, SocketName), log);
        AbstractionsLog.TelemetryListening(log, path);
        return new PmdTelemetry(registry, listener, path, log);
    }

    /// <summary>
    /// DPDK's runtime directory for a file prefix, as its EAL and dpdk-telemetry.py find it:
    /// $RUNTIME_DIRECTORY if set, else /var/run for root and $XDG_RUNTIME_DIR (or /tmp) for others;
    /// then dpdk/PREFIX.
    /// </summary>
    internal static string RuntimeDirectory(string filePrefix)
    {
        string? run = Environment.GetEnvironmentVariable("RUNTIME_DIRECTORY");
        if (string.IsNullOrEmpty(run))
        {
            run = Interop.Libc.GetUid() == 0
                ? "/var/run"
                : Environment.GetEnvironmentVariable("XDG_RUNTIME_DIR") is { Length: > 0 } xdg ? xdg : "/tmp";
        }
        return Path.Combine(run, "dpdk", filePrefix);
    }

    private static (Socket Listener, string Path) Listen(string basePath, ILogger log)
    {
        for (int instance = 0; instance < MaxInstances; instance++)
        {
            string path = instance == 0 ? basePath : $"{basePath}:{instance}";
            var socket = Bind(path);
            if (socket is null)
            {
                // A live server there (another DPDK or Pmd app with this prefix): take the next instance, as DPDK does.
                if (instance == 0) AbstractionsLog.TelemetrySocketInUse(log, basePath, 1);
                continue;
            }
            try
            {
                socket.Listen(Backlog);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new PmdIOException($"telemetry: cannot listen on {path}: {e.Message}", e.ErrorCode);
            }
            return (socket, path);
        }
        throw new PmdIOException($"telemetry: {basePath} and its {MaxInstances - 1} instances are all in use");
    }

    /// <summary>A socket bound to <paramref name="path"/>, or null when another process serves it; a stale socket file is replaced.</summary>
    private static Socket? Bind(string path)
    {
        UnixDomainSocketEndPoint endpoint;
        try
        {
            endpoint = new UnixDomainSocketEndPoint(path);
        }
        catch (ArgumentException e)
        {
            throw new PmdIOException($"telemetry: socket path {path} is too long ({e.Message})");
        }
        for (int attempt = 0; ; attempt++)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            try
            {
                socket.Bind(endpoint);
                return socket;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse && attempt == 0)
            {
                socket.Dispose();
                if (IsServed(endpoint)) return null;
                try { File.Delete(path); }
                catch (Exception d) when (d is IOException or UnauthorizedAccessException)
                {
                    throw new PmdIOException($"telemetry: cannot remove the stale socket {path}: {d.Message}");
                }
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new PmdIOException($"telemetry: cannot bind {path}: {e.Message}", e.ErrorCode);
            }
        }
    }

    private static bool IsServed(UnixDomainSocketEndPoint endpoint)
    {
        using var probe = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
        try
        {
            probe.Connect(endpoint);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket client;
            try
            {
                client = _listener.Accept();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                if (!_disposed) AbstractionsLog.TelemetryAcceptFailed(_log, e, SocketPath);
                return;
            }
            if (_disposed)
            {
                client.Dispose();
                return;
            }
            lock (_lock)
            {
                if (_clients.Count >= MaxClients)
                {
                    client.Dispose();
                    AbstractionsLog.TelemetryClientRefused(_log, MaxClients);
                    continue;
                }
                int id = ++_nextClient;
                var thread = new Thread(() => Serve(id, client)) { IsBackground = true, Name = $"pmd-telemetry-{id}" };
                _clients[id] = (client, thread);
                try
                {
                    thread.Start();
                }
                catch (OutOfMemoryException)
                {
                    // No thread for it (as DPDK's pthread_create failing): this client is closed, the server goes on.
                    _clients.Remove(id);
                    client.Dispose();
                }
            }
        }
    }

    /// <summary>One client: the info message, then a reply for each command until it hangs up or misbehaves.</summary>
    private void Serve(int id, Socket client)
    {
        string reason = "hung up";
        try
        {
            client.SendTimeout = (int)SendTimeout.TotalMilliseconds;
            client.Send(s_infoMessage);
            // One byte more than a command may have, so that a longer one shows (SOCK_SEQPACKET
            // discards what does not fit in the buffer).
            var buffer = new byte[MaxInputLength + 1];
            while (true)
            {
                int n = client.Receive(buffer);
                if (n <= 0) break;
                client.Send(Execute(buffer.AsSpan(0, n)));
            }
        }
        catch (SocketException e)
        {
            reason = e.SocketErrorCode is SocketError.WouldBlock or SocketError.TimedOut
                ? string.Create(CultureInfo.InvariantCulture, $"it did not read a reply for {SendTimeout.TotalSeconds:0.###} s")
                : e.Message;
        }
        catch (ObjectDisposedException)
        {
            reason = "telemetry stopped";
        }
        catch (Exception e)
        {
            // Nothing a client sends may end the process: whatever else went wrong ends this connection only.
            reason = e.Message;
        }
        finally
        {
            lock (_lock) _clients.Remove(id);
            client.Dispose();
            AbstractionsLog.TelemetryClientGone(_log, id, reason);
        }
    }

    /// <summary>What a client gets on connect: the /info dict itself, not wrapped in a command's object.</summary>
    private static readonly byte[] s_infoMessage = InfoMessage();

    private static byte[] InfoMessage()
    {
        var buffer = new ArrayBufferWriter<byte>(128);
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("version", Version);
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteNumber("max_output_len", MaxOutputLength);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>
    /// The reply to one message from a client, read as DPDK reads it: the text up to a NUL, the
    /// command before the first ',' (leading commas skipped), its parameters after (none if empty).
    /// A trailing newline is dropped, for clients like socat.
    /// </summary>
    internal byte[] Execute(ReadOnlySpan<byte> message)
    {
        int length = message.Length;
        bool tooLong = length > MaxInputLength;
        if (tooLong) message = message[..MaxInputLength];
        int nul = message.IndexOf((byte)0);
        if (nul >= 0) message = message[..nul];
        string text = Encoding.UTF8.GetString(message).TrimEnd('\n', '\r').TrimStart(',');
        int comma = text.IndexOf(',');
        string command = comma < 0 ? text : text[..comma];
        string? parameters = comma < 0 || comma == text.Length - 1 ? null : text[(comma + 1)..];
        // DPDK names a missing command "none", and never echoes more than MAX_CMD_LEN characters of one.
        string key = command.Length == 0 ? "none" : command.Length > TelemetryCommands.MaxCommandLength ? command[..TelemetryCommands.MaxCommandLength] : command;

        if (tooLong)
        {
            AbstractionsLog.TelemetryInputTooLong(_log, length, MaxInputLength);
            return TelemetryReply.Null(key);
        }
        if (!TelemetryCommands.TryGet(command, out var handler)) return TelemetryReply.Null(key);
        try
        {
            using var reply = new TelemetryReply(key);
            if (!handler.Handler(_registry, parameters, reply)) return TelemetryReply.Null(key);
            var bytes = reply.ToArray();
            if (reply.Omitted > 0) AbstractionsLog.TelemetryReplyTruncated(_log, key, reply.Omitted, MaxOutputLength);
            return bytes;
        }
        catch (Exception e)
        {
            // A port closing under the query, a driver that throws: the client gets null, the server goes on.
            AbstractionsLog.TelemetryCommandFailed(_log, e, key);
            return TelemetryReply.Null(key);
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        // accept() does not return when another thread closes its socket: a connection of our own wakes it.
        try
        {
            using var wake = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified);
            wake.Connect(new UnixDomainSocketEndPoint(SocketPath));
        }
        catch (SocketException) { }
        _acceptThread.Join(TimeSpan.FromSeconds(5));
        _listener.Dispose();
        List<(Socket Socket, Thread Thread)> clients;
        lock (_lock) clients = [.. _clients.Values];
        foreach (var (socket, _) in clients)
        {
            // Wakes the client's thread from its receive (or send); it then closes the socket.
            try { socket.Shutdown(SocketShutdown.Both); }
            catch (Exception e) when (e is SocketException or ObjectDisposedException) { }
        }
        foreach (var (_, thread) in clients) thread.Join(TimeSpan.FromSeconds(5));
        try { File.Delete(SocketPath); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}
