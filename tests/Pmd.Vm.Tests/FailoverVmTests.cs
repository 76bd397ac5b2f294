using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Pmd.Vm.Tests;

/// <summary>
/// Virtio-net failover end to end in a guest: QEMU's virtio-net-pci with failover=on and a hidden
/// e1000e primary with the same MAC. TestPmd is started on the virtio device alone, with the
/// e1000e's id on its hotplug allow list. Once Pmd acks STANDBY, QEMU plugs the e1000e in, Pmd's
/// uevent monitor binds and probes it, and the failover port claims it by MAC: traffic then flows
/// on the primary. A link flap of the primary moves TX to virtio and back without letting the
/// primary go. TestPmd restarted finds both devices again by itself. Then, answering pings
/// (icmpecho), the hypervisor's unplug (device_del) releases the primary and pings go on over virtio.
/// </summary>
public sealed partial class FailoverVmTests(ITestOutputHelper output)
{
    private const string PrimaryNetdev = "n1";
    private const string PrimaryDevice = "primary0";

    [Fact(Timeout = 900_000)]
    public async Task The_hidden_primary_is_plugged_taken_and_carries_traffic_survives_a_link_flap_and_an_unplug_leaves_traffic_on_virtio()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("failover", GuestScripts.TestPmdInteractive(dll, GuestNic.Failover, "--forward-mode=macswap --hotplug-allow=8086:10d3", runs: 2))
            {
                Nic = GuestNic.Failover,
                TimeoutSeconds = 600,
                IommuAddressBits = 48,
            }, ct);
        var standby = vm.Frames;
        var primary = vm.PrimaryFrames!;
        byte[] guestMac = Mac.Parse(vm.Options.Mac), hostMac = Mac.Parse("02:00:00:00:00:01");
        var qmp = await vm.QmpAsync(ct);

        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        await qmp.WaitForEventAsync("FAILOVER_NEGOTIATED", TimeSpan.FromSeconds(150), cancellationToken: ct);
        double negotiated = vm.Elapsed.TotalSeconds;
        // TX is on the primary once frames sent on its wire come back on its wire.
        int probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(120), ct, sendOn: primary);
        output.WriteLine($"FAILOVER_NEGOTIATED at {negotiated:0.0} s; the primary forwards at {vm.Elapsed.TotalSeconds:0.0} s ({probes} probes)");
        // The event is printed on the control thread and reaches the serial console after the switch:
        // the echoes may come back first.
        await WaitForOutputAsync(vm, 0, "failover event (primary port", ct);

        uint seq = 0;
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(seq, 2000, TestFrames.SizeOf, 32), ct, sendOn: primary);
        seq += 2000;
        // What arrives on the standby is delivered too, and answered on the primary, where TX is.
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(seq, 200, TestFrames.SizeOf, 16), ct, sendOn: standby, backOn: primary);
        seq += 200;
        output.WriteLine("2000 frames on the primary's wire and 200 on the standby's came back on the primary's");

        // A link flap of the primary: TX moves to virtio and back; the primary stays paired.
        int mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(PrimaryNetdev, up: false, ct);
        await WaitForOutputAsync(vm, mark, "failover event (standby (primary link down))", ct);
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(seq, 500, TestFrames.SizeOf, 32), ct, sendOn: standby);
        seq += 500;
        mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(PrimaryNetdev, up: true, ct);
        await WaitForOutputAsync(vm, mark, "failover event (primary port", ct);
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(seq, 500, TestFrames.SizeOf, 32), ct, sendOn: primary);
        seq += 500;
        Assert.DoesNotContain("device released event", vm.SerialLog[mark..], StringComparison.Ordinal);
        output.WriteLine("link flap of the primary: TX on virtio while down, back on the primary when up, primary kept");

        // TestPmd restarted: the new process takes the virtio device (-a) and finds the primary, which
        // is plugged in already and still bound to vfio-pci, through its hotplug policy.
        mark = vm.SerialLog.Length;
        TestPmdConsole.Send(vm, "quit");
        await WaitForOutputAsync(vm, mark, "PMDVM-TESTPMD-START run=2", ct);
        probes = await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(120), ct, sendOn: primary);
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(seq, 500, TestFrames.SizeOf, 32), ct, sendOn: primary);
        seq += 500;
        output.WriteLine($"TestPmd restarted: the new process forwards on the primary again ({probes} probes, 500 frames)");

        // Pings, answered over the primary; then the hypervisor's unplug: TX moves to virtio and the
        // device is released, which ends QEMU's wait; the pings go on over virtio.
        mark = vm.SerialLog.Length;
        TestPmdConsole.SendTo(vm, 2, "stop", "set fwd icmpecho", "start");
        await WaitForOutputAsync(vm, mark, "icmpecho packet forwarding", ct);
        await PingTraffic.PingAsync(vm, primary, hostMac, guestMac, 50, ct);
        mark = vm.SerialLog.Length;
        var clock = Stopwatch.StartNew();
        await qmp.ExecuteAsync("device_del", new System.Text.Json.Nodes.JsonObject { ["id"] = PrimaryDevice }, cancellationToken: ct);
        await qmp.WaitForEventAsync("DEVICE_DELETED", TimeSpan.FromSeconds(60), cancellationToken: ct);
        double unplugSeconds = clock.Elapsed.TotalSeconds;
        await WaitForOutputAsync(vm, mark, "device request event", ct);
        await PingTraffic.PingAsync(vm, standby, hostMac, guestMac, 50, ct);
        output.WriteLine($"50 pings over the primary; device_del {PrimaryDevice} -> DEVICE_DELETED in {unplugSeconds:0.000} s; 50 pings over virtio afterwards");

        // "all" is the failover port alone (its halves are owned, so hidden); its id differs between runs.
        TestPmdConsole.SendTo(vm, 2, "show port xstats all", "quit");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(120), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
        string log = vm.GuestOutput;
        ulong Xstat(string name) => Regex.Match(log, $"^{name}: (\\d+)", RegexOptions.Multiline) is { Success: true } m
            ? ulong.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"no {name} in TestPmd's xstats of the failover port.\n{vm.Describe()}");
        ulong toPrimary = Xstat("failover_switches_to_primary"), toStandby = Xstat("failover_switches_to_standby");
        string Ms(string step) => (Xstat($"failover_last_release_{step}_us") / 1000.0).ToString("0.0", System.Globalization.CultureInfo.InvariantCulture);
        output.WriteLine($"second TestPmd's failover port: {toPrimary} switch to the primary, {toStandby} to the standby, {Xstat("failover_announcements_sent")} announcements; " +
                         $"release timeline after the request event (ms): TX off {Ms("tx_off")}, drained {Ms("drained")}, RX off {Ms("rx_off")}, stopped {Ms("stopped")}, closed {Ms("closed")}");
        Assert.Equal(1UL, toPrimary);                       // the primary found at start
        Assert.Equal(1UL, toStandby);                       // the unplug
        Assert.Equal(0UL, Xstat("failover_state"));         // StandbyOnly: no primary any more
        Assert.True(unplugSeconds < 5, $"QEMU's unplug took {unplugSeconds:0.0} s: the device was not released promptly.\n{vm.Describe()}");
    }

    private static Task<string> WaitForOutputAsync(VmGuest vm, int mark, string text, CancellationToken ct) =>
        vm.WaitForSerialAsync(log => log.Length > mark && log[mark..].Contains(text, StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            $"'{text}' in TestPmd's output", ct);
}
