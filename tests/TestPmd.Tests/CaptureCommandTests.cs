using System.Globalization;
using System.Text.RegularExpressions;
using Pmd.TestSupport;

namespace TestPmd.Tests;

/// <summary>TestPmd's packet capture (capture start/stop, show capture, --capture) while forwarding against DPDK's testpmd, read back with tshark and capinfos.</summary>
public sealed partial class CaptureCommandTests
{
    [Fact]
    public void Capture_start_stop_and_show_capture_record_the_forwarded_frames()
    {
        using var backend = Peer.Start("io");
        string file = TempFile("interactive");
        try
        {
            using var ours = TestPmdProcess.Start([.. Peer.Eal(backend.Socket), "-i"]);
            ours.Send("show capture");
            ours.WaitForOutput("No capture (start one with: capture start all FILE)");
            ours.Send("capture stop");
            ours.WaitForOutput("No capture to stop");
            ours.Send($"capture start 9 {file}");
            ours.WaitForOutput("Invalid port 9");
            ours.Send($"capture start 0 {file} snaplen 0");
            ours.WaitForOutput("Invalid snaplen '0' (expected 1..262144)");
            ours.Send($"capture start 0 {file} sideways");
            ours.WaitForOutput("Bad capture option 'sideways'");

            ours.Send($"capture start 0 {file}");
            ours.WaitForOutput($"Capturing port 0 (rx+tx, snaplen 262144) to {file}");
            ours.Send($"capture start 0 {file}.again");
            ours.WaitForOutput($"Error: a capture to {file} is running (capture stop first)");
            ours.Send("start tx_first");
            ours.WaitForOutput("io packet forwarding - ports=1 - cores=1 - streams=1");
            Thread.Sleep(200);
            ours.Send("show capture");
            ours.WaitForOutput($"Capture to {file}: running (rx+tx, snaplen 262144, count unlimited)");
            ours.WaitForOutput("  port 0 (net_virtio_user0): seen ");
            ours.Send("stop");
            ours.WaitForOutput("Done.");
            ours.Send("capture stop");
            ours.WaitForOutput("Capture stopped: ");
            ours.Send("show capture");
            ours.WaitForOutput($"Capture to {file}: ended");
            ours.Send("quit");
            ours.WaitForExit(TimeSpan.FromSeconds(20));
            Assert.Equal(0, ours.ExitCode);
            Assert.Equal("", ours.Stderr);

            var mine = OurCounts.Parse(ours.Stdout);
            var stopped = StoppedLine().Match(ours.Stdout);
            Assert.True(stopped.Success, ours.Stdout);
            long written = long.Parse(stopped.Groups[1].Value, CultureInfo.InvariantCulture);
            long dropped = long.Parse(stopped.Groups[2].Value, CultureInfo.InvariantCulture);
            // Started before the forwarding and stopped after it: every packet the port received
            // or sent was either written or counted as dropped.
            Assert.Equal((long)(mine.RxPackets + mine.TxPackets), written + dropped);
            Assert.True(written > 1000, ours.Stdout);

            string info = Wireshark.Capinfos(file);
            Assert.Matches($@"Number of packets:\s+{written}\b", info);
            Assert.Matches(@"Interface #0 info:\s+Name = net_virtio_user0", info);
            Assert.Matches(@"Strict time order:\s+True", info);
            var stats = PcapngFile.Read(file).Statistics.Single();
            Assert.Equal((ulong)dropped, stats.Counters["isb_ifdrop"]);
            Assert.Equal(mine.RxPackets + mine.TxPackets, stats.Counters["isb_ifrecv"]);

            // Every frame is TestPmd's txonly frame of tx_first, forwarded back and forth untouched:
            // all of them by their fields, the first few thousand byte for byte (headers).
            Assert.Equal(["64\t198.18.0.1,198.18.0.2\t9,9"], Wireshark.Fields(file, "frame.len", "ip.addr", "udp.port").Distinct());
            var frames = Wireshark.Frames(file, limit: 5000);
            Assert.Equal((int)Math.Min(written, 5000), frames.Count);
            Assert.All(frames, f => Assert.Equal(frames[0].Bytes.AsSpan(0, 42).ToArray(), f.Bytes.AsSpan(0, 42).ToArray()));
            Assert.All(frames, f => Assert.Equal("net_virtio_user0", f.InterfaceName));
            Assert.True(frames[0].Outbound, "the first frame is not tx_first's");
            Assert.Contains(frames, f => f.Inbound);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void The_capture_flags_take_a_snap_length_and_a_count_in_a_batch_run()
    {
        using var backend = Peer.Start("io");
        string file = TempFile("batch");
        try
        {
            using var ours = TestPmdProcess.Run([.. Peer.Eal(backend.Socket), "--tx-first", "--duration=1",
                $"--capture={file}", "--capture-snaplen=60", "--capture-count=1000"]);
            Assert.Equal(0, ours.ExitCode);
            Assert.Contains($"Capturing port 0 (rx+tx, snaplen 60, count 1000) to {file}", ours.Stdout);
            Assert.Contains($"Capture stopped: 1000 packets written to {file}", ours.Stdout);

            Assert.Matches(@"Number of packets:\s+1000\b", Wireshark.Capinfos(file));
            var frames = Wireshark.Frames(file);
            Assert.Equal(1000, frames.Count);
            Assert.All(frames, f => Assert.Equal(60, f.CapturedLength));
            Assert.All(frames, f => Assert.Equal(64, f.Length));
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static string TempFile(string what) => Path.Combine(Path.GetTempPath(), $"pmd-testpmd-capture-{what}-{Environment.ProcessId}.pcapng");

    [GeneratedRegex(@"Capture stopped: (\d+) packets written to \S+, (\d+) dropped")]
    private static partial Regex StoppedLine();
}
