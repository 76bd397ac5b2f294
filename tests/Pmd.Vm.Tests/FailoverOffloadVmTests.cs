using System.Buffers.Binary;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// An offload the app asked the failover port for once, kept while traffic moves between the
/// devices under it: TestPmd's csum engine on the failover port with the IPv4 header checksum by
/// the port (--tx-offloads=0x2) and the TCP checksum by the engine. On the e1000e primary QEMU's
/// device computes the IP checksum; on the virtio standby (its UDP netdev has no vnet headers, so
/// QEMU offers virtio no checksum offload) Pmd's virtio driver does. Frames go out with a wrong
/// IPv4 checksum and come back right on the primary, on the standby while the primary's link is
/// down, and on the primary again, every byte checked. (Both devices do the IPv4 header checksum,
/// so that is what the failover port offers: what both do, as Linux's net_failover.)
/// </summary>
public sealed class FailoverOffloadVmTests(ITestOutputHelper output)
{
    private const string PrimaryNetdev = "n1";
    private const int Frames = 200, Window = 16;
    // The failover port is port 1 (the virtio standby, taken with -a, is 0): csum writes the
    // default peer of port 1, 02:00:00:00:00:01, as the destination.
    private static readonly MacAddress HostMac = MacAddress.Parse("02:00:00:00:00:01");

    [Fact(Timeout = 900_000)]
    public async Task The_ip_checksum_offload_stays_correct_on_the_primary_on_the_standby_and_back()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("failover-offload", GuestScripts.TestPmdInteractive(dll, GuestNic.Failover, "--forward-mode=csum --tx-offloads=0x2 --hotplug-allow=8086:10d3"))
            {
                Nic = GuestNic.Failover,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        var standby = vm.Frames;
        var primary = vm.PrimaryFrames!;
        var guestMac = MacAddress.Parse(vm.Options.Mac);
        byte[] host = Mac.Parse(HostMac.ToString()), guest = Mac.Parse(vm.Options.Mac);
        var qmp = await vm.QmpAsync(ct);

        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        await qmp.WaitForEventAsync("FAILOVER_NEGOTIATED", TimeSpan.FromSeconds(150), cancellationToken: ct);
        int probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, host, guest, TimeSpan.FromSeconds(120), ct, sendOn: primary);
        output.WriteLine($"csum mode forwards on the primary after {probes} probes");

        await ExchangeAsync(vm, primary, guestMac, 0, ct);
        output.WriteLine($"{Frames} frames with a wrong IPv4 checksum came back right over the e1000e primary");

        int mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(PrimaryNetdev, up: false, ct);
        await vm.WaitForSerialAsync(log => log.Length > mark && log[mark..].Contains("failover event (standby (primary link down))", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the switch to the standby", ct);
        await ExchangeAsync(vm, standby, guestMac, 1_000_000, ct);
        output.WriteLine($"{Frames} came back right over the virtio standby (the driver's IPv4 checksum)");

        mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(PrimaryNetdev, up: true, ct);
        await vm.WaitForSerialAsync(log => log.Length > mark && log[mark..].Contains("failover event (primary port", StringComparison.Ordinal),
            TimeSpan.FromSeconds(60), "the switch back to the primary", ct);
        await ExchangeAsync(vm, primary, guestMac, 2_000_000, ct);
        output.WriteLine($"{Frames} came back right over the primary again");

        TestPmdConsole.Send(vm, "stop", "show port xstats all", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(120), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        // The devices did the checksums, not the failover port's software fallback: both have it.
        Assert.Contains("failover_sw_checksums: 0", vm.GuestOutput);
        Assert.Contains("failover_switches_to_standby: 1", vm.GuestOutput);
    }

    /// <summary>Sends <see cref="Frames"/> TCP/IPv4 frames with a wrong IP checksum on <paramref name="channel"/>, at most <see cref="Window"/> outstanding; each must come back there, right.</summary>
    private static async Task ExchangeAsync(VmGuest vm, FrameChannel channel, MacAddress guestMac, int streamBase, CancellationToken ct)
    {
        var outstanding = new HashSet<int>();
        int next = 0, done = 0;
        while (done < Frames)
        {
            while (outstanding.Count < Window && next < Frames)
            {
                int offset = streamBase + next * 1000;
                var f = TcpFrames.Bytes(false, 100 + next * 7 % 900, HostMac, guestMac, streamOffset: offset, ipId: (ushort)next);
                f[24] ^= 0xFF; // a wrong IPv4 header checksum: the offload must make it right
                channel.Send(f);
                outstanding.Add(offset);
                next++;
            }
            var back = await channel.ReceiveAsync(MacSwapTraffic.StallTimeout, ct);
            if (back is null)
                Assert.Fail($"no frame came back for {MacSwapTraffic.StallTimeout.TotalSeconds:0} s: {done} of {Frames} done.\n{vm.Describe()}");
            if (back.Length < 54 || BinaryPrimitives.ReadUInt16BigEndian(back.AsSpan(12)) != 0x0800 || back[23] != 6) continue; // probes, announcements
            TcpFrames.Segment s;
            try { s = TcpFrames.Check(back, ipv6: false); }
            catch (InvalidDataException e) { throw new InvalidDataException($"a {back.Length}-byte frame came back wrong: {e.Message}\n{vm.Describe()}", e); }
            Assert.True(outstanding.Remove(s.StreamOffset), $"frame at stream offset {s.StreamOffset} came back twice or unsent");
            done++;
        }
    }
}
