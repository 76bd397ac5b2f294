namespace Pmd.Vm.Tests;

/// <summary>
/// The hypervisor's unplug request reaches the application: QMP device_del on the guest NIC makes
/// the guest's vfio-pci relay a device request to the process holding the device, which VFIO's
/// request IRQ turns into TestPmd's "device request event". The removal completes once the process
/// closes the device fd. The same for every NIC: the request comes from vfio-pci, not the device.
/// </summary>
public sealed class DeviceRequestTests(ITestOutputHelper output)
{
    [Theory(Timeout = 600_000)]
    [InlineData(GuestNic.Virtio)]
    [InlineData(GuestNic.E1000e)]
    public async Task An_unplug_request_arrives_as_a_device_request_event_and_completes_when_the_device_is_released(GuestNic nic)
    {
        var ct = TestContext.Current.CancellationToken;
        string dll = TestPmdBuild.Locate();
        await using var vm = await VmGuest.StartAsync(
            new VmOptions($"device-request-{nic.RunVmName()}", GuestScripts.TestPmdMacSwap(dll, seconds: 45, nic: nic))
            {
                Nic = nic,
                TimeoutSeconds = 420,
                IommuAddressBits = 48,
            }, ct);
        await vm.WaitForSerialAsync("PMDVM-TESTPMD-START", TimeSpan.FromSeconds(240), ct);
        await vm.WaitForSerialAsync(log => log.Contains("link state change event (up)", StringComparison.Ordinal), TimeSpan.FromSeconds(150),
            "TestPmd's port to come up", ct);

        var qmp = await vm.QmpAsync(ct);
        await qmp.ExecuteAsync("device_del", new System.Text.Json.Nodes.JsonObject { ["id"] = "net0" }, cancellationToken: ct);
        double asked = vm.Elapsed.TotalSeconds;
        await vm.WaitForSerialAsync(log => log.Contains("device request event", StringComparison.Ordinal), TimeSpan.FromSeconds(60),
            "TestPmd's device request event after QMP device_del", ct);
        output.WriteLine($"device request event {vm.Elapsed.TotalSeconds - asked:0.0} s after device_del");
        Assert.False(qmp.Events.Any(e => e["event"]?.GetValue<string>() == "DEVICE_DELETED"),
            $"QEMU deleted the device while TestPmd still held it (before its --duration ended).\n{vm.Describe()}");

        // TestPmd keeps the device until its --duration ends; then the fd closes and QEMU finishes.
        await qmp.WaitForEventAsync("DEVICE_DELETED", TimeSpan.FromSeconds(180), cancellationToken: ct);
        output.WriteLine($"DEVICE_DELETED {vm.Elapsed.TotalSeconds - asked:0.0} s after device_del");
        int rc = await vm.WaitForExitAsync(TimeSpan.FromSeconds(120), ct);
        Assert.True(rc == 0, $"the guest command (TestPmd) exited {rc}.\n{vm.Describe()}");
    }
}
