using Pmd.Telemetry;

namespace Pmd.Failover;

/// <summary>What telemetry's /failover/info shows of a failover port (read off the datapath, as "show port info" reads it).</summary>
public sealed partial class FailoverPort
{
    internal void WriteTelemetry(TelemetryReply reply)
    {
        var primary = _primary;
        var tx = Volatile.Read(ref _txPrimary);
        var counters = _counters;
        reply.StartDict();
        reply.Add("port_id", PortId);
        reply.Add("name", Name);
        reply.Add("state", _machine.State.ToString());
        reply.Add("state_id", (long)_machine.State);
        reply.Add("standby_port", _standby.PortId);
        reply.Add("standby_name", _standby.Name);
        reply.Add("primary_port", primary is null ? -1 : primary.PortId);
        reply.Add("primary_name", primary?.Name ?? "");
        reply.Add("tx_on", tx is null ? "standby" : "primary");
        reply.Add("tx_port", (tx ?? _standby).PortId);
        reply.Add("switches_to_primary", counters.SwitchesToPrimary);
        reply.Add("switches_to_standby", counters.SwitchesToStandby);
        reply.Add("primary_tx_lost", counters.PrimaryTxLost);
        reply.Add("primary_rx_abandoned", counters.PrimaryRxAbandoned);
        reply.Add("last_fallback_ms", counters.LastFallbackMs);
        reply.Add("announcements_sent", _announcement.Sent);
        reply.Add("announce_requests", counters.AnnounceRequests);
        reply.Add("last_release_tx_off_us", counters.LastRelease.TxOff);
        reply.Add("last_release_drained_us", counters.LastRelease.Drained);
        reply.Add("last_release_rx_off_us", counters.LastRelease.RxOff);
        reply.Add("last_release_stopped_us", counters.LastRelease.Stopped);
        reply.Add("last_release_closed_us", counters.LastRelease.Closed);
    }
}
