using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// Offloads the app asked the failover port for once, kept while traffic moves between the devices
/// under it: TestPmd's csum engine on the failover port with the IPv4 and TCP checksums and TSO
/// (MSS 500) by the port. The virtio standby's netdev is a tap with vnet headers
/// (<see cref="TapWire"/>), so it offers CSUM and HOST_TSO, and Linux on the host completes and cuts
/// what it sends; the e1000e primary's is a UDP socket, so QEMU's e1000e does (cutting TSO frames by
/// IPv4 fragmentation, as QEMU 7.2 does). Frames go out with wrong IPv4 and TCP checksums, short
/// ones and TSO ones, and come back right on the primary, on the standby while the primary's link is
/// down, and on the primary again, every byte checked. Both devices have these offloads, so the
/// failover port offers them (what both do, as Linux's net_failover) and its software fallback
/// stays unused.
/// </summary>
public sealed class FailoverOffloadVmTests(ITestOutputHelper output)
{
    private const string PrimaryNetdev = "n1";
    private const int ChecksumFrames = 150, TsoFrames = 20, Window = 16, Mss = 500, TsoPayload = 1400, Stride = 2000;
    // The failover port is port 1 (the virtio standby, taken with -a, is 0): csum writes the
    // default peer of port 1, 02:00:00:00:00:01, as the destination.
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact(Timeout = 900_000)]
    public async Task The_checksum_and_tso_offloads_stay_correct_on_the_primary_on_the_standby_and_back()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        using var standby = TapWire.Create();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("failover-offload", GuestScripts.TestPmdInteractive(dll, GuestNic.Failover, "--forward-mode=csum --hotplug-allow=8086:10d3"))
            {
                Nic = GuestNic.Failover,
                Tap = standby.TapName,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        var primary = vm.PrimaryFrames!;
        var guestMac = MacAddress.Parse(vm.Options.Mac);
        byte[] host = Mac.Parse(HostMac.ToString()), guest = Mac.Parse(vm.Options.Mac);
        var qmp = await vm.QmpAsync(ct);

        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        await qmp.WaitForEventAsync("FAILOVER_NEGOTIATED", TimeSpan.FromSeconds(150), cancellationToken: ct);
        int probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, host, guest, TimeSpan.FromSeconds(120), ct, sendOn: primary);
        output.WriteLine($"csum mode forwards on the primary after {probes} probes");
        int mark = vm.GuestOutput.Length;
        TestPmdConsole.Send(vm, "stop", "port stop 1", "csum set ip hw 1", "csum set tcp hw 1", $"tso set {Mss} 1", "port start 1", "show port info 1", "start");
        await vm.WaitForSerialAsync(log => vm.GuestOutput.Length > mark && vm.GuestOutput[mark..].Contains("Port 1: started", StringComparison.Ordinal),
            TimeSpan.FromSeconds(120), "the failover port's restart with the offloads", ct);
        probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, host, guest, TimeSpan.FromSeconds(120), ct, sendOn: primary);
        string info = vm.GuestOutput[mark..];
        Assert.Contains("TSO segment size for non-tunneled packets is 500", info, StringComparison.Ordinal);

        var onPrimary = await ExchangeAsync(vm, primary, guestMac, 0, ct);
        output.WriteLine($"over the e1000e primary: {onPrimary}");

        mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(PrimaryNetdev, up: false, ct);
        await vm.WaitForSerialAsync(log => log.Length > mark && log[mark..].Contains("failover event (standby (primary link down))", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the switch to the standby", ct);
        var onStandby = await ExchangeAsync(vm, standby, guestMac, 10_000_000, ct);
        output.WriteLine($"over the virtio standby: {onStandby}");
        // Linux's GSO cut the standby's TSO frames: real TCP segments, never fragments.
        Assert.Equal(0, onStandby.Fragments);
        Assert.Equal(TsoFrames * ((TsoPayload + Mss - 1) / Mss), onStandby.Segments - ChecksumFrames);

        mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(PrimaryNetdev, up: true, ct);
        await vm.WaitForSerialAsync(log => log.Length > mark && log[mark..].Contains("failover event (primary port", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the switch back to the primary", ct);
        var again = await ExchangeAsync(vm, primary, guestMac, 20_000_000, ct);
        output.WriteLine($"over the primary again: {again}");

        TestPmdConsole.Send(vm, "stop", "show port xstats all", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(120), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        // The devices did the checksums and the segmentation, not the failover port's software fallback: both have them.
        Assert.Contains("failover_sw_checksums: 0", vm.GuestOutput);
        Assert.Contains("failover_sw_tso_frames: 0", vm.GuestOutput);
        Assert.Contains("failover_switches_to_standby: 1", vm.GuestOutput);
    }

    private readonly record struct Pieces(int Segments, int Fragments)
    {
        public override string ToString() =>
            $"{ChecksumFrames} frames with wrong IPv4 and TCP checksums and {TsoFrames} TSO frames of {TsoPayload} bytes came back right, as {Segments} TCP segments and {Fragments} IPv4 fragments";
    }

    /// <summary>
    /// Sends <see cref="ChecksumFrames"/> short TCP/IPv4 frames and <see cref="TsoFrames"/> TSO ones,
    /// all with wrong IPv4 and TCP checksums, on <paramref name="wire"/>; each must come back there,
    /// right: whole, or cut into segments of at most the MSS, or into fragments that reassemble.
    /// </summary>
    private static async Task<Pieces> ExchangeAsync(VmGuest vm, IGuestWire wire, MacAddress guestMac, int streamBase, CancellationToken ct)
    {
        var frames = new Dictionary<int, byte[]>();
        for (int i = 0; i < ChecksumFrames + TsoFrames; i++)
        {
            int payload = i < ChecksumFrames ? 20 + i * 7 % (Mss - 20) : TsoPayload;
            var f = TcpFrames.Bytes(false, payload, HostMac, guestMac, streamOffset: streamBase + i * Stride, ipId: (ushort)(i * 4));
            f[TcpFrames.EthernetLength + 10] ^= 0xFF;   // a wrong IPv4 header checksum; the TCP one is 0xDEAD
            frames[streamBase + i * Stride] = f;
        }
        byte[] host = Mac.Parse(HostMac.ToString()), guest = Mac.Parse(guestMac.ToString());
        var reassembly = new TcpReassembly();
        var seen = new Dictionary<int, int>();
        int segments = 0, fragments = 0;
        await OffloadExchange.RunAsync(vm, wire, frames, Window, back =>
        {
            if (BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(12)) != 0x0800) return [];
            if (TcpReassembly.IsFragment(back))
            {
                fragments++;
                back = reassembly.Add(back) ?? [];
                if (back.Length == 0) return [];
            }
            else
            {
                segments++;
            }
            var s = TcpFrames.Check(back, ipv6: false);
            int key = streamBase + (s.StreamOffset - streamBase) / Stride * Stride;
            if (!frames.TryGetValue(key, out var sent)) throw new InvalidDataException($"a segment at stream offset {s.StreamOffset} belongs to no frame sent");
            Assert.Equal(host, back[..6]);
            Assert.Equal(guest, back[6..12]);
            int payload = sent.Length - TcpFrames.HeaderLength(false);
            if (s.PayloadLength == payload && s.StreamOffset == key)
            {
                OffloadExchange.CheckAgainstSent(back, sent, host, guest);
                return [key];
            }
            Assert.True(s.PayloadLength <= Mss && (s.StreamOffset - key) % Mss == 0, $"a {s.PayloadLength}-byte segment at {s.StreamOffset - key} into a TSO frame (MSS {Mss})");
            seen[key] = seen.GetValueOrDefault(key) + s.PayloadLength;
            return seen[key] == payload ? [key] : [];
        }, ct);
        Assert.Equal(0, reassembly.Pending);
        return new Pieces(segments, fragments);
    }
}
