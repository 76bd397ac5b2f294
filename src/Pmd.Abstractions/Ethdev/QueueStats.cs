namespace Pmd.Ethdev;

/// <summary>
/// Per-queue counters of the first <see cref="Count"/> queues, as rte_eth_stats' q_* arrays
/// (RTE_ETHDEV_QUEUE_STAT_CNTRS); drivers add theirs in <see cref="EthPort.AddQueueStats"/>.
/// </summary>
internal sealed class QueueStats
{
    public const int Count = 16;

    public ulong[] RxPackets { get; } = new ulong[Count];
    public ulong[] TxPackets { get; } = new ulong[Count];
    public ulong[] RxBytes { get; } = new ulong[Count];
    public ulong[] TxBytes { get; } = new ulong[Count];
    /// <summary>Frames an RX queue dropped (DPDK's q_errors).</summary>
    public ulong[] RxErrors { get; } = new ulong[Count];
}
