namespace Pmd.TestPmd.Options;

/// <summary>The whole command line, split as DPDK splits it: EAL options, "--", application options.</summary>
internal sealed class CommandLine
{
    private CommandLine(EalOptions eal, AppOptions app)
    {
        Eal = eal;
        App = app;
    }

    public EalOptions Eal { get; }
    public AppOptions App { get; }

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        int split = -1;
        for (int i = 0; i < args.Count; i++)
        {
            if (args[i] == "--") { split = i; break; }
        }
        var ealArgs = split < 0 ? args : [.. args.Take(split)];
        var appArgs = split < 0 ? [] : args.Skip(split + 1).ToArray();
        var eal = EalOptions.Parse(ealArgs);
        var app = AppOptions.Parse(appArgs);
        foreach (int port in app.EthPeers.Keys)
        {
            // Ports get ids in the order their devices are given, so a peer for a port beyond
            // them names nothing (interactive "port attach" can add ports later, though).
            if (port >= eal.Devices.Count && !app.Interactive)
                throw new UsageException($"--eth-peer: invalid port {port} ({eal.Devices.Count} port{(eal.Devices.Count == 1 ? "" : "s")} given)");
        }
        return new CommandLine(eal, app);
    }
}
