using System.Text.Json;
using Pmd.TestSupport;

namespace TestPmd.Tests;

/// <summary>Each forwarding mode of our testpmd against DPDK's testpmd on a vhost-user socket, counted by both.</summary>
public sealed class ForwardingModeTests
{
    // Frames the backend may have put on our RX ring after our lcores stopped: at most one ring.
    private const ulong RxRingSize = 256;

    [Fact]
    public void Txonly_frames_are_all_counted_by_the_backends_rxonly()
    {
        using var backend = Peer.Start("rxonly");
        using var ours = TestPmdProcess.Run([.. Peer.Eal(backend.Socket), "--forward-mode=txonly", "--txpkts=128", "--duration=1.5"]);
        Assert.True(ours.ExitCode == 0, ours.Stdout + ours.Stderr);
        var counts = backend.Stop();
        var mine = OurCounts.Parse(ours.Stdout);
        Assert.True(mine.TxPackets > 10_000, $"only {mine.TxPackets} frames sent in 1.5 s");
        Assert.Equal(mine.TxPackets, counts.RxPackets);
        Assert.Equal(0UL, mine.RxPackets);
    }

    [Fact]
    public void Rxonly_receives_every_frame_the_backends_txonly_sent()
    {
        using var backend = Peer.Start("txonly", txPacketLength: 64);
        using var ours = TestPmdProcess.Start([.. Peer.Eal(backend.Socket), "--forward-mode=rxonly", "--duration=3"]);
        ours.WaitForOutput("Forwarding for 3 s");
        Thread.Sleep(1000);
        // Stop the sender first; ours keeps polling and takes whatever is still on its ring.
        var counts = backend.Stop();
        ours.WaitForExit(TimeSpan.FromSeconds(30));
        Assert.True(ours.ExitCode == 0, ours.Stdout + ours.Stderr);
        var mine = OurCounts.Parse(ours.Stdout);
        Assert.True(mine.RxPackets > 10_000, $"only {mine.RxPackets} frames received");
        Assert.Equal(counts.TxPackets, mine.RxPackets);
        Assert.Equal(0UL, mine.TxPackets);
    }

    public static TheoryData<string, string> LoopModes => new()
    {
        { "io", "io" },
        { "mac", "io" },
        { "macswap", "macswap" },
        { "flowgen", "io" },
    };

    [Theory]
    [MemberData(nameof(LoopModes))]
    public void Looping_modes_agree_with_the_backend_and_the_json_lines(string mode, string backendMode)
    {
        using var backend = Peer.Start(backendMode);
        string json = Path.Combine(Path.GetTempPath(), $"pmd-testpmd-{Environment.ProcessId}-{mode}.jsonl");
        using var ours = TestPmdProcess.Run([.. Peer.Eal(backend.Socket), $"--forward-mode={mode}", "--tx-first",
            "--eth-peer=0,02:00:00:00:00:09", "--duration=1.5", "--stats-period=0.5", $"--stats-json={json}"]);
        Assert.True(ours.ExitCode == 0, ours.Stdout + ours.Stderr);
        var counts = backend.Stop();
        var mine = OurCounts.Parse(ours.Stdout);

        Assert.True(mine.TxPackets > 1000, $"only {mine.TxPackets} frames sent:\n{ours.Stdout}");
        // Everything we handed to our TX ring reached the backend...
        Assert.Equal(mine.TxPackets, counts.RxPackets);
        // ...and we received what it sent back, bar what sat on our RX ring when we stopped.
        Assert.InRange(counts.TxPackets - mine.RxPackets, 0UL, RxRingSize);
        if (mode != "flowgen")
        {
            // A forwarding mode conserves packets: all received plus the tx_first burst went out or were dropped.
            Assert.Equal(mine.RxPackets + 32, mine.TxPackets + mine.TxDropped);
        }
        Assert.Contains("Port statistics ====", ours.Stdout);
        Assert.Contains("NIC statistics for port 0", ours.Stdout);
        Assert.Contains("Accumulated forward statistics for all ports", ours.Stdout);

        var lines = File.ReadAllLines(json);
        File.Delete(json);
        Assert.True(lines.Length >= 3, $"{lines.Length} JSON lines:\n{string.Join('\n', lines)}");
        var docs = lines.Select(l => JsonDocument.Parse(l)).ToList();
        Assert.All(docs[..^1], d => Assert.False(d.RootElement.GetProperty("final").GetBoolean()));
        var last = docs[^1].RootElement;
        Assert.True(last.GetProperty("final").GetBoolean());
        Assert.True(last.TryGetProperty("timestamp", out _));
        var port = last.GetProperty("ports")[0];
        Assert.Equal(0, port.GetProperty("port").GetInt32());
        Assert.Equal(mine.RxPackets, port.GetProperty("rx_packets").GetUInt64());
        Assert.Equal(mine.TxPackets, port.GetProperty("tx_packets").GetUInt64());
        Assert.True(port.GetProperty("tx_pps").GetUInt64() > 0);
        foreach (var d in docs) d.Dispose();
    }
}
