using System.Globalization;
using System.Text.RegularExpressions;

namespace Pmd.Vm.Tests;

/// <summary>A port's "Forward statistics" block, printed on stop: what its streams received and sent.</summary>
public readonly record struct ForwardCounts(ulong RxPackets, ulong RxDropped, ulong TxPackets, ulong TxDropped);

/// <summary>A port's "NIC statistics" block (show port stats): the driver's counters since the port started.</summary>
public readonly record struct NicCounts(ulong RxPackets, ulong RxMissed, ulong RxBytes, ulong TxPackets, ulong TxErrors, ulong TxBytes);

/// <summary>
/// One port's counters as TestPmd printed them for "stop", "show port stats N" and "show port
/// xstats N" (in testpmd's layout), read from the guest's output: the last block of each kind wins.
/// </summary>
public sealed partial record TestPmdCounters(ForwardCounts Forward, NicCounts Nic, IReadOnlyDictionary<string, ulong> Xstats)
{
    /// <summary>An xstat by name; a missing one fails with the names there are.</summary>
    public ulong Xstat(string name) => Xstats.TryGetValue(name, out ulong v)
        ? v
        : throw new KeyNotFoundException($"TestPmd printed no xstat {name} (it printed: {string.Join(", ", Xstats.Keys)})");

    /// <summary>Reads the three blocks for <paramref name="port"/>; throws <see cref="FormatException"/> saying which is missing.</summary>
    public static TestPmdCounters Parse(string output, int port = 0)
    {
        string forward = Block(output, $"Forward statistics for port {port} ", "forward statistics (TestPmd's \"stop\")");
        var rx = ForwardRx().Match(forward);
        var tx = ForwardTx().Match(forward);
        if (!rx.Success || !tx.Success) throw new FormatException($"no RX-/TX-packets lines in port {port}'s forward statistics:\n{Head(forward)}");

        string nic = Block(output, $"NIC statistics for port {port} ", "NIC statistics (\"show port stats\")");
        var nicRx = NicRx().Match(nic);
        var nicTx = NicTx().Match(nic);
        if (!nicRx.Success || !nicTx.Success) throw new FormatException($"no RX-/TX-packets lines in port {port}'s NIC statistics:\n{Head(nic)}");

        // The xstats run from their header to the next prompt: one "name: value" per line.
        string xstatsText = Block(output, $"NIC extended statistics for port {port}", "extended statistics (\"show port xstats\")");
        int prompt = xstatsText.IndexOf("testpmd>", StringComparison.Ordinal);
        if (prompt >= 0) xstatsText = xstatsText[..prompt];
        var xstats = new Dictionary<string, ulong>();
        foreach (Match m in XstatLine().Matches(xstatsText)) xstats[m.Groups[1].Value] = Number(m.Groups[2]);
        if (xstats.Count == 0) throw new FormatException($"port {port}'s extended statistics list no counters:\n{Head(xstatsText)}");

        return new TestPmdCounters(
            new ForwardCounts(Number(rx.Groups[1]), Number(rx.Groups[2]), Number(tx.Groups[1]), Number(tx.Groups[2])),
            new NicCounts(Number(nicRx.Groups[1]), Number(nicRx.Groups[2]), Number(nicRx.Groups[3]), Number(nicTx.Groups[1]), Number(nicTx.Groups[2]), Number(nicTx.Groups[3])),
            xstats);
    }

    private static string Block(string output, string header, string what)
    {
        int at = output.LastIndexOf(header, StringComparison.Ordinal);
        if (at < 0) throw new FormatException($"TestPmd printed no {what}: no \"{header.Trim()}\" in its output");
        return output[at..];
    }

    private static ulong Number(Group g) => ulong.Parse(g.Value, NumberStyles.None, CultureInfo.InvariantCulture);

    private static string Head(string text) => string.Join('\n', text.Split('\n').Take(12));

    [GeneratedRegex(@"RX-packets:\s*(\d+)\s+RX-dropped:\s*(\d+)")]
    private static partial Regex ForwardRx();

    [GeneratedRegex(@"TX-packets:\s*(\d+)\s+TX-dropped:\s*(\d+)")]
    private static partial Regex ForwardTx();

    [GeneratedRegex(@"RX-packets:\s*(\d+)\s+RX-missed:\s*(\d+)\s+RX-bytes:\s*(\d+)")]
    private static partial Regex NicRx();

    [GeneratedRegex(@"TX-packets:\s*(\d+)\s+TX-errors:\s*(\d+)\s+TX-bytes:\s*(\d+)")]
    private static partial Regex NicTx();

    [GeneratedRegex(@"^([a-z0-9_]+): (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex XstatLine();
}
