using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;
using Pmd.TestSupport;
using Pmd.TestSupport.E1000e;

namespace Pmd.Vm.Tests;

/// <summary>
/// RSS on QEMU's real 82574 (-device e1000e): TestPmd with two RX and two TX queues forwards in
/// macswap mode (RX queue N to TX queue N). The host sends frames of many TCP and UDP flows over
/// IPv4 and IPv6 and non-IP frames; every one must come back byte for byte, and each queue must have carried
/// exactly the frames the Toeplitz hash (computed here with the driver's key and redirection table,
/// over the fields QEMU hashes) sends to it: non-IP frames, probes among them, all on queue 0. The
/// same again after a port stop and start.
/// </summary>
public sealed partial class E1000eRssTrafficTests(ITestOutputHelper output)
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

    /// <summary>
    /// Checksum offloads on both queues: TestPmd's csum mode with RX verdicts on and the IPv4, TCP and
    /// UDP checksums in hardware, so RXCSUM's checks run beside RSS (PCSD set) and each TX queue
    /// sends its own context descriptors. Some frames are sent with a bad IPv4 or TCP/UDP checksum;
    /// every frame must come back with both right, Bad-ipcsum and Bad-l4csum must count exactly the
    /// bad ones, and each queue must carry the frames the hash sends it.
    /// </summary>
    [Fact(Timeout = 900_000)]
    public async Task On_both_queues_the_device_checks_and_completes_checksums_and_rss_still_spreads_exactly()
    {
        const int Frames = 6_000;
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        byte[] hostMac = Mac.Parse("02:00:00:00:00:01");
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("e1000e-rss-csum", GuestScripts.TestPmdInteractive(dll, GuestNic.E1000e,
                $"--forward-mode=csum --enable-rx-cksum --eth-peer=0,{Mac.Format(hostMac)} --rxq=2 --txq=2"))
            {
                Nic = GuestNic.E1000e,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        byte[] guestMac = Mac.Parse(vm.Options.Mac);
        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        TestPmdConsole.Send(vm, "stop", "port stop 0", "csum set ip hw 0", "csum set tcp hw 0", "csum set udp hw 0", "port start 0", "start");
        // Only "port start" prints this: no probe may come back from the forwarding that ran before.
        await vm.WaitForSerialAsync("Port 0: started", TimeSpan.FromSeconds(120), ct);
        _probes[1] = await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(150), ct);
        output.WriteLine($"csum mode, hardware checksums, forwarding after {_probes[1]} probes, at {vm.Elapsed.TotalSeconds:0.0} s");

        var frames = new byte[Frames][];
        int badIp = 0, badL4 = 0;
        int[] expected = _expected[1] = new int[2];
        for (int i = 0; i < Frames; i++)
        {
            var f = RssFlowFrames.Build(i, hostMac, guestMac);
            expected[RssFlowFrames.QueueOf(f)]++;   // the hash takes no checksum in: computed either way
            if (RssFlowFrames.IpChecksumOffset(f) is int ip && i % 3 == 0)
            {
                f[ip] ^= 0x5A;
                badIp++;
            }
            if (RssFlowFrames.L4ChecksumOffset(f) is int l4 && i % 4 == 1)
            {
                f[l4 + 1] ^= 0xA5;
                badL4++;
            }
            frames[i] = f;
        }
        output.WriteLine($"{Frames} frames, {badIp} with a bad IPv4 checksum, {badL4} with a bad TCP/UDP one; the hash sends {expected[0]} to queue 0, {expected[1]} to queue 1");

        await ExchangeAsync(vm, frames, 0, ct, (sent, back) => ChecksumsCompleted(sent, back, hostMac, guestMac));
        output.WriteLine($"{Frames} frames came back with their checksums right");
        int[] hashChecked = await CheckHashesAsync(vm, hostMac, guestMac, first: Frames, ct);
        expected[0] += hashChecked[0];
        expected[1] += hashChecked[1];

        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(180), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        var c = Parse(vm);
        var (seenIp, seenL4) = OffloadExchange.EngineVerdicts(vm.GuestOutput) ?? throw new InvalidOperationException($"no Bad-ipcsum/Bad-l4csum line in TestPmd's output.\n{vm.Describe()}");
        string counts = $"sent {badIp} bad IPv4 and {badL4} bad L4 checksums; TestPmd counted Bad-ipcsum {seenIp} Bad-l4csum {seenL4}; " +
                        $"tx_q0_errors {Xstat(vm, c, "tx_q0_errors")} tx_q1_errors {Xstat(vm, c, "tx_q1_errors")}";
        output.WriteLine(counts);
        Assert.True(seenIp == badIp && seenL4 == badL4, $"{counts}\n{vm.Describe()}");
        Assert.True(Xstat(vm, c, "tx_q0_errors") + Xstat(vm, c, "tx_q1_errors") == 0, $"{counts}\n{vm.Describe()}");
        CheckQueues(vm, c, phase: 1);
    }

    /// <summary>Null when <paramref name="back"/> is <paramref name="sent"/> with the csum engine's MACs and both checksums right, else what differs.</summary>
    private static string? ChecksumsCompleted(byte[] sent, byte[] back, byte[] host, byte[] guest)
    {
        if (back.Length != sent.Length) return $"{back.Length} bytes came back, {sent.Length} were sent";
        if (!back.AsSpan(0, 6).SequenceEqual(host) || !back.AsSpan(6, 6).SequenceEqual(guest))
            return $"MACs {Mac.Format(back.AsSpan(0, 6))} / {Mac.Format(back.AsSpan(6, 6))}, not the peer's and the port's";
        int? ip = RssFlowFrames.IpChecksumOffset(sent), l4 = RssFlowFrames.L4ChecksumOffset(sent);
        if (ip is not null && InternetChecksum.Compute(back.AsSpan(14, 20)) != 0) return "the IPv4 header checksum is wrong";
        if (l4 is int at && BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(at)) != RssFlowFrames.L4Checksum(back))
            return $"the L4 checksum is 0x{BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(at)):x4}, 0x{RssFlowFrames.L4Checksum(back):x4} is right";
        for (int k = 12; k < sent.Length; k++)
        {
            if (k == ip || k == ip + 1 || k == l4 || k == l4 + 1) continue;
            if (back[k] != sent[k]) return $"byte {k} is 0x{back[k]:x2}, 0x{sent[k]:x2} was sent";
        }
        return null;
    }

    private const int HashCheckFrames = 50;

    /// <summary>
    /// The hash each frame's mbuf carries: with TestPmd's "set verbose 1", frames <paramref name="first"/>..
    /// are sent one at a time, so the packets it prints are theirs, in order; each IP frame must carry
    /// RTE_MBUF_F_RX_RSS_HASH and exactly the Toeplitz hash computed here, a non-IP frame no hash.
    /// Returns how many went to each queue (for the queue counts).
    /// </summary>
    private async Task<int[]> CheckHashesAsync(VmGuest vm, byte[] hostMac, byte[] guestMac, int first, CancellationToken ct)
    {
        var frames = Enumerable.Range(first, HashCheckFrames).Select(i => RssFlowFrames.Build(i, hostMac, guestMac)).ToArray();
        int from = await TestPmdConsole.SetVerboseAsync(vm, 0, 1, ct);
        for (int k = 0; k < frames.Length; k++)
        {
            vm.Frames.Send(frames[k]);
            while (true)
            {
                var back = await vm.Frames.ReceiveAsync(MacSwapTraffic.StallTimeout, ct)
                           ?? throw new TimeoutException($"frame {first + k} did not come back under set verbose.\n{vm.Describe()}");
                if (RssFlowFrames.IndexOf(back) == first + k) break;
            }
        }
        int to = await TestPmdConsole.SetVerboseAsync(vm, 1, 0, ct);
        var printed = ReceivedPacket().Matches(vm.GuestOutput[from..to]).ToList();
        Assert.True(printed.Count == frames.Length, $"TestPmd printed {printed.Count} received packets for the {frames.Length} frames sent.\n{vm.Describe()}");
        int[] queues = new int[2];
        int hashed = 0;
        for (int k = 0; k < frames.Length; k++)
        {
            var (type, hash) = E1000eRssModel.Of(frames[k], RssFlowFrames.Mrqc, Toeplitz.DefaultKey);
            var p = printed[k];
            Assert.Equal(frames[k].Length, int.Parse(p.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
            if (type == 0)
            {
                Assert.False(p.Groups[2].Success, $"frame {first + k} ({RssFlowFrames.KindOf(first + k)}) has RSS hash 0x{p.Groups[2].Value}; the device hashes no such frame");
                Assert.DoesNotContain("RTE_MBUF_F_RX_RSS_HASH", p.Groups[3].Value, StringComparison.Ordinal);
            }
            else
            {
                Assert.True(p.Groups[2].Success, $"frame {first + k} ({RssFlowFrames.KindOf(first + k)}) came without an RSS hash; 0x{hash:x} expected");
                Assert.Equal(hash, uint.Parse(p.Groups[2].Value, System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture));
                Assert.Contains("RTE_MBUF_F_RX_RSS_HASH", p.Groups[3].Value, StringComparison.Ordinal);
                hashed++;
            }
            queues[RssFlowFrames.QueueOf(frames[k])]++;
        }
        output.WriteLine($"set verbose: {hashed} of {frames.Length} frames carried the Toeplitz hash computed here (RTE_MBUF_F_RX_RSS_HASH), the {frames.Length - hashed} non-IP ones none");
        return queues;
    }

    [GeneratedRegex(@"(?m)^  src=\S+ - dst=\S+ - type=0x[0-9a-f]+ - length=(\d+) - nb_segs=\d+(?: - RSS hash=0x([0-9a-f]+))?.*\r?\n  ol_flags: (.*?)\r?$")]
    private static partial Regex ReceivedPacket();

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
    private static async Task ExchangeAsync(VmGuest vm, byte[][] frames, int first, CancellationToken ct, Func<byte[], byte[], string?>? mismatch = null)
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
            else if ((mismatch is null ? TestFrames.MacSwapMismatch(sent, back) : mismatch(sent, back)) is { } bad)
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
