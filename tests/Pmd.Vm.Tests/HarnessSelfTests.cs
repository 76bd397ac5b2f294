using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Pmd.Vm.Tests;

/// <summary>
/// Proves the harness itself with plain guest commands (no Pmd code in the guest): the device, its
/// IOMMU group, vfio-pci, /dev/vfio, hugepages, dotnet, both directions of the UDP wire, and QMP.
/// </summary>
public sealed class HarnessSelfTests(ITestOutputHelper output)
{
    [Theory(Timeout = 900_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Guest_has_the_virtio_net_device_vfio_hugepages_dotnet_and_the_udp_wire(bool packed)
    {
        var ct = TestContext.Current.CancellationToken;
        await VmGuest.EnsurePreparedAsync(ct);
        var clock = Stopwatch.StartNew();
        await using var vm = await VmGuest.StartAsync(new VmOptions(packed ? "selftest-packed" : "selftest-split", GuestScripts.SelfTest) { Packed = packed, TimeoutSeconds = 300 }, ct);

        // QMP answers while the guest boots.
        var qmp = await vm.QmpAsync(ct);
        var status = await qmp.ExecuteAsync("query-status", cancellationToken: ct);
        Assert.Equal("running", status?["status"]?.GetValue<string>());

        // Host -> guest: frames addressed to the guest's MAC; the guest counts them with the kernel driver.
        var log = await vm.WaitForSerialAsync("PMDVM-NET-READY", TimeSpan.FromSeconds(240), ct);
        double ready = clock.Elapsed.TotalSeconds;
        byte[] guestMac = Mac.Parse(vm.Options.Mac), hostMac = Mac.Parse("02:00:00:00:00:01");
        for (uint seq = 0; seq < GuestScripts.SelfTestFrames; seq++)
            vm.Frames.Send(TestFrames.Build(seq, TestFrames.SizeOf(seq * 97), hostMac, guestMac));

        // Guest -> host: the ARP requests of busybox arping arrive as UDP datagrams.
        var fromGuest = new List<byte[]>();
        while (!vm.SerialLog.Contains("PMDVM-TX-DONE", StringComparison.Ordinal) && !vm.HasExited && clock.Elapsed.TotalSeconds < ready + 60)
            fromGuest.AddRange(await vm.Frames.CollectAsync(TimeSpan.FromMilliseconds(500), ct));
        fromGuest.AddRange(await vm.Frames.CollectAsync(TimeSpan.FromMilliseconds(300), ct));

        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(300), ct);
        double total = clock.Elapsed.TotalSeconds;
        log = vm.SerialLog;
        string timing = $"boot to PMDVM-NET-READY {ready:0.0} s, boot to power-off {total:0.0} s (host wall)";
        output.WriteLine(timing);
        output.WriteLine(string.Join('\n', log.Split('\n').Where(l => l.StartsWith("PMDVM", StringComparison.Ordinal))));
        await File.WriteAllTextAsync(Path.Combine(vm.ResultsDir, "timing.txt"), timing + "\n", ct);

        string why = vm.Describe(60);
        Assert.True(rc == 0, $"run-vm.sh exited {rc}.\n{why}");
        Assert.Equal(0, vm.ExitStatus);
        Assert.Matches(new Regex(@"^PMDVM-ADDR=0000:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]\r?$", RegexOptions.Multiline), log);
        Assert.Matches(new Regex(@"^PMDVM-IOMMU-GROUP=\d+\r?$", RegexOptions.Multiline), log);
        Assert.Contains("PMDVM-DRIVER-BEFORE=virtio-pci", log, StringComparison.Ordinal);
        Assert.Contains($"PMDVM-RING-PACKED={(packed ? 1 : 0)}", log, StringComparison.Ordinal);
        Assert.Contains("PMDVM-DRIVER=vfio-pci", log, StringComparison.Ordinal);
        string group = Regex.Match(log, @"PMDVM-IOMMU-GROUP=(\d+)").Groups[1].Value;
        Assert.Contains($"PMDVM-VFIO-DEV=/dev/vfio/{group}", log, StringComparison.Ordinal);
        Assert.Contains("PMDVM-VFIO-CONTAINER=/dev/vfio/vfio", log, StringComparison.Ordinal);
        Assert.Contains("PMDVM-HUGETLBFS=/dev/hugepages", log, StringComparison.Ordinal);
        Assert.True(int.Parse(Regex.Match(log, @"PMDVM-HUGEPAGES=(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, why);
        Assert.Matches(new Regex(@"^PMDVM-DOTNET=10\.\d+\.\d+", RegexOptions.Multiline), log);
        Assert.Contains("PMDVM-SELFTEST-OK", log, StringComparison.Ordinal);

        int received = int.Parse(Regex.Match(log, @"PMDVM-RX-FRAMES=(\d+)").Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(received >= GuestScripts.SelfTestFrames, $"the guest counted {received} of {GuestScripts.SelfTestFrames} frames sent to it.\n{why}");
        Assert.True(fromGuest.Any(f => f.Length >= 14 && f.AsSpan(6, 6).SequenceEqual(guestMac) && f[12] == 0x08 && f[13] == 0x06),
            $"no ARP frame from the guest's MAC arrived on UDP port {vm.Frames.HostPort} ({fromGuest.Count} frames arrived).\n{why}");
    }
}
