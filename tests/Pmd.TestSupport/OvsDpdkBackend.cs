using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Pmd.TestSupport;

/// <summary>
/// Open vSwitch with DPDK as a vhost-user peer, private to one test: its own ovsdb-server and
/// ovs-vswitchd (Debian's openvswitch-switch-dpdk build) with their own database and run
/// directory, on one core with little memory. A netdev bridge holds one dpdkvhostuserclient port
/// on Pmd's server socket, and a flow sends every frame back where it came from. The switch can
/// be restarted in place, as an operator would; flows live in the switch, not in the database,
/// so the restart installs the loopback flow again, as a controller would.
/// </summary>
public sealed class OvsDpdkBackend : IDisposable
{
    public const string VswitchdDpdk = "/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk";
    private readonly string _dir;
    private readonly Process _ovsdb;
    private Process? _vswitchd;

    private OvsDpdkBackend(string dir, Process ovsdb)
    {
        _dir = dir;
        _ovsdb = ovsdb;
    }

    public string Directory => _dir;

    /// <summary>Creates the database and the bridge, and starts the switch; its port connects to <paramref name="serverSocket"/>.</summary>
    /// <param name="userspaceTso">OVS's userspace TSO (other_config:userspace-tso-enable): TSO frames pass through whole, and go out to a vhost port as GSO frames.</param>
    public static OvsDpdkBackend Start(string dir, string serverSocket, bool userspaceTso = false)
    {
        if (!File.Exists(VswitchdDpdk) || NativeLayout.FindTool("ovsdb-server") is null)
            throw new InvalidOperationException($"Open vSwitch with DPDK is not installed ({VswitchdDpdk}): run tools/setup-host.sh (apt-get install openvswitch-switch-dpdk)");
        if (System.IO.Directory.Exists(dir)) System.IO.Directory.Delete(dir, recursive: true);
        System.IO.Directory.CreateDirectory(dir);
        Run("ovsdb-tool", "create", $"{dir}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema");
        var ovsdb = Spawn(dir, "ovsdb-server", $"{dir}/conf.db", $"--remote=punix:{dir}/db.sock", $"--unixctl={dir}/ovsdb.ctl", $"--log-file={dir}/ovsdb.log");
        var ovs = new OvsDpdkBackend(dir, ovsdb);
        try
        {
            WaitFor(() => File.Exists($"{dir}/db.sock"), TimeSpan.FromSeconds(10), "ovsdb-server to listen");
            ovs.Vsctl("--no-wait", "init");
            // One lcore and one PMD core, a little memory, no PCI scan, no files in /dev/hugepages:
            // the machine has two cores and other DPDK processes.
            ovs.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:dpdk-init=true", "other_config:dpdk-lcore-mask=0x1",
                "other_config:pmd-cpu-mask=0x1", "other_config:dpdk-socket-mem=128", "other_config:dpdk-extra=--in-memory --no-pci");
            if (userspaceTso) ovs.Vsctl("--no-wait", "set", "Open_vSwitch", ".", "other_config:userspace-tso-enable=true");
            ovs.StartVswitchd();
            ovs.Vsctl("add-br", "br0", "--", "set", "bridge", "br0", "datapath_type=netdev");
            ovs.Vsctl("add-port", "br0", "vhu0", "--", "set", "Interface", "vhu0", "type=dpdkvhostuserclient",
                $"options:vhost-server-path={serverSocket}", "ofport_request=1");
            ovs.InstallLoopbackFlow();
            return ovs;
        }
        catch
        {
            ovs.Dispose();
            throw;
        }
    }

    /// <summary>Stops ovs-vswitchd (SIGTERM, as a service restart does) and starts it again with the same database.</summary>
    public void RestartVswitchd()
    {
        StopVswitchd();
        StartVswitchd();
        InstallLoopbackFlow();
    }

    public string Log => File.Exists($"{_dir}/vswitchd.log") ? File.ReadAllText($"{_dir}/vswitchd.log") : "";

    private void StartVswitchd()
    {
        File.Delete($"{_dir}/vswitchd.ctl");
        _vswitchd = Spawn(_dir, VswitchdDpdk, $"unix:{_dir}/db.sock", $"--unixctl={_dir}/vswitchd.ctl", $"--log-file={_dir}/vswitchd.log");
        var watch = Stopwatch.StartNew();
        while (!File.Exists($"{_dir}/vswitchd.ctl"))
        {
            if (_vswitchd.HasExited) throw new InvalidOperationException($"ovs-vswitchd exited (code {_vswitchd.ExitCode}):\n{Tail(Log)}");
            if (watch.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"ovs-vswitchd did not start within 30 s:\n{Tail(Log)}");
            Thread.Sleep(10);
        }
    }

    private void StopVswitchd()
    {
        if (_vswitchd is null) return;
        if (!_vswitchd.HasExited)
        {
            _ = Kill(_vswitchd.Id, 15);
            if (!_vswitchd.WaitForExit(10_000)) _vswitchd.Kill();
            _vswitchd.WaitForExit();
        }
        _vswitchd.Dispose();
        _vswitchd = null;
    }

    private void InstallLoopbackFlow()
    {
        WaitFor(() => File.Exists($"{_dir}/br0.mgmt"), TimeSpan.FromSeconds(20), "the bridge to come up");
        Run("ovs-ofctl", "del-flows", $"unix:{_dir}/br0.mgmt");
        Run("ovs-ofctl", "add-flow", $"unix:{_dir}/br0.mgmt", "in_port=1,actions=in_port");
    }

    private void Vsctl(params string[] args) => Run("ovs-vsctl", [$"--db=unix:{_dir}/db.sock", "--timeout=20", .. args]);

    private static void Run(string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(30_000)) { p.Kill(); throw new TimeoutException($"{tool} {string.Join(' ', args)} hung"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({p.ExitCode}): {stderr.Result}");
    }

    private static Process Spawn(string dir, string tool, params string[] args)
    {
        var psi = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) psi.ArgumentList.Add(a);
        // Run and pid files go to the test's directory, not to /var/run/openvswitch.
        psi.Environment["OVS_RUNDIR"] = dir;
        psi.Environment["OVS_LOGDIR"] = dir;
        psi.Environment["OVS_DBDIR"] = dir;
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {tool}");
        // The logs go to files; drain the pipes so the process never blocks on them.
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    private static void WaitFor(Func<bool> condition, TimeSpan timeout, string what)
    {
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > timeout) throw new TimeoutException($"timed out waiting for {what}");
            Thread.Sleep(10);
        }
    }

    private static string Tail(string text) => text.Length > 4000 ? text[^4000..] : text;

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        try { StopVswitchd(); }
        catch (InvalidOperationException) { }
        if (!_ovsdb.HasExited)
        {
            _ = Kill(_ovsdb.Id, 15);
            if (!_ovsdb.WaitForExit(5000)) _ovsdb.Kill();
        }
        _ovsdb.Dispose();
    }
}
