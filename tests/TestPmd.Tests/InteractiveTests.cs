namespace TestPmd.Tests;

/// <summary>Interactive mode driven through stdin, against DPDK's testpmd forwarding back (io).</summary>
public sealed class InteractiveTests
{
    [Fact]
    public void Attach_start_stop_stats_detach_and_quit_through_stdin()
    {
        using var backend = Peer.Start("io");
        using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--", "-i");
        // The prompt has no line end, so the first thing to wait for is a command's answer.
        ours.Send("show port summary");
        ours.WaitForOutput("Number of available ports: 0");

        ours.Send($"port attach net_virtio_user0,path={backend.Socket}");
        ours.WaitForOutput("Port 0 is attached. Now total ports is 1");
        ours.WaitForOutput("Port 0: device probed event");
        ours.WaitForOutput("Port 0: link state change event");

        ours.Send("show port info 0");
        ours.WaitForOutput("Driver name: net_virtio");

        ours.Send("start tx_first");
        ours.WaitForOutput("io packet forwarding - ports=1 - cores=1 - streams=1");
        Thread.Sleep(700);
        ours.Send("show port stats 0");
        ours.WaitForOutput("NIC statistics for port 0");

        ours.Send("stop");
        ours.WaitForOutput("Accumulated forward statistics for all ports");
        ours.WaitForOutput("Done.");
        var mine = OurCounts.Parse(ours.Stdout);
        Assert.True(mine.TxPackets > 1000, ours.Stdout);

        ours.Send("show port stats 9");
        ours.WaitForOutput("Invalid port 9");
        ours.Send("show port xstats 0");
        ours.WaitForOutput("rx_q0_packets: ");
        ours.Send("frobnicate");
        ours.WaitForOutput("Bad command: 'frobnicate'");
        ours.Send("set fwd macswap");
        ours.WaitForOutput("Set macswap packet forwarding mode");

        ours.Send("port detach 0");
        ours.WaitForOutput("Port 0 is detached. Now total ports is 0");
        ours.WaitForOutput("Port 0: device released event");
        ours.Send("quit");
        ours.WaitForExit(TimeSpan.FromSeconds(20));

        Assert.Equal(0, ours.ExitCode);
        Assert.Equal("", ours.Stderr);
        var lines = ours.Stdout.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains(lines, l => l.EndsWith("Invalid port 9", StringComparison.Ordinal));
        Assert.Equal(1, lines.Count(l => l.Contains("Invalid port 9", StringComparison.Ordinal)));
        Assert.Contains("Bye...", ours.Stdout);

        // Both sides counted the same traffic: what we sent reached DPDK's testpmd.
        var counts = backend.Stop();
        Assert.Equal(mine.TxPackets, counts.RxPackets);
        Assert.InRange(counts.TxPackets - mine.RxPackets, 0UL, 256UL);
    }
}
