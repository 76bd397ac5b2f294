using System.Diagnostics.Metrics;
using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.Metrics;

/// <summary>The meter behind <see cref="PmdMetrics.Publish"/>: observable instruments over one registry's ports and the process's mempools.</summary>
internal sealed class RegistryMeter : IDisposable
{
    private readonly PortRegistry _registry;
    private readonly Meter _meter;

    public RegistryMeter(PortRegistry registry)
    {
        _registry = registry;
        _meter = new Meter(PmdMetrics.MeterName, typeof(RegistryMeter).Assembly.GetName().Version?.ToString());
        Port("pmd.port.rx.packets", "{packet}", "Packets received", s => s.RxPackets);
        Port("pmd.port.tx.packets", "{packet}", "Packets sent", s => s.TxPackets);
        Port("pmd.port.rx.bytes", "By", "Bytes received", s => s.RxBytes);
        Port("pmd.port.tx.bytes", "By", "Bytes sent", s => s.TxBytes);
        Port("pmd.port.rx.errors", "{packet}", "Received packets with errors", s => s.RxErrors);
        Port("pmd.port.tx.errors", "{packet}", "Packets that could not be sent", s => s.TxErrors);
        Port("pmd.port.rx.missed", "{packet}", "Packets the device dropped for want of an RX descriptor", s => s.RxMissed);
        Port("pmd.port.rx.nombuf", "{event}", "RX refills that found no mbuf", s => s.RxNoMbuf);
        _meter.CreateObservableGauge("pmd.failover.state", FailoverStates, null, "The failover port's state (FailoverState: 0 StandbyOnly ... 6 Closing)");
        _meter.CreateObservableCounter("pmd.failover.switches", FailoverSwitches, "{switch}", "Times TX moved to the primary or back to the standby");
        _meter.CreateObservableUpDownCounter("pmd.mempool.in_use", () => Pools(p => p.InUse), "{mbuf}", "Mbufs taken from the pool and not yet returned");
        _meter.CreateObservableUpDownCounter("pmd.mempool.capacity", () => Pools(p => p.Capacity), "{mbuf}", "Mbufs in the pool");
    }

    private void Port(string name, string unit, string description, Func<PortStats, ulong> value) =>
        _meter.CreateObservableCounter(name, () => Ports(value), unit, description);

    private List<Measurement<long>> Ports(Func<PortStats, ulong> value)
    {
        var readings = new List<Measurement<long>>();
        foreach (var port in _registry.Ports)
        {
            PortStats stats;
            try
            {
                stats = port.GetStats();
            }
            catch (ObjectDisposedException)
            {
                continue;   // detached between the list and the reading
            }
            readings.Add(new Measurement<long>((long)value(stats), Tags(port)));
        }
        return readings;
    }

    private List<Measurement<int>> FailoverStates()
    {
        var readings = new List<Measurement<int>>();
        foreach (var port in _registry.Ports)
            if (Xstat(port, "failover_state") is { } state)
                readings.Add(new Measurement<int>((int)state, Tags(port)));
        return readings;
    }

    private List<Measurement<long>> FailoverSwitches()
    {
        var readings = new List<Measurement<long>>();
        foreach (var port in _registry.Ports)
        {
            if (Xstat(port, "failover_switches_to_primary") is not { } toPrimary) continue;
            ulong toStandby = Xstat(port, "failover_switches_to_standby") ?? 0;
            readings.Add(new Measurement<long>((long)toPrimary, [.. Tags(port), new("to", "primary")]));
            readings.Add(new Measurement<long>((long)toStandby, [.. Tags(port), new("to", "standby")]));
        }
        return readings;
    }

    /// <summary>
    /// Failover ports say what they are through their xstats (failover_state and the switch
    /// counters), so this meter needs no reference to Pmd.Failover.
    /// </summary>
    private static ulong? Xstat(EthPort port, string name)
    {
        try
        {
            foreach (var x in port.GetXstats())
                if (x.Name == name) return x.Value;
        }
        catch (ObjectDisposedException)
        {
        }
        return null;
    }

    private static List<Measurement<long>> Pools(Func<Mempool, int> value)
    {
        var readings = new List<Measurement<long>>();
        foreach (var pool in Mempool.Snapshot())
            readings.Add(new Measurement<long>(value(pool), new KeyValuePair<string, object?>("mempool", pool.Name)));
        return readings;
    }

    private static KeyValuePair<string, object?>[] Tags(EthPort port) =>
        [new("port.id", (int)port.PortId), new("port.name", port.Name)];

    public void Dispose() => _meter.Dispose();
}
