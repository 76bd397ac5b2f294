using System.Globalization;
using Pmd.TestPmd.Forwarding;
using Pmd.Timing;

namespace Pmd.TestPmd.Stats;

/// <summary>Totals of one run, for the summary line and the callers that check it.</summary>
internal readonly record struct ForwardTotals(ulong RxPackets, ulong RxDropped, ulong TxPackets, ulong TxDropped, TimeSpan Elapsed)
{
    public double RxMpps => Elapsed.TotalSeconds > 0 ? RxPackets / Elapsed.TotalSeconds / 1e6 : 0;
    public double TxMpps => Elapsed.TotalSeconds > 0 ? TxPackets / Elapsed.TotalSeconds / 1e6 : 0;
}

/// <summary>
/// testpmd's blocks printed on "stop": per port what the streams received and sent, then the
/// sum over all ports, then Pmd's one-line throughput summary.
/// </summary>
internal static class ForwardStatsPrinter
{
    public static ForwardTotals Print(ForwardRun run, TextWriter w)
    {
        ulong rxAll = 0, rxDropAll = 0, txAll = 0, txDropAll = 0;
        foreach (var port in run.Ports)
        {
            ulong rx = 0, tx = 0, txDropped = 0;
            foreach (var s in run.Streams)
            {
                if (s.RxPortId == port.PortId) rx += s.ReadRx();
                if (s.TxPortId == port.PortId) { tx += s.ReadTx(); txDropped += s.ReadTxDropped(); }
            }
            // RX-dropped is what the NIC could not deliver (no free descriptor), as testpmd reports imissed.
            ulong rxDropped = run.StatsAtStart.TryGetValue(port.PortId, out var start)
                ? PortCounters.Since(port.GetStats().RxMissed, start.RxMissed) : 0;
            w.WriteLine();
            w.WriteLine($"  ---------------------- Forward statistics for port {port.PortId}  ----------------------");
            WriteCounts(w, rx, rxDropped, tx, txDropped);
            if (run.Mode == ForwardMode.Csum)
            {
                ulong badIp = 0, badL4 = 0;
                foreach (var s in run.Streams)
                {
                    if (s.RxPortId != port.PortId) continue;
                    badIp += Volatile.Read(ref s.RxBadIpChecksum);
                    badL4 += Volatile.Read(ref s.RxBadL4Checksum);
                }
                w.WriteLine($"  Bad-ipcsum: {badIp,-14} Bad-l4csum: {badL4,-14}");
            }
            w.WriteLine("  ----------------------------------------------------------------------------");
            rxAll += rx; rxDropAll += rxDropped; txAll += tx; txDropAll += txDropped;
        }
        w.WriteLine();
        w.WriteLine("  +++++++++++++++ Accumulated forward statistics for all ports+++++++++++++++");
        WriteCounts(w, rxAll, rxDropAll, txAll, txDropAll);
        w.WriteLine("  ++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++");
        var totals = new ForwardTotals(rxAll, rxDropAll, txAll, txDropAll, run.Elapsed);
        w.WriteLine();
        w.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Throughput: RX {totals.RxMpps:F3} Mpps, TX {totals.TxMpps:F3} Mpps over {run.Elapsed.TotalSeconds:F1} s"));
        long busy = 0;
        foreach (var s in run.Streams) busy += Volatile.Read(ref s.BusyTicks);
        ulong packets = Math.Max(rxAll, txAll);
        if (busy > 0 && packets > 0)
        {
            double ns = CycleCounter.ToNanoseconds(busy) / packets;
            w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"CPU per packet: {ns:F1} ns (lcore time in bursts that moved packets / {packets} packets)"));
            // DPDK testpmd's --record-core-cycles line, so that one parser reads both testpmds and
            // cycles, which depend less on the clock the hypervisor gives, can be compared directly.
            if (CycleCounter.IsTsc)
                w.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  CPU cycles/packet={(double)busy / packets:F2} (busy cycles={busy} / total packets={packets}) at {CycleCounter.Frequency / 1_000_000} MHz Clock"));
        }
        return totals;
    }

    private static void WriteCounts(TextWriter w, ulong rx, ulong rxDropped, ulong tx, ulong txDropped)
    {
        w.WriteLine($"  RX-packets: {rx,-14} RX-dropped: {rxDropped,-14} RX-total: {rx + rxDropped}");
        w.WriteLine($"  TX-packets: {tx,-14} TX-dropped: {txDropped,-14} TX-total: {tx + txDropped}");
    }
}
