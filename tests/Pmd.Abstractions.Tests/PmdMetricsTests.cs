using System.Diagnostics.Metrics;
using Pmd.Ethdev;
using Pmd.Memory;
using Pmd.Metrics;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

/// <summary>The "Pmd" meter through a MeterListener, as OpenTelemetry's exporters read it: exact values.</summary>
public sealed class PmdMetricsTests
{
    private static readonly MacAddress Mac = MacAddress.Parse("02:00:00:00:00:31");

    [Fact]
    public void A_listener_reads_each_ports_counters_and_the_pools_in_use_count_exactly()
    {
        using var registry = new PortRegistry();
        using var pool = Mempool.Create("metrics-test", 512);
        var port = new FakePort("metered", Mac);
        ushort id = registry.Add(port);
        port.Configure(new PortConfig { RxPool = pool });
        port.Start();
        var sent = new Mbuf[37];
        Assert.True(pool.AllocExact(sent));
        Assert.Equal(37, port.TxBurst(0, sent));
        var held = new Mbuf[5];
        Assert.True(pool.AllocExact(held));
        for (int i = 0; i < 3; i++) port.Inject(0, held[i]);
        var received = new Mbuf[8];
        Assert.Equal(3, port.RxBurst(0, received));

        using var metrics = PmdMetrics.Publish(registry);
        var readings = Collect();

        Assert.Equal(37, readings[("pmd.port.tx.packets", $"port.id={id},port.name=metered")]);
        Assert.Equal(3, readings[("pmd.port.rx.packets", $"port.id={id},port.name=metered")]);
        Assert.Equal(0, readings[("pmd.port.rx.missed", $"port.id={id},port.name=metered")]);
        Assert.Equal((long)port.GetStats().TxPackets, readings[("pmd.port.tx.packets", $"port.id={id},port.name=metered")]);
        // 37 on the fake port's TX ring and 5 held here: 42 mbufs out of the pool.
        Assert.Equal(42, readings[("pmd.mempool.in_use", "mempool=metrics-test")]);
        Assert.Equal(512, readings[("pmd.mempool.capacity", "mempool=metrics-test")]);
        Assert.DoesNotContain(readings.Keys, k => k.Instrument == "pmd.failover.state");

        // A later collection sees the new counts: readings come from the counters when asked.
        Assert.Equal(2, port.TxBurst(0, held.AsSpan(3, 2)));
        Assert.Equal(39, Collect()[("pmd.port.tx.packets", $"port.id={id},port.name=metered")]);

        port.Stop();
        foreach (var m in port.DrainTx(0)) m.Free();
        Mbuf.Free(received.AsSpan(0, 3));
    }

    /// <summary>One collection of every instrument of the "Pmd" meter: value by (instrument, tags).</summary>
    private static Dictionary<(string Instrument, string Tags), long> Collect()
    {
        var readings = new Dictionary<(string, string), long>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == PmdMetrics.MeterName) l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => readings[(instrument.Name, Describe(tags))] = value);
        listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => readings[(instrument.Name, Describe(tags))] = value);
        listener.Start();
        listener.RecordObservableInstruments();
        return readings;
    }

    private static string Describe(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var parts = new List<string>();
        foreach (var tag in tags) parts.Add($"{tag.Key}={tag.Value}");
        return string.Join(",", parts);
    }
}
