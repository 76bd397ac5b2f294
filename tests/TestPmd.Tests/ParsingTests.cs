using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Pmd.Ethdev;
using Pmd.TestPmd.Forwarding;
using Pmd.TestPmd.Options;

namespace TestPmd.Tests;

/// <summary>The parts that need no peer: command-line parsing, lcore lists, stream layout and the UDP frame.</summary>
public sealed class ParsingTests
{
    [Fact]
    public void Both_option_forms_and_the_split_at_double_dash_parse_alike()
    {
        var a = CommandLine.Parse(["--vdev", "net_virtio_user0,path=/x", "-l", "0-1", "--no-pci", "--file-prefix", "p", "--",
            "--forward-mode=macswap", "--burst", "64", "--txpkts=128", "--eth-peer", "0,02:00:00:00:00:07", "--stats-period=2"]);
        Assert.Equal(["net_virtio_user0,path=/x"], a.Eal.Devices);
        Assert.Equal([0, 1], a.Eal.Lcores);
        Assert.Equal(ForwardMode.MacSwap, a.App.Mode);
        Assert.Equal(64, a.App.Burst);
        Assert.Equal(128, a.App.TxPacketLength);
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:07"), a.App.EthPeers[0]);
        Assert.Equal(2.0, a.App.StatsPeriodSeconds);
    }

    [Fact]
    public void Telemetry_is_on_by_default_with_dpdks_file_prefix_and_no_telemetry_turns_it_off()
    {
        var a = CommandLine.Parse(["-a", "0000:01:00.0"]);
        Assert.True(a.Eal.Telemetry);
        Assert.Equal("rte", a.Eal.FilePrefix);
        var b = CommandLine.Parse(["-a", "0000:01:00.0", "--file-prefix=vm1", "--no-telemetry"]);
        Assert.False(b.Eal.Telemetry);
        Assert.Equal("vm1", b.Eal.FilePrefix);
        Assert.Equal("invalid --file-prefix 'a/b': expected a name without '/'",
            Assert.Throws<UsageException>(() => CommandLine.Parse(["--file-prefix", "a/b"])).Message);
        Assert.Contains("--no-telemetry", Usage.Text, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_level_takes_dpdk_numbers_names_and_log_types()
    {
        var a = CommandLine.Parse(["-a", "0000:01:00.0", "--log-level=8", "--log-level", "pmd.hotplug:info", "--log-level=pmd.net.*:NOTICE", "--log-level=lib.eal:3"]);
        Assert.Equal(
            [new(null, LogLevel.Debug), new("pmd.hotplug", LogLevel.Information), new("pmd.net", LogLevel.Information), new("lib.eal", LogLevel.Critical)],
            a.Eal.LogLevels);
        Assert.Empty(CommandLine.Parse(["-a", "0000:01:00.0"]).Eal.LogLevels);
        Assert.Contains("'verbose' is not a level", Assert.Throws<UsageException>(() => CommandLine.Parse(["--log-level=pmd:verbose"])).Message, StringComparison.Ordinal);
        Assert.Contains("'9' is not a level", Assert.Throws<UsageException>(() => CommandLine.Parse(["--log-level=9"])).Message, StringComparison.Ordinal);
        Assert.Contains("no log type", Assert.Throws<UsageException>(() => CommandLine.Parse(["--log-level=:info"])).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Max_pkt_len_asks_for_an_mtu_of_the_frame_less_header_and_crc()
    {
        Assert.Null(CommandLine.Parse(["-a", "0000:01:00.0"]).App.Mtu);
        var a = CommandLine.Parse(["-a", "0000:01:00.0", "--", "--max-pkt-len=9018"]);
        Assert.Equal(9018, a.App.MaxPacketLength);
        Assert.Equal(9000, a.App.Mtu);
        Assert.Equal(1500, CommandLine.Parse(["-a", "0000:01:00.0", "--", "--max-pkt-len", "1518"]).App.Mtu);
        var e = Assert.Throws<UsageException>(() => CommandLine.Parse(["-a", "0000:01:00.0", "--", "--max-pkt-len=63"]));
        Assert.Equal("invalid value '63' for --max-pkt-len: expected an integer in 64..65535", e.Message);
    }

    [Theory]
    [InlineData("0-1", new[] { 0, 1 })]
    [InlineData("0,2", new[] { 0, 2 })]
    [InlineData("3,1-2", new[] { 1, 2, 3 })]
    public void Lcore_lists_read_like_eals(string text, int[] expected) => Assert.Equal(expected, LcoreList.Parse(text));

    [Fact]
    public void Paired_topology_sends_port_i_to_port_i_xor_1_and_a_lone_port_to_itself()
    {
        Assert.Equal(1, StreamLayout.PeerIndex(0, 2));
        Assert.Equal(0, StreamLayout.PeerIndex(1, 2));
        Assert.Equal(0, StreamLayout.PeerIndex(0, 1));
        Assert.Equal(2, StreamLayout.PeerIndex(2, 3));
        Assert.Equal(MacAddress.Parse("02:00:00:00:00:03"), StreamLayout.DefaultPeer(3));
    }

    [Theory]
    [InlineData(42)]
    [InlineData(64)]
    [InlineData(1518)]
    public void The_txonly_frame_is_udp_over_ipv4_with_a_valid_header_checksum(int length)
    {
        var t = new UdpFrameTemplate(length, MacAddress.Parse("02:00:00:00:00:01"), MacAddress.Parse("02:00:00:00:00:02"));
        var f = t.Frame;
        Assert.Equal(length, f.Length);
        Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(f[12..]));
        Assert.Equal(length - 14, BinaryPrimitives.ReadUInt16BigEndian(f[16..]));
        Assert.Equal(17, f[23]);
        Assert.Equal(0xC6120001u, BinaryPrimitives.ReadUInt32BigEndian(f[26..]));
        Assert.Equal(0xC6120002u, BinaryPrimitives.ReadUInt32BigEndian(f[30..]));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(f[34..]));
        Assert.Equal(9, BinaryPrimitives.ReadUInt16BigEndian(f[36..]));
        Assert.Equal(0xFFFFu, HeaderSum(f[14..34]));
    }

    [Fact]
    public void Every_flowgen_flow_gets_a_valid_header_checksum()
    {
        var t = new UdpFrameTemplate(64, MacAddress.Parse("02:00:00:00:00:01"), MacAddress.Parse("02:00:00:00:00:02"));
        var f = t.Frame.ToArray();
        for (int flow = 0; flow < FlowGenEngine.Flows; flow++)
        {
            ushort low = (ushort)(UdpFrameTemplate.DestinationIp + flow);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(UdpFrameTemplate.IpDestinationLowOffset), low);
            BinaryPrimitives.WriteUInt16BigEndian(f.AsSpan(UdpFrameTemplate.IpChecksumOffset), t.ChecksumFor(low));
            Assert.Equal(0xFFFFu, HeaderSum(f.AsSpan(14, 20)));
        }
    }

    private static uint HeaderSum(ReadOnlySpan<byte> ip)
    {
        uint sum = 0;
        for (int i = 0; i < ip.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(ip[i..]);
        while (sum > 0xFFFF) sum = (sum & 0xFFFF) + (sum >> 16);
        return sum;
    }
}
