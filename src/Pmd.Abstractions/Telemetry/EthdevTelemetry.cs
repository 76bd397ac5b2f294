using Pmd.Ethdev;

namespace Pmd.Telemetry;

/// <summary>
/// DPDK's <c>/ethdev/...</c> commands with DPDK 22.11's field names, in its order, read from the port's own
/// counters (<see cref="EthPort.GetStats"/>, <see cref="EthPort.GetXstats"/>, <see cref="EthPort.Link"/>).
/// </summary>
internal static class EthdevTelemetry
{
    // rte_eth_dev_state: every port the registry holds is attached.
    private const int StateAttached = 1;

    // rte_eth_dev_info's offload bits for Pmd's offloads (RTE_ETH_RX_OFFLOAD_*, RTE_ETH_TX_OFFLOAD_*).
    private const ulong RxChecksumBits = 0x2 | 0x4 | 0x8; // IPV4, UDP and TCP checksums
    private const ulong RxScatterBit = 0x2000;
    private const ulong TxChecksumBits = 0x2 | 0x4 | 0x8;
    private const ulong TxMultiSegmentBit = 0x8000;

    public static void AddTo(Action<string, string, TelemetryHandler> add)
    {
        add("/ethdev/list", "Returns list of available ethdev ports. Takes no parameters", List);
        add("/ethdev/stats", "Returns the common stats for a port. Parameters: int port_id", Stats);
        add("/ethdev/xstats", "Returns the extended stats for a port. Parameters: int port_id,hide_zero=true|false", Xstats);
        add("/ethdev/link_status", "Returns the link status for a port. Parameters: int port_id", LinkStatus);
        add("/ethdev/info", "Returns the device info for a port. Parameters: int port_id", Info);
    }

    /// <summary>The ports no owner holds, as RTE_ETH_FOREACH_DEV lists them (a failover port's standby and primary are not).</summary>
    private static bool List(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        reply.StartArray();
        foreach (var port in registry.Ports) reply.Add(port.PortId);
        return true;
    }

    private static bool Stats(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (!TelemetryCommands.TryGetPort(registry, parameters, out var port, out _)) return false;
        var s = port.GetStats();
        var q = new QueueStats();
        port.AddQueueStats(q);
        reply.StartDict();
        reply.Add("ipackets", s.RxPackets);
        reply.Add("opackets", s.TxPackets);
        reply.Add("ibytes", s.RxBytes);
        reply.Add("obytes", s.TxBytes);
        reply.Add("imissed", s.RxMissed);
        reply.Add("ierrors", s.RxErrors);
        reply.Add("oerrors", s.TxErrors);
        reply.Add("rx_nombuf", s.RxNoMbuf);
        reply.Add("q_ipackets", q.RxPackets);
        reply.Add("q_opackets", q.TxPackets);
        reply.Add("q_ibytes", q.RxBytes);
        reply.Add("q_obytes", q.TxBytes);
        reply.Add("q_errors", q.RxErrors);
        return true;
    }

    private static bool Xstats(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (!TelemetryCommands.TryGetPort(registry, parameters, out var port, out string? extra)) return false;
        bool hideZero = false;
        // As DPDK: hide_zero=true|false; anything else is ignored.
        foreach (var pair in (extra ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (pair == "hide_zero=true") hideZero = true;
            else if (pair == "hide_zero=false") hideZero = false;
        }
        var xstats = port.GetXstats();
        reply.StartDict();
        foreach (var x in xstats)
        {
            if (hideZero && x.Value == 0) continue;
            reply.Add(x.Name, x.Value);
        }
        return true;
    }

    private static bool LinkStatus(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (!TelemetryCommands.TryGetPort(registry, parameters, out var port, out _)) return false;
        var link = port.Link;
        reply.StartDict();
        if (!link.Up)
        {
            reply.Add("status", "DOWN");
            return true;
        }
        reply.Add("status", "UP");
        reply.Add("speed", (ulong)link.SpeedMbps);
        reply.Add("duplex", link.FullDuplex ? "full-duplex" : "half-duplex");
        return true;
    }

    private static bool Info(PortRegistry registry, string? parameters, TelemetryReply reply)
    {
        if (!TelemetryCommands.TryGetPort(registry, parameters, out var port, out _)) return false;
        var config = port.Config;
        bool started = port.IsStarted;
        int rxQueues = config?.RxQueues ?? 0, txQueues = config?.TxQueues ?? 0;
        reply.StartDict();
        reply.Add("name", port.Name);
        reply.Add("state", StateAttached);
        reply.Add("nb_rx_queues", rxQueues);
        reply.Add("nb_tx_queues", txQueues);
        reply.Add("port_id", port.PortId);
        reply.Add("mtu", port.Mtu);
        reply.Add("rx_mbuf_size_min", config?.RxPool?.BufferSize ?? 0);
        // DPDK's rte_ether_format_addr: upper-case hex.
        reply.Add("mac_addr", port.MacAddress.ToString().ToUpperInvariant());
        reply.Add("promiscuous", port.Promiscuous ? 1 : 0);
        reply.Add("scattered_rx", (config?.RxOffloads ?? RxOffloads.None).HasFlag(RxOffloads.Scatter) ? 1 : 0);
        reply.Add("all_multicast", port.AllMulticast ? 1 : 0);
        reply.Add("dev_started", started ? 1 : 0);
        reply.Add("lro", 0);
        reply.Add("dev_configured", config is null ? 0 : 1);
        // RTE_ETH_QUEUE_STATE_STARTED (1) or _STOPPED (0): Pmd's queues start and stop with the port.
        reply.Add("rxq_state", QueueStates(rxQueues, started));
        reply.Add("txq_state", QueueStates(txQueues, started));
        // SOCKET_ID_ANY: Pmd's pools and rings have no NUMA affinity.
        reply.Add("numa_node", -1);
        reply.Add("dev_flags", 0);
        reply.Add("rx_offloads", RxOffloadBits(config?.RxOffloads ?? RxOffloads.None));
        reply.Add("tx_offloads", TxOffloadBits(config?.TxOffloads ?? TxOffloads.None));
        reply.Add("ethdev_rss_hf", 0UL);
        // Pmd's own: the driver's name, as "show port info" prints it.
        reply.Add("driver_name", port.Info.DriverName);
        return true;
    }

    private static long[] QueueStates(int queues, bool started)
    {
        var states = new long[queues];
        Array.Fill(states, started ? 1 : 0);
        return states;
    }

    private static ulong RxOffloadBits(RxOffloads offloads) =>
        (offloads.HasFlag(RxOffloads.Checksum) ? RxChecksumBits : 0) | (offloads.HasFlag(RxOffloads.Scatter) ? RxScatterBit : 0);

    private static ulong TxOffloadBits(TxOffloads offloads) =>
        (offloads.HasFlag(TxOffloads.Checksum) ? TxChecksumBits : 0) | (offloads.HasFlag(TxOffloads.MultiSegment) ? TxMultiSegmentBit : 0);
}
