using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// virtio-net-pci's offloads in a guest, through VFIO, against QEMU and the host's Linux stack:
/// the NIC's netdev is a tap with vnet headers (<see cref="TapWire"/>), so QEMU offers CSUM,
/// GUEST_CSUM, HOST_TSO4/6 and GUEST_TSO4/6, and what the guest asks of them is carried out by
/// Linux on the host (checksums completed, TSO frames cut by GSO) before the frames reach the
/// test. TestPmd forwards in csum mode with the TCP checksum and TSO in hardware, large receive
/// and RX checksum verdicts on.
/// </summary>
public sealed partial class VirtioOffloadVmTests(ITestOutputHelper output)
{
    private const int ChecksumFrames = 200, Ipv6Frames = 40, PartialFrames = 100, LargeFrames = 4, LargeIpv6Frames = 2;
    // The MSS of TCP over IPv6 on a 1500-byte MTU; a larger segment would not fit the veth.
    private const int Mss = 1440, LargePayload = 60_000, Window = 16, LargeWindow = 2;
    private const int PartialBase = 10_000_000, LargeBase = 20_000_000, Ipv6Base = 30_000_000, LargeIpv6Base = 40_000_000;
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact(Timeout = 900_000)]
    public async Task Checksums_TSO_and_large_receive_over_virtio_pci_are_carried_out_by_QEMU_and_Linux_every_byte_right()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        using var wire = TapWire.Create();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("virtio-offloads", GuestScripts.TestPmdInteractive(dll, GuestNic.Virtio, $"--forward-mode=csum --enable-rx-cksum --enable-lro --eth-peer=0,{HostMac}"))
            {
                Tap = wire.TapName,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        var guestMac = MacAddress.Parse(vm.Options.Mac);
        byte[] host = Mac.Parse(HostMac.ToString()), guest = Mac.Parse(vm.Options.Mac);

        int probes = await OffloadExchange.ConfigureCsumModeAsync(vm, wire, host, guest, ct, "csum set ip hw 0", "csum set tcp hw 0", $"tso set {Mss} 0");
        output.WriteLine($"forwarding in csum mode after {probes} probes, at {vm.Elapsed.TotalSeconds:0.0} s");
        TestPmdConsole.Send(vm, "show port info 0");
        await vm.WaitForSerialAsync(_ => Features().IsMatch(vm.GuestOutput), TimeSpan.FromSeconds(30), "the port's features in show port info", ct);
        var features = Features().Matches(vm.GuestOutput);
        Assert.True(features.Count > 0, $"no features line in show port info.\n{vm.Describe()}");
        string negotiated = features[^1].Groups[1].Value;
        foreach (var f in new[] { "CSUM", "GUEST_CSUM", "HOST_TSO4", "HOST_TSO6", "GUEST_TSO4", "GUEST_TSO6", "MRG_RXBUF" })
            Assert.True(Regex.IsMatch(negotiated, $@"(^|[ ,|]){f}($|[ ,|])"), $"{f} is not among the port's active features: {negotiated}");
        output.WriteLine($"active features: {negotiated}");

        var tally = new ChecksumTally();

        // 1. TX checksums (CSUM): TCP/IPv4 frames of 60..1500 bytes, under the TSO size, the TCP
        // checksum wrong in four of five and the IPv4 one in one of three; virtio has no IPv4
        // checksum offload, so the driver computes that one. All must arrive right.
        // TestPmd prints each received packet's flags from here on.
        int verboseFrom = await TestPmdConsole.SetVerboseAsync(vm, 0, 1, ct);
        var sent = new Dictionary<int, byte[]>();
        for (int i = 0; i < ChecksumFrames; i++)
        {
            var f = TcpFrames.Bytes(false, 6 + i * 37 % (Mss - 6), HostMac, guestMac, streamOffset: i * 2000, tcpChecksum: i % 5 == 0, ipId: (ushort)i);
            if (i % 3 == 0) f[TcpFrames.EthernetLength + 10] ^= 0x5A;
            tally.Count(f);
            sent[i * 2000] = f;
        }
        var v6 = new Dictionary<int, byte[]>();
        for (int i = 0; i < Ipv6Frames; i++)
        {
            var f = TcpFrames.Bytes(true, 1 + i * 29 % 1400, HostMac, guestMac, streamOffset: Ipv6Base + i * 2000);
            tally.Count(f, ipv6: true);
            v6[Ipv6Base + i * 2000] = f;
        }
        await ExchangeWhole(vm, wire, sent, host, guest, ct);
        await ExchangeWhole(vm, wire, v6, host, guest, ct);
        output.WriteLine($"{ChecksumFrames} TCP/IPv4 and {Ipv6Frames} TCP/IPv6 frames came back with their checksums completed ({tally.BadIp} sent with a bad IPv4 checksum, {tally.BadL4} with a bad TCP one)");

        // 2. RX checksum status (GUEST_CSUM): frames whose TCP checksum the host left to do
        // (NEEDS_CSUM; the field holds the pseudo-header sum). The driver must say "not verified,
        // data intact" (RxL4ChecksumNone), so the csum engine counts none of them bad, and sends
        // them on for the device to complete.
        var partial = new Dictionary<int, byte[]>();
        for (int i = 0; i < PartialFrames; i++)
        {
            var f = TcpFrames.Bytes(false, 20 + i * 13 % 1200, HostMac, guestMac, streamOffset: PartialBase + i * 2000, ipId: (ushort)(5000 + i));
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(TcpFrames.HeaderLength(false) - 4), TcpFrames.PseudoHeaderSum(f, false));
            partial[PartialBase + i * 2000] = f;
        }
        await ExchangeWhole(vm, wire, partial, host, guest, ct,
            send: key => wire.Send(VnetHeader.PartialTcpChecksum(TcpFrames.EthernetLength + TcpFrames.Ipv4Length), partial[key]));
        output.WriteLine($"{PartialFrames} frames sent with NEEDS_CSUM came back completed");

        // 3. Large receive and TSO: 60 KB GSO super-frames from the host reach the guest whole
        // (GUEST_TSO4/6 with mergeable buffers) and leave it as TSO frames (HOST_TSO4/6), which
        // Linux's GSO cuts into segments of at most the MSS on their way back.
        var large = new Dictionary<int, (byte[] Frame, bool Ipv6)>();
        for (int k = 0; k < LargeFrames; k++)
            large[LargeBase + k * 100_000] = (TcpFrames.Bytes(false, LargePayload, HostMac, guestMac, streamOffset: LargeBase + k * 100_000, ipId: (ushort)(9000 + k * 100)), false);
        for (int k = 0; k < LargeIpv6Frames; k++)
            large[LargeIpv6Base + k * 100_000] = (TcpFrames.Bytes(true, LargePayload, HostMac, guestMac, streamOffset: LargeIpv6Base + k * 100_000), true);
        foreach (var (f, ipv6) in large.Values)
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(TcpFrames.HeaderLength(ipv6) - 4), TcpFrames.PseudoHeaderSum(f, ipv6));
        var payloadSeen = new Dictionary<int, int>();
        int segments = 0;
        await OffloadExchange.RunAsync(vm, wire, large.ToDictionary(e => e.Key, e => e.Value.Frame), LargeWindow, back =>
        {
            bool ipv6 = BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(12)) == 0x86DD;
            var s = TcpFrames.Check(back, ipv6);
            int key = s.StreamOffset / 100_000 * 100_000;
            Assert.True(large.ContainsKey(key), $"a segment at stream offset {s.StreamOffset} belongs to no large frame");
            Assert.True(s.PayloadLength is > 0 and <= Mss, $"a {s.PayloadLength}-byte segment, over the {Mss}-byte MSS");
            Assert.Equal(0, (s.StreamOffset - key) % Mss);
            Assert.Equal(host, back[..6]);
            Assert.Equal(guest, back[6..12]);
            segments++;
            payloadSeen[key] = payloadSeen.GetValueOrDefault(key) + s.PayloadLength;
            Assert.True(payloadSeen[key] <= LargePayload, $"more than {LargePayload} payload bytes came back for the frame at {key}");
            return payloadSeen[key] == LargePayload ? [key] : [];
        }, ct, send: key =>
        {
            var (f, ipv6) = large[key];
            wire.Send(VnetHeader.TcpSegmentation(ipv6, TcpFrames.HeaderLength(ipv6), Mss), f);
        });
        int verboseTo = await TestPmdConsole.SetVerboseAsync(vm, 1, 0, ct);
        string dump = vm.GuestOutput[verboseFrom..verboseTo];
        int perFrame = (LargePayload + Mss - 1) / Mss;
        Assert.Equal((LargeFrames + LargeIpv6Frames) * perFrame, segments);
        output.WriteLine($"{LargeFrames} IPv4 and {LargeIpv6Frames} IPv6 GSO frames of {LargePayload} payload bytes came back as {segments} segments of at most {Mss} bytes");

        // What the driver reported, packet by packet (TCP frames only; late probes are not): the
        // frames the host did not check as RX_L4_CKSUM_UNKNOWN (no DATA_VALID, no NEEDS_CSUM: as
        // DPDK's virtio PMD, so the csum engine counts none bad); NEEDS_CSUM as RX_L4_CKSUM_NONE
        // (the 100 and the large frames, which the host also left to be summed); each large frame
        // whole, flagged LRO, with the host's segment size.
        var received = ReceivedPackets().Matches(dump)
            .Select(m => (Type: m.Groups[1].Value, Length: int.Parse(m.Groups[2].Value), Segments: int.Parse(m.Groups[3].Value), Lro: m.Groups[4].Success ? int.Parse(m.Groups[4].Value) : 0, Flags: m.Groups[5].Value))
            .Where(p => p.Type is "0x0800" or "0x86dd").ToList();
        int unknown = received.Count(p => p.Flags.Contains("RTE_MBUF_F_RX_L4_CKSUM_UNKNOWN", StringComparison.Ordinal));
        int none = received.Count(p => p.Flags.Contains("RTE_MBUF_F_RX_L4_CKSUM_NONE", StringComparison.Ordinal));
        var lro = received.Where(p => p.Flags.Contains("RTE_MBUF_F_RX_LRO", StringComparison.Ordinal)).ToList();
        output.WriteLine($"TestPmd's verbose dump: {received.Count} TCP packets received, {unknown} with RX_L4_CKSUM_UNKNOWN, {none} with RX_L4_CKSUM_NONE, {lro.Count} with RX_LRO " +
                         $"({string.Join(", ", lro.Select(p => $"{p.Length} bytes in {p.Segments} segments, tso_segsz {p.Lro}"))})");
        Assert.Equal(ChecksumFrames + Ipv6Frames + PartialFrames + LargeFrames + LargeIpv6Frames, received.Count);
        Assert.Equal(ChecksumFrames + Ipv6Frames, unknown);
        Assert.Equal(PartialFrames + LargeFrames + LargeIpv6Frames, none);
        Assert.Equal(LargeFrames + LargeIpv6Frames, lro.Count);
        Assert.All(lro, p =>
        {
            Assert.Contains(p.Length - LargePayload, new[] { TcpFrames.HeaderLength(false), TcpFrames.HeaderLength(true) });
            Assert.True(p.Segments > 1, $"a {p.Length}-byte large frame in one segment");
            Assert.Equal(Mss, p.Lro);
            Assert.Contains("RTE_MBUF_F_RX_L4_CKSUM_NONE", p.Flags, StringComparison.Ordinal);
        });

        // Late probes may still be on their way; then the guest's counters are read.
        await Task.Delay(TimeSpan.FromSeconds(1), ct);
        while (await wire.ReceiveAsync(TimeSpan.FromSeconds(1), ct) is not null) { }
        TestPmdConsole.Send(vm, "stop", "show port stats 0", "show port xstats 0", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(180), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");

        var (seenIp, seenL4) = OffloadExchange.EngineVerdicts(vm.GuestOutput) ?? throw new InvalidOperationException($"no Bad-ipcsum/Bad-l4csum line in TestPmd's output.\n{vm.Describe()}");
        // virtio gives no verdict on a frame the host did not check (and none on IPv4 headers), and
        // the csum engine counts only verdicts: the bad frames sent are not counted, as with DPDK.
        string verdicts = $"sent {tally.BadIp} frames with a bad IPv4 checksum and {tally.BadL4} with a bad TCP one (and {PartialFrames} with NEEDS_CSUM); TestPmd counted Bad-ipcsum {seenIp} Bad-l4csum {seenL4}";
        output.WriteLine(verdicts);
        Assert.True(seenIp == 0 && seenL4 == 0, $"{verdicts}\n{vm.Describe()}");

        // The large frames crossed the guest whole: each was one frame in and one TSO frame out, so
        // the guest forwarded exactly what came back here less the segments' surplus.
        var counters = TestPmdCounters.Parse(vm.GuestOutput);
        long expected = wire.Received - segments + LargeFrames + LargeIpv6Frames;
        string counts = $"guest RX {counters.Forward.RxPackets} TX {counters.Forward.TxPackets} (dropped {counters.Forward.TxDropped}); host received {wire.Received} frames, {segments} of them segments of {LargeFrames + LargeIpv6Frames} large frames";
        output.WriteLine(counts);
        Assert.True(counters.Forward.RxPackets == (ulong)expected && counters.Forward.TxPackets == (ulong)expected && counters.Forward.TxDropped == 0,
            $"{counts}: expected {expected} frames each way in the guest.\n{vm.Describe()}");
    }

    private static Task ExchangeWhole(VmGuest vm, TapWire wire, Dictionary<int, byte[]> frames, byte[] host, byte[] guest, CancellationToken ct, Action<int>? send = null) =>
        OffloadExchange.RunAsync(vm, wire, frames, Window, back =>
        {
            bool ipv6 = BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(12)) == 0x86DD;
            var s = TcpFrames.Check(back, ipv6);
            OffloadExchange.CheckAgainstSent(back, frames[s.StreamOffset], host, guest, ipv6);
            return [s.StreamOffset];
        }, ct, send);

    [GeneratedRegex(@"(?m)^  src=\S+ - dst=\S+ - type=(0x[0-9a-f]+) - length=(\d+) - nb_segs=(\d+)(?: - tso_segsz=(\d+))?.*\r?\n  ol_flags: (.*?)\r?$")]
    private static partial Regex ReceivedPackets();

    [GeneratedRegex(@"(?m)^features: (.+?)\r?$")]
    private static partial Regex Features();
}
