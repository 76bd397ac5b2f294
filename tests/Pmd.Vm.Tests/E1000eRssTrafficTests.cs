using System.Diagnostics;

namespace Pmd.Vm.Tests;

/// <summary>
/// RSS on QEMU's real 82574 (-device e1000e): TestPmd with two RX and two TX queues forwards in
/// macswap mode (RX queue N to TX queue N). The host sends frames of many TCP and UDP flows over
/// IPv4 and non-IP frames; every one must come back byte for byte, and each queue must have carried
/// exactly the frames the Toeplitz hash (computed here with the driver's key and redirection table,
/// over the fields QEMU hashes) sends to it: non-IP frames, probes among them, all on queue 0.
/// </summary>
public sealed class E1000eRssTrafficTests(ITestOutputHelper output)
{
    private const int FrameCount = 4_000;
    private const int Window = 32;

    [Fact(Timeout = 900_000)]
    public async Task Two_queues_carry_exactly_the_flows_the_toeplitz_hash_sends_them_and_every_frame_comes_back()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("e1000e-rss", GuestScripts.TestPmdInteractive(dll, GuestNic.E1000e, "--forward-mode=macswap --rxq=2 --txq=2"))
            {
                Nic = GuestNic.E1000e,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        byte[] guestMac = Mac.Parse(vm.Options.Mac), hostMac = Mac.Parse("02:00:00:00:00:01");

        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        int probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(150), ct);
        output.WriteLine($"forwarding after {probes} probes, at {vm.Elapsed.TotalSeconds:0.0} s");

        var frames = Enumerable.Range(0, FrameCount).Select(i => RssFlowFrames.Build(i, hostMac, guestMac)).ToArray();
        int[] expected = new int[2];
        int nonIp = 0;
        foreach (var f in frames)
        {
            expected[RssFlowFrames.QueueOf(f)]++;
            if (RssFlowFrames.IndexOf(f) is int i && RssFlowFrames.KindOf(i) == RssFlowFrames.Kind.NonIp) nonIp++;
        }
        output.WriteLine($"{FrameCount} frames ({nonIp} non-IP): the hash sends {expected[0]} to queue 0, {expected[1]} to queue 1");
        // A meaningful spread, or the test would prove little: about half the IP frames on each queue.
        Assert.InRange(expected[1], (FrameCount - nonIp) * 3 / 10, (FrameCount - nonIp) * 7 / 10);

        var clock = Stopwatch.StartNew();
        await ExchangeAsync(vm, frames, ct);
        output.WriteLine($"{FrameCount} frames came back macswapped in {clock.Elapsed.TotalSeconds:0.0} s");

        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(180), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        await vm.Frames.CollectAsync(TimeSpan.FromMilliseconds(500), ct);

        TestPmdCounters c;
        try { c = TestPmdCounters.Parse(vm.GuestOutput); }
        catch (FormatException e) { throw new InvalidOperationException($"{e.Message}\n{vm.Describe()}", e); }
        ulong rx0 = Xstat(vm, c, "rx_q0_packets"), rx1 = Xstat(vm, c, "rx_q1_packets");
        ulong tx0 = Xstat(vm, c, "tx_q0_packets"), tx1 = Xstat(vm, c, "tx_q1_packets");
        ulong missed = Xstat(vm, c, "rx_missed_packets");
        string counts = $"rx_q0_packets {rx0} rx_q1_packets {rx1} tx_q0_packets {tx0} tx_q1_packets {tx1} rx_missed_packets {missed}; " +
                        $"port RX {c.Nic.RxPackets} TX {c.Nic.TxPackets}; forward RX {c.Forward.RxPackets} TX {c.Forward.TxPackets} TX-dropped {c.Forward.TxDropped}; " +
                        $"expected on queue 1: {expected[1]}, on queue 0: {expected[0]} + the probes that reached the NIC";
        output.WriteLine(counts);
        string why = $"\n{counts}\n{vm.Describe()}";

        // Probes are non-IP: queue 0's count is the batch's queue-0 frames plus the probes the NIC took.
        ulong probesTaken = c.Nic.RxPackets - (ulong)FrameCount;
        Assert.True(c.Nic.RxPackets >= (ulong)FrameCount && probesTaken <= (ulong)probes, $"the port received {c.Nic.RxPackets} frames; {FrameCount} were sent and {probes} probes.{why}");
        Assert.True(rx1 == (ulong)expected[1], $"queue 1 received {rx1} frames, the Toeplitz hash sends it {expected[1]}.{why}");
        Assert.True(rx0 == (ulong)expected[0] + probesTaken, $"queue 0 received {rx0} frames, the hash sends it {expected[0]} and {probesTaken} probes reached the NIC.{why}");
        Assert.True(tx1 == rx1 && tx0 == rx0, $"macswap forwards RX queue N on TX queue N, yet the TX queues sent {tx0} and {tx1}.{why}");
        Assert.True(missed == 0 && c.Forward.TxDropped == 0, $"frames were missed ({missed}) or dropped on TX ({c.Forward.TxDropped}).{why}");
    }

    /// <summary>Sends every frame with at most <see cref="Window"/> in flight; each must come back once, MACs swapped and every other byte as sent.</summary>
    private static async Task ExchangeAsync(VmGuest vm, byte[][] frames, CancellationToken ct)
    {
        var outstanding = new Dictionary<int, byte[]>();
        int next = 0, received = 0;
        while (received < frames.Length)
        {
            while (outstanding.Count < Window && next < frames.Length)
            {
                outstanding[next] = frames[next];
                vm.Frames.Send(frames[next++]);
            }
            var back = await vm.Frames.ReceiveAsync(MacSwapTraffic.StallTimeout, ct);
            if (back is null)
                Assert.Fail($"no frame came back for {MacSwapTraffic.StallTimeout.TotalSeconds:0} s: {received} of {frames.Length} returned, outstanding: " +
                            $"{string.Join(", ", outstanding.Keys.Order().Take(8).Select(i => $"{i} ({RssFlowFrames.KindOf(i)}, queue {RssFlowFrames.QueueOf(frames[i])})"))}.\n{vm.Describe()}");
            if (TestFrames.SequenceOf(back) is not null) continue;   // a late probe
            int? index = RssFlowFrames.IndexOf(back);
            if (index is not int i || !outstanding.Remove(i, out var sent))
                Assert.Fail($"a frame came back that is not outstanding (index {index?.ToString() ?? "none"}, {back.Length} bytes; {received} returned so far).\n{vm.Describe()}");
            else if (TestFrames.MacSwapMismatch(sent, back) is { } bad)
                Assert.Fail($"frame {i} ({RssFlowFrames.KindOf(i)}, {sent.Length} bytes) came back wrong: {bad}.\n{vm.Describe()}");
            received++;
        }
    }

    private static ulong Xstat(VmGuest vm, TestPmdCounters c, string name)
    {
        try { return c.Xstat(name); }
        catch (KeyNotFoundException e) { throw new InvalidOperationException($"{e.Message}\n{vm.Describe()}", e); }
    }
}
