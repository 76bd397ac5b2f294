using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using Pmd.Memory;

namespace Pmd.TestSupport;

/// <summary>What DPDK's testpmd counted on its vhost port between start and stop.</summary>
public readonly record struct BackendCounts(ulong RxPackets, ulong RxDropped, ulong TxPackets, ulong TxDropped);

/// <summary>
/// DPDK's vhost-user backend as a real peer: `dpdk-testpmd --vdev net_vhost0,...` in its own
/// process, in one forwarding mode. Stop() interrupts it and returns the counts it printed.
/// A missing dpdk-testpmd is a failure with a clear message, never a silent pass.
/// </summary>
public sealed partial class DpdkVhostBackend : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();
    private bool _stopped;

    private readonly bool _client;
    private static int s_files;

    private DpdkVhostBackend(Process process, string socket, bool client)
    {
        _process = process;
        Socket = socket;
        _client = client;
    }

    public string Socket { get; }

    public string Output
    {
        get { lock (_lock) return _output.ToString(); }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>
    /// Starts testpmd with a vhost port on <paramref name="socket"/>. With <paramref name="client"/>
    /// the backend connects to us (our server=1); otherwise it listens and this returns once the
    /// socket exists. <paramref name="filePrefix"/> is its EAL --file-prefix, which also names its
    /// telemetry socket (dpdk-telemetry.py -f PREFIX); DPDK's default "rte" when null.
    /// </summary>
    public static DpdkVhostBackend Start(string socket, string forwardMode, int queues = 1, bool client = false,
        int? txPacketLength = null, IEnumerable<string>? extraArgs = null, string? filePrefix = null,
        string? vhostArgs = null, string? secondSocket = null, string? secondVhostArgs = null, IEnumerable<string>? commands = null)
    {
        string testpmd = NativeLayout.FindTool("dpdk-testpmd")
            ?? throw new InvalidOperationException("dpdk-testpmd is not installed: run tools/setup-host.sh (apt-get install dpdk)");
        if (!client && File.Exists(socket)) File.Delete(socket);
        if (secondSocket is not null && File.Exists(secondSocket)) File.Delete(secondSocket);
        var args = new List<string> { "-oL", testpmd, "-l", "0-1", "--in-memory", "--no-pci", "--log-level=lib.eal:error" };
        if (PageSizes.FreeHugePages < 300) args.AddRange(["--no-huge", "-m", "512"]);
        if (filePrefix is not null) args.AddRange(["--file-prefix", filePrefix]);
        args.AddRange(["--vdev", $"net_vhost0,iface={socket},queues={queues}{(client ? ",client=1" : "")}{vhostArgs}"]);
        // A second vhost port: testpmd forwards between the two (0 to 1 and 1 to 0).
        if (secondSocket is not null) args.AddRange(["--vdev", $"net_vhost1,iface={secondSocket},queues={queues}{secondVhostArgs}"]);
        args.AddRange(["--",
            $"--forward-mode={forwardMode}", "--nb-cores=1", $"--rxq={queues}", $"--txq={queues}",
            "--total-num-mbufs=32768", "--disable-link-check"]);
        if (txPacketLength is int len) args.Add($"--txpkts={len}");
        if (extraArgs is not null) args.AddRange(extraArgs);
        if (commands is not null)
        {
            // Run at start, before forwarding begins: e.g. "port stop all", "csum set tcp hw 1", "port start all".
            string file = Path.Combine(Path.GetTempPath(), $"pmd-testpmd-{Environment.ProcessId}-{Interlocked.Increment(ref s_files)}.cmd");
            File.WriteAllLines(file, commands);
            args.Add($"--cmdline-file={file}");
        }

        var psi = new ProcessStartInfo("stdbuf") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start dpdk-testpmd");
        var backend = new DpdkVhostBackend(process, socket, client);
        process.OutputDataReceived += (_, e) => backend.Append(e.Data);
        process.ErrorDataReceived += (_, e) => backend.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        backend.WaitFor(() => backend.Output.Contains("Press enter to exit") && (client || File.Exists(socket)), TimeSpan.FromSeconds(30), "start");
        return backend;
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_lock) _output.AppendLine(line);
    }

    private void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (_process.HasExited) throw new InvalidOperationException($"dpdk-testpmd exited during {what} (code {_process.ExitCode}):\n{Output}");
            if (sw.Elapsed > timeout) throw new TimeoutException($"dpdk-testpmd did not {what} within {timeout.TotalSeconds} s:\n{Output}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Waits until the backend reports a vhost device as ready (our port started).</summary>
    public void WaitForDevice(TimeSpan? timeout = null) =>
        WaitFor(() => Output.Contains("new device", StringComparison.OrdinalIgnoreCase) || Output.Contains("virtio is now ready"), timeout ?? TimeSpan.FromSeconds(20), "see our device");

    /// <summary>Interrupts testpmd (SIGINT), which stops forwarding and prints its counters; returns them.</summary>
    public BackendCounts Stop()
    {
        if (!_stopped)
        {
            _stopped = true;
            _ = Kill(_process.Id, 2);
            if (!_process.WaitForExit(20_000))
            {
                _process.Kill();
                throw new TimeoutException($"dpdk-testpmd did not exit after SIGINT:\n{Output}");
            }
            _process.WaitForExit();
        }
        return ParseCounts(Output);
    }

    /// <summary>Kills testpmd outright (SIGKILL): the backend vanishes mid-run, as after a crash.</summary>
    public void Crash()
    {
        _stopped = true;
        _process.Kill();
        _process.WaitForExit();
    }

    public static BackendCounts ParseCounts(string output, int port = 0)
    {
        int block = output.LastIndexOf($"Forward statistics for port {port} ", StringComparison.Ordinal);
        if (block < 0) throw new InvalidOperationException($"dpdk-testpmd printed no forward statistics:\n{output}");
        var text = output[block..];
        var rx = RxLine().Match(text);
        var tx = TxLine().Match(text);
        if (!rx.Success || !tx.Success) throw new InvalidOperationException($"cannot read testpmd's counters from:\n{text}");
        return new BackendCounts(ulong.Parse(rx.Groups[1].Value), ulong.Parse(rx.Groups[2].Value), ulong.Parse(tx.Groups[1].Value), ulong.Parse(tx.Groups[2].Value));
    }

    [GeneratedRegex(@"RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)")]
    private static partial Regex RxLine();

    [GeneratedRegex(@"TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)")]
    private static partial Regex TxLine();

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
        // As a vhost client the socket is ours (Pmd's listener): it must outlive a backend restart.
        if (!_client && File.Exists(Socket)) { try { File.Delete(Socket); } catch (IOException) { } }
    }
}
