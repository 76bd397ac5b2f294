using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Pmd.Vm.Tests;

/// <summary>
/// A small QMP client: connects to QEMU's unix socket, negotiates capabilities, executes commands
/// (one at a time, matched by id) and collects the asynchronous events QEMU sends.
/// </summary>
public sealed class Qmp : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly StreamReader _reader;
    private readonly StreamWriter _writer;
    private readonly SemaphoreSlim _commandLock = new(1, 1);
    private readonly Lock _lock = new();
    private readonly List<JsonObject> _events = [];
    private readonly Dictionary<string, TaskCompletionSource<JsonObject>> _pending = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _readLoop = Task.CompletedTask;
    private int _nextId;
    private Exception? _readError;

    private Qmp(Socket socket)
    {
        _socket = socket;
        var stream = new NetworkStream(socket, ownsSocket: false);
        _reader = new StreamReader(stream, new UTF8Encoding(false));
        _writer = new StreamWriter(stream, new UTF8Encoding(false)) { AutoFlush = true, NewLine = "\n" };
    }

    /// <summary>The greeting QEMU sent ({"QMP": {"version": ...}}).</summary>
    public JsonObject Greeting { get; private set; } = [];

    /// <summary>Events received so far, oldest first.</summary>
    public IReadOnlyList<JsonObject> Events { get { lock (_lock) return [.. _events]; } }

    /// <summary>Connects (retrying until the socket exists and accepts), reads the greeting and sends qmp_capabilities.</summary>
    public static async Task<Qmp> ConnectAsync(string path, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken);
                var qmp = new Qmp(socket);
                await qmp.HandshakeAsync(deadline - DateTime.UtcNow, cancellationToken);
                return qmp;
            }
            catch (Exception e) when (e is SocketException or IOException && DateTime.UtcNow < deadline)
            {
                socket.Dispose();
                await Task.Delay(200, cancellationToken);
            }
            catch (SocketException e)
            {
                socket.Dispose();
                throw new TimeoutException($"QMP socket {path} did not accept a connection within {timeout.TotalSeconds:0} s: {e.Message}", e);
            }
        }
    }

    private async Task HandshakeAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout > TimeSpan.Zero ? timeout : TimeSpan.FromSeconds(1));
        string line = await _reader.ReadLineAsync(cts.Token) ?? throw new IOException("QMP socket closed before the greeting");
        Greeting = JsonNode.Parse(line)?.AsObject() ?? throw new IOException($"bad QMP greeting: {line}");
        if (!Greeting.ContainsKey("QMP")) throw new IOException($"not a QMP greeting: {line}");
        // The read loop lives as long as the connection, not as long as this call's token.
        _readLoop = Task.Run(ReadLoopAsync, CancellationToken.None);
        await ExecuteAsync("qmp_capabilities", null, TimeSpan.FromSeconds(10), cancellationToken);
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                string? line = await _reader.ReadLineAsync(_stop.Token);
                if (line is null) break;
                if (JsonNode.Parse(line) is not JsonObject message) continue;
                if (message.ContainsKey("event"))
                {
                    lock (_lock) _events.Add(message);
                    continue;
                }
                string id = message["id"]?.GetValue<string>() ?? "";
                TaskCompletionSource<JsonObject>? waiter;
                lock (_lock) _pending.Remove(id, out waiter);
                waiter?.TrySetResult(message);
            }
            _readError = new IOException("QMP connection closed by QEMU");
        }
        catch (OperationCanceledException) { _readError = new ObjectDisposedException(nameof(Qmp)); }
        catch (Exception e) { _readError = e; }
        lock (_lock)
        {
            foreach (var w in _pending.Values) w.TrySetException(_readError);
            _pending.Clear();
        }
    }

    /// <summary>Executes a command and returns its "return" value; a QMP "error" becomes a <see cref="QmpException"/>.</summary>
    public async Task<JsonNode?> ExecuteAsync(string command, JsonObject? arguments = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        await _commandLock.WaitAsync(cancellationToken);
        try
        {
            string id = $"pmd-{++_nextId}";
            var request = new JsonObject { ["execute"] = command, ["id"] = id };
            if (arguments is not null) request["arguments"] = arguments.DeepClone();
            var waiter = new TaskCompletionSource<JsonObject>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_lock)
            {
                if (_readError is not null) throw new IOException($"QMP {command}: connection is gone", _readError);
                _pending[id] = waiter;
            }
            await _writer.WriteLineAsync(request.ToJsonString().AsMemory(), cancellationToken);
            var response = await waiter.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30), cancellationToken);
            if (response["error"] is JsonObject error)
                throw new QmpException(command, error["class"]?.GetValue<string>() ?? "?", error["desc"]?.GetValue<string>() ?? error.ToJsonString());
            return response["return"];
        }
        finally
        {
            _commandLock.Release();
        }
    }

    /// <summary>set_link: takes the link of a netdev (and its NIC peer) or of a NIC down or up.</summary>
    public Task SetLinkAsync(string name, bool up, CancellationToken cancellationToken = default) =>
        ExecuteAsync("set_link", new JsonObject { ["name"] = name, ["up"] = up }, cancellationToken: cancellationToken);

    /// <summary>Waits for an event named <paramref name="name"/> received after the first <paramref name="skip"/> events.</summary>
    public async Task<JsonObject> WaitForEventAsync(string name, TimeSpan timeout, int skip = 0, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var found = Events.Skip(skip).FirstOrDefault(e => e["event"]?.GetValue<string>() == name);
            if (found is not null) return found;
            if (_readError is not null) throw new IOException($"QMP connection gone while waiting for event {name}", _readError);
            if (DateTime.UtcNow >= deadline) throw new TimeoutException($"no QMP event {name} within {timeout.TotalSeconds:0} s");
            await Task.Delay(100, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { }
        _socket.Dispose();
        try { await _readLoop.WaitAsync(TimeSpan.FromSeconds(2)); } catch (Exception) { }
        _stop.Dispose();
        _commandLock.Dispose();
    }
}

public sealed class QmpException(string command, string errorClass, string description)
    : Exception($"QMP {command} failed: {errorClass}: {description}")
{
    public string ErrorClass { get; } = errorClass;
}
