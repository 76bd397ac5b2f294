using System.Diagnostics;
using System.Text;

namespace TestPmd.Tests;

/// <summary>
/// Our testpmd as a child process (dotnet TestPmd.dll ...), its stdout and stderr collected as
/// they come, its stdin open for interactive commands.
/// </summary>
internal sealed class TestPmdProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Lock _lock = new();

    private TestPmdProcess(Process process) => _process = process;

    public string Stdout { get { lock (_lock) return _stdout.ToString(); } }

    public string Stderr { get { lock (_lock) return _stderr.ToString(); } }

    public int ExitCode => _process.ExitCode;

    /// <summary>The process id, for tools that attach to it (dotnet-counters).</summary>
    public int ProcessId => _process.Id;

    /// <summary>The built TestPmd.dll: next to this test assembly (a project reference copies it), else in the sample's own output.</summary>
    public static string Locate()
    {
        string here = AppContext.BaseDirectory;
        string beside = Path.Combine(here, "TestPmd.dll");
        if (File.Exists(beside) && File.Exists(Path.Combine(here, "TestPmd.runtimeconfig.json"))) return beside;
        // bin/<Configuration>/net10.0/ → the sample's bin/<Configuration>/net10.0/
        var framework = new DirectoryInfo(here.TrimEnd('/'));
        string configuration = framework.Parent!.Name;
        string repo = Path.GetFullPath(Path.Combine(here, "../../../../.."));
        string built = Path.Combine(repo, "samples/TestPmd/bin", configuration, framework.Name, "TestPmd.dll");
        return File.Exists(built) ? built : throw new FileNotFoundException($"TestPmd.dll is built neither at {beside} nor at {built}");
    }

    public static TestPmdProcess Start(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Locate());
        foreach (var a in args) psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dotnet TestPmd.dll");
        var t = new TestPmdProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (t._lock) t._stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (t._lock) t._stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return t;
    }

    /// <summary>Runs to completion and returns the exit code.</summary>
    public static TestPmdProcess Run(params string[] args)
    {
        var t = Start(args);
        t._process.StandardInput.Close();
        t.WaitForExit(TimeSpan.FromSeconds(60));
        return t;
    }

    public void Send(string command)
    {
        _process.StandardInput.WriteLine(command);
        _process.StandardInput.Flush();
    }

    /// <summary>Waits until stdout holds <paramref name="text"/> at least <paramref name="occurrences"/> times.</summary>
    public void WaitForOutput(string text, int occurrences = 1, double seconds = 20)
    {
        var watch = Stopwatch.StartNew();
        while (Count(Stdout, text) < occurrences)
        {
            if (_process.HasExited && Count(Stdout, text) < occurrences)
                throw new InvalidOperationException($"testpmd exited ({_process.ExitCode}) before printing '{text}':\n{Stdout}\n{Stderr}");
            if (watch.Elapsed.TotalSeconds > seconds)
                throw new TimeoutException($"testpmd did not print '{text}' within {seconds} s:\n{Stdout}\n{Stderr}");
            Thread.Sleep(20);
        }
    }

    public void WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill();
            throw new TimeoutException($"testpmd did not exit within {timeout.TotalSeconds} s:\n{Stdout}\n{Stderr}");
        }
        _process.WaitForExit(); // drains the output readers
    }

    public static int Count(string haystack, string needle)
    {
        int n = 0;
        for (int i = haystack.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            try { _process.Kill(); _process.WaitForExit(5000); }
            catch (InvalidOperationException) { }
        }
        _process.Dispose();
    }
}
