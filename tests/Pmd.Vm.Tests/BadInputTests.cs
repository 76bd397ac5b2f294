namespace Pmd.Vm.Tests;

public sealed class BadInputTests(ITestOutputHelper output)
{
    [Fact(Timeout = 600_000)]
    public async Task TestPmd_on_an_address_with_no_device_exits_non_zero_with_one_line()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(new VmOptions("bad-address", GuestScripts.TestPmdBadAddress(dll, "0000:99:00.0")) { TimeoutSeconds = 300 }, ct);
        var said = await OneRunsOutputAsync(vm, ct);
        Assert.True(said.Rc != 0, $"TestPmd -a 0000:99:00.0 exited 0.\n{vm.Describe()}");
        AssertOneLine(said.Lines);
    }

    /// <summary>The e1000e is held by a first TestPmd (its VFIO group is open); a second one on the same address gets one line naming the holder.</summary>
    [Fact(Timeout = 600_000)]
    public async Task TestPmd_on_a_device_another_process_holds_exits_non_zero_with_one_line()
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions("busy-e1000e", GuestScripts.TestPmdBusyDevice(dll, GuestNic.E1000e)) { Nic = GuestNic.E1000e, TimeoutSeconds = 400, IommuAddressBits = 48 }, ct);
        var said = await OneRunsOutputAsync(vm, ct);
        Assert.Contains("PMDVM-HOLDER: 1 link-up line(s)", vm.GuestOutput, StringComparison.Ordinal);
        Assert.True(said.Rc != 0, $"a second TestPmd on a held device exited 0.\n{vm.Describe()}");
        AssertOneLine(said.Lines);
        Assert.Contains("busy", said.Lines[0], StringComparison.Ordinal);
        Assert.Contains("PMDVM-HOLDER-EXIT=0", vm.GuestOutput, StringComparison.Ordinal);
    }

    private static void AssertOneLine(List<string> said)
    {
        Assert.True(said.Count == 1, $"TestPmd printed {said.Count} lines, not one:\n{string.Join('\n', said)}");
        Assert.DoesNotContain("   at ", said[0], StringComparison.Ordinal);
    }

    /// <summary>What TestPmd printed between PMDVM-BEGIN and PMDVM-END, and its exit status.</summary>
    private async Task<(int Rc, List<string> Lines)> OneRunsOutputAsync(VmGuest vm, CancellationToken ct)
    {
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(300), ct);
        Assert.True(rc == 0, $"the guest script failed ({rc}).\n{vm.Describe()}");

        var lines = vm.GuestOutput.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        int begin = lines.IndexOf("PMDVM-BEGIN");
        int end = lines.FindIndex(l => l.StartsWith("PMDVM-END rc=", StringComparison.Ordinal));
        Assert.True(begin >= 0 && end > begin, $"no PMDVM-BEGIN/END around TestPmd's output.\n{vm.Describe()}");
        int testPmdRc = int.Parse(lines[end]["PMDVM-END rc=".Length..], System.Globalization.CultureInfo.InvariantCulture);
        var said = lines[(begin + 1)..end].Where(l => l.Trim().Length > 0).ToList();
        output.WriteLine($"TestPmd exited {testPmdRc}: {string.Join(" | ", said)}");
        return (testPmdRc, said);
    }
}
