using System.Text.RegularExpressions;

namespace TestPmd.Tests;

/// <summary>What our testpmd printed on stop: port 0's forward statistics, and the throughput line.</summary>
internal sealed partial record OurCounts(ulong RxPackets, ulong RxDropped, ulong TxPackets, ulong TxDropped)
{
    public static OurCounts Parse(string stdout, int port = 0)
    {
        // Our block has testpmd's layout, so the parser written for DPDK's output reads it too.
        var c = Pmd.TestSupport.DpdkVhostBackend.ParseCounts(stdout, port);
        Assert.Matches(ThroughputLine(), stdout);
        return new OurCounts(c.RxPackets, c.RxDropped, c.TxPackets, c.TxDropped);
    }

    [GeneratedRegex(@"Throughput: RX \d+\.\d{3} Mpps, TX \d+\.\d{3} Mpps over \d+\.\d s")]
    private static partial Regex ThroughputLine();
}
