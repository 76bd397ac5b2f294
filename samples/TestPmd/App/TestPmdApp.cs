using Microsoft.Extensions.Logging;
using Pmd.TestPmd.Interactive;
using Pmd.TestPmd.Lcores;
using Pmd.TestPmd.Options;
using Pmd.Threading;
using Pmd.VirtioNet;

namespace Pmd.TestPmd.App;

/// <summary>Runs testpmd for a parsed command line: lcores, logging, pool, ports, then batch or interactive mode.</summary>
internal static class TestPmdApp
{
    public static int Run(CommandLine commandLine, TextWriter output)
    {
        var eal = commandLine.Eal;
        var app = commandLine.App;
        var lcores = LcoreLayout.Resolve(eal, app);
        if (eal.Devices.Count == 0 && !app.Interactive)
            throw new UsageException("no ports: give a device with --vdev (e.g. --vdev net_virtio_user0,path=/tmp/vhost.sock) or use -i and 'port attach'");
        if (app.TxQueues < app.RxQueues)
            throw new UsageException($"--txq={app.TxQueues} is less than --rxq={app.RxQueues}: each RX queue's stream needs a TX queue of its own");

        // The main lcore runs commands, statistics and — since threads inherit their creator's
        // affinity — the control thread and the logger, off the forwarding CPUs.
        int errno = CpuAffinity.PinCurrentThread(lcores.Main);
        if (errno != 0) throw new InvalidOperationException($"cannot pin the main lcore to CPU {lcores.Main}: {CpuAffinity.Describe(errno)}");

        using var logging = LoggerFactory.Create(b =>
        {
            b.SetMinimumLevel(LogLevel.Warning)
                // Logs go to stdout with the rest of the output: stderr carries only the one-line error.
                .AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.None)
                .AddSimpleConsole(o => { o.SingleLine = true; o.IncludeScopes = false; });
            foreach (var rule in eal.LogLevels)
            {
                if (rule.Category is { } category) b.AddFilter(category, rule.Level);
                else b.SetMinimumLevel(rule.Level);
            }
        });
        PmdLogging.Factory = logging;
        try
        {
            Pmd.Memory.DmaRegistry.DefaultIovaMode = eal.IovaMode;
            VirtioUserDriver.Register();
            VirtioPciDriver.Register();
            Pmd.Vfio.PciNicDrivers.RegisterAll();
            Pmd.Failover.FailoverDriver.Register();
            using var session = new Session(app, eal.NoHugePages, lcores, output, eal.Telemetry ? eal.FilePrefix : null);
            foreach (string device in eal.Devices) session.AttachPort(device);
            if (app.CapturePath is { } capturePath)
                session.StartCapture(capturePath, new Pmd.Capture.CaptureOptions { SnapLength = app.CaptureSnapLength, PacketLimit = app.CaptureCount });
            if (app.CommandFile is { } commandFile)
            {
                // DPDK's --cmdline-file: the commands run after the ports are set up, before forwarding.
                session.Out.WriteLine($"CLI commands to be read from {commandFile}");
                var commands = new CommandLoop(session, TextReader.Null);
                foreach (string line in File.ReadLines(commandFile)) commands.Execute(line);
                session.Out.WriteLine($"Read CLI commands from {commandFile}");
            }
            if (app.Interactive)
            {
                using var signals = new StopSignal(onSignal: () => { session.Shutdown(); Environment.Exit(0); });
                new CommandLoop(session, Console.In).Run(app.AutoStart, app.TxFirst);
            }
            else
            {
                using var stop = new StopSignal();
                BatchRun.Run(session, stop);
            }
            session.Shutdown();
            return 0;
        }
        finally
        {
            PmdLogging.Factory = null!;
        }
    }
}
