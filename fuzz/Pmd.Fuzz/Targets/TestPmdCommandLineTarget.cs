using System.Text;
using Pmd.TestPmd.Options;

namespace Pmd.Fuzz.Targets;

/// <summary>
/// testpmd-cmdline: TestPmd's CommandLine.Parse over the input as arguments, one per line. The
/// only errors allowed are UsageException (exit 2) and HelpRequested; a line that parses must
/// give options within the ranges --help documents.
/// </summary>
internal sealed class TestPmdCommandLineTarget : FuzzTarget
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    public override string Name => "testpmd-cmdline";

    public override void Run(ReadOnlySpan<byte> data)
    {
        string[] args = Utf8.GetString(data).Split('\n');
        CommandLine line;
        try
        {
            line = CommandLine.Parse(args);
        }
        catch (Exception e) when (e is UsageException or HelpRequested)
        {
            return;
        }
        var eal = line.Eal;
        var app = line.App;
        InvariantException.Check(eal.Devices.All(d => !string.IsNullOrWhiteSpace(d)), "an empty device string was accepted");
        if (eal.Lcores is { } lcores)
        {
            InvariantException.Check(lcores.Count > 0, "an empty lcore list was accepted");
            for (int i = 0; i < lcores.Count; i++)
                InvariantException.Check(lcores[i] >= 0 && lcores[i] <= LcoreList.MaxLcore && (i == 0 || lcores[i] > lcores[i - 1]),
                    "the lcore list is not sorted, distinct CPUs from 0 to 1023");
            if (eal.MainLcore is int main) InvariantException.Check(lcores.Contains(main), "a main lcore outside -l was accepted");
        }
        InvariantException.Check(app.Burst is >= 1 and <= AppOptions.MaxBurst, "--burst outside 1..512");
        InvariantException.Check(app.TxPacketLength is >= AppOptions.MinTxPacketLength and <= 2048, "--txpkts outside its range");
        InvariantException.Check(app.MaxPacketLength is null or >= AppOptions.MinMaxPacketLength, "--max-pkt-len below 64");
        InvariantException.Check(app.StatsPeriodSeconds is null or > 0, "--stats-period not positive");
        InvariantException.Check(app.DurationSeconds is null or > 0, "--duration not positive");
        InvariantException.Check(app.StatsJsonPath is null || app.StatsPeriodSeconds is not null, "--stats-json without --stats-period");
    }
}
