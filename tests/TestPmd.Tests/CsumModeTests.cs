using Pmd.TestSupport;

namespace TestPmd.Tests;

/// <summary>The csum forwarding mode, its commands in DPDK's syntax, and --txpkts as a segment list, against DPDK's testpmd.</summary>
public sealed class CsumModeTests
{
    [Fact]
    public void Csum_and_tso_commands_configure_a_stopped_port_in_dpdks_syntax()
    {
        // tso=1: DPDK's vhost offers HOST_TSO4/6, so the port can take "tso set".
        using var backend = DpdkVhostBackend.Start(Peer.NewSocket(), "io", vhostArgs: ",tso=1");
        using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--vdev", $"net_virtio_user0,path={backend.Socket}", "--", "-i");
        ours.Send("csum set tcp hw 0");
        ours.WaitForOutput("Please stop port 0 first");
        ours.Send("port stop 0");
        ours.WaitForOutput("Port 0: stopped");
        ours.Send("csum set tcp hw 0");
        ours.WaitForOutput("TCP checksum offload is hw");
        ours.Send("csum set ip hw 0");
        ours.WaitForOutput("IP checksum offload is hw");
        ours.Send("csum set udp sideways 0");
        ours.WaitForOutput("Bad arguments: csum set ip|tcp|udp hw|sw PORT");
        ours.Send("tso set 1448 0");
        ours.WaitForOutput("TSO segment size for non-tunneled packets is 1448");
        ours.Send("tso show 0");
        ours.Send("port start 0");
        ours.WaitForOutput("Port 0: started");
        ours.Send("show port info 0");
        ours.WaitForOutput("HOST_TSO4");
        ours.Send("quit");
        ours.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(0, ours.ExitCode);
    }

    [Fact]
    public void Set_verbose_prints_every_packet_received_and_sent_with_its_offload_flags_in_dpdks_names()
    {
        using var backend = Peer.Start("io");
        using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--vdev", $"net_virtio_user0,path={backend.Socket}", "--", "-i", "--forward-mode=csum", "--enable-rx-cksum");
        ours.Send("set verbose 3");
        ours.WaitForOutput("Change verbose level from 0 to 3");
        ours.Send("start tx_first");
        // The first burst (UDP frames of the template) comes back through DPDK's io forwarding.
        ours.WaitForOutput("port 0/queue 0: received");
        ours.WaitForOutput("port 0/queue 0: sent");
        ours.WaitForOutput("ol_flags: RTE_MBUF_F_RX_L4_CKSUM_");
        ours.Send("set verbose 0");
        ours.WaitForOutput("Change verbose level from 3 to 0");
        ours.Send("stop");
        ours.WaitForOutput("Bad-l4csum");
        ours.Send("quit");
        ours.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(0, ours.ExitCode);
        Assert.Matches(@"src=[0-9A-F:]{17} - dst=[0-9A-F:]{17} - type=0x0800 - length=\d+ - nb_segs=1", ours.Stdout);
    }

    [Fact]
    public void Csum_mode_forwards_with_software_checksums_and_counts_no_bad_ones()
    {
        using var backend = Peer.Start("io");
        using var ours = TestPmdProcess.Run([.. Peer.Eal(backend.Socket), "--forward-mode=csum", "--tx-first", "--enable-rx-cksum", "--duration=1"]);
        Assert.True(ours.ExitCode == 0, ours.Stdout + ours.Stderr);
        var counts = backend.Stop();
        var mine = OurCounts.Parse(ours.Stdout);
        Assert.True(mine.TxPackets > 1000, ours.Stdout);
        Assert.Equal(mine.TxPackets, counts.RxPackets);
        Assert.Equal(mine.RxPackets + 32, mine.TxPackets + mine.TxDropped);
        Assert.Contains("Bad-ipcsum: 0", ours.Stdout);
    }

    [Fact]
    public void Tso_on_a_port_without_it_is_refused_with_the_reason()
    {
        // DPDK's vhost without tso=1 offers no HOST_TSO4/6.
        using var backend = Peer.Start("io");
        using var ours = TestPmdProcess.Start("-l", "0-1", "--main-lcore", "1", "--vdev", $"net_virtio_user0,path={backend.Socket}", "--", "-i");
        ours.Send("port stop 0");
        ours.WaitForOutput("Port 0: stopped");
        ours.Send("tso set 1448 0");
        ours.WaitForOutput("TX offloads TcpTso asked");
        ours.Send("tso show 0");
        ours.WaitForOutput("TSO for non-tunneled packets is disabled");
        ours.Send("quit");
        ours.WaitForExit(TimeSpan.FromSeconds(20));
        Assert.Equal(0, ours.ExitCode);
    }

    [Fact]
    public void Txpkts_as_a_list_sends_frames_of_that_many_segments_that_dpdk_counts_whole()
    {
        using var backend = DpdkVhostBackend.Start(Peer.NewSocket(), "rxonly", commands: ["set verbose 1"]);
        using var ours = TestPmdProcess.Run([.. Peer.Eal(backend.Socket), "--forward-mode=txonly", "--txpkts=60,100,200", "--duration=0.5"]);
        Assert.True(ours.ExitCode == 0, ours.Stdout + ours.Stderr);
        var counts = backend.Stop();
        var mine = OurCounts.Parse(ours.Stdout);
        Assert.True(mine.TxPackets > 100, ours.Stdout);
        Assert.Equal(mine.TxPackets, counts.RxPackets);
        // DPDK's verbose dump of each frame it received: 360 bytes, whatever chain they came in.
        Assert.Contains("length=360", backend.Output);
        Assert.DoesNotContain("length=64 ", backend.Output);
    }
}
