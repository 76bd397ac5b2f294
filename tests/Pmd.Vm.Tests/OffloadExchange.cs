using System.Buffers.Binary;
using System.Text.RegularExpressions;
using Pmd.TestSupport;

namespace Pmd.Vm.Tests;

/// <summary>
/// Sends keyed TCP frames to TestPmd's csum engine in a guest and checks what comes back, with a
/// bounded window: the offload VM tests' one loop.
/// </summary>
public static partial class OffloadExchange
{
    /// <summary>
    /// Sends the frames (by <paramref name="send"/>, or plainly) with at most <paramref name="window"/>
    /// outstanding; <paramref name="take"/> checks each TCP frame that comes back and says which sent
    /// frames it completed. Probes and frames that are not TCP are let through.
    /// </summary>
    public static async Task RunAsync(VmGuest vm, IGuestWire wire, IReadOnlyDictionary<int, byte[]> frames, int window, Func<byte[], int[]> take,
        CancellationToken ct, Action<int>? send = null)
    {
        send ??= key => wire.Send(frames[key]);
        var queue = new Queue<int>(frames.Keys.Order());
        var outstanding = new HashSet<int>();
        int done = 0;
        while (done < frames.Count)
        {
            while (outstanding.Count < window && queue.TryDequeue(out int key))
            {
                outstanding.Add(key);
                send(key);
            }
            var back = await wire.ReceiveAsync(MacSwapTraffic.StallTimeout, ct);
            if (back is null)
                Assert.Fail($"no frame came back for {MacSwapTraffic.StallTimeout.TotalSeconds:0} s: {done} of {frames.Count} done, outstanding {string.Join(", ", outstanding.Order().Take(8))}.\n{vm.Describe()}");
            if (!IsTcp(back)) continue;
            int[] completed;
            try { completed = take(back); }
            catch (InvalidDataException e) { throw new InvalidDataException($"a {back.Length}-byte frame came back wrong: {e.Message}\n{vm.Describe()}", e); }
            foreach (int key in completed)
            {
                Assert.True(outstanding.Remove(key), $"frame {key} came back twice or unsent.\n{vm.Describe()}");
                done++;
            }
        }
    }

    public static bool IsTcp(byte[] f) => f.Length >= 54 && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)) switch
    {
        0x0800 => f[23] == 6,
        0x86DD => f[20] == 6,
        _ => false,
    };

    /// <summary>The MACs the csum engine writes (the peer's, the port's), and every other byte as sent but the checksum fields.</summary>
    public static void CheckAgainstSent(byte[] back, byte[] sent, byte[] host, byte[] guest, bool ipv6 = false)
    {
        Assert.Equal(sent.Length, back.Length);
        Assert.Equal(host, back[..6]);
        Assert.Equal(guest, back[6..12]);
        var a = (byte[])back.Clone();
        var b = (byte[])sent.Clone();
        foreach (int field in ipv6 ? (int[])[TcpFrames.HeaderLength(true) - 4] : [TcpFrames.EthernetLength + 10, TcpFrames.HeaderLength(false) - 4])
        {
            a[field] = a[field + 1] = 0;
            b[field] = b[field + 1] = 0;
        }
        Assert.Equal(b[12..], a[12..]);
    }

    /// <summary>
    /// Waits for TestPmd, stops port 0, sets csum mode's <paramref name="settings"/> ("csum set tcp hw 0",
    /// "tso set 500 0", ...), starts it again and waits until it forwards; returns the probes that took.
    /// </summary>
    public static async Task<int> ConfigureCsumModeAsync(VmGuest vm, IGuestWire wire, byte[] host, byte[] guest, CancellationToken ct, params string[] settings)
    {
        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        TestPmdConsole.Send(vm, ["stop", "port stop 0", .. settings, "port start 0", "start"]);
        await vm.WaitForSerialAsync("Port 0: started", TimeSpan.FromSeconds(120), ct);
        return await MacSwapTraffic.WaitUntilForwardingAsync(vm, host, guest, TimeSpan.FromSeconds(150), ct, sendOn: wire);
    }

    /// <summary>The csum engine's Bad-ipcsum and Bad-l4csum from TestPmd's last forward-stats block, or null if it printed none.</summary>
    public static (int Ip, int L4)? EngineVerdicts(string guestOutput)
    {
        var all = BadCounts().Matches(guestOutput);
        if (all.Count == 0) return null;
        var last = all[^1];
        return (int.Parse(last.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(last.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [GeneratedRegex(@"Bad-ipcsum:\s*(\d+)\s+Bad-l4csum:\s*(\d+)")]
    private static partial Regex BadCounts();
}
