using Pmd.Ethdev;
using Pmd.Telemetry;

namespace Pmd.Failover;

/// <summary>
/// Pmd's own telemetry commands for failover ports, added to every telemetry socket of the process
/// (<see cref="PmdTelemetry"/>) once this assembly is in use: by <see cref="FailoverDriver.Register"/>,
/// <see cref="FailoverAutoAttach.Enable"/> or a new <see cref="FailoverPort"/>.
/// </summary>
internal static class FailoverTelemetry
{
    private static int s_registered;

    public static void Register()
    {
        if (Interlocked.Exchange(ref s_registered, 1) != 0) return;
        TelemetryCommands.Register("/failover/list", "Returns the failover ports' ids. Takes no parameters", List);
        TelemetryCommands.Register("/failover/info",
            "Returns a failover port's state, standby, primary and switch counters. Parameters: int port_id", Info);
    }

    private static bool List(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        reply.StartArray();
        foreach (var port in registry.AllPorts)
            if (port is FailoverPort) reply.Add(port.PortId);
        return true;
    }

    private static bool Info(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (!TelemetryCommands.TryGetPort(registry, parameters, out var port, out _) || port is not FailoverPort failover) return false;
        failover.WriteTelemetry(reply);
        return true;
    }
}
