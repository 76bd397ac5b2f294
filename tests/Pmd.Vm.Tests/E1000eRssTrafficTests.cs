using System.Diagnostics;

namespace Pmd.Vm.Tests;

/// <summary>
/// RSS on QEMU's real 82574 (-device e1000e): TestPmd with two RX and two TX queues forwards in
/// macswap mode (RX queue N to TX queue N). The host sends frames of many TCP and UDP flows over
/// IPv4 and IPv6 and non-IP frames; every one must come back byte for byte, and each queue must have carried
/// exactly the frames the Toeplitz hash (computed here with the driver's key and redirection table,
/// over the fields QEMU hashes) sends to it: non-IP frames, probes among them, all on queue 0. The
/// same again after a port stop and start.
/// </summary>
public sealed class E1000eRssTrafficTests(ITestOutputHelper output)
{
    private const int FrameCount = 10_000;   // a phase's
    private const int Window = 32;

    [Fact(Timeout = 900_000)]
    public async Task Two_queues_carry_exactly_the_flows_the_toeplitz_hash_sends_them_and_every_frame_comes_back_also_after_a_restart()
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

        // Phase 1, then a port stop and start (a reset, both queues set up again), then phase 2 with
        // other flows. The queue counters are the queues' since the port's last start.
        await PhaseAsync(vm, hostMac, guestMac, first: 0, ct);
        int shown = XstatsBlocks(vm.GuestOutput);
        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0");
        await vm.WaitForSerialAsync(_ => XstatsShown(vm.GuestOutput, after: shown), TimeSpan.FromSeconds(60), "phase 1's xstats", ct);
        CheckQueues(vm, Parse(vm), phase: 1);

        TestPmdConsole.Send(vm, "port stop 0", "port start 0", "start");
        await PhaseAsync(vm, hostMac, guestMac, first: FrameCount, ct);
        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(180), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        CheckQueues(vm, Parse(vm), phase: 2);
    }

    private readonly int[][] _expected = new int[3][];
    private readonly int[] _probes = new int[3];

    /// <summary>Probes until forwarding runs, then frames <paramref name="first"/>.. (their queues computed first), each of which must come back.</summary>
    private async Task PhaseAsync(VmGuest vm, byte[] hostMac, byte[] guestMac, int first, CancellationToken ct)
    {
        int phase = first == 0 ? 1 : 2;
        _probes[phase] = await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(150), ct);
        output.WriteLine($"phase {phase}: forwarding after {_probes[phase]} probes, at {vm.Elapsed.TotalSeconds:0.0} s");

        var frames = Enumerable.Range(first, FrameCount).Select(i => RssFlowFrames.Build(i, hostMac, guestMac)).ToArray();
        int[] expected = _expected[phase] = new int[2];
        var byKind = new Dictionary<RssFlowFrames.Kind, int[]>();
        for (int i = 0; i < FrameCount; i++)
        {
            int queue = RssFlowFrames.QueueOf(frames[i]);
            expected[queue]++;
            var kind = RssFlowFrames.KindOf(first + i);
            (byKind.TryGetValue(kind, out var k) ? k : byKind[kind] = new int[2])[queue]++;
        }
        output.WriteLine($"phase {phase}: {FrameCount} frames, the hash sends {expected[0]} to queue 0, {expected[1]} to queue 1 (queue 0/1 by kind: " +
                         string.Join(", ", byKind.Select(p => $"{p.Key} {p.Value[0]}/{p.Value[1]}")) + ")");
        // A meaningful spread, or the test would prove little: about half the IP frames of every kind on each queue.
        Assert.Equal(0, byKind[RssFlowFrames.Kind.NonIp][1]);
        foreach (var (kind, q) in byKind)
            if (kind != RssFlowFrames.Kind.NonIp) Assert.InRange(q[1], q.Sum() * 3 / 10, q.Sum() * 7 / 10);

        var clock = Stopwatch.StartNew();
        await ExchangeAsync(vm, frames, first, ct);
        output.WriteLine($"phase {phase}: {FrameCount} frames came back macswapped in {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private const string XstatsHeader = "NIC extended statistics for port 0";

    private static int XstatsBlocks(string output) => output.Split(XstatsHeader).Length - 1;

    /// <summary>A new xstats block is complete: the prompt that follows it is there.</summary>
    private static bool XstatsShown(string output, int after) =>
        XstatsBlocks(output) > after && output.IndexOf("testpmd>", output.LastIndexOf(XstatsHeader, StringComparison.Ordinal), StringComparison.Ordinal) >= 0;

    private static TestPmdCounters Parse(VmGuest vm)
    {
        try { return TestPmdCounters.Parse(vm.GuestOutput); }
        catch (FormatException e) { throw new InvalidOperationException($"{e.Message}\n{vm.Describe()}", e); }
    }

    /// <summary>
    /// Queue 1 received and sent exactly the frames the hash sends it; queue 0 its frames and the
    /// probes that reached the NIC (non-IP: never hashed), at most those sent.
    /// </summary>
    private void CheckQueues(VmGuest vm, TestPmdCounters c, int phase)
    {
        int[] expected = _expected[phase];
        ulong rx0 = Xstat(vm, c, "rx_q0_packets"), rx1 = Xstat(vm, c, "rx_q1_packets");
        ulong tx0 = Xstat(vm, c, "tx_q0_packets"), tx1 = Xstat(vm, c, "tx_q1_packets");
        ulong missed = Xstat(vm, c, "rx_missed_packets");
        string counts = $"phase {phase}: rx_q0_packets {rx0} rx_q1_packets {rx1} tx_q0_packets {tx0} tx_q1_packets {tx1} rx_missed_packets {missed}; " +
                        $"forward RX {c.Forward.RxPackets} TX {c.Forward.TxPackets} TX-dropped {c.Forward.TxDropped}; " +
                        $"expected on queue 1: {expected[1]}, on queue 0: {expected[0]} + at most {_probes[phase]} probes";
        output.WriteLine(counts);
        string why = $"\n{counts}\n{vm.Describe()}";
        Assert.True(rx1 == (ulong)expected[1], $"queue 1 received {rx1} frames, the Toeplitz hash sends it {expected[1]}.{why}");
        Assert.True(rx0 >= (ulong)expected[0] && rx0 - (ulong)expected[0] <= (ulong)_probes[phase],
            $"queue 0 received {rx0} frames, the hash sends it {expected[0]} and {_probes[phase]} probes were sent.{why}");
        Assert.True(tx1 == rx1 && tx0 == rx0, $"macswap forwards RX queue N on TX queue N, yet the TX queues sent {tx0} and {tx1}.{why}");
        Assert.True(missed == 0 && c.Forward.TxDropped == 0, $"frames were missed ({missed}) or dropped on TX ({c.Forward.TxDropped}).{why}");
    }

    /// <summary>Sends every frame with at most <see cref="Window"/> in flight; each must come back once, MACs swapped and every other byte as sent.</summary>
    private static async Task ExchangeAsync(VmGuest vm, byte[][] frames, int first, CancellationToken ct)
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
                            $"{string.Join(", ", outstanding.Keys.Order().Take(8).Select(i => $"{first + i} ({RssFlowFrames.KindOf(first + i)}, queue {RssFlowFrames.QueueOf(frames[i])})"))}.\n{vm.Describe()}");
            if (TestFrames.SequenceOf(back) is not null) continue;   // a late probe
            int? index = RssFlowFrames.IndexOf(back);
            if (index is not int i || !outstanding.Remove(i - first, out var sent))
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
