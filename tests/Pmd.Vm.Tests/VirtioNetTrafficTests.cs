using System.Diagnostics;

namespace Pmd.Vm.Tests;

/// <summary>
/// The feature under test: in the guest, Pmd's TestPmd drives QEMU's virtio-net-pci device through
/// VFIO (vIOMMU, hugepages), forwarding in macswap mode; the host is the wire's other end.
/// </summary>
public sealed class VirtioNetTrafficTests(ITestOutputHelper output)
{
    private const int FrameCount = 10_000;
    private const int Window = 32;                 // frames in flight: bounded so QEMU's socket never overflows
    private const int ForwardSeconds = 60;         // TestPmd --duration
    private const uint ProbeBase = 0xFFFF_0000;    // sequence numbers of the frames that wait for forwarding to start
    private const string NetdevId = "n0";          // run-vm.sh's -netdev id (the device is net0)
    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Split rings with IOVA = VA behind a 48-bit vIOMMU; packed rings with IOVA = PA (--iova-mode=pa)
    /// behind QEMU's default 39-bit one, which cannot reach a process's virtual addresses.
    /// </summary>
    [Theory(Timeout = 900_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TestPmd_macswaps_every_frame_back_and_reports_link_flaps(bool packed)
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        string eal = packed ? "--iova-mode=pa" : "";
        await using var vm = await VmGuest.StartAsync(
            new VmOptions(packed ? "macswap-packed" : "macswap-split", GuestScripts.TestPmdMacSwap(dll, ForwardSeconds, eal))
            {
                Packed = packed,
                TimeoutSeconds = 480,
                IommuAddressBits = packed ? 39 : 48,
            }, ct);
        byte[] guestMac = Mac.Parse(vm.Options.Mac), hostMac = Mac.Parse("02:00:00:00:00:01");

        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        double started = vm.Elapsed.TotalSeconds;
        await WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(150), ct);
        double forwarding = vm.Elapsed.TotalSeconds;
        output.WriteLine($"TestPmd started at {started:0.0} s, forwarding at {forwarding:0.0} s");

        var clock = Stopwatch.StartNew();
        await SendAndCheckAsync(vm, hostMac, guestMac, ct);
        output.WriteLine($"{FrameCount} frames of {TestFrames.MinSize}..{TestFrames.MaxSize} bytes came back macswapped in {clock.Elapsed.TotalSeconds:0.0} s ({FrameCount / clock.Elapsed.TotalSeconds:0} frames/s)");

        var qmp = await vm.QmpAsync(ct);
        int mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(NetdevId, up: false, ct);
        await vm.WaitForSerialAsync(log => LinkEvents.ShowsDown(After(log, mark)), TimeSpan.FromSeconds(30),
            $"a link-down event in TestPmd's output after QMP set_link {NetdevId} off", ct);
        mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(NetdevId, up: true, ct);
        await vm.WaitForSerialAsync(log => LinkEvents.ShowsUp(After(log, mark)), TimeSpan.FromSeconds(30),
            $"a link-up event in TestPmd's output after QMP set_link {NetdevId} on", ct);

        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(ForwardSeconds + 180), ct);
        output.WriteLine($"guest powered off at {vm.Elapsed.TotalSeconds:0.0} s");
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
    }

    private static string After(string log, int mark) => log.Length > mark ? log[mark..] : "";

    /// <summary>Sends a probe frame every half second until one comes back swapped: TestPmd is then forwarding.</summary>
    private static async Task WaitUntilForwardingAsync(VmGuest vm, byte[] hostMac, byte[] guestMac, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        for (uint probe = ProbeBase; ; probe++)
        {
            if (vm.SerialLog.Contains("PMDVM-TESTPMD-EXIT", StringComparison.Ordinal) || vm.HasExited)
                Assert.Fail($"TestPmd ended before it forwarded a frame.\n{vm.Describe()}");
            if (DateTime.UtcNow >= deadline)
                Assert.Fail($"TestPmd did not forward a probe frame within {timeout.TotalSeconds:0} s of its start.\n{vm.Describe()}");
            vm.Frames.Send(TestFrames.Build(probe, TestFrames.MinSize, hostMac, guestMac));
            var back = await vm.Frames.ReceiveAsync(TimeSpan.FromMilliseconds(500), ct);
            if (back is not null && TestFrames.SequenceOf(back) >= ProbeBase)
            {
                string? bad = TestFrames.MacSwapMismatch(TestFrames.Build(TestFrames.SequenceOf(back)!.Value, TestFrames.MinSize, hostMac, guestMac), back);
                if (bad is not null) Assert.Fail($"probe frame came back wrong: {bad}.\n{vm.Describe()}");
                return;
            }
        }
    }

    /// <summary>10,000 patterned frames, at most <see cref="Window"/> in flight; every one must come back byte for byte with its MACs swapped.</summary>
    private static async Task SendAndCheckAsync(VmGuest vm, byte[] hostMac, byte[] guestMac, CancellationToken ct)
    {
        var outstanding = new Dictionary<uint, byte[]>();
        uint next = 0;
        int received = 0;
        while (received < FrameCount)
        {
            while (outstanding.Count < Window && next < FrameCount)
            {
                var frame = TestFrames.Build(next, TestFrames.SizeOf(next), hostMac, guestMac);
                outstanding[next++] = frame;
                vm.Frames.Send(frame);
            }
            var back = await vm.Frames.ReceiveAsync(StallTimeout, ct);
            if (back is null)
                Assert.Fail($"no frame came back for {StallTimeout.TotalSeconds:0} s: {received} of {FrameCount} returned, {outstanding.Count} outstanding " +
                            $"(first: {string.Join(", ", outstanding.Keys.Order().Take(8))}).\n{vm.Describe()}");
            uint? seq = TestFrames.SequenceOf(back);
            if (seq is null || seq >= ProbeBase) continue;   // a late probe or a frame that is not ours
            if (!outstanding.Remove(seq.Value, out var sent))
                Assert.Fail($"frame {seq} came back {(seq < next ? "twice" : "without being sent")} ({received} returned so far).\n{vm.Describe()}");
            if (TestFrames.MacSwapMismatch(sent, back) is { } bad)
                Assert.Fail($"frame {seq} ({sent.Length} bytes) came back wrong: {bad}.\n{vm.Describe()}");
            received++;
        }
    }
}
