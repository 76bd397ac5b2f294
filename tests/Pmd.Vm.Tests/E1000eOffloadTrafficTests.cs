using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// The e1000e's checksum offloads and TSO on QEMU's 82574 (-device e1000e): TestPmd forwards in
/// csum mode with the IPv4 and TCP checksums and TSO in hardware, and RX checksum verdicts on. Its
/// netdev is a UDP socket without vnet headers, so QEMU itself must complete the checksums the
/// driver's context descriptors ask for and cut TSO frames. The host sends TCP frames over IPv4
/// and IPv6 with wrong checksums (some with good ones) and checks every byte and checksum of what comes back,
/// and the guest's Bad-ipcsum and Bad-l4csum must count exactly the frames sent bad. TSO over IPv6
/// is refused by the driver (dropped, counted in tx_q0_errors).
/// </summary>
public sealed class E1000eOffloadTrafficTests(ITestOutputHelper output)
{
    private const int ChecksumFrames = 300, Ipv6Frames = 60, TsoFrames = 30, Ipv6TsoFrames = 5, GoodFrames = 100;
    private const int Mss = 500, TsoPayload = 1400;
    private const int Window = 16, TsoWindow = 4;
    private const int TsoStreamBase = 10_000_000, GoodStreamBase = 20_000_000, Ipv6StreamBase = 30_000_000;
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact(Timeout = 900_000)]
    public async Task QEMU_completes_the_checksums_and_cuts_the_tso_frames_the_driver_asks_for_and_the_rx_verdicts_count_the_bad_frames()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("e1000e-offloads", GuestScripts.TestPmdInteractive(dll, GuestNic.E1000e, $"--forward-mode=csum --enable-rx-cksum --eth-peer=0,{HostMac}"))
            {
                Nic = GuestNic.E1000e,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        var guestMac = MacAddress.Parse(vm.Options.Mac);
        byte[] host = Mac.Parse(HostMac.ToString()), guest = Mac.Parse(vm.Options.Mac);

        int probes = await OffloadExchange.ConfigureCsumModeAsync(vm, vm.Frames, host, guest, ct, "csum set ip hw 0", "csum set tcp hw 0", $"tso set {Mss} 0");
        output.WriteLine($"forwarding in csum mode after {probes} probes, at {vm.Elapsed.TotalSeconds:0.0} s");

        var tally = new ChecksumTally();

        // 1. Checksums: frames of 60..530 bytes (none padded by QEMU, none over the TSO size), the TCP
        // checksum wrong in four of five, the IPv4 one in one of three; every one must come back right.
        var sent = new Dictionary<int, byte[]>();
        for (int i = 0; i < ChecksumFrames; i++)
        {
            var f = TcpFrames.Bytes(false, 6 + i * 37 % 470, HostMac, guestMac, streamOffset: i * 1000, tcpChecksum: i % 5 == 0, ipId: (ushort)i);
            if (i % 3 == 0) f[TcpFrames.EthernetLength + 10] ^= 0x5A;
            tally.Count(f);
            sent[i * 1000] = f;
        }
        await OffloadExchange.RunAsync(vm, vm.Frames, sent, Window, back =>
        {
            var s = TcpFrames.Check(back, ipv6: false);
            OffloadExchange.CheckAgainstSent(back, sent[s.StreamOffset], host, guest);
            return [s.StreamOffset];
        }, ct);
        output.WriteLine($"{ChecksumFrames} frames came back with their IPv4 and TCP checksums completed ({tally.BadIp} sent with a bad IPv4 checksum, {tally.BadL4} with a bad TCP one)");

        // 1b. The TCP checksum over IPv6 (a context without IPv4's header checksum); IPv6 has no header checksum to count.
        var v6 = new Dictionary<int, byte[]>();
        for (int i = 0; i < Ipv6Frames; i++)
        {
            var f = TcpFrames.Bytes(true, 1 + i * 23 % 480, HostMac, guestMac, streamOffset: Ipv6StreamBase + i * 1000);
            tally.Count(f, ipv6: true);
            v6[Ipv6StreamBase + i * 1000] = f;
        }
        await OffloadExchange.RunAsync(vm, vm.Frames, v6, Window, back =>
        {
            var s = TcpFrames.Check(back, ipv6: true);
            OffloadExchange.CheckAgainstSent(back, v6[s.StreamOffset], host, guest, ipv6: true);
            return [s.StreamOffset];
        }, ct);
        output.WriteLine($"{Ipv6Frames} TCP/IPv6 frames came back with their TCP checksums completed");

        // 2. TSO: 1400-byte payloads with a 500-byte segment size.
        var tso = new Dictionary<int, byte[]>();
        var payloadSeen = new Dictionary<int, int>();
        for (int k = 0; k < TsoFrames; k++)
        {
            var f = TcpFrames.Bytes(false, TsoPayload, HostMac, guestMac, streamOffset: TsoStreamBase + k * 2000, ipId: (ushort)(1000 + k * 10));
            tally.Count(f);
            tso[TsoStreamBase + k * 2000] = f;
        }
        var reassembly = new TcpReassembly();
        int segments = 0, fragments = 0;
        await OffloadExchange.RunAsync(vm, vm.Frames, tso, TsoWindow, back =>
        {
            if (TcpReassembly.IsFragment(back))
            {
                fragments++;
                var whole = reassembly.Add(back);
                if (whole is null) return [];
                var r = TcpFrames.Check(whole, ipv6: false);
                Assert.Equal(TsoPayload, r.PayloadLength);
                OffloadExchange.CheckAgainstSent(whole, tso[r.StreamOffset], host, guest);
                return [r.StreamOffset];
            }
            segments++;
            var s = TcpFrames.Check(back, ipv6: false);
            int key = TsoStreamBase + (s.StreamOffset - TsoStreamBase) / 2000 * 2000;
            Assert.True(s.PayloadLength <= Mss, $"a {s.PayloadLength}-byte TSO segment, over the {Mss}-byte segment size");
            Assert.Equal(0, (s.StreamOffset - key) % Mss);
            payloadSeen[key] = payloadSeen.GetValueOrDefault(key) + s.PayloadLength;
            return payloadSeen[key] == TsoPayload ? [key] : [];
        }, ct);
        Assert.Equal(0, reassembly.Pending);
        Assert.True(segments == 0 || fragments == 0, $"{segments} TCP segments and {fragments} IPv4 fragments: QEMU cut TSO frames two ways");
        output.WriteLine(segments > 0
            ? $"{TsoFrames} TSO frames came back as {segments} TCP segments of at most {Mss} payload bytes, each with good checksums"
            : $"{TsoFrames} TSO frames came back as {fragments} IPv4 fragments (QEMU before 8.0 cuts by IPv4 fragmentation), each reassembling to the frame with good checksums");

        // 2b. TSO over IPv6, which QEMU 7.2 would mangle by IPv4 fragmentation: the driver cuts
        // it in software, and each segment comes back whole, with correct checksums.
        var tso6 = new Dictionary<int, byte[]>();
        var payload6 = new Dictionary<int, int>();
        for (int k = 0; k < Ipv6TsoFrames; k++)
        {
            var f = TcpFrames.Bytes(true, TsoPayload, HostMac, guestMac, streamOffset: Ipv6StreamBase + 5_000_000 + k * 2000);
            tally.Count(f, ipv6: true);
            tso6[Ipv6StreamBase + 5_000_000 + k * 2000] = f;
        }
        int segments6 = 0;
        await OffloadExchange.RunAsync(vm, vm.Frames, tso6, TsoWindow, back =>
        {
            var s = TcpFrames.Check(back, ipv6: true);
            int key = Ipv6StreamBase + 5_000_000 + (s.StreamOffset - Ipv6StreamBase - 5_000_000) / 2000 * 2000;
            Assert.True(s.PayloadLength <= Mss, $"a {s.PayloadLength}-byte IPv6 TSO segment, over the {Mss}-byte segment size");
            Assert.Equal(0, (s.StreamOffset - key) % Mss);
            segments6++;
            payload6[key] = payload6.GetValueOrDefault(key) + s.PayloadLength;
            return payload6[key] == TsoPayload ? [key] : [];
        }, ct);
        output.WriteLine($"{Ipv6TsoFrames} IPv6 TSO frames came back as {segments6} TCP segments cut by the driver, each with a good checksum");

        // 3. Good frames: no verdict to count.
        var good = new Dictionary<int, byte[]>();
        for (int i = 0; i < GoodFrames; i++)
        {
            var f = TcpFrames.Bytes(false, 100 + i, HostMac, guestMac, streamOffset: GoodStreamBase + i * 1000, tcpChecksum: true, ipId: (ushort)i);
            tally.Count(f);
            good[GoodStreamBase + i * 1000] = f;
        }
        await OffloadExchange.RunAsync(vm, vm.Frames, good, Window, back =>
        {
            var s = TcpFrames.Check(back, ipv6: false);
            OffloadExchange.CheckAgainstSent(back, good[s.StreamOffset], host, guest);
            return [s.StreamOffset];
        }, ct);

        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(180), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        var (seenIp, seenL4) = OffloadExchange.EngineVerdicts(vm.GuestOutput) ?? throw new InvalidOperationException($"no Bad-ipcsum/Bad-l4csum line in TestPmd's output.\n{vm.Describe()}");
        var counters = TestPmdCounters.Parse(vm.GuestOutput);
        string counts = $"sent {tally.BadIp} frames with a bad IPv4 checksum and {tally.BadL4} with a bad TCP one; TestPmd counted Bad-ipcsum {seenIp} Bad-l4csum {seenL4}; " +
                        $"tx_q0_errors {counters.Xstat("tx_q0_errors")}";
        output.WriteLine(counts);
        Assert.True(seenIp == tally.BadIp && seenL4 == tally.BadL4, $"{counts}\n{vm.Describe()}");
        Assert.Equal(0UL, counters.Xstat("tx_q0_errors"));
        Assert.Equal((ulong)Ipv6TsoFrames, counters.Xstat("tx_q0_sw_tso"));
    }
}
