using Pmd.Ethdev;
using Pmd.Memory;

namespace Pmd.TestPmd.Forwarding;

/// <summary>
/// One (RX port, RX queue) → (TX port, TX queue) flow of work, polled by exactly one lcore.
/// Everything an engine needs per burst is precomputed here so the loop never looks anything up.
/// The counters are written only by that lcore and read by the main thread (64-bit stores are
/// atomic on the platforms .NET runs on; readers use Volatile.Read).
/// </summary>
internal sealed class ForwardStream(EthPort rxPort, int rxQueue, EthPort txPort, int txQueue)
{
    public EthPort RxPort { get; } = rxPort;
    public int RxQueue { get; } = rxQueue;
    public EthPort TxPort { get; } = txPort;
    public int TxQueue { get; } = txQueue;
    public ushort RxPortId { get; } = rxPort.PortId;
    public ushort TxPortId { get; } = txPort.PortId;

    /// <summary>The MAC the mac engine writes as source: the TX port's own.</summary>
    public MacAddress TxSourceMac { get; init; }

    /// <summary>The MAC the mac engine writes as destination: the TX port's --eth-peer.</summary>
    public MacAddress TxPeerMac { get; init; }

    /// <summary>Where txonly and flowgen allocate their frames.</summary>
    public Mempool? Pool { get; init; }

    /// <summary>The frame txonly and flowgen copy into each mbuf (built once, at start).</summary>
    public UdpFrameTemplate? Template { get; init; }

    /// <summary>What csum asks of the TX port ("csum set", "tso set"); null: nothing.</summary>
    public TxOffloadSettings? TxOffload { get; init; }

    /// <summary>--txpkts as a list: the length of each segment of a txonly frame; null: one segment.</summary>
    public int[]? TxSegments { get; init; }

    /// <summary>flowgen's next flow number; only the owning lcore touches it.</summary>
    public int NextFlow;

    /// <summary>With --record-core-cycles: CycleCounter ticks spent in bursts that moved packets.</summary>
    public long BusyTicks;

    public ulong RxPackets;
    public ulong TxPackets;
    public ulong TxDropped;
    /// <summary>icmpecho: received frames that were not a request it answers (freed).</summary>
    public ulong RxIgnored;
    /// <summary>csum: received frames whose IP or L4 checksum the RX port reported bad.</summary>
    public ulong RxBadIpChecksum;
    public ulong RxBadL4Checksum;

    public ulong ReadRx() => Volatile.Read(ref RxPackets);
    public ulong ReadTx() => Volatile.Read(ref TxPackets);
    public ulong ReadTxDropped() => Volatile.Read(ref TxDropped);

    public override string ToString() =>
        $"RX P={RxPortId}/Q={RxQueue} -> TX P={TxPortId}/Q={TxQueue} peer={TxPeerMac}";
}
