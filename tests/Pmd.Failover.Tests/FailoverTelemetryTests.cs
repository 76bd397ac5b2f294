using System.Text.Json;
using Pmd.Telemetry;
using Pmd.TestSupport;

namespace Pmd.Failover.Tests;

/// <summary>Telemetry's /failover/... commands, and what /ethdev/... shows of a failover pair, over fake ports.</summary>
public sealed class FailoverTelemetryTests
{
    [Fact]
    public void Failover_info_follows_the_state_the_paths_and_the_switches()
    {
        using var f = new FakePair();
        string prefix = $"pmdtel-fo-{Environment.ProcessId}";
        using var telemetry = PmdTelemetry.Start(f.Registry, prefix);
        try
        {
            using var client = TelemetrySocketClient.Connect(telemetry.SocketPath);
            var commands = client.Query("/").EnumerateArray().Select(e => e.GetString()).ToList();
            Assert.Contains("/failover/list", commands);
            Assert.Contains("/failover/info", commands);
            Assert.StartsWith("Returns a failover port's state", client.Query("/help,/failover/info").GetProperty("/failover/info").GetString(), StringComparison.Ordinal);

            int id = f.Failover.PortId, standby = f.Standby.PortId;
            Assert.Equal([id], client.Query("/failover/list").EnumerateArray().Select(e => e.GetInt32()));
            var info = client.Query($"/failover/info,{id}");
            Assert.Equal("StandbyOnly", info.GetProperty("state").GetString());
            Assert.Equal(standby, info.GetProperty("standby_port").GetInt32());
            Assert.Equal(-1, info.GetProperty("primary_port").GetInt32());
            Assert.Equal("standby", info.GetProperty("tx_on").GetString());
            Assert.Equal(standby, info.GetProperty("tx_port").GetInt32());

            var primary = f.AddPrimary("vf");
            f.Settle();
            info = client.Query($"/failover/info,{id}");
            Assert.Equal("PrimaryActive", info.GetProperty("state").GetString());
            Assert.Equal((int)primary.PortId, info.GetProperty("primary_port").GetInt32());
            Assert.Equal("vf", info.GetProperty("primary_name").GetString());
            Assert.Equal("primary", info.GetProperty("tx_on").GetString());
            Assert.Equal((int)primary.PortId, info.GetProperty("tx_port").GetInt32());
            Assert.Equal(1UL, info.GetProperty("switches_to_primary").GetUInt64());

            primary.SetLink(false);
            f.Settle();
            info = client.Query($"/failover/info,{id}");
            Assert.Equal("PrimaryLinkDown", info.GetProperty("state").GetString());
            Assert.Equal("standby", info.GetProperty("tx_on").GetString());
            Assert.Equal(1UL, info.GetProperty("switches_to_standby").GetUInt64());
            Assert.Equal(info.GetProperty("switches_to_standby").GetUInt64(), XstatOf(client, id, "failover_switches_to_standby"));

            // The halves are owned: not in /ethdev/list, but their ids answer; /failover/info is for failover ports only.
            Assert.Equal([id], client.Query("/ethdev/list").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal("net_fake", client.Query($"/ethdev/info,{standby}").GetProperty("driver_name").GetString());
            Assert.Equal("net_failover", client.Query($"/ethdev/info,{id}").GetProperty("driver_name").GetString());
            Assert.Equal(JsonValueKind.Null, client.Query($"/failover/info,{standby}").ValueKind);
            Assert.Equal(JsonValueKind.Null, client.Query("/failover/info,200").ValueKind);
            Assert.Equal(JsonValueKind.Null, client.Query("/failover/info").ValueKind);
        }
        finally
        {
            telemetry.Dispose();
            Directory.Delete(Path.GetDirectoryName(telemetry.SocketPath)!, recursive: true);
        }
    }

    private static ulong XstatOf(TelemetrySocketClient client, int port, string name) =>
        client.Query($"/ethdev/xstats,{port}").GetProperty(name).GetUInt64();
}
