using Pmd.Memory;

namespace Pmd.Ethdev;

/// <summary>How a port is configured before start: queues, descriptors, the RX pool and offloads.</summary>
public sealed class PortConfig
{
    /// <summary>RX queues. Default 1.</summary>
    public int RxQueues { get; set; } = 1;

    /// <summary>TX queues. Default 1.</summary>
    public int TxQueues { get; set; } = 1;

    /// <summary>Descriptors per RX queue; 0 lets the driver choose (its default ring size).</summary>
    public int RxDescriptors { get; set; }

    /// <summary>Descriptors per TX queue; 0 lets the driver choose.</summary>
    public int TxDescriptors { get; set; }

    /// <summary>Where received packets are stored. Required.</summary>
    public Mempool? RxPool { get; set; }

    public RxOffloads RxOffloads { get; set; }

    public TxOffloads TxOffloads { get; set; }

    /// <summary>Copies this configuration, for a port that must mirror another's queue layout.</summary>
    public PortConfig Clone() => (PortConfig)MemberwiseClone();
}

[Flags]
public enum RxOffloads
{
    None = 0,
    Checksum = 1,
    Scatter = 2,
}

[Flags]
public enum TxOffloads
{
    None = 0,
    Checksum = 1,
    MultiSegment = 2,
}
