using System.Text;
using Pmd.Hotplug;
using Pmd.Threading;

namespace Pmd.Abstractions.Tests;

/// <summary>The uevent parser on real kernel text and on what must be refused; the monitor on the kernel's own socket.</summary>
public sealed class UeventTests
{
    // Captured from this machine's kernel (a "change" written to a PCI device's uevent file), byte for byte.
    private const string RealChange =
        "change@/devices/pci0000:00/0000:00:00.0\0ACTION=change\0DEVPATH=/devices/pci0000:00/0000:00:00.0\0SUBSYSTEM=pci\0SYNTH_UUID=0\0" +
        "PCI_CLASS=60000\0PCI_ID=8086:0D57\0PCI_SUBSYS_ID=0000:0000\0PCI_SLOT_NAME=0000:00:00.0\0" +
        "MODALIAS=pci:v00008086d00000D57sv00000000sd00000000bc06sc00i00\0SEQNUM=828\0";

    private static byte[] Bytes(string s) => Encoding.ASCII.GetBytes(s);

    [Fact]
    public void A_real_kernel_uevent_is_parsed_into_its_action_path_and_properties()
    {
        Assert.True(Uevent.TryParse(Bytes(RealChange), out var e));
        Assert.Equal("change", e!.Action);
        Assert.Equal("/devices/pci0000:00/0000:00:00.0", e.DevPath);
        Assert.Equal("pci", e.Subsystem);
        Assert.Equal("8086:0D57", e.Get("PCI_ID"));
        Assert.Equal("0000:00:00.0", e.Get("PCI_SLOT_NAME"));
        Assert.Equal("828", e.Get("SEQNUM"));
        Assert.Equal(10, e.Properties.Count);
    }

    public static TheoryData<string, string> Refused => new()
    {
        { RealChange[..^1], "truncated: the last field has no NUL" },
        { RealChange[..40], "truncated mid-field" },
        { "", "empty" },
        { "libudev\0\xfe\xed\xca\xfe\0", "udev's own format" },
        { "change/devices/x\0ACTION=change\0DEVPATH=/devices/x\0", "no @ in the header" },
        { "add@/devices/x\0ACTION=remove\0DEVPATH=/devices/x\0", "header and ACTION disagree" },
        { "add@/devices/x\0ACTION=add\0DEVPATH=/devices/y\0", "header and DEVPATH disagree" },
        { "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0NOEQUALS\0", "a field without =" },
        { "add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0K=\x01\0", "a control character" },
        { "add@devices/x\0ACTION=add\0DEVPATH=devices/x\0", "a path that is not absolute" },
        { "@/devices/x\0ACTION=\0DEVPATH=/devices/x\0", "no action" },
    };

    [Theory]
    [MemberData(nameof(Refused))]
    public void Truncated_garbage_and_foreign_messages_are_refused(string text, string why)
    {
        Assert.False(Uevent.TryParse(Encoding.Latin1.GetBytes(text), out var e), why);
        Assert.Null(e);
    }

    [Fact]
    public void A_message_longer_than_any_uevent_is_refused()
    {
        var big = Bytes("add@/devices/x\0ACTION=add\0DEVPATH=/devices/x\0K=" + new string('a', Uevent.MaxLength) + "\0");
        Assert.False(Uevent.TryParse(big, out _));
    }

    [Fact]
    public void The_monitor_hears_the_kernel_announce_a_pci_device()
    {
        string? device = Directory.Exists("/sys/bus/pci/devices") ? Directory.GetDirectories("/sys/bus/pci/devices").Order().FirstOrDefault() : null;
        Assert.True(device is not null, "this test needs a PCI device in /sys/bus/pci/devices to ask the kernel for a uevent");
        using var control = new ControlThread("uevent-test");
        using var heard = new System.Collections.Concurrent.BlockingCollection<Uevent>();
        using var monitor = new UeventMonitor(control, heard.Add);
        string slot = Path.GetFileName(device)!;
        // Writing "change" to a device's uevent file makes the kernel broadcast a uevent for it; nothing else happens.
        File.WriteAllText(Path.Combine(device!, "uevent"), "change");
        var deadline = DateTime.UtcNow.AddSeconds(5);
        Uevent? ours = null;
        while (ours is null && heard.TryTake(out var e, deadline - DateTime.UtcNow > TimeSpan.Zero ? deadline - DateTime.UtcNow : TimeSpan.Zero))
            if (e.Action == "change" && e.Get("PCI_SLOT_NAME") == slot) ours = e;
        Assert.True(ours is not null, $"no change uevent for {slot} within 5 s ({monitor.Delivered} delivered, {monitor.Rejected} rejected)");
        Assert.Equal("pci", ours!.Subsystem);
        Assert.Equal(File.ReadAllText(Path.Combine(device!, "vendor")).Trim()[2..], ours.Get("PCI_ID")![..4], StringComparer.OrdinalIgnoreCase);
    }
}
