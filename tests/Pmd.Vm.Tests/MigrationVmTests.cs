using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Pmd.Vm.Tests;

/// <summary>
/// A live migration with traffic (tests/vm/migration/migrate.py): TestPmd (icmpecho) on a failover
/// port in a guest whose virtio standby and e1000e primary each have a tap on a Linux bridge in a
/// network namespace; a peer exchanges 2,000 sequence-numbered echoes a second with it and ping
/// runs every 10 ms. QEMU unplugs the primary (Pmd lets it go), migrates the guest to a second
/// QEMU, whose primary Pmd takes again. Asserted from the peer's counts: nothing is lost outside
/// the hypervisor's own downtime (the guest is stopped then) beyond a few frames, and the primary
/// carries the traffic again on the destination.
/// </summary>
public sealed class MigrationVmTests(ITestOutputHelper output)
{
    [Fact(Timeout = 1_200_000)]
    public async Task A_guest_on_a_failover_port_migrates_with_traffic_and_is_back_on_the_primary()
    {
        var result = await RunAsync(["--mode", "pmd", "--rounds", "1"]);
        var round = result["rounds"]![0]!;
        var phases = result["peer"]![0]!.AsObject();
        double Lost(string phase) => phases[phase]!["lost_ms"]!.GetValue<double>();
        int Count(string phase, string what) => phases[phase]![what]!.GetValue<int>();

        Assert.True(Count("before", "sent") > 2000, "the peer hardly sent anything before the migration");
        Assert.Equal(0, Count("before", "lost"));
        // Outside the downtime (the guest is not running), what is lost is a few frames, not the kernel's seconds.
        double outside = Lost("wait-unplug") + Lost("on-virtio") + Lost("dest-virtio") + Lost("after");
        Assert.True(outside < 100, $"{outside} ms of traffic lost outside the hypervisor's downtime");
        foreach (var p in phases) Assert.Equal(0, p.Value!["dup"]!.GetValue<int>());
        Assert.True(Count("after", "sent") > 2000, "no traffic measured once the primary was back");
        Assert.Equal(0, Count("after", "lost"));
        Assert.NotNull(round["primary"]);   // the re-plugged primary carries the replies
        double replug = round["primary"]!.GetValue<double>() - round["replug"]!.GetValue<double>();
        Assert.True(replug < 10, $"the primary took {replug:0.00} s after the re-plug to carry the traffic");
        var x = round["xstats"]!;
        Assert.Equal(2UL, x["failover_switches_to_primary"]!.GetValue<ulong>());   // at boot, and on the destination
        Assert.True(x["failover_announce_requests"]!.GetValue<ulong>() > 0, "the destination's QEMU never asked for an announcement");
        Assert.Contains("PMDVM-TESTPMD-EXIT=0", result["guest_exit"]!.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact(Timeout = 1_200_000)]
    public async Task A_cancelled_migration_gives_the_primary_back_and_a_guest_without_one_migrates_on_virtio()
    {
        var cancelled = await RunAsync(["--mode", "pmd", "--cancel", "--rounds", "0"]);
        Assert.NotNull(cancelled["cancel"]!["primary_back"]);   // Pmd took the re-plugged primary on the source again

        var alone = await RunAsync(["--mode", "pmd", "--no-primary", "--rounds", "1"]);
        var phases = alone["peer"]![0]!.AsObject();
        Assert.Equal(0, phases["before"]!["lost"]!.GetValue<int>());
        Assert.True(phases["dest-virtio"]!["sent"]!.GetValue<int>() > 2000, "no traffic measured on the destination");
        Assert.True(phases["dest-virtio"]!["lost_ms"]!.GetValue<double>() < 50, "traffic lost on the destination's virtio");
    }

    private async Task<JsonNode> RunAsync(string[] args)
    {
        var ct = TestContext.Current.CancellationToken;
        string json = Path.Combine(Path.GetTempPath(), $"pmd-migration-{Guid.NewGuid():N}.json");
        string testPmd = Path.GetDirectoryName(TestPmdBuild.Locate())!;
        var psi = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(VmGuest.ScriptDir, "migration", "migrate.py"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var a in new[] { "--testpmd", testPmd, "--json", json }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct);
        output.WriteLine(await stdout);
        output.WriteLine(await stderr);
        Assert.True(process.ExitCode == 0, $"migrate.py {string.Join(' ', args)} exited {process.ExitCode}:\n{await stderr}");
        var result = JsonNode.Parse(await File.ReadAllTextAsync(json, ct))!;
        File.Delete(json);
        return result;
    }
}
