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
        await MacSwapTraffic.WaitUntilForwardingAsync(vm, hostMac, guestMac, TimeSpan.FromSeconds(150), ct);
        double forwarding = vm.Elapsed.TotalSeconds;
        output.WriteLine($"TestPmd started at {started:0.0} s, forwarding at {forwarding:0.0} s");

        var clock = Stopwatch.StartNew();
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, guestMac, new FrameBatch(0, FrameCount, TestFrames.SizeOf, Window), ct);
        output.WriteLine($"{FrameCount} frames of {TestFrames.MinSize}..{TestFrames.MaxSize} bytes came back macswapped in {clock.Elapsed.TotalSeconds:0.0} s ({FrameCount / clock.Elapsed.TotalSeconds:0} frames/s)");

        await LinkFlap.DownAndUpAsync(vm, ct);

        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(ForwardSeconds + 180), ct);
        output.WriteLine($"guest powered off at {vm.Elapsed.TotalSeconds:0.0} s");
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
    }
}
