using System.Diagnostics;

namespace Pmd.Vm.Tests;

/// <summary>
/// Pmd's net_e1000e on QEMU's emulated Intel 82574L (-device e1000e) through VFIO: TestPmd forwards
/// in macswap mode, standard and jumbo frames, across a link flap, and at the end its counters and
/// the NIC's hardware counters must account for exactly the frames that crossed the wire.
/// </summary>
public sealed class E1000eTrafficTests(ITestOutputHelper output)
{
    private const int FrameCount = 10_000;
    private const int Window = 32;                 // frames in flight: bounded so QEMU's socket never overflows
    private const int JumboCount = 200;
    // A jumbo frame takes up to six times a standard one's socket buffer space: with 32 in flight,
    // QEMU's UDP socket (the kernel's default receive buffer) or ours would drop datagrams, not queue them.
    private const int JumboWindow = 4;
    private const int AfterFlapCount = 500;        // the link really came back: frames flow again
    // testpmd's --max-pkt-len: MTU = 9018 - 18 = 9000, the e1000e's largest; the largest test frame is 9000 bytes.
    private const int MaxPacketLength = 9018;

    /// <summary>IOVA = VA behind a 48-bit vIOMMU, as the split virtio case runs.</summary>
    [Fact(Timeout = 900_000)]
    public async Task TestPmd_macswaps_standard_and_jumbo_frames_reports_link_flaps_and_counts_what_crossed_the_wire()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("e1000e-macswap", GuestScripts.TestPmdInteractive(dll, GuestNic.E1000e, $"--forward-mode=macswap --max-pkt-len={MaxPacketLength}"))
            {
                Nic = GuestNic.E1000e,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        byte[] guestMac = Mac.Parse(vm.Options.Mac), hostMac = Mac.Parse("02:00:00:00:00:01");

        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        double started = vm.Elapsed.TotalSeconds;
        int probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(150), ct);
        output.WriteLine($"TestPmd started at {started:0.0} s, forwarding at {vm.Elapsed.TotalSeconds:0.0} s after {probes} probes");

        var clock = Stopwatch.StartNew();
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(0, FrameCount, TestFrames.SizeOf, Window), ct);
        output.WriteLine($"{FrameCount} frames of {TestFrames.MinSize}..{TestFrames.MaxSize} bytes came back macswapped in {clock.Elapsed.TotalSeconds:0.0} s ({FrameCount / clock.Elapsed.TotalSeconds:0} frames/s)");

        clock.Restart();
        const uint jumboFirst = FrameCount;
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac,
            new FrameBatch(jumboFirst, JumboCount, seq => TestFrames.JumboSizeOf((int)(seq - jumboFirst), JumboCount), JumboWindow), ct);
        output.WriteLine($"{JumboCount} jumbo frames of {TestFrames.MaxSize + 1}..{TestFrames.JumboMaxSize} bytes came back macswapped in {clock.Elapsed.TotalSeconds:0.0} s");

        const uint filterFirst = jumboFirst + JumboCount;
        int filtered = await RxFilterChecks.RunAsync(vm, hostMac, filterFirst, ct);
        output.WriteLine($"receive filter: {filtered} frames to a foreign unicast or a multicast MAC dropped by the NIC; {RxFilterChecks.Forwarded} forwarded in promiscuous and all-multicast modes");

        // Nothing is sent while the link is down: QEMU would drop such frames before the NIC (nothing
        // counts them), and the counts below are exact only because every frame sent could arrive.
        await LinkFlap.DownAndUpAsync(vm, ct);
        const uint afterFlapFirst = filterFirst + RxFilterChecks.SequenceSpan;
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(afterFlapFirst, AfterFlapCount, TestFrames.SizeOf, Window), ct);
        output.WriteLine($"{AfterFlapCount} frames came back after the link flap");

        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(180), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        // TestPmd has exited: whatever it sent is in our socket by now. Take it in, so that it is counted.
        await vm.Frames.CollectAsync(TimeSpan.FromMilliseconds(500), ct);

        TestPmdCounters c;
        try { c = TestPmdCounters.Parse(vm.GuestOutput); }
        catch (FormatException e) { throw new InvalidOperationException($"{e.Message}\n{vm.Describe()}", e); }
        CheckCounters(vm, c, probes, filtered, batchFrames: FrameCount + JumboCount + RxFilterChecks.Forwarded + AfterFlapCount);
    }

    /// <summary>
    /// What TestPmd and the NIC counted against what crossed the wire. Every batch frame came back
    /// (checked one by one). A probe may not have: probes sent before TestPmd enabled RX wait in
    /// QEMU's UDP socket, and the kernel drops what does not fit in its receive buffer, so those
    /// never reach the NIC. Every frame the NIC did take is forwarded (RX = TX + TX-dropped, with
    /// TX-dropped 0) and reaches the host (TX = frames back), so "came back" and "reached the guest"
    /// are the same set, and RX-packets = frames sent - probes lost on the way, exactly.
    /// </summary>
    private void CheckCounters(VmGuest vm, TestPmdCounters c, int probes, int filtered, int batchFrames)
    {
        // Frames the NIC's filter dropped on purpose never reached the driver; take them out first.
        long sent = vm.Frames.Sent - filtered, back = vm.Frames.Received, lost = sent - back;
        var f = c.Forward;
        ulong gprc = Xstat(vm, c, "rx_good_packets"), gptc = Xstat(vm, c, "tx_good_packets");
        ulong rxq = Xstat(vm, c, "rx_q0_packets"), txq = Xstat(vm, c, "tx_q0_packets");
        ulong missed = Xstat(vm, c, "rx_missed_packets"), crc = Xstat(vm, c, "rx_crc_errors");
        string counts = $"host: sent {sent} ({probes} probes + {batchFrames} batch frames) besides {filtered} the NIC filtered, got {back} back; " +
                        $"TestPmd forward: RX-packets {f.RxPackets} RX-dropped {f.RxDropped} TX-packets {f.TxPackets} TX-dropped {f.TxDropped}; " +
                        $"port: RX-packets {c.Nic.RxPackets} TX-packets {c.Nic.TxPackets}; " +
                        $"xstats: rx_good_packets {gprc} tx_good_packets {gptc} rx_q0_packets {rxq} tx_q0_packets {txq} rx_missed_packets {missed} rx_crc_errors {crc} " +
                        $"rx_good_bytes {Xstat(vm, c, "rx_good_bytes")} tx_good_bytes {Xstat(vm, c, "tx_good_bytes")}";
        output.WriteLine(counts);
        string why = $"\n{counts}\n{vm.Describe()}";

        Assert.True(lost >= 0, $"the host got {back} frames back but sent only {sent}: the guest sent frames of its own, or some twice.{why}");
        Assert.True(lost <= probes, $"{lost} of the frames sent never came back, but only probes ({probes} sent) may be missing.{why}");
        Assert.True(f.TxPackets == (ulong)back, $"TestPmd sent {f.TxPackets} frames, the host got {back}.{why}");
        Assert.True(f.TxDropped == 0, $"TestPmd dropped {f.TxDropped} frames on TX.{why}");
        Assert.True(f.RxPackets == f.TxPackets + f.TxDropped, $"macswap forwards every frame it receives, yet RX-packets {f.RxPackets} != TX-packets {f.TxPackets} + TX-dropped {f.TxDropped}.{why}");
        Assert.True(f.RxPackets == (ulong)(sent - lost), $"TestPmd received {f.RxPackets} frames; {sent} were sent, of which {lost} probes never reached the NIC.{why}");
        Assert.True(missed == 0 && f.RxDropped == 0, $"the NIC missed {missed} frames (RX-dropped {f.RxDropped}) for want of descriptors.{why}");
        Assert.True(crc == 0, $"the NIC counted {crc} CRC errors on a virtual wire.{why}");

        // The port's counters (since start) and the streams' (since forwarding started) saw the same
        // frames: nothing arrives between the two starts that forwarding does not then receive.
        Assert.True(c.Nic.RxPackets == f.RxPackets && c.Nic.TxPackets == f.TxPackets,
            $"the port counted RX {c.Nic.RxPackets} / TX {c.Nic.TxPackets}, forwarding RX {f.RxPackets} / TX {f.TxPackets}.{why}");
        Assert.True(rxq == c.Nic.RxPackets && txq == c.Nic.TxPackets,
            $"the queue counters (rx_q0_packets {rxq}, tx_q0_packets {txq}) differ from the port's (RX {c.Nic.RxPackets}, TX {c.Nic.TxPackets}).{why}");
        // The hardware's own counters (GPRC, GPTC) against the driver's: the same frames. (QEMU up to
        // 8.0 copies TPR into GPRC and TPT into GPTC on every frame instead of counting them, and both
        // clear when read: a read of the two while frames arrive can skew them. The driver reads them
        // at start and on the commands above, when nothing is arriving.)
        Assert.True(gprc == c.Nic.RxPackets, $"the NIC's rx_good_packets (GPRC) is {gprc}, the port's RX-packets {c.Nic.RxPackets}.{why}");
        Assert.True(gptc == c.Nic.TxPackets, $"the NIC's tx_good_packets (GPTC) is {gptc}, the port's TX-packets {c.Nic.TxPackets}.{why}");
        // The total counters (TPR, TPT, TOR, TOT) count on their own in every QEMU version. Octets:
        // the receive side counts each frame's CRC (4 bytes), which the driver has the NIC strip;
        // QEMU 7.2's transmit side counts no CRC (it appends none: the wire is a UDP datagram).
        ulong tpr = Xstat(vm, c, "rx_total_packets"), tpt = Xstat(vm, c, "tx_total_packets");
        ulong tor = Xstat(vm, c, "rx_total_bytes"), tot = Xstat(vm, c, "tx_total_bytes");
        Assert.True(tpr == c.Nic.RxPackets && tpt == c.Nic.TxPackets,
            $"the NIC's rx_total_packets (TPR) {tpr} / tx_total_packets (TPT) {tpt} differ from the port's RX {c.Nic.RxPackets} / TX {c.Nic.TxPackets}.{why}");
        Assert.True(tor == c.Nic.RxBytes + 4 * c.Nic.RxPackets,
            $"the NIC's rx_total_bytes (TOR) is {tor}; the port received {c.Nic.RxBytes} bytes in {c.Nic.RxPackets} frames, so {c.Nic.RxBytes + 4 * c.Nic.RxPackets} with their CRCs.{why}");
        Assert.True(tot == c.Nic.TxBytes, $"the NIC's tx_total_bytes (TOT) is {tot}, the port sent {c.Nic.TxBytes} bytes.{why}");
    }

    private static ulong Xstat(VmGuest vm, TestPmdCounters c, string name)
    {
        try { return c.Xstat(name); }
        catch (KeyNotFoundException e) { throw new InvalidOperationException($"{e.Message}\n{vm.Describe()}", e); }
    }
}
