namespace Pmd.Vm.Tests;

/// <summary>Takes the guest NIC's link down and up again through QMP; TestPmd must report each change (<see cref="LinkEvents"/>).</summary>
public static class LinkFlap
{
    /// <summary>run-vm.sh's -netdev id; set_link on it flips the link of its NIC (net0) too.</summary>
    public const string NetdevId = "n0";

    public static async Task DownAndUpAsync(VmGuest vm, CancellationToken ct)
    {
        var qmp = await vm.QmpAsync(ct);
        int mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(NetdevId, up: false, ct);
        await vm.WaitForSerialAsync(log => LinkEvents.ShowsDown(After(log, mark)), TimeSpan.FromSeconds(30),
            $"a link-down event in TestPmd's output after QMP set_link {NetdevId} off", ct);
        mark = vm.SerialLog.Length;
        await qmp.SetLinkAsync(NetdevId, up: true, ct);
        await vm.WaitForSerialAsync(log => LinkEvents.ShowsUp(After(log, mark)), TimeSpan.FromSeconds(30),
            $"a link-up event in TestPmd's output after QMP set_link {NetdevId} on", ct);
    }

    private static string After(string log, int mark) => log.Length > mark ? log[mark..] : "";
}
