namespace Pmd.Vm.Tests;

/// <summary>Frames <paramref name="First"/>.. of one batch, <paramref name="SizeOf"/>(sequence) bytes each, at most <paramref name="Window"/> in flight.</summary>
public sealed record FrameBatch(uint First, int Count, Func<uint, int> SizeOf, int Window);

/// <summary>
/// The host's side of TestPmd forwarding in macswap mode on the guest NIC: probes until forwarding
/// has started, then batches of patterned frames (<see cref="TestFrames"/>) that must each come
/// back byte for byte with their MAC addresses swapped. <see cref="FrameChannel"/> counts every
/// frame either way, probes included.
/// </summary>
public static class MacSwapTraffic
{
    /// <summary>Sequence numbers of the frames that wait for forwarding to start; a batch's stay below.</summary>
    public const uint ProbeBase = 0xFFFF_0000;

    /// <summary>How long no frame may come back while some are outstanding.</summary>
    public static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Sends a probe frame every half second until one comes back swapped: TestPmd is then forwarding. Returns how many probes were sent.</summary>
    public static async Task<int> WaitUntilForwardingAsync(VmGuest vm, byte[] hostMac, byte[] guestMac, TimeSpan timeout, CancellationToken ct,
        IGuestWire? sendOn = null, IGuestWire? backOn = null)
    {
        sendOn ??= vm.Frames;
        backOn ??= sendOn;
        var deadline = DateTime.UtcNow + timeout;
        for (uint probe = ProbeBase; ; probe++)
        {
            string log = vm.SerialLog;
            // The latest TestPmd run counts: a guest may run it more than once.
            if (log.LastIndexOf("PMDVM-TESTPMD-EXIT", StringComparison.Ordinal) > log.LastIndexOf("PMDVM-TESTPMD-START", StringComparison.Ordinal) || vm.HasExited)
                Assert.Fail($"TestPmd ended before it forwarded a frame.\n{vm.Describe()}");
            if (DateTime.UtcNow >= deadline)
                Assert.Fail($"TestPmd did not forward a probe frame within {timeout.TotalSeconds:0} s of its start.\n{vm.Describe()}");
            sendOn.Send(TestFrames.Build(probe, TestFrames.MinSize, hostMac, guestMac));
            var back = await backOn.ReceiveAsync(TimeSpan.FromMilliseconds(500), ct);
            if (back is not null && TestFrames.SequenceOf(back) >= ProbeBase)
            {
                string? bad = TestFrames.MacSwapMismatch(TestFrames.Build(TestFrames.SequenceOf(back)!.Value, TestFrames.MinSize, hostMac, guestMac), back);
                if (bad is not null) Assert.Fail($"probe frame came back wrong: {bad}.\n{vm.Describe()}");
                return (int)(probe - ProbeBase + 1);
            }
        }
    }

    /// <summary>
    /// Sends the batch with at most its window in flight; every frame must come back once, byte for
    /// byte with its MACs swapped. Late probes are let through (they are counted by the channel).
    /// With <paramref name="sendOn"/> and <paramref name="backOn"/> (default: the guest's one wire), frames
    /// go out on one wire and must come back on the other, as with a failover pair.
    /// </summary>
    public static async Task SendAndCheckAsync(VmGuest vm, byte[] hostMac, byte[] guestMac, FrameBatch batch, CancellationToken ct,
        IGuestWire? sendOn = null, IGuestWire? backOn = null)
    {
        sendOn ??= vm.Frames;
        backOn ??= sendOn;
        if ((ulong)batch.First + (ulong)batch.Count > ProbeBase) throw new ArgumentOutOfRangeException(nameof(batch), "a batch's sequence numbers must stay below the probes'");
        var outstanding = new Dictionary<uint, byte[]>();
        uint next = batch.First, end = batch.First + (uint)batch.Count;
        int received = 0;
        while (received < batch.Count)
        {
            while (outstanding.Count < batch.Window && next < end)
            {
                var frame = TestFrames.Build(next, batch.SizeOf(next), hostMac, guestMac);
                outstanding[next++] = frame;
                sendOn.Send(frame);
            }
            var back = await backOn.ReceiveAsync(StallTimeout, ct);
            if (back is null)
                Assert.Fail($"no frame came back for {StallTimeout.TotalSeconds:0} s: {received} of {batch.Count} returned, {outstanding.Count} outstanding " +
                            $"(first: {string.Join(", ", outstanding.Keys.Order().Take(8).Select(s => $"{s} ({outstanding[s].Length} bytes)"))}).\n{vm.Describe()}");
            uint? seq = TestFrames.SequenceOf(back);
            if (seq is null || seq >= ProbeBase) continue;   // a late probe or a frame that is not ours
            if (!outstanding.Remove(seq.Value, out var sent))
                Assert.Fail($"frame {seq} came back {(seq >= batch.First && seq < next ? "twice" : $"without being sent in this batch ({batch.First}..{end - 1})")} ({received} returned so far).\n{vm.Describe()}");
            if (TestFrames.MacSwapMismatch(sent, back) is { } bad)
                Assert.Fail($"frame {seq} ({sent.Length} bytes) came back wrong: {bad}.\n{vm.Describe()}");
            received++;
        }
    }
}
