using Pmd.Devargs;
using Pmd.Ethdev;
using Pmd.TestSupport;

namespace Pmd.Abstractions.Tests;

public sealed class DevArgsTests
{
    private sealed class TestDriver : PmdDriver
    {
        public override string Name => "net_test";

        public override IReadOnlyList<DevArgKey> Keys { get; } =
        [
            new("path", DevArgKind.Path, "socket path"),
            new("queues", DevArgKind.Integer, "queue pairs", 1, 8),
            new("server", DevArgKind.Bool, "listen instead of connect"),
            new("queue_size", DevArgKind.PowerOfTwo, "ring size", 2, 32768),
            new("mac", DevArgKind.Mac, "MAC address"),
        ];

        public override bool MatchesPci(ushort vendorId, ushort deviceId) => vendorId == 0x1af4 && deviceId == 0x1041;

        public override EthPort Probe(DevArgs args, PortRegistry registry) => new FakePort(args.Name, MacAddress.Parse(args.Get("mac") ?? "02:00:00:00:00:01"));
    }

    private static DriverRegistry Drivers()
    {
        var d = new DriverRegistry { PciIdReader = a => a.Bus == 4 ? ((ushort)0x1af4, (ushort)0x1041) : a.Bus == 5 ? ((ushort)0x8086, (ushort)0x10d3) : null };
        d.Register(new TestDriver());
        return d;
    }

    [Fact]
    public void A_virtual_device_string_splits_into_name_driver_and_pairs()
    {
        var a = DevArgs.Parse("net_test0,path=/tmp/x.sock,queues=2");
        Assert.Equal("net_test0", a.Name);
        Assert.Equal("net_test", a.Driver);
        Assert.False(a.IsPci);
        Assert.Equal([new("path", "/tmp/x.sock"), new("queues", "2")], a.Pairs);
        Assert.Equal("/tmp/x.sock", a.Get("path"));
        Assert.Null(a.Get("mac"));
        Assert.Same(Drivers().Resolve(a).GetType(), typeof(TestDriver));
    }

    [Fact]
    public void A_pci_address_is_recognised_in_long_and_short_form()
    {
        var a = DevArgs.Parse("0000:00:04.0");
        Assert.True(a.IsPci);
        Assert.Equal(new PciAddress(0, 0, 4, 0), a.Pci);
        Assert.Equal("0000:00:04.0", a.Name);
        Assert.Equal(new PciAddress(0, 0x3b, 2, 1), DevArgs.Parse("3b:02.1,queues=1").Pci);
        Assert.IsType<TestDriver>(Drivers().Resolve(DevArgs.Parse("0000:04:00.0")));
    }

    [Theory]
    [InlineData("", "the device string is empty")]
    [InlineData("   ", "the device string is empty")]
    [InlineData("0bad", "'0bad' is not a device name: use letters, digits and '_', starting with a letter, like net_virtio_user0")]
    [InlineData("net-test0", "'net-test0' is not a device name: use letters, digits and '_', starting with a letter, like net_virtio_user0")]
    [InlineData("net_test0,path", "net_test0: 'path' has no value; write path=VALUE")]
    [InlineData("net_test0,=x", "net_test0: '=x' has no key before '='")]
    [InlineData("net_test0,,path=x", "net_test0: empty argument (two commas in a row, or a trailing comma)")]
    [InlineData("net_test0,path=x,", "net_test0: empty argument (two commas in a row, or a trailing comma)")]
    [InlineData("net_test0,path=a,path=b", "net_test0: key 'path' is given twice")]
    [InlineData("0000:zz:04.0", "'0000:zz:04.0' is not a PCI address like 0000:00:04.0")]
    [InlineData("0000:00:40.0", "'0000:00:40.0' is not a PCI address like 0000:00:04.0")]
    public void Malformed_strings_are_rejected_with_a_message_naming_the_problem(string text, string message)
    {
        var e = Assert.Throws<DevArgsException>(() => DevArgs.Parse(text));
        Assert.Equal(message, e.Message);
    }

    [Theory]
    [InlineData("net_nope0", "net_nope0: no driver named 'net_nope' (known: net_test)")]
    [InlineData("net_test0,bogus=1", "net_test0: unknown key 'bogus' for net_test (known keys: path, queues, server, queue_size, mac)")]
    [InlineData("net_test0,queues=abc", "net_test0: 'queues=abc' is not an integer from 1 to 8")]
    [InlineData("net_test0,queues=9", "net_test0: 'queues=9' is not an integer from 1 to 8")]
    [InlineData("net_test0,queues=0", "net_test0: 'queues=0' is not an integer from 1 to 8")]
    [InlineData("net_test0,server=2", "net_test0: 'server=2' must be 0 or 1")]
    [InlineData("net_test0,server=yes", "net_test0: 'server=yes' must be 0 or 1")]
    [InlineData("net_test0,queue_size=300", "net_test0: 'queue_size=300' is not a power of two from 2 to 32768")]
    [InlineData("net_test0,queue_size=65536", "net_test0: 'queue_size=65536' is not a power of two from 2 to 32768")]
    [InlineData("net_test0,mac=52:54:00:zz:00:01", "net_test0: 'mac=52:54:00:zz:00:01' is not a MAC address like 52:54:00:12:34:56")]
    [InlineData("net_test0,path=", "net_test0: 'path=' must be a path")]
    [InlineData("0000:07:00.0", "0000:07:00.0: no such PCI device (nothing at /sys/bus/pci/devices/0000:07:00.0)")]
    [InlineData("0000:05:00.0", "0000:05:00.0: no driver for PCI device 8086:10d3")]
    public void Strings_a_driver_cannot_take_are_rejected_with_a_message_naming_the_problem(string text, string message)
    {
        var e = Assert.Throws<DevArgsException>(() => Drivers().Resolve(DevArgs.Parse(text)));
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void A_registry_attaches_a_port_from_a_string()
    {
        using var registry = new PortRegistry(Drivers());
        var port = registry.Attach("net_test0,mac=52:54:00:00:00:09");
        Assert.Equal("net_test0", port.Name);
        Assert.Equal(MacAddress.Parse("52:54:00:00:00:09"), port.MacAddress);
        Assert.Same(port, registry.Get(port.PortId));
    }

    private static readonly DevArgKey Size = new("size", DevArgKind.PowerOfTwo, "ring size", 2, 4096, "256");
    private static readonly DevArgKey Fast = new("fast", DevArgKind.Bool, "1: go fast", Default: "0");
    private static readonly DevArgKey Name = new("name", DevArgKind.Text, "a name");

    [Fact]
    public void Typed_getters_return_the_given_value_or_the_key_default_and_hold_defaults_to_the_key_rule()
    {
        var given = DevArgs.Parse("net_test0,size=1024,fast=1,name=abc");
        Assert.Equal(1024, given.GetInt(Size));
        Assert.True(given.GetBool(Fast));
        Assert.Equal("abc", given.GetText(Name));

        var bare = DevArgs.Parse("net_test0");
        Assert.Equal(256, bare.GetInt(Size));
        Assert.False(bare.GetBool(Fast));
        Assert.Null(bare.GetText(Name));

        // A key asked for as the wrong type is a bug in the driver; a bad default is caught too.
        Assert.Throws<ArgumentException>(() => bare.GetBool(Size));
        var badDefault = Size with { Default = "300" };
        var e = Assert.Throws<DevArgsException>(() => bare.GetInt(badDefault));
        Assert.Contains("size=300 is not a power of two", e.Message, StringComparison.Ordinal);
        var required = new DevArgKey("path", DevArgKind.Integer, "a number");
        Assert.Equal("net_test0: 'path=' is required (a number)", Assert.Throws<DevArgsException>(() => bare.GetInt(required)).Message);
    }
}
