using System.Diagnostics;
using Pmd.Ethdev;

namespace Pmd.TestPmd.Stats;

/// <summary>Rates since the previous look at a port.</summary>
internal readonly record struct PortRates(ulong RxPps, ulong TxPps, ulong RxBps, ulong TxBps);

/// <summary>
/// testpmd's "NIC statistics for port N" block (show port stats, and the periodic display), with
/// its "Throughput (since last show)" rates; remembers per port what it showed last.
/// </summary>
internal sealed class NicStatsPrinter
{
    private readonly Dictionary<ushort, (PortStats Stats, long Timestamp)> _lastShown = [];

    /// <summary>Rates since the last call for this port (zero the first time), and remembers this sample.</summary>
    public PortRates Sample(ushort portId, PortStats now)
    {
        long timestamp = Stopwatch.GetTimestamp();
        var rates = default(PortRates);
        if (_lastShown.TryGetValue(portId, out var last))
        {
            double seconds = Stopwatch.GetElapsedTime(last.Timestamp, timestamp).TotalSeconds;
            if (seconds > 0)
            {
                rates = new PortRates(
                    (ulong)(PortCounters.Since(now.RxPackets, last.Stats.RxPackets) / seconds),
                    (ulong)(PortCounters.Since(now.TxPackets, last.Stats.TxPackets) / seconds),
                    (ulong)(PortCounters.Since(now.RxBytes, last.Stats.RxBytes) * 8 / seconds),
                    (ulong)(PortCounters.Since(now.TxBytes, last.Stats.TxBytes) * 8 / seconds));
            }
        }
        _lastShown[portId] = (now, timestamp);
        return rates;
    }

    /// <summary>Forgets a port (detached, or its counters cleared).</summary>
    public void Forget(ushort portId) => _lastShown.Remove(portId);

    public PortRates Print(EthPort port, TextWriter w)
    {
        var s = port.GetStats();
        var rates = Sample(port.PortId, s);
        w.WriteLine();
        w.WriteLine($"  ######################## NIC statistics for port {port.PortId}  ########################");
        w.WriteLine($"  RX-packets: {s.RxPackets,-10} RX-missed: {s.RxMissed,-10} RX-bytes:  {s.RxBytes}");
        w.WriteLine($"  RX-errors: {s.RxErrors}");
        w.WriteLine($"  RX-nombuf:  {s.RxNoMbuf,-10}");
        w.WriteLine($"  TX-packets: {s.TxPackets,-10} TX-errors: {s.TxErrors,-10} TX-bytes:  {s.TxBytes}");
        w.WriteLine();
        w.WriteLine("  Throughput (since last show)");
        w.WriteLine($"  Rx-pps: {rates.RxPps,12}          Rx-bps: {rates.RxBps,12}");
        w.WriteLine($"  Tx-pps: {rates.TxPps,12}          Tx-bps: {rates.TxBps,12}");
        w.WriteLine("  ############################################################################");
        return rates;
    }
}
