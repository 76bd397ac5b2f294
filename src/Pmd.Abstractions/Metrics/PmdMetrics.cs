using System.Diagnostics.Metrics;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Metrics;

/// <summary>
/// Pmd's counters as a <see cref="System.Diagnostics.Metrics"/> meter named <see cref="MeterName"/>,
/// for <c>dotnet-counters monitor --counters Pmd</c> and OpenTelemetry's MeterListener-based
/// exporters. Every instrument is observable: a reading is taken from the drivers' own counters
/// when a listener asks (once per collection interval), never per packet, so the datapath pays
/// nothing whether anyone listens or not.
/// </summary>
public static class PmdMetrics
{
    /// <summary>The meter's name: what <c>dotnet-counters --counters</c> and OpenTelemetry's AddMeter take.</summary>
    public const string MeterName = "Pmd";

    /// <summary>
    /// Publishes the ports of <paramref name="registry"/> and every mempool until the result is
    /// disposed. Per port (tags <c>port.id</c>, <c>port.name</c>): <c>pmd.port.rx.packets</c>,
    /// <c>pmd.port.tx.packets</c>, <c>pmd.port.rx.bytes</c>, <c>pmd.port.tx.bytes</c>,
    /// <c>pmd.port.rx.errors</c>, <c>pmd.port.tx.errors</c>, <c>pmd.port.rx.missed</c>,
    /// <c>pmd.port.rx.nombuf</c>; per failover port <c>pmd.failover.state</c> (the
    /// <c>FailoverState</c> as a number) and <c>pmd.failover.switches</c> (tag <c>to</c>: primary or
    /// standby); per mempool (tag <c>mempool</c>) <c>pmd.mempool.in_use</c> and
    /// <c>pmd.mempool.capacity</c>.
    /// </summary>
    public static IDisposable Publish(PortRegistry registry)
    {
        ArgumentNullException.ThrowIfNull(registry);
        return new RegistryMeter(registry);
    }
}
