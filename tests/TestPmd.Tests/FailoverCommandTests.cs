namespace TestPmd.Tests;

/// <summary>Failover through TestPmd: a standby and a stand-in primary on two DPDK backends.</summary>
public sealed class FailoverCommandTests
{
    private const string Mac = "52:54:00:fa:22:01";

    [Fact]
    public void Port_info_shows_the_failover_state_events_print_and_a_requested_removal_falls_back()
    {
        using var standbyBackend = Peer.Start("rxonly");
        using var primaryBackend = Peer.Start("rxonly");
        using var ours = TestPmdProcess.Start(
            "-l", "0-1", "--main-lcore", "1",
            "--vdev", $"net_virtio_user0,path={standbyBackend.Socket},mac={Mac},standby=1",
            "--vdev", $"net_virtio_user1,path={primaryBackend.Socket},mac={Mac}",
            "--", "-i", "--forward-mode=txonly");
        ours.WaitForOutput("is a failover standby: forwarding through port 1 (net_failover_net_virtio_user0)");
        ours.WaitForOutput("Port 1: failover event (primary port 2)");
        ours.WaitForOutput("Port 2 (net_virtio_user1) is owned by net_failover_net_virtio_user0");

        ours.Send("show port info 1");
        ours.WaitForOutput("failover state: PrimaryActive");
        ours.WaitForOutput("tx on: primary port 2");

        ours.Send("start");
        Thread.Sleep(700);
        ours.Send("port request_removal 1");
        ours.WaitForOutput("Port 2: removal requested");
        ours.WaitForOutput("Port 2: device request event");
        ours.WaitForOutput("Port 1: failover event (standby (device request))");
        ours.WaitForOutput("Port 2: device released event");
        Thread.Sleep(500);
        ours.Send("stop");
        ours.WaitForOutput("Done.");
        var mine = OurCounts.Parse(ours.Stdout, port: 1);

        ours.Send("show port info 1");
        ours.WaitForOutput("failover state: StandbyOnly");
        ours.WaitForOutput("tx on: standby port 0");
        ours.Send("show port xstats 1");
        ours.WaitForOutput("failover_switches_to_standby: 1");
        ours.WaitForOutput("failover_announcements_sent: ");
        ulong announced = ulong.Parse(System.Text.RegularExpressions.Regex.Match(ours.Stdout, @"failover_announcements_sent: (\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        ours.Send("quit");
        ours.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(0, ours.ExitCode);

        // What TestPmd counted as sent reached exactly one of the two backends, and so did the MAC's announcements after each switch.
        var onPrimary = primaryBackend.Stop();
        var onStandby = standbyBackend.Stop();
        Assert.True(onPrimary.RxPackets > 0 && onStandby.RxPackets > 0, $"primary {onPrimary.RxPackets}, standby {onStandby.RxPackets}");
        Assert.True(announced > 0, "no announcement of the MAC after the switches");
        Assert.Equal(mine.TxPackets + announced, onPrimary.RxPackets + onStandby.RxPackets);
    }
}
