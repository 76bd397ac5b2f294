using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;

namespace Pmd.VirtioNet.Tests;

/// <summary>What tests/hostile/hostile_backend.py printed when it was stopped.</summary>
internal sealed class HostileSummary
{
    public required JsonElement Json { get; init; }

    public ulong Lies => Json.GetProperty("lies").GetUInt64();
    public int Connections => Json.GetProperty("connections").GetInt32();
    public int RxSent => Json.GetProperty("rx_sent").GetInt32();
    public int RxAfterLie => Json.GetProperty("rx_after_lie").GetInt32();
    public int TxReceived => Json.GetProperty("tx_received").GetInt32();
    public int TxAfterLie => Json.GetProperty("tx_after_lie").GetInt32();
    public int TxBad => Json.GetProperty("tx_bad").GetInt32();
    public int TxDuplicates => Json.GetProperty("tx_duplicates").GetInt32();
    public string LieState => Json.GetProperty("lie_state").GetString()!;
    public IReadOnlyList<string> Errors => [.. Json.GetProperty("errors").EnumerateArray().Select(e => e.GetString()!)];
    public IReadOnlyList<ulong> AckedFeatures => [.. Json.GetProperty("acked_features").EnumerateArray().Select(e => e.GetUInt64())];
    public HashSet<uint> RxSeqs => Expand("rx_seqs");
    public HashSet<uint> TxSeqs => Expand("tx_seqs");

    private HashSet<uint> Expand(string name)
    {
        var set = new HashSet<uint>();
        foreach (var range in Json.GetProperty(name).EnumerateArray())
            for (uint s = range[0].GetUInt32(), e = range[1].GetUInt32(); s <= e; s++) set.Add(s);
        return set;
    }
}

/// <summary>
/// The hostile vhost-user backend (tests/hostile/hostile_backend.py) in its own python3 process,
/// listening on a socket. It lies as its case says, then is honest; Stop() sends SIGTERM and
/// returns the JSON summary it prints.
/// </summary>
internal sealed class HostileBackend : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private readonly StringBuilder _stdout = new();
    private readonly Lock _lock = new();
    private HostileSummary? _summary;

    private HostileBackend(Process process, string socket)
    {
        _process = process;
        Socket = socket;
    }

    public string Socket { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>What the backend wrote on stderr: its event lines, and a traceback if it broke.</summary>
    public string Events
    {
        get { lock (_lock) return _stderr.ToString(); }
    }

    public static string Script { get; } = FindScript();

    public static HostileBackend Start(string socket, string lie, string direction = "rx", params string[] extra)
    {
        if (File.Exists(socket)) File.Delete(socket);
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in (string[])["-u", Script, "--socket", socket, "--case", lie, "--dir", direction, "--duration", "60", .. extra])
            psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start python3");
        var backend = new HostileBackend(process, socket);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (backend._lock) backend._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (backend._lock) backend._stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        backend.WaitFor("event listening", TimeSpan.FromSeconds(10));
        return backend;
    }

    /// <summary>Waits until the backend has printed <paramref name="evt"/>; false on timeout.</summary>
    public bool TryWaitFor(string evt, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (!Events.Contains(evt, StringComparison.Ordinal))
        {
            if (sw.Elapsed > timeout || _process.HasExited) return Events.Contains(evt, StringComparison.Ordinal);
            Thread.Sleep(5);
        }
        return true;
    }

    public void WaitFor(string evt, TimeSpan timeout)
    {
        if (!TryWaitFor(evt, timeout))
            throw new TimeoutException($"the hostile backend did not print '{evt}' within {timeout.TotalSeconds} s (exited: {_process.HasExited}):\n{Events}");
    }

    /// <summary>SIGTERM, then the JSON summary from stdout.</summary>
    public HostileSummary Stop()
    {
        if (_summary is not null) return _summary;
        if (_process.HasExited)
            throw new InvalidOperationException($"the hostile backend died (exit code {_process.ExitCode}):\n{Events}");
        _ = Kill(_process.Id, 15);
        if (!_process.WaitForExit(10_000))
        {
            _process.Kill();
            throw new TimeoutException($"the hostile backend did not exit after SIGTERM:\n{Events}");
        }
        _process.WaitForExit();
        string output;
        lock (_lock) output = _stdout.ToString();
        string? line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
        if (line is null) throw new InvalidOperationException($"the hostile backend printed no summary:\n{output}\n{Events}");
        _summary = new HostileSummary { Json = JsonDocument.Parse(line).RootElement.Clone() };
        return _summary;
    }

    private static string FindScript()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "tests", "hostile", "hostile_backend.py");
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"tests/hostile/hostile_backend.py not found above {AppContext.BaseDirectory}");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(); _process.WaitForExit(5000); }
            catch (InvalidOperationException) { }
        }
        _process.Dispose();
        if (File.Exists(Socket)) { try { File.Delete(Socket); } catch (IOException) { } }
    }
}

/// <summary>Collects every log line Pmd writes (with any exception) while a test runs.</summary>
internal sealed class CapturedLog : ILoggerFactory
{
    private readonly List<string> _lines = [];
    private readonly ILoggerFactory _previous;

    public CapturedLog()
    {
        _previous = PmdLogging.Factory;
        PmdLogging.Factory = this;
    }

    public IReadOnlyList<string> Lines
    {
        get { lock (_lines) return [.. _lines]; }
    }

    public string Text => string.Join('\n', Lines);

    /// <summary>Lines that carry a stack trace: an exception logged with its trace, or "   at " frames in a message.</summary>
    public IReadOnlyList<string> StackTraces =>
        [.. Lines.Where(l => l.Contains("\n   at ", StringComparison.Ordinal) || l.Contains("Exception:", StringComparison.Ordinal) && l.Contains(" at ", StringComparison.Ordinal))];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) { }

    public void Dispose() => PmdLogging.Factory = _previous;

    private sealed class Logger(CapturedLog owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string line = $"{logLevel} {category}: {formatter(state, exception)}";
            if (exception is not null) line += "\n" + exception;
            lock (owner._lines) owner._lines.Add(line);
        }
    }
}
