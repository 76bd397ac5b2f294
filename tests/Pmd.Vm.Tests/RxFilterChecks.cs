namespace Pmd.Vm.Tests;

/// <summary>
/// The NIC's receive filter through TestPmd's console: frames to a foreign unicast MAC or to a
/// multicast group are dropped by the NIC until `set promisc` / `set allmulti` turn them on, and
/// dropped again once they are off.
/// </summary>
public static class RxFilterChecks
{
    private static readonly byte[] Foreign = Mac.Parse("02:00:00:00:00:99");
    private static readonly byte[] Multicast = Mac.Parse("01:00:5e:00:00:fb");
    private const int Dropped = 20;
    private static readonly TimeSpan QuietTime = TimeSpan.FromSeconds(1);

    /// <summary>Runs the checks with frames numbered from <paramref name="first"/>; returns how many frames the NIC was expected to drop (and did).</summary>
    public static async Task<int> RunAsync(VmGuest vm, byte[] hostMac, uint first, CancellationToken ct)
    {
        uint seq = first;
        int dropped = 0;
        dropped += await ExpectDroppedAsync(vm, hostMac, Foreign, seq, "a foreign unicast MAC without promiscuous mode", ct);
        seq += Dropped;
        dropped += await ExpectDroppedAsync(vm, hostMac, Multicast, seq, "a multicast MAC without all-multicast mode", ct);
        seq += Dropped;

        await SetAsync(vm, "set promisc 0 on", "Port 0: promiscuous mode enabled", ct);
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, Foreign, new FrameBatch(seq, 100, TestFrames.SizeOf, 16), ct);
        seq += 100;
        await SetAsync(vm, "set promisc 0 off", "Port 0: promiscuous mode disabled", ct);
        dropped += await ExpectDroppedAsync(vm, hostMac, Foreign, seq, "a foreign unicast MAC after promiscuous mode was turned off", ct);
        seq += Dropped;

        await SetAsync(vm, "set allmulti 0 on", "Port 0: all-multicast mode enabled", ct);
        await MacSwapTraffic.SendAndCheckAsync(vm, hostMac, Multicast, new FrameBatch(seq, 100, TestFrames.SizeOf, 16), ct);
        seq += 100;
        await SetAsync(vm, "set allmulti 0 off", "Port 0: all-multicast mode disabled", ct);
        dropped += await ExpectDroppedAsync(vm, hostMac, Multicast, seq, "a multicast MAC after all-multicast mode was turned off", ct);
        return dropped;
    }

    /// <summary>Sequence numbers <see cref="RunAsync"/> uses from its first.</summary>
    public const int SequenceSpan = 4 * Dropped + 200;

    /// <summary>Frames <see cref="RunAsync"/> sends that must come back.</summary>
    public const int Forwarded = 200;

    private static async Task SetAsync(VmGuest vm, string command, string answer, CancellationToken ct)
    {
        int mark = vm.SerialLog.Length;
        TestPmdConsole.Send(vm, command);
        await vm.WaitForSerialAsync(log => log.Length > mark && log[mark..].Contains(answer, StringComparison.Ordinal), TimeSpan.FromSeconds(30),
            $"TestPmd's answer '{answer}' to '{command}'", ct);
    }

    private static async Task<int> ExpectDroppedAsync(VmGuest vm, byte[] hostMac, byte[] destination, uint first, string what, CancellationToken ct)
    {
        for (uint i = 0; i < Dropped; i++) vm.Frames.Send(TestFrames.Build(first + i, TestFrames.SizeOf(first + i), hostMac, destination));
        var back = await vm.Frames.ReceiveAsync(QuietTime, ct);
        if (back is not null)
            Assert.Fail($"a frame to {what} came back (sequence {TestFrames.SequenceOf(back)?.ToString() ?? "none"}): the NIC should have dropped it.\n{vm.Describe()}");
        return Dropped;
    }
}
