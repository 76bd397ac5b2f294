using System.Diagnostics;
using System.Text.Json;

namespace TestPmd.Tests;

/// <summary>
/// The "Pmd" meter seen by the real client, dotnet-counters (a local tool: .config/dotnet-tools.json,
/// restored by tools/setup-host.sh), attached to a TestPmd that forwards against DPDK's vhost backend.
/// </summary>
public sealed class MetricsTests
{
    [Fact]
    public async Task Dotnet_counters_reads_nonzero_packet_rates_and_the_pools_in_use_count_from_a_running_testpmd()
    {
        using var backend = Peer.Start("rxonly");
        using var ours = TestPmdProcess.Start([.. Peer.Eal(backend.Socket), "--forward-mode=txonly", "--duration=14"]);
        ours.WaitForOutput("Forwarding for 14 s");
        string output = Path.Combine(Path.GetTempPath(), $"pmd-counters-{Environment.ProcessId}.json");
        File.Delete(output);
        var (exit, log) = await DotnetCounters("collect", "-p", $"{ours.ProcessId}", "--counters", "Pmd", "--format", "json",
            "-o", output, "--refresh-interval", "1", "--duration", "00:00:00:06");
        ours.WaitForExit(TimeSpan.FromSeconds(40));
        backend.Stop();
        Assert.True(exit == 0 && File.Exists(output), $"dotnet-counters collect failed ({exit}): {log}");

        // One event per instrument, tag set and interval: {"name": ..., "tags": ..., "value": ...}.
        var events = ReadEvents(output);
        var txRates = events.Where(e => e.Name.StartsWith("pmd.port.tx.packets", StringComparison.Ordinal)).Select(e => e.Value).ToList();
        Assert.True(txRates.Count >= 3, $"too few pmd.port.tx.packets readings: {string.Join("; ", events.Select(e => e.Name).Distinct())}");
        Assert.True(txRates.Max() > 100_000, $"TX rate never above 100k packets per interval: {string.Join(", ", txRates)}");
        var inUse = events.Where(e => e.Name.StartsWith("pmd.mempool.in_use", StringComparison.Ordinal)).Select(e => e.Value).ToList();
        Assert.NotEmpty(inUse);
        Assert.True(inUse.Max() > 0, "no mbuf ever in use while forwarding");
        Assert.True(ours.ExitCode == 0, ours.Stdout + ours.Stderr);
    }

    private readonly record struct CounterEvent(string Name, string Tags, double Value);

    private static List<CounterEvent> ReadEvents(string path)
    {
        string text = File.ReadAllText(path);
        // dotnet-counters leaves the JSON unterminated when the target exits first; close it.
        using var doc = TryParse(text) ?? TryParse(text.TrimEnd().TrimEnd(',') + "]}")
            ?? throw new InvalidDataException($"dotnet-counters wrote no JSON: {text[..Math.Min(text.Length, 400)]}");
        var events = new List<CounterEvent>();
        foreach (var e in doc.RootElement.GetProperty("Events").EnumerateArray())
            events.Add(new CounterEvent(e.GetProperty("name").GetString()!, e.TryGetProperty("tags", out var t) ? t.GetString() ?? "" : "", e.GetProperty("value").GetDouble()));
        return events;
    }

    private static JsonDocument? TryParse(string text)
    {
        try
        {
            return JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Runs the repository's local dotnet-counters with <paramref name="args"/>; fails clearly when the tool is not restored.</summary>
    private static async Task<(int Exit, string Log)> DotnetCounters(params string[] args)
    {
        // The tool manifest is at the repository's root, above this test's output directory.
        var repoDir = new DirectoryInfo(AppContext.BaseDirectory);
        while (repoDir is not null && !File.Exists(Path.Combine(repoDir.FullName, ".config", "dotnet-tools.json"))) repoDir = repoDir.Parent;
        string repo = repoDir?.FullName ?? throw new InvalidOperationException($"no .config/dotnet-tools.json above {AppContext.BaseDirectory}");
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = repo, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in (string[])["tool", "run", "dotnet-counters", "--", .. args]) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromSeconds(60))) p.Kill(entireProcessTree: true);
        string log = await stdout + await stderr;
        if (log.Contains("Cannot find a tool in the manifest", StringComparison.Ordinal) || log.Contains("not restored", StringComparison.OrdinalIgnoreCase))
            Assert.Fail($"dotnet-counters is not restored in {repo}: run 'dotnet tool restore' (tools/setup-host.sh does). {log}");
        return (p.ExitCode, log);
    }
}
