namespace Pmd.Ethdev;

/// <summary>What a driver can do, as rte_eth_dev_info says it.</summary>
public sealed record PortInfo
{
    public required string DriverName { get; init; }
    public int MaxRxQueues { get; init; } = 1;
    public int MaxTxQueues { get; init; } = 1;
    public int MaxRxDescriptors { get; init; } = 4096;
    public int MaxTxDescriptors { get; init; } = 4096;
    public int MinMtu { get; init; } = 68;
    public int MaxMtu { get; init; } = 1500;
    public RxOffloads RxOffloadCapabilities { get; init; }
    public TxOffloads TxOffloadCapabilities { get; init; }
    /// <summary>Driver-specific lines for "show port info" (e.g. negotiated features, failover state).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Details { get; init; } = [];
}
