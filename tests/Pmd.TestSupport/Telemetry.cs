using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Pmd.TestSupport;

/// <summary>
/// A telemetry v2 client on the raw socket (AF_UNIX, SOCK_SEQPACKET), as dpdk-telemetry.py talks
/// to it: connect, read the info message, then one message per command and one reply per message.
/// For the tests that misbehave on purpose (bad input, hanging up mid-reply, not reading).
/// </summary>
public sealed class TelemetrySocketClient : IDisposable
{
    private readonly byte[] _buffer = new byte[64 * 1024];

    private TelemetrySocketClient(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    /// <summary>The info message the server sent on connect ({"version", "pid", "max_output_len"}).</summary>
    public JsonElement Info { get; private set; }

    /// <summary>Connects and reads the info message (within <paramref name="timeoutMs"/>).</summary>
    public static TelemetrySocketClient Connect(string path, int timeoutMs = 5000)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified) { ReceiveTimeout = timeoutMs, SendTimeout = timeoutMs };
        try
        {
            socket.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var client = new TelemetrySocketClient(socket);
        client.Info = client.ReceiveJson();
        return client;
    }

    /// <summary>Connects only: for a client that never reads the info message.</summary>
    public static Socket ConnectRaw(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Seqpacket, ProtocolType.Unspecified) { ReceiveTimeout = 5000, SendTimeout = 5000 };
        socket.Connect(new UnixDomainSocketEndPoint(path));
        return socket;
    }

    /// <summary>Sends <paramref name="command"/> and returns the value of the one key of the reply, checking that key is <paramref name="expectedKey"/> (the command by default).</summary>
    public JsonElement Query(string command, string? expectedKey = null)
    {
        Send(command);
        var reply = ReceiveJson();
        string key = expectedKey ?? (command.Contains(',') ? command[..command.IndexOf(',')] : command);
        var properties = reply.EnumerateObject().ToList();
        if (properties.Count != 1 || properties[0].Name != key)
            throw new InvalidOperationException($"reply to '{Shorten(command)}' is not {{\"{key}\": ...}}: {reply.GetRawText()}");
        return properties[0].Value;
    }

    public void Send(string text) => Send(Encoding.UTF8.GetBytes(text));

    public void Send(byte[] message) => Socket.Send(message);

    /// <summary>One message, as one JSON document (a message that is not JSON is an error naming it).</summary>
    public JsonElement ReceiveJson()
    {
        int n = Socket.Receive(_buffer);
        if (n == 0) throw new InvalidOperationException("the server closed the connection");
        string text = Encoding.UTF8.GetString(_buffer, 0, n);
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new InvalidOperationException($"the server sent {n} bytes that are not JSON ({e.Message}): {Shorten(text)}");
        }
    }

    /// <summary>The size of the next message, without taking it off the socket (the server's reply size).</summary>
    public int PeekSize()
    {
        int n = Socket.Receive(_buffer, SocketFlags.Peek);
        return n;
    }

    private static string Shorten(string s) => s.Length > 200 ? s[..200] + "..." : s;

    public void Dispose() => Socket.Dispose();
}

/// <summary>What dpdk-telemetry.py printed for one command: the command, the reply's one key and its value.</summary>
public readonly record struct TelemetryScriptReply(string Command, string Key, JsonElement Value);

/// <summary>
/// DPDK's own telemetry client, <c>dpdk-telemetry.py</c> (Debian's dpdk-dev), run unchanged: the
/// commands go to its stdin, a line each, and it prints each reply as one JSON line (stdin is not a
/// terminal, so no prompt and no info message). A missing script is a failure with a clear message.
/// </summary>
public static class DpdkTelemetryScript
{
    public const string ScriptPath = "/usr/bin/dpdk-telemetry.py";

    /// <summary>
    /// Runs <c>dpdk-telemetry.py -f <paramref name="filePrefix"/> [-i instance]</c> with
    /// <paramref name="commands"/> on stdin and returns its replies; fails, with what it printed,
    /// unless it answered each command with one JSON object.
    /// </summary>
    public static IReadOnlyList<TelemetryScriptReply> Query(string filePrefix, IReadOnlyList<string> commands, int instance = 0)
    {
        if (!File.Exists(ScriptPath)) throw new InvalidOperationException($"{ScriptPath} is not installed: run tools/setup-host.sh (apt-get install dpdk-dev)");
        string python = NativeLayout.FindTool("python3") ?? throw new InvalidOperationException("python3 is not installed: run tools/setup-host.sh");
        var psi = new ProcessStartInfo(python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(ScriptPath);
        psi.ArgumentList.Add("-f");
        psi.ArgumentList.Add(filePrefix);
        if (instance > 0)
        {
            psi.ArgumentList.Add("-i");
            psi.ArgumentList.Add(instance.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        // No terminal: readline must not write escape sequences into the output.
        psi.Environment["TERM"] = "dumb";
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {ScriptPath}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        foreach (string command in commands) process.StandardInput.WriteLine(command);
        process.StandardInput.Close();
        if (!process.WaitForExit(30_000))
        {
            process.Kill();
            throw new TimeoutException($"{ScriptPath} -f {filePrefix} did not finish within 30 s:\n{stdout.Result}\n{stderr.Result}");
        }
        string output = stdout.Result, errors = stderr.Result;
        string said = $"{ScriptPath} -f {filePrefix} printed:\n{output}\n{errors}";
        if (process.ExitCode != 0) throw new InvalidOperationException($"{ScriptPath} exited with {process.ExitCode}; {said}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var asked = commands.Where(c => c.Trim().StartsWith('/')).ToList();
        if (lines.Length != asked.Count) throw new InvalidOperationException($"{asked.Count} commands but {lines.Length} reply lines; {said}");
        var replies = new List<TelemetryScriptReply>(lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            JsonElement root;
            try
            {
                using var doc = JsonDocument.Parse(lines[i]);
                root = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                throw new InvalidOperationException($"reply {i} ({asked[i]}) is not JSON ({e.Message}); {said}");
            }
            var properties = root.EnumerateObject().ToList();
            if (root.ValueKind != JsonValueKind.Object || properties.Count != 1)
                throw new InvalidOperationException($"reply {i} ({asked[i]}) is not one {{\"/cmd\": value}}: {lines[i]}");
            replies.Add(new TelemetryScriptReply(asked[i], properties[0].Name, properties[0].Value));
        }
        return replies;
    }
}
