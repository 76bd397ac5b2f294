using System.Diagnostics;
using System.Text;

namespace Pmd.Vm.Tests;

/// <summary>What to boot: the guest command and the device under test with its options.</summary>
/// <param name="Name">Names the results dir ($PMD_VM_DIR/runs/NAME-TIME).</param>
/// <param name="Command">Bash script text run in the guest (host / read-only, /tmp tmpfs, dotnet on PATH, vfio-pci loaded).</param>
public sealed record VmOptions(string Name, string Command)
{
    /// <summary>The device under test (PMD_VM_NIC); the guest scripts look it up by its PCI id.</summary>
    public GuestNic Nic { get; init; } = GuestNic.Virtio;

    /// <summary>virtio-net-pci with packed rings; run-vm.sh ignores it for any other NIC.</summary>
    public bool Packed { get; init; }
    public string Mac { get; init; } = "52:54:00:12:34:56";

    /// <summary>run-vm.sh kills QEMU after this long; the guest command itself gets 25 s less.</summary>
    public int TimeoutSeconds { get; init; } = 300;

    /// <summary>intel-iommu aw-bits (39 or 48); null leaves PMD_VM_IOMMU_AW_BITS of the environment, else QEMU's default 39.</summary>
    public int? IommuAddressBits { get; init; }

    /// <summary>A host tap (see <see cref="TapWire"/>) as the NIC's netdev instead of the UDP wire; <see cref="VmGuest.Frames"/> then carries nothing.</summary>
    public string? Tap { get; init; }
}

/// <summary>
/// One QEMU guest booted by tests/vm/run-vm.sh in the background (after tests/vm/prepare.sh has run
/// once per test process). Exposes the serial log, the results dir, a QMP client and the host end
/// of the guest NIC's UDP wire. Disposing it kills QEMU if it still runs.
/// </summary>
public sealed class VmGuest : IAsyncDisposable
{
    private static readonly SemaphoreSlim PrepareLock = new(1, 1);
    private static string? _preparedDir;

    private readonly Process _runner;
    private readonly StringBuilder _runnerOutput = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private Qmp? _qmp;

    private VmGuest(VmOptions options, string resultsDir, FrameChannel frames, Process runner)
    {
        Options = options;
        ResultsDir = resultsDir;
        Frames = frames;
        _runner = runner;
    }

    public VmOptions Options { get; }

    /// <summary>The guest's rw share (mounted in the guest at this same path): serial.log, guest-output.log, exit-status, qemu.cmd.</summary>
    public string ResultsDir { get; }

    public string SerialLogPath => Path.Combine(ResultsDir, "serial.log");

    public string QmpSocketPath => Path.Combine(ResultsDir, "qmp.sock");

    /// <summary>The host end of the guest NIC's wire (one UDP datagram = one Ethernet frame); with <see cref="GuestNic.Failover"/>, the standby's.</summary>
    public FrameChannel Frames { get; }

    /// <summary>With <see cref="GuestNic.Failover"/>: the host end of the e1000e primary's wire (netdev n1); otherwise null.</summary>
    public FrameChannel? PrimaryFrames { get; private init; }

    /// <summary>Time since run-vm.sh was started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    public bool HasExited => _runner.HasExited;

    /// <summary>The whole console so far: kernel messages, init's PMDVM lines and the guest command's output.</summary>
    public string SerialLog => ReadShared(SerialLogPath);

    /// <summary>Only the guest command's output (written by the guest through the share).</summary>
    public string GuestOutput => ReadShared(Path.Combine(ResultsDir, "guest-output.log"));

    /// <summary>The guest command's exit status as the guest recorded it, or null.</summary>
    public int? ExitStatus => int.TryParse(ReadShared(Path.Combine(ResultsDir, "exit-status")).Trim(), out int rc) ? rc : null;

    /// <summary>The repository root: PMD_REPO, else the first directory above this assembly holding Pmd.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string ScriptDir => Path.Combine(RepoRoot, "tests", "vm");

    /// <summary>Runs tests/vm/prepare.sh once per process (installs packages if missing, builds the initramfs); returns the cache dir.</summary>
    public static async Task<string> EnsurePreparedAsync(CancellationToken cancellationToken = default)
    {
        await PrepareLock.WaitAsync(cancellationToken);
        try
        {
            if (_preparedDir is not null) return _preparedDir;
            if (!OperatingSystem.IsLinux()) throw new PlatformNotSupportedException("the VM tests need Linux and QEMU");
            var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add(Path.Combine(ScriptDir, "prepare.sh"));
            using var p = Process.Start(psi)!;
            var stdout = p.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = p.StandardError.ReadToEndAsync(cancellationToken);
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromMinutes(20));
            try { await p.WaitForExitAsync(cts.Token); }
            catch (OperationCanceledException) { p.Kill(true); throw new TimeoutException("tests/vm/prepare.sh took over 20 minutes"); }
            string output = await stdout, errors = await stderr;
            if (p.ExitCode != 0) throw new InvalidOperationException($"tests/vm/prepare.sh failed ({p.ExitCode}):\n{Tail(errors, 30)}");
            _preparedDir = output.Trim().Split('\n')[^1].Trim();
            return _preparedDir;
        }
        finally
        {
            PrepareLock.Release();
        }
    }

    /// <summary>Prepares (once), then starts run-vm.sh in the background and returns at once.</summary>
    public static async Task<VmGuest> StartAsync(VmOptions options, CancellationToken cancellationToken = default)
    {
        string dir = await EnsurePreparedAsync(cancellationToken);
        PruneOldRuns(Path.Combine(dir, "runs"));
        string results = Path.Combine(dir, "runs", $"{options.Name}-{DateTime.Now:yyyyMMdd-HHmmss-fff}");
        Directory.CreateDirectory(results);
        var frames = new FrameChannel();
        var primaryFrames = options.Nic == GuestNic.Failover ? new FrameChannel() : null;
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(ScriptDir, "run-vm.sh"));
        psi.Environment["PMD_VM_DIR"] = dir;
        psi.Environment["PMD_VM_RESULTS"] = results;
        psi.Environment["PMD_VM_CMD"] = options.Command;
        psi.Environment["PMD_VM_PORT_GUEST"] = frames.GuestPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["PMD_VM_PORT_HOST"] = frames.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (primaryFrames is not null)
        {
            psi.Environment["PMD_VM_PORT_GUEST2"] = primaryFrames.GuestPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
            psi.Environment["PMD_VM_PORT_HOST2"] = primaryFrames.HostPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }
        psi.Environment["PMD_VM_MAC"] = options.Mac;
        psi.Environment["PMD_VM_NIC"] = options.Nic.RunVmName();
        psi.Environment["PMD_VM_PACKED"] = options.Packed ? "1" : "0";
        psi.Environment["PMD_VM_QMP"] = Path.Combine(results, "qmp.sock");
        psi.Environment["PMD_VM_TIMEOUT"] = options.TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (options.Tap is not null) psi.Environment["PMD_VM_TAP0"] = options.Tap;
        if (options.IommuAddressBits is int aw) psi.Environment["PMD_VM_IOMMU_AW_BITS"] = aw.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var runner = Process.Start(psi) ?? throw new InvalidOperationException("could not start tests/vm/run-vm.sh");
        var vm = new VmGuest(options, results, frames, runner) { PrimaryFrames = primaryFrames };
        runner.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (vm._runnerOutput) vm._runnerOutput.AppendLine(e.Data); };
        runner.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (vm._runnerOutput) vm._runnerOutput.AppendLine(e.Data); };
        runner.BeginOutputReadLine();
        runner.BeginErrorReadLine();
        return vm;
    }

    /// <summary>The QMP client, connected on first use.</summary>
    public async Task<Qmp> QmpAsync(CancellationToken cancellationToken = default) =>
        _qmp ??= await Qmp.ConnectAsync(QmpSocketPath, TimeSpan.FromSeconds(30), cancellationToken);

    /// <summary>Waits for run-vm.sh to end (the guest powered off, or QEMU was killed at the timeout); returns its exit status.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        try
        {
            await _runner.WaitForExitAsync(cancellationToken).WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"the guest did not power off within {timeout.TotalSeconds:0} s.\n{Describe()}");
        }
        _runner.WaitForExit();   // drains the redirected output
        return _runner.ExitCode;
    }

    /// <summary>Waits until the serial log satisfies <paramref name="seen"/>; fails with the log's tail when the guest ends or time runs out.</summary>
    public async Task<string> WaitForSerialAsync(Func<string, bool> seen, TimeSpan timeout, string what, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            string log = SerialLog;
            if (seen(log)) return log;
            if (_runner.HasExited)
            {
                await Task.Delay(300, cancellationToken);   // the last lines may still be on their way
                log = SerialLog;
                if (seen(log)) return log;
                throw new InvalidOperationException($"the guest ended before {what}.\n{Describe()}");
            }
            if (DateTime.UtcNow >= deadline) throw new TimeoutException($"no {what} within {timeout.TotalSeconds:0} s.\n{Describe()}");
            await Task.Delay(200, cancellationToken);
        }
    }

    public Task<string> WaitForSerialAsync(string text, TimeSpan timeout, CancellationToken cancellationToken = default) =>
        WaitForSerialAsync(log => log.Contains(text, StringComparison.Ordinal), timeout, $"\"{text}\" in the serial log", cancellationToken);

    /// <summary>For failure messages: where the results are, the runner's output and the serial log's tail.</summary>
    public string Describe(int lines = 40)
    {
        string runner;
        lock (_runnerOutput) runner = _runnerOutput.ToString();
        string log = SerialLog;
        string hint = log.Contains("VFIO_IOMMU_MAP_DMA", StringComparison.Ordinal) && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("PMD_VM_IOMMU_AW_BITS"))
            ? "\nhint: QEMU 7.2's intel-iommu defaults to aw-bits=39 (IOVAs below 2^39); a driver that uses virtual addresses as IOVAs needs PMD_VM_IOMMU_AW_BITS=48, or must pick IOVAs inside VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE."
            : "";
        return $"results: {ResultsDir} (elapsed {Elapsed.TotalSeconds:0.0} s)\n--- run-vm.sh ---\n{Tail(runner, 10)}\n--- serial.log (last {lines} lines) ---\n{Tail(log, lines)}{hint}";
    }

    public async ValueTask DisposeAsync()
    {
        if (_qmp is not null) await _qmp.DisposeAsync();
        Frames.Dispose();
        PrimaryFrames?.Dispose();
        if (!_runner.HasExited)
        {
            // Kill QEMU by its pid (run-vm.sh wrote it); run-vm.sh then sees it gone and exits.
            if (int.TryParse(ReadShared(Path.Combine(ResultsDir, "qemu.pid")).Trim(), out int qemu))
                try { Process.GetProcessById(qemu).Kill(); } catch (ArgumentException) { } catch (InvalidOperationException) { }
            try { await _runner.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)); }
            catch (TimeoutException) { _runner.Kill(entireProcessTree: true); }
        }
        _runner.Dispose();
    }

    public static string Tail(string text, int lines)
    {
        var all = text.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Results of runs older than two days are deleted.</summary>
    private static void PruneOldRuns(string runs)
    {
        if (!Directory.Exists(runs)) return;
        foreach (var d in new DirectoryInfo(runs).GetDirectories())
            if (d.LastWriteTimeUtc < DateTime.UtcNow.AddDays(-2))
                try { d.Delete(recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var r = new StreamReader(s);
            return r.ReadToEnd();
        }
        catch (FileNotFoundException) { return ""; }
        catch (DirectoryNotFoundException) { return ""; }
    }

    private static string FindRepoRoot()
    {
        if (Environment.GetEnvironmentVariable("PMD_REPO") is { Length: > 0 } env) return env;
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Pmd.sln"))) return d.FullName;
        throw new DirectoryNotFoundException($"no Pmd.sln above {AppContext.BaseDirectory}; set PMD_REPO");
    }
}
